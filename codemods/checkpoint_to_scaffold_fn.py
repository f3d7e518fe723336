"""``init_from_checkpoint`` in a model_fn moves into a ``scaffold_fn``.

    if params["warm_start"]:
        tf.compat.v1.train.init_from_checkpoint(params["warm_start"], {"dense/": "dense/"})
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

becomes::

    def scaffold_fn():
        if params["warm_start"]:
            tf.compat.v1.train.init_from_checkpoint(params["warm_start"], {"dense/": "dense/"})
        return tf.compat.v1.train.Scaffold()

    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, scaffold_fn=scaffold_fn)

On a TPU the variables live in the TPU computation, where ``init_from_checkpoint`` cannot
redirect their initializers; TPUEstimator calls ``scaffold_fn`` outside it.  The top-level
statement of the model_fn that holds the call moves (with what it computes for it), when
nothing after it reads a name it binds and nothing it reads is bound again before the
returns; every EstimatorSpec returned after it gets the ``scaffold_fn`` (an existing
``scaffold=`` becomes what it returns).  A load in the CPU branch of the program's own ``if
use_tpu:`` (whose TPU branch loads in a scaffold function, as TPU-ready code does) stays
where it is: a note says when that branch is chosen by another flag than TPUEstimator's
``params["use_tpu"]`` (E2T235).  Any other ``init_from_checkpoint`` in a model_fn is
reported (E2T223).
"""

import dataclasses
from typing import Dict, List, Optional, Set

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimator_spec import ESTIMATOR_SPEC_FIELDS, scaffold_fn_given
from .names import NameReads, assigned_names, fresh_name, names_in
from .syntax import add_args, cpu_branch, find_arg, is_name, kwarg, remove_kwarg
from .walk import Visitor

SCAFFOLD_FN = Rule(
    "E2T110",
    "init_from_checkpoint moves into scaffold_fn",
    "On a TPU, init_from_checkpoint cannot reach variables inside the TPU computation; "
    "TPUEstimator calls scaffold_fn outside it. The statement holding the call moves into a "
    "generated scaffold_fn that returns the Scaffold, passed to every EstimatorSpec returned "
    "after it.",
    before="tf.compat.v1.train.init_from_checkpoint(ckpt, {'/': '/'})\n"
           "return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=op)",
    after="def scaffold_fn():\n    tf.compat.v1.train.init_from_checkpoint(ckpt, {'/': '/'})\n"
          "    return tf.compat.v1.train.Scaffold()\n"
          "return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=op, scaffold_fn=scaffold_fn)",
)
NOT_MOVED = Rule(
    "E2T223",
    "init_from_checkpoint in model_fn not moved into scaffold_fn",
    "On a TPU, init_from_checkpoint must run in scaffold_fn, outside the TPU computation. This "
    "one could not be moved safely (names it binds are used later, what it reads changes "
    "before the return, or the model_fn has no EstimatorSpec after it, or one that stays an "
    "EstimatorSpec because its eval_metric_ops cannot move, E2T215): write "
    "`def scaffold_fn(): init_from_checkpoint(...); return tf.compat.v1.train.Scaffold()` and "
    "pass scaffold_fn= to TPUEstimatorSpec.",
    before="mapping = assignment_map(ckpt); tf.compat.v1.train.init_from_checkpoint(ckpt, mapping)\n"
           "log_mapping(mapping)  # bound with the load, used after it",
    after="mapping = assignment_map(ckpt)\n\ndef scaffold_fn():\n"
          "    tf.compat.v1.train.init_from_checkpoint(ckpt, mapping)\n"
          "    return tf.compat.v1.train.Scaffold()\n\nlog_mapping(mapping)",
    blocking=True,
)

