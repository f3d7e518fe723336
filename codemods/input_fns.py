"""input_fns take ``params`` and batch by ``params["batch_size"]``, dropping the remainder.

    def train_input_fn():                          # before
        return dataset.batch(32)
    estimator.train(lambda: make_input(x, y, 32))

    def train_input_fn(params):                    # after
        return dataset.batch(params["batch_size"], drop_remainder=True)
    estimator.train(lambda params: make_input(x, y, params["batch_size"]))

Every function that reaches ``train``/``evaluate``/``predict``/``TrainSpec``/``EvalSpec``
as input_fn is rewritten: a def, a lambda calling a def with the batch size, a factory
returning a nested def.  The batch size it used is lifted into TPUEstimator by
:mod:`codemods.tpu_estimator`, which runs first.  Train and eval batches drop the
remainder (TPUs need static shapes); predict input keeps it.  An input_fn that returns
``make_one_shot_iterator(ds).get_next()`` (directly, or through a variable used only there)
returns ``ds`` instead, and one that returns an expression of those tensors alone
(``features = it.get_next()``, ``return features, features.pop("label")``) returns
``ds.map(lambda features: (features, features.pop("label")))``; any other ``get_next()``
in an input_fn is reported.
"""

from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import BATCHING, TPU_ESTIMATOR_APIS, batching
from .model_fn_params import UNRESOLVED_MODEL_FN, unresolved
from .names import MethodCalls, dotted, fresh_name, local_bindings, names_in, statements
from .params_alias import HIDDEN_PARAMS, outer_params_read
from .syntax import (add_args, add_param, constant_key, find_arg, is_method_call, is_name, kwarg, param_names,
                     params_item, replace_arg, split_comments)
from .walk import Visitor

INPUT_FN_PARAMS = Rule(
    "E2T103",
    "input_fn takes params and batches by params['batch_size']",
    "TPUEstimator calls input_fn with `params` and sets params['batch_size'] to the "
    "per-shard batch size; train and eval batches must have a static shape, so they "
    "drop the remainder.",
    before="def train_input_fn():\n    return ds.batch(32)",
    after='def train_input_fn(params):\n    return ds.batch(params["batch_size"], drop_remainder=True)',
)
SHARED_PREDICT_INPUT = Rule(
    "E2T217",
    "input_fn shared by predict and train/eval keeps its remainder",
    "drop_remainder=True was not added because the same input_fn also feeds predict, "
    "which must see every example. Give train/eval their own batching with "
    "drop_remainder=True before running on a TPU: their batches must have a static shape.",
    before="def input_fn(params):  # passed to train() and to predict()\n"
           "    return dataset.batch(params[\"batch_size\"])",
    after="def input_fn(params, training=True):\n"
          "    return dataset.batch(params[\"batch_size\"], drop_remainder=training)",
    blocking=True,
)
EVAL_REMAINDER = Rule(
    "E2T209",
    "on a TPU, evaluation drops the last partial batch",
    "TPU evaluation runs whole batches only, so on a TPU the last partial batch is dropped and "
    "the metrics change unless the eval set size is a multiple of eval_batch_size; for "
    "exact-epoch evaluation pad the data and weight the padding 0 in the metrics (an "
    "is_real_example weight, as BERT does). On the CPU (drop_remainder is true only on a TPU) "
    "the metrics are the original's. Not reported when the eval data repeats without end "
    "(`.repeat()` before the batch): its batches are all whole.",
    before="est.evaluate(lambda: eval_ds.batch(32))",
    after='est.evaluate(lambda params: eval_ds.batch(params["batch_size"], drop_remainder=est2tpu.on_tpu(params)))',
)
TRAIN_REMAINDER = Rule(
    "E2T237",
    "on a TPU, training drops each epoch's last partial batch",
    "TPU batches must have a static shape, so on a TPU a training pipeline that batches before "
    "it repeats (or does not repeat) drops each epoch's last partial batch: those examples are "
    "never trained on, always the same ones when the data are not shuffled. On the CPU "
    "(drop_remainder is true only on a TPU) the run is the original's. Repeat before batching "
    "to keep every example.",
    before="ds.batch(32).repeat()",
    after='ds.batch(params["batch_size"], drop_remainder=est2tpu.on_tpu(params)).repeat()  # or ds.repeat().batch(...)',
)

DYNAMIC_PADDING = Rule(
    "E2T224",
    "padded_batch pads each batch to its own longest element",
    "A TPU needs every batch in one shape ('The features to the model returned by input_fn "
    "must have static shape'). padded_batch without padded_shapes, or with None in them, pads "
    "each batch to its longest element. Give every padded dimension a fixed length, and cut "
    "longer elements to it.",
    before='ds.padded_batch(params["batch_size"], padded_shapes=([None], []))',
    after='ds.padded_batch(params["batch_size"], padded_shapes=([MAX_LEN], []), drop_remainder=True)',
    blocking=True,
)


