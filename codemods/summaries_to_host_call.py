"""Scalar summaries in a model_fn move into a ``host_call``.

    tf.compat.v1.summary.scalar("cross_entropy", loss)
    ...
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

becomes (model_fn gains a ``config`` parameter, which Estimators fill with the RunConfig)::

    def host_call(global_step, cross_entropy):
        with tf.compat.v2.summary.create_file_writer(config.model_dir).as_default(), \\
                tf.compat.v2.summary.record_if(True):
            tf.compat.v2.summary.scalar("cross_entropy", cross_entropy[0], step=global_step[0])
        return tf.compat.v1.summary.all_v2_summary_ops()
    ...
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, host_call=(
        host_call, [tf.reshape(tf.compat.v1.train.get_global_step(), [1]), tf.reshape(loss, [1])])
        if mode == tf.estimator.ModeKeys.TRAIN else None)

Summaries inside model_fn are not written on a TPU; the host_call writes them on the host,
every training step, with the v2 summary API; the comments above a summary go with it.  Moved: ``summary.scalar(tag, value)`` statements
at the top level of a model_fn that an Estimator calls, before its one top-level
training return, whose value reads no name assigned again before that return.  That
return gets the host_call only in training (no condition when earlier top-level
``if mode == ...: return`` blocks leave it TRAIN alone; none moves from a model_fn
without ``mode``): in evaluation it would add the eval batches to the training curves
under model_dir.  Every
other summary in a model_fn (images, histograms, nested in a block, extra arguments) is
reported (E2T207) and left alone.
"""

import dataclasses
from typing import Dict, List, Optional, Set

import libcst as cst

from .base import MigrationCodemod, Rule
from .names import assigned_names, fresh_name, identifier, names_in
from .syntax import add_args, add_param, find_arg, is_name, kwarg, param_names, split_comments

HOST_CALL = Rule(
    "E2T109",
    "scalar summaries move into a host_call",
    "tf.summary calls inside model_fn are not written on a TPU. Scalar summaries move into a "
    "host_call function that TPUEstimator runs on the host, writing them with the v2 summary "
    "API under config.model_dir every training step (model_fn takes `config`).",
    before='tf.compat.v1.summary.scalar("loss", loss)\nreturn tf.estimator.EstimatorSpec(mode, loss=loss, train_op=op)',
    after="def host_call(global_step, loss_):\n"
          "    with tf.compat.v2.summary.create_file_writer(config.model_dir).as_default(), "
          "tf.compat.v2.summary.record_if(True):\n"
          '        tf.compat.v2.summary.scalar("loss", loss_[0], step=global_step[0])\n'
          "    return tf.compat.v1.summary.all_v2_summary_ops()\n"
          "return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=op, host_call=(\n"
          "    host_call, [tf.reshape(tf.compat.v1.train.get_global_step(), [1]), tf.reshape(loss, [1])])\n"
          "    if mode == tf.estimator.ModeKeys.TRAIN else None)",
)
SUMMARY = Rule(
    "E2T207", "tf.summary in model_fn is not written on a TPU",
    "Summaries inside model_fn are dropped on a TPU. Write scalars from a host_call "
    "(TPUEstimatorSpec(host_call=(host_fn, tensors))) with the v2 summary API; image and "
    "histogram summaries have no TPU equivalent.",
    before='tf.compat.v1.summary.image("inputs", features["image"])  # in model_fn',
    after="# removed: log a few images from the input_fn or an evaluation script instead",
)

MODES = {"train": "TRAIN", "eval": "EVAL", "infer": "PREDICT"}  # ModeKeys values -> names
SCALAR_ARGS = ("name", "tensor", "data")  # tf.compat.v1.summary.scalar(name, tensor), v2: (name, data)


@dataclasses.dataclass
class _Summary:
    """One scalar summary statement that moves, and the host_call parameter its value becomes."""

    stmt: cst.SimpleStatementLine
    tag: cst.SimpleString
    value: cst.BaseExpression
    param: str = ""