OWN_TPU_SWITCH = Rule(
    "E2T235",
    "the program's own use_tpu chooses where the checkpoint loads",
    "This init_from_checkpoint is in the CPU branch of the program's own `if use_tpu:` (on a TPU, "
    "the program loads the checkpoint in a scaffold function), and is left where it is. But the "
    "branch is chosen by the program's flag, while TPUEstimator now runs on a TPU when "
    "est2tpu.use_tpu() says so (TPU_NAME is set): if the two disagree, the checkpoint loads "
    "inside the TPU computation, or not at all. Test params['use_tpu'], which TPUEstimator sets.",
    before="if FLAGS.use_tpu:\n    scaffold_fn = tpu_scaffold\nelse:\n"
           "    tf.compat.v1.train.init_from_checkpoint(ckpt, assignment_map)",
    after="if params['use_tpu']:\n    scaffold_fn = tpu_scaffold\nelse:\n"
          "    tf.compat.v1.train.init_from_checkpoint(ckpt, assignment_map)",
)

INIT = "tf.train.init_from_checkpoint"
SCAFFOLD_POSITION = ESTIMATOR_SPEC_FIELDS.index("scaffold")


@dataclasses.dataclass
class _Plan:
    stmt: cst.BaseStatement  # the model_fn statement that moves into scaffold_fn
    specs: List[cst.Call]  # the EstimatorSpecs returned after it, which get scaffold_fn=
    name: str  # of the scaffold_fn
    scaffold: Optional[cst.BaseExpression]  # what scaffold_fn returns instead of a new Scaffold