DIRECT_CALL = Rule(
    "E2T239",
    "an input_fn that gains params is also called directly",
    "The input_fn now takes params (TPUEstimator passes params['batch_size']), and this call "
    "of it passes none. It is given params={'batch_size': B}, the batch size it used before "
    "(what TPUEstimator gives it on the CPU), when that batch size is one and readable here; "
    "this call could not be, so the estimator was left as it was.",
    before="def input_fn():\n    return ds.batch(32)\n...\nfor features, labels in input_fn().take(1): ...",
    after='for features, labels in input_fn(params={"batch_size": 32}).take(1): ...',
    blocking=True,
    obstacle=True,
)
PARTIAL_PARAMS = Rule(
    "E2T246",
    "functools.partial binds the input_fn's params",
    "TPUEstimator calls an input_fn with params (holding params['batch_size']) only when params "
    "is one of its free arguments; a functools.partial that binds params hides it ('input_fn ... "
    "does not include params argument'). est2tpu drops the binding (the arguments after it become "
    "keywords) when what it binds is the estimator's own params=, which TPUEstimator passes; "
    "this partial binds something else, or binds by * or **.",
    before="est = Estimator(model_fn, params=hparams)\nest.train(functools.partial(input_fn, files, other_hparams, mode))",
    after="est = TPUEstimator(model_fn, params=hparams, ...)\nest.train(functools.partial(input_fn, files, mode=mode))",
    blocking=True,
    obstacle=True,
)
ELSEWHERE = Rule(
    "E2T221",
    "input_fn of an estimator built elsewhere",
    "The estimator this input_fn feeds is not built in this module, so its batch size cannot "
    "be moved into TPUEstimator from here and the input_fn was not rewritten. Give it "
    "`params` and batch by params['batch_size'] (with drop_remainder=True for train/eval).",
    before="estimator = build_estimator()\nestimator.train(input_fn=train_input_fn, steps=100)",
    after="def train_input_fn(params):\n    return ds.batch(params['batch_size'], drop_remainder=True)",
    blocking=True,
)
HELPER_BATCH = Rule(
    "E2T240",
    "input_fn batches in a helper that was not rewritten",
    "The input_fn's batches are made by a function it calls, and est2tpu follows such a helper "
    "only when the input_fn returns its result and the helper batches by a size passed to it. "
    "This one was left as it is: make it batch by params['batch_size'] with drop_remainder=True "
    "(for train/eval), and pass the batch size as train_batch_size/eval_batch_size/"
    "predict_batch_size.",
    before="def input_fn():\n    ds = batch_it(ds)\n    return ds.prefetch(1)",
    after='def input_fn(params):\n    ds = batch_it(ds, params["batch_size"])\n    return ds.prefetch(1)',
    blocking=True,
    obstacle=True,
)

GET_NEXT = Rule(
    "E2T241",
    "input_fn returns an iterator's tensors",
    "TPUEstimator needs the input_fn to return a Dataset ('For mode PREDICT, `input_fn` must "
    "return `Dataset`'), whose batches have static shapes. est2tpu returns the dataset "
    "instead of `make_one_shot_iterator(ds).get_next()` (in the input_fn, or in a helper that "
    "batches for it and that nothing else calls) only when the iterator and its tensors serve "
    "just that return (one returning an expression of the tensors, such as `features, "
    "features.pop('label')`, maps it over the dataset, when it reads nothing but them, "
    "constants, module names and TensorFlow ops; prints and logging of the tensors, and names "
    "computed from them so (`features = {'image': x}`), just before the return move into a "
    "function mapped over the dataset, which runs them where the graph is built, as before; one "
    "name for the batch only when it is read by key, a dict); this one was left as it is, and "
    "so its estimator.",
    before="features, labels = make_one_shot_iterator(ds).get_next()\nreturn features, labels",
    after="return ds",
    blocking=True,
    obstacle=True,
)