@dataclasses.dataclass
class _Plan:
    spec: cst.Call  # the training EstimatorSpec that gets host_call=
    summaries: List[_Summary]
    name: str  # of the host_call function
    step: str  # its global step parameter
    any_mode: bool  # whether the spec is returned in other modes than TRAIN too


class SummariesToHostCall(MigrationCodemod):
    """Move a model_fn's scalar summaries into a host_call; report the other summaries."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [HOST_CALL, SUMMARY]
    TRIGGERS = ("summary",)

    def visit_Module(self, node: cst.Module) -> None:
        index = self.index
        specs = {c for c in index.calls_to("tf.estimator.EstimatorSpec") if not index.stays_estimator_spec(c)}
        self.plans: Dict[cst.FunctionDef, _Plan] = {}
        for fn in self.index.estimator_model_fns:  # only those may gain a `config` parameter
            plan = self._plan(fn, specs)
            if plan is not None:
                self.plans[fn] = plan
        self.removed = {s.stmt for plan in self.plans.values() for s in plan.summaries[:-1]}
        self.replaced = {plan.summaries[-1].stmt: plan for plan in self.plans.values()}
        self.specs = {plan.spec: plan for plan in self.plans.values()}
        moved_calls = {s.stmt.body[0].value for plan in self.plans.values() for s in plan.summaries}
        for call, api, scope in index.api_calls:
            if api.startswith(("tf.summary.", "tf.contrib.summary.")) and index.in_model_fn(scope) \
                    and call not in moved_calls:
                kind = api.rsplit(".", 1)[-1]
                hint = "write it from a host_call" if kind == "scalar" else "no TPU equivalent: remove it"
                self.report(call, SUMMARY.code, f"{SUMMARY.title}: {api}", hint)

    def _plan(self, fn: cst.FunctionDef, specs: Set[cst.Call]) -> Optional[_Plan]:
        if not isinstance(fn.body, cst.IndentedBlock):
            return None
        body = list(fn.body.body)
        returns = [(i, call) for i, call in enumerate(_training_spec(stmt, specs) for stmt in body)
                   if call is not None]
        if len(returns) != 1:
            return None
        end, spec = returns[0]
        summaries = []
        for i, stmt in enumerate(body[:end]):
            summary = self._scalar_summary(stmt)
            if summary is not None and not (set(names_in(summary.value)) & assigned_names(body[i + 1:end])):
                summaries.append(summary)
        any_mode = self._modes_reaching(body[:end]) != {"TRAIN"}
        if not summaries or (any_mode and "mode" not in param_names(fn)):
            return None
        taken = [fresh_name(fn, "host_call")]
        taken.append(fresh_name(fn, "global_step", taken))
        for s in summaries:
            s.param = fresh_name(fn, identifier(str(s.tag.evaluated_value)), taken)
            taken.append(s.param)
        return _Plan(spec, summaries, name=taken[0], step=taken[1], any_mode=any_mode)

    def _modes_reaching(self, stmts: List[cst.BaseStatement]) -> Set[str]:
        """The modes in which a model_fn gets past its top-level statements ``stmts``: a block
        ``if mode == ModeKeys.EVAL:`` (``!=``) without else, ending in a return, stops EVAL
        (every other mode)."""
        modes = set(MODES.values())
        for stmt in stmts:
            if not (isinstance(stmt, cst.If) and stmt.orelse is None and isinstance(stmt.body, cst.IndentedBlock)
                    and isinstance(stmt.test, cst.Comparison) and is_name(stmt.test.left, "mode")
                    and len(stmt.test.comparisons) == 1):
                continue
            last = stmt.body.body[-1]
            if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Return, cst.Raise))):
                continue
            target = stmt.test.comparisons[0]
            key = self._mode_key(target.comparator)
            if key is not None and isinstance(target.operator, cst.Equal):
                modes.discard(key)
            elif key is not None and isinstance(target.operator, cst.NotEqual):
                modes &= {key}
        return modes

    def _mode_key(self, node: cst.BaseExpression) -> Optional[str]:
        """``"EVAL"`` for ``tf.estimator.ModeKeys.EVAL`` (or ``"eval"``), else None."""
        if isinstance(node, cst.SimpleString):
            return MODES.get(str(node.evaluated_value))
        api = self.api(node) or ""
        key = api.rpartition(".")[2]
        return key if api == f"tf.estimator.ModeKeys.{key}" and key in MODES.values() else None

    def _scalar_summary(self, stmt: cst.BaseStatement) -> Optional[_Summary]:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
                and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, cst.Call)):
            return None
        call = stmt.body[0].value
        if self.api(call.func) != "tf.summary.scalar" or len(call.args) != 2:
            return None
        if any(a.star or (a.keyword and a.keyword.value not in SCALAR_ARGS) for a in call.args):
            return None
        tag, value = (find_arg(call, "name", 0), find_arg(call, "tensor", 1) or find_arg(call, "data", 1))
        if tag is None or value is None or not isinstance(tag.value, cst.SimpleString):
            return None
        return _Summary(stmt, tag.value, value.value)

    def rewrites(self) -> bool:
        return bool(self.plans)

    def targets(self):
        return [*self.plans, *self.removed, *self.replaced, *self.specs]

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef):
        if original_node in self.plans and "config" not in param_names(original_node):
            return updated_node.with_changes(params=add_param(updated_node.params, "config"))
        return updated_node

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if original_node in self.removed:
            return cst.RemoveFromParent()
        plan = self.replaced.get(original_node)
        if plan is not None:
            blank, _ = split_comments(original_node.leading_lines)  # its comments go into host_call
            return self._host_call(plan).with_changes(leading_lines=blank)
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        plan = self.specs.get(original_node)
        if plan is None:
            return updated_node
        self.report(original_node, HOST_CALL.code, HOST_CALL.title, "summaries are now written every training step")
        reshape = self.spelled("tensorflow.reshape")
        step = cst.Call(self.spelled("tensorflow.compat.v1.train.get_global_step"))
        tensors = [cst.Element(cst.Call(reshape, [cst.Arg(v), cst.Arg(cst.List([cst.Element(cst.Integer("1"))]))]))
                   for v in [step, *(s.value for s in plan.summaries)]]
        value = cst.Tuple([cst.Element(cst.Name(plan.name)), cst.Element(cst.List(tensors))])
        if plan.any_mode:  # not in evaluation: its losses would join the training curve
            train = cst.ComparisonTarget(cst.Equal(), self.spelled("tensorflow.estimator.ModeKeys.TRAIN"))
            value = cst.IfExp(cst.Comparison(cst.Name("mode"), [train]), value, cst.Name("None"))
        return add_args(updated_node, [kwarg("host_call", value)])

    def _host_call(self, plan: _Plan) -> cst.FunctionDef:
        code = cst.Module([]).code_for_node
        summary = lambda name: code(self.spelled(f"tensorflow.compat.v2.summary.{name}"))  # noqa: E731
        params = ", ".join([plan.step, *(s.param for s in plan.summaries)])
        lines = [f"def {plan.name}({params}):",
                 f"    with {summary('create_file_writer')}(config.model_dir).as_default(), "
                 f"{summary('record_if')}(True):"]
        for s in plan.summaries:  # each with the comments above it
            lines += [f"        {line.comment.value}" for line in split_comments(s.stmt.leading_lines)[1] if line.comment]
            lines.append(f"        {summary('scalar')}({code(s.tag)}, {s.param}[0], step={plan.step}[0])")
        lines.append(f"    return {code(self.spelled('tensorflow.compat.v1.summary.all_v2_summary_ops'))}()")
        return cst.parse_statement("\n".join(lines) + "\n")


def _training_spec(stmt: cst.BaseStatement, specs: Set[cst.Call]) -> Optional[cst.Call]:
    """The EstimatorSpec call of ``return EstimatorSpec(..., train_op=...)``, else None."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Return):
        call = stmt.body[0].value
        if call in specs and find_arg(call, "train_op", 3) is not None and find_arg(call, "host_call") is None:
            return call
    return None