class CheckpointInitToScaffoldFn(MigrationCodemod):
    """Move init_from_checkpoint into a scaffold_fn; report the calls that cannot move."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [SCAFFOLD_FN, NOT_MOVED, OWN_TPU_SWITCH]
    TRIGGERS = ("init_from_checkpoint",)

    def visit_Module(self, node: cst.Module) -> None:
        index = self.index
        specs = set(index.calls_to("tf.estimator.EstimatorSpec"))
        self.plans: Dict[cst.BaseStatement, _Plan] = {}
        moved: Set[cst.Call] = set()
        for fn in index.model_fns:
            plan = self._plan(fn, specs)
            if plan is not None:
                self.plans[plan.stmt] = plan
                moved.update(_inits(plan.stmt, self))
        self.specs = {call: plan for plan in self.plans.values() for call in plan.specs}
        on_cpu: Dict[cst.Call, bool] = {}  # loads in the CPU branch of `if use_tpu:` -> whether by params["use_tpu"]
        for fn in index.model_fns:
            for switch in _Calls(None, self._is_init, cpu_branches=True).walked(fn.body).switches:
                for call in _Calls(None, self._is_init).walked(cpu_branch(switch)).found:
                    on_cpu[call] = _tests_params(switch.test)
        for call, api, scope in index.api_calls:
            if api != INIT or scope not in index.model_fns or call in moved:  # not deferred in a def
                continue
            if call not in on_cpu:
                self.report(call, NOT_MOVED.code, NOT_MOVED.title, "move it into a scaffold_fn by hand")
            elif not on_cpu[call]:
                self.report(call, OWN_TPU_SWITCH.code, OWN_TPU_SWITCH.title, "test params['use_tpu'] there")

    def _is_init(self, call: cst.Call) -> bool:
        return self.api(call.func) == INIT

    def _plan(self, fn: cst.FunctionDef, specs: Set[cst.Call]) -> Optional[_Plan]:
        if not isinstance(fn.body, cst.IndentedBlock):
            return None
        body = list(fn.body.body)
        holding = [i for i, stmt in enumerate(body) if _inits(stmt, self)]
        if len(holding) != 1:
            return None
        at = holding[0]
        stmt, rest = body[at], body[at + 1:]
        calls = _Calls(specs)
        for later in rest:
            calls.walk(later)
        if not calls.found or any(find_arg(c, "scaffold", SCAFFOLD_POSITION) is not None
                                  and find_arg(c, "scaffold") is None or self.index.stays_estimator_spec(c)
                                  for c in calls.found):
            return None  # nothing to attach it to, a positional scaffold, or a spec that stays (E2T215)
        if any(scaffold_fn_given(self.index, c, find_arg(c, "scaffold").value) for c in calls.found
               if find_arg(c, "scaffold") is not None):
            return None  # a scaffold_fn of the program's own, which another one would not call
        reads = NameReads()
        reads.walk(stmt)
        bound = assigned_names([stmt]) | reads.bound
        if bound & {n for later in rest for n in names_in(later)} or set(reads.reads) & assigned_names(rest):
            return None
        scaffolds = [find_arg(c, "scaffold") for c in calls.found]
        scaffolds = [None if a is not None and is_name(a.value, "None") else a for a in scaffolds]  # no Scaffold
        kinds = {cst.Module([]).code_for_node(a.value) if a else None for a in scaffolds}
        if len(kinds) > 1:
            return None  # returns with different Scaffolds, or with and without one
        scaffold = scaffolds[0].value if scaffolds[0] else None
        return _Plan(stmt, calls.found, fresh_name(fn, "scaffold_fn"), scaffold)

    def rewrites(self) -> bool:
        return bool(self.plans)

    def targets(self):
        return [*self.plans, *self.specs]

    def on_leave(self, original_node, updated_node):
        plan = self.plans.get(original_node)
        if plan is None:
            return super().on_leave(original_node, updated_node)
        body = updated_node.with_changes(leading_lines=())
        scaffold = plan.scaffold or cst.Call(self.spelled("tensorflow.compat.v1.train.Scaffold"))
        return cst.FunctionDef(
            name=cst.Name(plan.name),
            params=cst.Parameters(),
            body=cst.IndentedBlock([body, cst.SimpleStatementLine([cst.Return(scaffold)])]),
            leading_lines=original_node.leading_lines,
        )

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        plan = self.specs.get(original_node)
        if plan is None:
            return updated_node
        if original_node is plan.specs[0]:
            self.report(original_node, SCAFFOLD_FN.code, SCAFFOLD_FN.title, "check the checkpoint still loads")
        for name in ("scaffold", "scaffold_fn"):  # what it returns now (EstimatorSpecToTPU may have renamed it)
            if find_arg(updated_node, name) is not None:
                updated_node = remove_kwarg(updated_node, name)
        return add_args(updated_node, [kwarg("scaffold_fn", cst.Name(plan.name))])


def _inits(stmt: cst.CSTNode, codemod: MigrationCodemod) -> List[cst.Call]:
    """The init_from_checkpoint calls ``stmt`` makes when it runs, but on the CPU only."""
    calls = _Calls(None, lambda call: codemod.api(call.func) == INIT, cpu_branches=True)
    calls.walk(stmt)
    return calls.found


def _tests_params(test: cst.BaseExpression) -> bool:
    """Whether a use_tpu test reads TPUEstimator's own ``params["use_tpu"]``."""
    if isinstance(test, cst.UnaryOperation):
        test = test.expression
    base = test.func.value if isinstance(test, cst.Call) else getattr(test, "value", None)
    return not is_name(test, "use_tpu") and is_name(base, "params")


class _Calls(Visitor):
    """Calls (among some, or that ``wanted`` accepts) that run where the code runs: not in
    the functions and lambdas it defines, nor (``cpu_branches``) in the CPU branch of an
    ``if use_tpu:``, which are the :attr:`switches`."""

    def __init__(self, among: Optional[Set[cst.Call]], wanted=None, cpu_branches: bool = False) -> None:
        self.among, self.wanted, self.cpu_branches = among, wanted, cpu_branches
        self.found: List[cst.Call] = []
        self.switches: List[cst.If] = []

    def visit_If(self, node: cst.If) -> bool:
        cpu = cpu_branch(node) if self.cpu_branches else None
        if cpu is None:
            return True
        self.switches.append(node)
        for part in (node.test, node.body, node.orelse):
            if part is not None and part is not cpu:
                self.walk(part)
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if (self.among is None or node in self.among) and (self.wanted is None or self.wanted(node)):
            self.found.append(node)