class InputFnTakesParams(MigrationCodemod):
    """Make every input_fn take params and batch by params["batch_size"]."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [INPUT_FN_PARAMS, SHARED_PREDICT_INPUT, EVAL_REMAINDER, TRAIN_REMAINDER, DYNAMIC_PADDING, ELSEWHERE,
             HELPER_BATCH, GET_NEXT, DIRECT_CALL, PARTIAL_PARAMS]
    #: none: input_fns are found through the Estimators that use them, in any module of the
    #: program, and a module that never names an Estimator may call one directly
    TRIGGERS = ()

    def visit_Module(self, node: cst.Module) -> None:
        index = self.index
        self.takes_params: Set[cst.CSTNode] = set()
        self.to_param: Set[cst.CSTNode] = set()
        self.pass_params: Set[cst.Call] = set()
        self.batch_kwargs: Dict[cst.Call, str] = {}
        self.iterators: Set[cst.FunctionDef] = set()
        modes: Dict[cst.Call, Set[str]] = {}
        sizes: Dict[cst.Call, Optional[cst.BaseExpression]] = {}  # the batch size lifted for each call
        for use in index.uses:
            if use.plan is not None and use.site is None and (
                    use.plan.canned is not None or "params" not in param_names(use.plan.takes_params)):
                self.report(use.arg, ELSEWHERE.code, ELSEWHERE.title,
                            "give it `params` and batch by params['batch_size']")
            elif use.problem == "unresolved" and not (use.site and use.site.api in TPU_ESTIMATOR_APIS):
                message, _ = unresolved("input_fn", index, use.arg.value)
                self.report(use.arg, UNRESOLVED_MODEL_FN.code, message,
                            "give it `params` and batch by params['batch_size'] where it is defined")
        # The program's input_fns (their uses and functions may be in any module): this
        # module plans the parts of them that are its own.
        plans = list(index.input_fn_plans())
        owned = index.owns
        for call in {plan.unfollowed for _, plan in plans} - {None}:
            if owned(call):
                self.report(call, HELPER_BATCH.code, HELPER_BATCH.title, "batch by params['batch_size'] there")
        gains: Dict[cst.CSTNode, List[Optional[cst.BaseExpression]]] = {}  # input_fn -> the batch sizes it is given
        batchers: Set[Optional[cst.FunctionDef]] = set()  # the defs that batch the input_fns' data
        for use, plan in plans:
            if plan.takes_params is not None:
                self.takes_params.add(plan.takes_params)
                gains.setdefault(plan.takes_params, []).append(plan.batch)
            self.to_param.update(plan.to_batch_param)
            self.batch_kwargs.update(plan.batch_kwargs)
            if plan.pass_params is not None:
                self.pass_params.add(plan.pass_params)
                callee = self._callee(plan.pass_params)
                if callee is not None:
                    self.takes_params.add(callee)
                    self.iterators.add(callee)
                    gains.setdefault(callee, []).append(plan.batch)
            if isinstance(plan.takes_params, cst.FunctionDef):
                self.iterators.add(plan.takes_params)
            for call in plan.batch_calls:
                batchers.add(index.index_of_node(call).enclosing_def(call))
                modes.setdefault(call, set()).add(use.mode)
                sizes.setdefault(call, self._params_batch_size(use.site) if plan.from_params else plan.batch)
        # A def that now batches by params itself (another use reaches it directly): calls
        # forwarding to it pass params on instead of a batch size (given or left to the default).
        rebatched = {plan.takes_params for _, plan in plans if plan.to_batch_param} - {None}
        for _, plan in plans:
            call = plan.forwards
            if call is not None and self._callee(call) in rebatched:
                self.to_param.difference_update(arg.value for arg in call.args)
                self.batch_kwargs.pop(call, None)
                self.pass_params.add(call)
        self.iterators = {fn for fn in self.iterators if owned(fn)}
        for fn in filter(owned, self.takes_params):
            hidden = outer_params_read(fn)
            if hidden is not None:
                self.report(hidden, HIDDEN_PARAMS.code, HIDDEN_PARAMS.title, "rename the outer params")
        #: functools.partial calls that bind an input_fn's params -> their arguments without it
        self.partials: Dict[cst.Call, List[cst.Arg]] = {}
        for use, plan in plans:
            if plan.partial is not None and owned(plan.partial) and plan.partial not in self.partials:
                self._free_params(plan.partial, plan.takes_params, use.site)
        handled = {call for _, plan in plans for call in (plan.forwards, plan.pass_params, *plan.batch_kwargs)}
        self.direct_calls = self._direct_calls(gains, handled | self.pass_params)
        # A helper that batches for an input_fn may return an iterator's tensors too: it
        # returns the dataset instead, when nothing else calls it.
        self.shared: Set[cst.FunctionDef] = set()
        for fn in {fn for fn in batchers if fn is not None and owned(fn)} - self.iterators:
            self.iterators.add(fn)
            if any(call not in handled for call in index.callers(fn)):
                self.shared.add(fn)
        #: batching calls that drop the remainder -> "always" (their data repeat without end,
        #: so nothing is lost), "params" (on the TPU, as params tells) or "program" (no params
        #: in scope: where the program runs)
        self.drop_remainder: Dict[cst.Call, str] = {}
        for call, used_in in modes.items():
            if not owned(call):
                continue
            if batching(call) == "padded_batch":
                shapes = find_arg(call, "padded_shapes", 1)
                value = shapes and (index.value_of(shapes.value, index.enclosing_def(call)) or shapes.value)
                if shapes is None or "None" in names_in(value):
                    self.report(shapes or call, DYNAMIC_PADDING.code, DYNAMIC_PADDING.title,
                                "pad every dimension to a fixed length")
            if BATCHING[batching(call)][1] is None:  # batch_and_drop_remainder
                continue
            given = _drop_remainder_arg(call)
            if used_in == {"predict"} or given is not None and not is_name(given.value, "False"):
                continue
            if "predict" in used_in:
                self.report(call, SHARED_PREDICT_INPUT.code, SHARED_PREDICT_INPUT.title,
                            "give train/eval input drop_remainder=True")
                continue
            steps, branches = self._upstream(call)
            repeats, lost = self._repeats(steps, branches), self._lost(call, sizes[call], steps, branches)
            if repeats == "always" or lost and lost[0] == 0:  # no partial batch: nothing to lose
                self.drop_remainder[call] = "always"
                continue
            self.drop_remainder[call] = "params" if self._params_visible(call) else "program"
            if "eval" in used_in:
                self.report(call, EVAL_REMAINDER.code, EVAL_REMAINDER.title + _examples(lost, "evaluation"),
                            "make the eval set a multiple of eval_batch_size, or pad it and weight the padding 0")
            if "train" in used_in and repeats == "never":
                self.report(call, TRAIN_REMAINDER.code, TRAIN_REMAINDER.title + _examples(lost, "epoch"),
                            "repeat() before batch(), or make the data a multiple of train_batch_size")

        #: ``return …get_next()`` statements that return the dataset instead; their iterators'
        #: calls; the statements ``it = <iterator>`` / ``x = <iterator>.get_next()`` before
        #: them, removed
        self.get_next_returns: Set[cst.Return] = set()
        self.iterator_calls: Dict[cst.Call, cst.Return] = {}
        self.dropped: Dict[cst.SimpleStatementLine, cst.Return] = {}
        self.datasets: Dict[cst.Return, cst.BaseExpression] = {}  # the iterators' datasets, rewritten
        #: returns of an expression of the tensors (not the tensors): the names they are bound to
        self.mapped: Dict[cst.Return, List[str]] = {}
        #: return lines after statements that log the tensors or compute from them: the def
        #: mapped over the dataset in their place (its name, the tensors, the statements it runs)
        self.batch_fns: Dict[cst.SimpleStatementLine, Tuple[str, List[str], List[cst.SimpleStatementLine]]] = {}
        self.batch_fn_of: Dict[cst.Return, str] = {}  # the returns of those lines: the def's name
        for fn in filter(lambda f: isinstance(f, cst.FunctionDef), self.iterators):
            self._find_get_next_returns(fn)

    def _callee(self, call: cst.Call):
        """The function a call of the program's input_fns calls (resolved in its own module)."""
        index = self.index.index_of_node(call)
        return index.resolve_function(call.func, None)

    def rewrites(self) -> bool:
        lacking = [f for f in self.takes_params if "params" not in param_names(f)]
        return bool(lacking or self.to_param or self.drop_remainder or self.pass_params or self.batch_kwargs
                    or self.get_next_returns or self.direct_calls or self.partials)

    def targets(self):
        return [*self.takes_params, *self.to_param, *self.drop_remainder, *self.pass_params, *self.batch_kwargs,
                *self.direct_calls, *self.partials,
                *self.get_next_returns, *self.iterator_calls, *self.dropped, *self.batch_fns]

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef):
        if original_node in self.takes_params and "params" not in param_names(original_node):
            updated_node = updated_node.with_changes(params=add_param(updated_node.params, "params"))
        return updated_node

    def leave_Lambda(self, original_node: cst.Lambda, updated_node: cst.Lambda):
        if original_node in self.takes_params and "params" not in param_names(original_node):
            updated_node = updated_node.with_changes(params=add_param(updated_node.params, "params"))
        return updated_node

    def _upstream(self, call: cst.Call) -> Tuple[List[cst.Call], List[cst.BaseExpression]]:
        """The method calls the dataset of a batching call went through, latest first, its
        variable followed back through the statements before it; and the values assigned to
        that variable in branches in between (``if training: ds = ds.repeat()``)."""
        parents = self.index.index_of_node(call).parent_of
        steps: List[cst.Call] = []
        branches: List[cst.BaseExpression] = []
        expr, node = self._dataset_of(call), call
        for _ in range(32):
            while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
                steps.append(expr)
                expr = expr.func.value
            if not isinstance(expr, cst.Name):
                break
            for stmt in _preceding(node, parents):
                values = _Assignments(expr.value).walked(stmt).values
                if isinstance(stmt, cst.SimpleStatementLine) and len(values) == 1:
                    expr, node = values[0], stmt
                    break
                branches.extend(values)
            else:
                break
        return steps, branches

    def _repeats(self, steps: List[cst.Call], branches: List[cst.BaseExpression]) -> str:
        """Whether the data batched repeat without end: "always", "maybe" (in a branch, or by a
        count held in a variable, ``None`` in training, often) or "never"."""
        how = _repeat_of(steps)
        if how == "always":
            return how
        in_branch = any(_repeat_of(_calls(value)) in ("always", "maybe") for value in branches)
        return "maybe" if in_branch or how == "maybe" else "never"

    def _free_params(self, partial: cst.Call, fn, site) -> None:
        """``functools.partial(input_fn, a, params, b)`` hides ``params`` from TPUEstimator,
        which then refuses the input_fn: the partial leaves it free (``partial(input_fn, a,
        b=b)``), when what it bound is the estimator's own params (TPUEstimator passes them,
        with the batch size); otherwise it is reported."""
        names = param_names(fn)
        if "params" not in names:
            return  # it gains params, after what the partial binds
        args, at = list(partial.args[1:]), names.index("params")
        positional = [arg for arg in args if arg.keyword is None and not arg.star]
        bound = positional[at] if len(positional) > at else find_arg(partial, "params")
        if bound is None and not any(arg.star for arg in args):
            return
        given = self.index.index_of_node(site.call).argument(site, "params", 3)
        later = positional[at + 1:]
        if bound is None or given is None or _code(given) != _code(bound.value) or at + 1 + len(later) > len(
                fn.params.params) or any(arg.star for arg in args):
            self.report(partial, PARTIAL_PARAMS.code, PARTIAL_PARAMS.title,
                        "bind the input_fn's other arguments only, and give the estimator params=")
            return
        keywords = {id(arg): names[at + 1 + i] for i, arg in enumerate(later)}
        kept = [arg.with_changes(keyword=cst.Name(keywords[id(arg)]), equal=kwarg("x", arg.value).equal)
                if id(arg) in keywords else arg for arg in args if arg is not bound]
        kept[-1:] = [kept[-1].with_changes(comma=partial.args[-1].comma)] if kept else []
        self.partials[partial] = [partial.args[0].with_changes(comma=partial.args[0].comma if kept else cst.MaybeSentinel.DEFAULT), *kept]

    def _direct_calls(self, gains, handled) -> Dict[cst.Call, cst.BaseExpression]:
        """The calls of this module that call an input_fn gaining params directly (a test, a
        notebook cell looking at a batch), each with the batch size its params will hold:
        the one the input_fn was given, when every estimator gives it the same one and the
        call can read it; otherwise the call is reported."""
        found = {}
        for fn, sizes in gains.items():
            if "params" in param_names(fn):
                continue
            for call in self.index.callers(fn):
                if call in handled or not self.index.owns(call) or _passes_params(call):
                    continue
                size = sizes[0] if len({_code(s) if s is not None else None for s in sizes}) == 1 else None
                if size is None or not self.index.available_at(size, self.index.enclosing_def(call)):
                    self.report(call, DIRECT_CALL.code, DIRECT_CALL.title,
                                'pass it params={"batch_size": ...} yourself, or call it only through the estimator')
                else:
                    found[call] = size
        return found

    def _params_batch_size(self, site) -> Optional[cst.BaseExpression]:
        """The ``batch_size`` of the params dict an estimator is built with, when written there."""
        index = self.index.index_of_node(site.call)
        params = index.params_dict_of(site)
        return (index.dict_items(params, site.scope) or {}).get("batch_size") if params is not None else None

    def _params_visible(self, call: cst.Call) -> bool:
        """Whether the ``params`` of an input_fn is in scope at a batching call, once rewritten."""
        index = self.index.index_of_node(call)
        fn = index.enclosing_function(call)
        while fn is not None:
            if fn in self.takes_params or "params" in param_names(fn):
                return True
            fn = index.enclosing_function(fn)
        return False

    def _lost(self, call: cst.Call, size, steps, branches) -> Optional[Tuple[int, int, int]]:
        """(examples lost, examples, batch size) when a batching call drops its remainder, if
        the dataset's size and the batch size are numbers known here."""
        index = self.index.index_of_node(call)
        batch, rows = _number(size, index), None if branches else _size(steps, index)
        return (rows % batch, rows, batch) if batch and rows is not None and rows != _FOREVER else None

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        ret = self.iterator_calls.get(original_node)
        if ret is not None:  # what the return statement returns instead
            self.datasets[ret] = self._dataset(updated_node)
        how = self.drop_remainder.get(original_node)
        if how is not None:
            value = cst.Name("True") if how == "always" else self.on_tpu(params=how == "params")
            if _drop_remainder_arg(updated_node) is None:
                updated_node = add_args(updated_node, [kwarg("drop_remainder", value)])
            else:  # drop_remainder=False
                updated_node = replace_arg(updated_node, "drop_remainder", BATCHING[batching(original_node)][1], value)
        if original_node in self.pass_params and not _passes_params(original_node):
            updated_node = add_args(updated_node, [kwarg("params", cst.Name(self.params_name()))])
        name = self.batch_kwargs.get(original_node)
        if name is not None:
            updated_node = add_args(updated_node, [kwarg(name, params_item("batch_size", self.params_name()))])
        if original_node in self.partials:
            updated_node = updated_node.with_changes(args=self.partials[original_node])
        size = self.direct_calls.get(original_node)
        if size is not None:  # input_fn() -> input_fn(params={"batch_size": 32}): what TPUEstimator gives the CPU
            batch = cst.Dict([cst.DictElement(cst.SimpleString('"batch_size"'), size)])
            updated_node = add_args(updated_node, [kwarg("params", batch)])
        return updated_node

    def _find_get_next_returns(self, fn: cst.FunctionDef) -> None:
        """Fill :attr:`get_next_returns`, :attr:`iterator_calls` and :attr:`dropped` for ``fn``;
        report the other get_next() calls."""
        handled: Set[cst.Call] = set()
        for path, stmt in statements(fn.body):
            ret = _only(stmt, cst.Return)
            chain = self._iterator_chain(ret, path[-1], fn) if ret is not None and fn not in self.shared else None
            if chain is not None:
                iterator, get_next, dropped, tensors, moved = chain
                if moved:  # def log_batch(x, y): print(x); return x, y  /  return ds.map(log_batch)
                    computes = any(_only(s, cst.Assign) is not None for s in moved)
                    name = fresh_name(fn, "map_batch" if computes else "log_batch")
                    self.batch_fns[stmt], self.batch_fn_of[ret] = (name, tensors, moved), name
                    dropped = [*dropped, *moved]
                elif tensors and _plain_names(ret.value) != tensors:  # ds.map(lambda x: (x, x.pop("y")))
                    self.mapped[ret] = tensors
                self.get_next_returns.add(ret)
                self.iterator_calls[iterator] = ret
                self.dropped.update(dict.fromkeys(dropped, ret))
                handled.add(get_next)
        for call in MethodCalls("get_next").walked(fn).calls:
            if call not in handled:
                also = f": {fn.name.value} is also called elsewhere" if fn in self.shared else ""
                self.report(call, GET_NEXT.code, GET_NEXT.title + also, "return the dataset")

    def _iterator_chain(self, ret: cst.Return, before, fn: cst.FunctionDef):
        """(iterator call, get_next call, statements to drop, tensors, statements to move) when
        ``ret`` returns the ``get_next()`` of a one-shot iterator of a dataset: directly, or
        through names bound by the statements just before it (``it = ds.make_one_shot_iterator()``,
        ``x, y = it.get_next()``) and read only there; the tensors are the names ``x, y`` when
        ``ret`` returns another expression of them (:func:`_mappable`), or after statements
        that log them or compute names from them (``features = {"images": x}``), to move into
        a function mapped over the dataset.  Else None."""
        before, local, dropped = list(before), local_bindings(fn), []
        value, moved = ret.value, self._after_get_next(before, local)

        def bound_before(targets: List[str]) -> Optional[cst.BaseExpression]:
            stmt = before.pop() if before else None
            assign = _only(stmt, cst.Assign)
            if assign is None or len(assign.targets) != 1 or _plain_names(assign.targets[0].target) != targets:
                return None
            dropped.append(stmt)
            return assign.value

        tensors: List[str] = []
        if not _is_get_next(value):  # x, y = it.get_next() [; moved...]; return <an expression of x, y>
            assign = _only(before[-1], cst.Assign) if before else None
            tensors = _plain_names(assign.targets[0].target) if assign is not None and len(assign.targets) == 1 else None
            if not tensors or not _is_get_next(assign.value):
                return None
            known = set(tensors)
            for stmt in moved:
                computed = _only(stmt, cst.Assign)
                if computed is not None:  # name = <expression of the tensors>
                    if not _mappable(computed.value, known, local, self.api):
                        return None
                    known.add(computed.targets[0].target.value)
            returned = _plain_names(value)
            if not (returned is not None and set(returned) <= known or _mappable(value, known, local, self.api)):
                return None
            there = [before[-1], *moved, ret]
            if not all(_Names(name).walked(fn).count == sum(_Names(name).walked(s).count for s in there)
                       for name in known):  # bound and read there only
                return None
            if len(tensors) == 1 and (moved or returned != tensors) and not any(
                    _DictReads(tensors[0]).walked(s).found for s in there[1:]):
                return None  # one name: a tuple of tensors would reach the map function as several arguments
            value = bound_before(tensors)
        elif moved:
            return None  # return it.get_next() itself: the statements before it are about other things
        get_next, iterator = value, value.func.value
        if isinstance(iterator, cst.Name):  # it.get_next()
            name = iterator.value
            iterator = bound_before([name])
            if _Names(name).walked(fn).count != 2:  # bound there, read there, nowhere else
                return None
        if iterator is None or self._dataset(iterator) is None:
            return None
        return iterator, get_next, dropped, tensors, moved

    def _after_get_next(self, before: list, local: Dict[str, list]) -> List[cst.SimpleStatementLine]:
        """The statements of ``before`` after its last ``x, y = <...>.get_next()``, taken off it,
        when each logs (:meth:`_logs`) or binds one name (``features = {"images": x}``); else []."""
        assigned = [getattr(_only(stmt, cst.Assign), "value", None) for stmt in before]
        at = next((i for i in range(len(before) - 1, -1, -1) if _is_get_next(assigned[i])), None)
        after = before[at + 1:] if at is not None else []
        if not all(self._logs(stmt, local) or _binds_one_name(stmt) for stmt in after):
            return []
        del before[len(before) - len(after):]
        return after

    def _logs(self, stmt, local: Dict[str, list]) -> bool:
        """Whether ``stmt`` only prints or logs (``print(...)``, ``logging.info(...)``, TensorFlow's
        logging) strings, names and their ``.format(...)``: run again where a ``Dataset.map``
        function is built, it prints the same, once."""
        small = _only(stmt, cst.Expr)
        call = small.value if small is not None else None
        if not isinstance(call, cst.Call) or not all(not arg.keyword or arg.keyword.value in ("sep", "end")
                                                     for arg in call.args):
            return False
        logging = self.api(call.func) or dotted(call.func) or ""
        printing = (is_name(call.func, "print") and "print" not in local) or logging in LOGGING_CALLS
        return printing and all(_printable(arg.value) for arg in call.args)

    def _dataset(self, iterator: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        """``ds`` of ``ds.make_one_shot_iterator()`` or ``tf.data.make_one_shot_iterator(ds)``."""
        if is_method_call(iterator, "make_one_shot_iterator"):
            return iterator.func.value
        if (isinstance(iterator, cst.Call) and len(iterator.args) == 1 and not iterator.args[0].keyword
                and self.api(iterator.func) == "tf.data.make_one_shot_iterator"):
            return iterator.args[0].value
        return None

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if original_node in self.dropped:  # it = <iterator>, or x = <iterator>.get_next()
            return cst.RemoveFromParent()
        batch_fn = self.batch_fns.get(original_node)
        if batch_fn is not None:  # def log_batch(x, y): print(x)...; return x, y  /  return ds.map(log_batch)
            name, tensors, moved = batch_fn
            body = [s.with_changes(leading_lines=s.leading_lines if i else split_comments(s.leading_lines)[1])
                    for i, s in enumerate(moved)]
            body.append(cst.SimpleStatementLine([cst.Return(original_node.body[0].value)]))
            _, comments = split_comments(updated_node.leading_lines)
            batch_def = cst.FunctionDef(cst.Name(name), cst.Parameters([cst.Param(cst.Name(t)) for t in tensors]),
                                        cst.IndentedBlock(body), leading_lines=(cst.EmptyLine(indent=False),))
            return cst.FlattenSentinel([batch_def, updated_node.with_changes(leading_lines=comments)])
        return updated_node

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return):
        if original_node not in self.get_next_returns:
            return updated_node
        dataset = self.datasets[original_node]
        names = self.mapped.get(original_node)
        batch_fn = self.batch_fn_of.get(original_node)
        if batch_fn is not None:
            return updated_node.with_changes(value=cst.Call(cst.Attribute(dataset, cst.Name("map")),
                                                            [cst.Arg(cst.Name(batch_fn))]))
        if names:  # ds.map(lambda features: (features, features.pop("y")))
            body = updated_node.value
            if isinstance(body, cst.Tuple) and not body.lpar:
                body = body.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            params = cst.Parameters([cst.Param(cst.Name(name)) for name in names])
            dataset = cst.Call(cst.Attribute(dataset, cst.Name("map")), [cst.Arg(cst.Lambda(params, body))])
        return updated_node.with_changes(value=dataset)

    def _dataset_of(self, call: cst.Call) -> Optional[cst.BaseExpression]:
        """The dataset a batching call batches: ``ds`` in ``ds.batch(…)`` and ``ds.apply(map_and_batch(…))``."""
        if isinstance(call.func, cst.Attribute) and batching(call) in ("batch", "padded_batch"):
            return call.func.value
        apply = self.index.parent_of.get(self.index.parent_of.get(call))
        if isinstance(apply, cst.Call) and isinstance(apply.func, cst.Attribute) and apply.func.attr.value == "apply":
            return apply.func.value
        return None

    def on_leave(self, original_node, updated_node):
        updated_node = super().on_leave(original_node, updated_node)
        if original_node in self.to_param:
            return params_item("batch_size", self.params_name())
        return updated_node


def _examples(lost: Optional[Tuple[int, int, int]], each: str) -> str:
    """The examples a note says are lost (on one TPU host, whose input_fn makes global batches)."""
    if lost is None:
        return ""
    return f": {lost[0]} of {lost[1]} examples each {each} (batches of {lost[2]}, one TPU host)"


def _number(expr, index) -> Optional[int]:
    """The int an expression is: a literal, or a module-level name bound to one."""
    if isinstance(expr, cst.Name):
        expr = index.lookup(expr.value, None)
    return int(expr.value, 0) if isinstance(expr, cst.Integer) else None


_FOREVER = float("inf")


def _size(steps: List[cst.Call], index):
    """The number of elements of a dataset made by ``steps`` (latest first), when known here:
    ``Dataset.range(N)``, then ``map``/``shuffle``/``cache``/``prefetch``, ``take(N)`` and
    ``repeat`` (:data:`_FOREVER` without a count)."""
    if not steps or not (len(steps[-1].args) == 1 and index.imports.api(steps[-1].func) == "tf.data.Dataset.range"):
        return None
    rows = _number(steps[-1].args[0].value, index)
    for step in reversed(steps[:-1]):
        method, count = step.func.attr.value, find_arg(step, "count", 0)
        if rows is None or method in ("map", "shuffle", "cache", "prefetch"):
            continue
        if method == "take" and count is not None:
            taken = _number(count.value, index)
            rows = None if taken is None else min(rows, taken)
        elif method == "repeat":
            times = _FOREVER if count is None or _code(count.value) in ("None", "-1") else _number(count.value, index)
            rows = None if times is None else rows * times
        else:
            return None
    return rows


def _drop_remainder_arg(call: cst.Call) -> Optional[cst.Arg]:
    return find_arg(call, "drop_remainder", BATCHING[batching(call)][1])


def _passes_params(call: cst.Call) -> bool:
    """Whether ``call`` already hands on params: as ``params=``, or ``params`` in any place."""
    return find_arg(call, "params") is not None or any(
        is_name(a.value, "params") for a in call.args)


def _calls(expr: cst.BaseExpression) -> List[cst.Call]:
    """The method calls of a chain, latest first."""
    found = []
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        found.append(expr)
        expr = expr.func.value
    return found


def _repeat_of(steps: List[cst.Call]) -> Optional[str]:
    """Of a pipeline's method calls (latest first): "always" past a ``.repeat()`` without a
    count (its batches are all whole: dropping the remainder drops nothing), "maybe" past
    ``.repeat(n)`` with the count in a variable, "never" past a ``.take`` or a counted repeat,
    None when they do not say."""
    for step in steps:
        method = step.func.attr.value
        if method == "take":
            return "never"
        if method == "repeat":
            count = find_arg(step, "count", 0)
            if count is None or _code(count.value) in ("None", "-1"):
                return "always"
            return "maybe" if isinstance(count.value, cst.Name) else "never"
    return None


def _code(node: cst.CSTNode) -> str:
    return "".join(cst.Module([]).code_for_node(node).split())


def _preceding(node: cst.CSTNode, parents) -> Iterator[cst.BaseStatement]:
    """The statements that run before the statement holding ``node`` in its function, latest
    first: those before it in its block, then those before each enclosing statement."""
    while not isinstance(node, (cst.FunctionDef, cst.Lambda, cst.Module)) and node is not None:
        parent = parents.get(node)
        if isinstance(parent, cst.IndentedBlock) and isinstance(node, cst.BaseStatement):
            yield from reversed(parent.body[:parent.body.index(node)])
        node = parent


class _Assignments(Visitor):
    """The values assigned to a name (``name = value``) in a statement, nested defs left out."""

    def __init__(self, name: str) -> None:
        self.name, self.values = name, []

    def visit_FunctionDef(self, node) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(is_name(t.target, self.name) for t in node.targets):
            self.values.append(node.value)


def _only(stmt, kind):
    """The one small statement of a simple statement line, when it is a ``kind``."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], kind):
        return stmt.body[0]
    return None


def _mappable(expr: cst.BaseExpression, tensors: Set[str], local: Dict[str, list], api) -> bool:
    """Whether ``expr`` can be computed in a ``Dataset.map`` function of the ``tensors``: it
    reads them (and their ``.pop(key)``), constants, names the function does not bind
    (``local``: its bindings, see :func:`local_bindings`) and TensorFlow ops (``api``: the
    codemod's), in displays and subscripts, and nothing else."""
    if isinstance(expr, (cst.Tuple, cst.List)):
        return all(isinstance(e, cst.Element) and _mappable(e.value, tensors, local, api) for e in expr.elements)
    if isinstance(expr, cst.Dict):
        return all(isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
                   and _mappable(e.value, tensors, local, api) for e in expr.elements)
    if isinstance(expr, (cst.SimpleString, cst.Integer, cst.Float)):
        return True
    if isinstance(expr, (cst.Name, cst.Attribute)):
        root = expr
        while isinstance(root, cst.Attribute):
            root = root.value
        return isinstance(root, cst.Name) and (root.value in tensors or root.value not in local)
    if isinstance(expr, cst.Subscript):
        return _mappable(expr.value, tensors, local, api) and _constant_indices(expr)
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value == "pop" and isinstance(func.value, cst.Name) \
                and func.value.value in tensors:  # features.pop("label")
            return len(expr.args) == 1 and not expr.args[0].keyword and not expr.args[0].star and isinstance(
                expr.args[0].value, (cst.SimpleString, cst.Name, cst.Attribute)) and _mappable(expr.args[0].value, set(), local, api)
        return (api(expr.func) or "").startswith("tf.") and all(
            not arg.star and _mappable(arg.value, tensors, local, api) for arg in expr.args)
    return False


#: Logging calls an input_fn may make of its tensors (see :meth:`InputFnTakesParams._logs`);
#: ``print`` too.
LOGGING_CALLS = frozenset({
    *(f"{module}.{level}" for module in ("logging", "tf.logging", "absl.logging")
      for level in ("debug", "info", "warning", "error")),
})


def _printable(expr: cst.BaseExpression) -> bool:
    """A string, a name (``x``, ``x.shape``, ``x["key"]``), or an f-string, a string's
    ``.format(...)`` or ``%`` of such: what printing tensors computes nothing more with."""
    if isinstance(expr, (cst.SimpleString, cst.Integer, cst.Name)):
        return True
    if isinstance(expr, cst.Attribute):
        return _printable(expr.value)
    if isinstance(expr, cst.Subscript):  # features["mean_rgb"]
        return _printable(expr.value) and _constant_indices(expr)
    if isinstance(expr, cst.FormattedString):
        return all(isinstance(part, cst.FormattedStringText) or _printable(part.expression) for part in expr.parts)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "format" \
            and isinstance(expr.func.value, cst.SimpleString):
        return all(not arg.star and _printable(arg.value) for arg in expr.args)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Modulo):  # "%s" % (x, y)
        values = [e.value for e in expr.right.elements] if isinstance(expr.right, cst.Tuple) else [expr.right]
        return isinstance(expr.left, cst.SimpleString) and all(map(_printable, values))
    return False


class _DictReads(Visitor):
    """Whether a name is read by a string key (``x["k"]``, ``x.pop("k")``): a dict of tensors,
    which ``Dataset.map`` passes its function as one argument."""

    def __init__(self, name: str) -> None:
        self.name, self.found = name, False

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if is_name(node.value, self.name) and constant_key(node) is not None:
            self.found = True

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("pop", "get") \
                and is_name(node.func.value, self.name):
            self.found = True


def _binds_one_name(stmt) -> bool:
    """``name = <expression>``."""
    assign = _only(stmt, cst.Assign)
    return assign is not None and len(assign.targets) == 1 and isinstance(assign.targets[0].target, cst.Name)


def _constant_indices(expr: cst.Subscript) -> bool:
    """Whether every index of ``x[...]`` is a string or an integer literal."""
    return all(isinstance(s.slice, cst.Index) and isinstance(s.slice.value, (cst.SimpleString, cst.Integer))
               for s in expr.slice)


def _plain_names(node) -> Optional[List[str]]:
    """``x`` -> [x]; ``x, y`` (or ``(x, y)``) -> [x, y]; None for anything else."""
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, cst.Tuple) and node.elements and all(
            isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in node.elements):
        return [e.value.value for e in node.elements]
    return None


def _is_get_next(node) -> bool:
    return is_method_call(node, "get_next")


class _Names(Visitor):
    """How many times a name occurs (bound, read, or as an attribute or keyword)."""

    def __init__(self, name: str) -> None:
        self.name, self.count = name, 0

    def visit_Name(self, node: cst.Name) -> None:
        self.count += node.value == self.name
