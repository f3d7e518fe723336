"""Estimator -> TPUEstimator and RunConfig -> TPU RunConfig.

    config = tf.estimator.RunConfig(model_dir=d)
    est = tf.estimator.Estimator(model_fn, config=config, params={"batch_size": 32, "lr": 0.1})
    # becomes
    config = tf.compat.v1.estimator.tpu.RunConfig(
        model_dir=d, cluster=est2tpu.tpu_cluster_resolver(),
        tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(iterations_per_loop=100))
    est = tf.compat.v1.estimator.tpu.TPUEstimator(
        model_fn, config=config, params={"lr": 0.1}, use_tpu=est2tpu.use_tpu(),
        train_batch_size=32, eval_batch_size=32)

The batch sizes are the ones the input_fns of this estimator used (see
:mod:`codemods.estimators`); ``batch_size`` is reserved in params and moves out.  Where
the TPU is follows one rule, in ``est2tpu.use_tpu()``: the ``TPU_NAME`` environment
variable.  Runs before :mod:`codemods.input_fns`, which rewrites the batch sizes away.
"""

from typing import Dict, List, Optional, Set

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import EstimatorSite, is_batch_size_key, is_batch_size_param
from .names import dotted
from .syntax import add_args, add_param, find_arg, is_name, keywordize, kwarg, remove_kwarg, replace_arg
from .walk import Visitor

ESTIMATOR_FIELDS = ("model_fn", "model_dir", "config", "params", "warm_start_from")
RUN_CONFIG_FIELDS = (
    "model_dir", "tf_random_seed", "save_summary_steps", "save_checkpoints_steps",
    "save_checkpoints_secs", "session_config", "keep_checkpoint_max",
    "keep_checkpoint_every_n_hours", "log_step_count_steps", "train_distribute",
)
BATCH_KEYWORDS = {"train": "train_batch_size", "eval": "eval_batch_size", "predict": "predict_batch_size"}

TO_TPU_ESTIMATOR = Rule(
    "E2T104",
    "Estimator becomes TPUEstimator",
    "TPUEstimator takes the global batch sizes as train_batch_size/eval_batch_size/"
    "predict_batch_size (lifted from the input_fns; `batch_size` is a reserved params key) "
    "and use_tpu (est2tpu.use_tpu(): true when TPU_NAME is set).",
    before="est = tf.estimator.Estimator(model_fn, params={'batch_size': 32})",
    after="est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, config=..., params={}, "
          "use_tpu=est2tpu.use_tpu(), train_batch_size=32)",
)
TO_TPU_RUN_CONFIG = Rule(
    "E2T105",
    "RunConfig becomes the TPU RunConfig",
    "TPUEstimator requires a tpu RunConfig with a TPUConfig; the user's arguments are kept.",
    before="config = tf.estimator.RunConfig(model_dir=d)",
    after="config = tf.compat.v1.estimator.tpu.RunConfig(model_dir=d, cluster=est2tpu.tpu_cluster_resolver(), "
          "tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(iterations_per_loop=100))",
)
NO_TRAIN_STEPS = Rule(
    "E2T202",
    "train() without steps or max_steps",
    "TPU training needs a bound: 'For TPU training, one of `steps` or `max_steps` must be set'.",
    before="estimator.train(input_fn)",
    after="estimator.train(input_fn, max_steps=10000)",
    blocking=True,
)
NO_EVAL_STEPS = Rule(
    "E2T203",
    "evaluate() without steps",
    "'Evaluate `steps` must be set on TPU. Cannot be `None`.' Set steps to the number of "
    "whole eval batches.",
    before="estimator.evaluate(input_fn)",
    after="estimator.evaluate(input_fn, steps=EVAL_SIZE // EVAL_BATCH)",
    blocking=True,
)
RESERVED_PARAMS = Rule(
    "E2T213",
    "params may hold the reserved key batch_size",
    "params is not a dict literal here, so a 'batch_size' (or 'context') key could not be "
    "moved out. TPUEstimator rejects them: pass batch sizes as train_batch_size/... instead.",
    before="est = tf.estimator.Estimator(model_fn, params=load_hparams())",
    after="hparams = load_hparams()  # without a 'batch_size' key\n"
          "est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, params=hparams, train_batch_size=32, ...)",
)
PARAMS_CALL = Rule(
    "E2T242",
    "input_fns read params['batch_size'] from params that are not a name",
    "The input_fns batch by params['batch_size'], so params holds the batch size; but params= "
    "is an expression (a call, say) that cannot be evaluated twice, so the batch size could not "
    "be moved to train_batch_size/... nor removed from params, and TPUEstimator refuses the "
    "reserved key. Bind the value to a name first: est2tpu then passes a copy without "
    "batch_size and lifts P['batch_size'].",
    before="est = tf.estimator.Estimator(model_fn, params=get_hparams())",
    after="hparams = get_hparams()\nest = tf.estimator.Estimator(model_fn, params=hparams)",
    blocking=True,
    obstacle=True,
)
NO_BATCH_SIZE = Rule(
    "E2T218",
    "batch size of an input_fn not found",
    "TPUEstimator needs train_batch_size (and eval/predict batch sizes for evaluate/predict). "
    "The input_fn's batch size could not be read here; set it by hand.  An input_fn built on "
    "TF 1's input queues (tf.train.shuffle_batch, tf.TextLineReader...) has none to give: read "
    "its data with tf.data first.",
    before="est.train(input_fn=make_input_fn(files))",
    after="est = tf.compat.v1.estimator.tpu.TPUEstimator(..., train_batch_size=32)\n"
          "est.train(input_fn=make_input_fn(files))  # batching by params[\"batch_size\"]",
    blocking=True,
    obstacle=True,
)
BATCH_CONFLICT = Rule(
    "E2T230",
    "one mode, several batch sizes",
    "A TPUEstimator has one batch size per mode (train_batch_size, ...), and every input_fn of "
    "that mode is given it as params['batch_size']. These input_fns batched by different "
    "sizes; the first was kept, which changes what the others train or evaluate on. Build one "
    "TPUEstimator per batch size (sharing model_dir), or use one size.",
    before="est.train(lambda: train_ds.batch(64))\nest.train(lambda: extra_ds.batch(16))",
    after="est.train(lambda params: train_ds.batch(params[\"batch_size\"]))  # train_batch_size=64\n"
          "est_16.train(lambda params: extra_ds.batch(params[\"batch_size\"]))  # a second TPUEstimator",
    blocking=True,
    obstacle=True,
)
CONFIG_UNKNOWN = Rule(
    "E2T219",
    "config is not a RunConfig built in this file",
    "TPUEstimator requires a tpu RunConfig ('`config` must be provided with type "
    "`tpu_config.RunConfig`'). Build it with tf.compat.v1.estimator.tpu.RunConfig(...).",
    before="est = tf.estimator.Estimator(model_fn, config=load_config())",
    after="est = tf.compat.v1.estimator.tpu.TPUEstimator(\n"
          "    model_fn, config=tf.compat.v1.estimator.tpu.RunConfig(model_dir=load_config().model_dir, ...), ...)",
    blocking=True,
    obstacle=True,
)
CHECKPOINTS_PER_LOOP = Rule(
    "E2T233",
    "checkpoints are saved between loops of iterations_per_loop steps",
    "A TPU runs iterations_per_loop steps per session call, and TPUEstimator saves a checkpoint "
    "only between those calls: save_checkpoints_steps below, or not a multiple of, "
    "iterations_per_loop saves less often than it says. Make it a multiple, or choose "
    "--iterations-per-loop to fit.",
    before="tf.estimator.RunConfig(save_checkpoints_steps=10)",
    after="tf.compat.v1.estimator.tpu.RunConfig(save_checkpoints_steps=100, "
          "tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(iterations_per_loop=100))",
)
TPU_CORES = 8  # the smallest TPU (v2-8, v3-8): every slice's core count is a multiple of it
NOT_PER_CORE = Rule(
    "E2T249",
    "batch size not a multiple of the TPU's cores",
    "TPUEstimator splits each global batch (train_batch_size, eval_batch_size, "
    "predict_batch_size) evenly across the TPU cores, 8 on the smallest TPU: 'train batch size "
    "20 must be divisible by number of replicas 8'. The CPU run is unchanged; on a TPU use a "
    "multiple of the core count (and keep the learning rate right for the new batch).",
    before="dataset.batch(20)",
    after="dataset.batch(24)",
    blocking=True,
)
UNKNOWN_KEYWORDS = Rule(
    "E2T231",
    "Estimator(**mapping) whose keys are not known here",
    "TPUEstimator needs config=<a TPU RunConfig>, use_tpu= and the batch sizes, and batch_size "
    "must leave params. est2tpu cannot see which of these a ** mapping already holds (adding a "
    "keyword it holds fails: 'got multiple values for keyword argument'), so the call is left "
    "as it is. Build the mapping as a dict literal beside the call, or pass these keywords "
    "explicitly.",
    before="est = tf.estimator.Estimator(**make_kwargs())",
    after="kw = make_kwargs()\nest = tf.estimator.Estimator(model_fn=kw['model_fn'], config=kw['config'])",
    blocking=True,
    obstacle=True,
)


def batch_size_args(codemod: MigrationCodemod, site: EstimatorSite, from_params=None) -> List[cst.Arg]:
    """``train_batch_size=…`` etc.: the batch sizes the site's input_fns used, where known there.

    An Estimator used nowhere in the program (returned, stored) with ``params["batch_size"]``
    gets it for every mode: its input_fns, wherever they are, read it in every mode; one
    trained nowhere gets it as its train batch size (TPUEstimator needs one), and without it
    has none to be given (E2T218).
    """
    program = codemod.program
    if program is not None and (program.has_own_tpu_path(site) or program.exported_only(site)):
        return []  # left as it is (the program's other path, or only exported): nothing to lift or miss
    args = []
    given = codemod.program.factory_batch_sizes(site) if codemod.program is not None else {}
    untrained = False  # trained nowhere: TPUEstimator still needs a train batch size
    for mode, keyword in BATCH_KEYWORDS.items():
        uses = [u for u in site.uses if u.mode == mode and u.plan is not None]
        if not uses:
            unused = not any(u.mode == mode for u in site.uses)
            if (not site.uses or mode == "train" and unused) and from_params is not None \
                    and codemod.index.available_at(from_params, site.scope):
                args.append(kwarg(keyword, from_params))
            elif mode == "train" and unused:
                untrained = True
            continue
        sizes = [from_params if use.plan.from_params else use.plan.batch for use in uses]
        size, why = sizes[0], ""
        if size is not None and codemod.program is not None:  # read in another module: as this one names it
            size = codemod.program.spelled_at(size, codemod.index)
            if size is None:
                why = f": {_code(sizes[0])} is set in a module that the one building the estimator does not import"
        rebound = codemod.program.rebound_elsewhere(sizes[0]) if size is not None and codemod.program else None
        if rebound is not None:  # the input_fns may have used the first value, the estimator the next
            size, why = None, f": {_code(sizes[0])} is set again at {rebound}"
        if size is not None and not (codemod.index.available_at(size, site.scope) and codemod.index.same_at(size, site.scope)):
            size, why = None, f": {_code(size)} is not known where the estimator is built"
        if size is None and sizes[0] is not None and codemod.program is not None:  # as the def it is read in is called
            size = codemod.program.named_at(codemod.program.liftings(sizes[0])[1:], codemod.index, site.scope)
            why = why if size is None else ""
        spelled = [_code(s) for s in sizes]
        for use, other in zip(uses, spelled):
            if other is not None and other != spelled[0]:
                codemod.report(use.arg, BATCH_CONFLICT.code, f"{BATCH_CONFLICT.title}: {other}, not {spelled[0]}",
                               "one TPUEstimator per batch size")
        if size is None and keyword in given:  # a parameter the factory gains, its call passes
            size = cst.Name(keyword)
        if size is None:
            queue = None if why else _queue_input(codemod, uses[0].plan)
            if queue is not None:
                codemod.report(uses[0].arg, NO_BATCH_SIZE.code,
                               f"{NO_BATCH_SIZE.title} ({keyword}): the input_fn reads a TF 1 input queue "
                               f"({queue}), which TPUEstimator cannot feed",
                               "read the data with tf.data, batched by params['batch_size']")
            else:
                codemod.report(uses[0].arg, NO_BATCH_SIZE.code, f"{NO_BATCH_SIZE.title} ({keyword}){why}",
                               f"pass {keyword}= where the estimator is built")
            continue
        args.append(kwarg(keyword, size))
        _check_cores(codemod, site, keyword, size)
    if untrained:
        # Only evaluated or predicted with, and held where nothing else can train it: any batch
        # size it runs with will do (training is the only mode that reads this one).
        size = next((arg.value for arg in args if arg.keyword.value in ("eval_batch_size", "predict_batch_size")),
                    None) if codemod.index.kept_here(site) else None
        if size is not None:
            args.insert(0, kwarg(BATCH_KEYWORDS["train"], size))
        else:
            codemod.report(site.call, NO_BATCH_SIZE.code,
                           f"{NO_BATCH_SIZE.title} (train_batch_size): the estimator is trained nowhere in the program",
                           "migrate it with the code that trains it")
    return args


#: TF 1's queue-based input: producers, batching queues, readers and queues.  An input_fn
#: built on them returns no tf.data batch, so it has no batch size TPUEstimator could give it.
QUEUE_INPUT_APIS = frozenset({
    *(f"tf.train.{name}" for name in (
        "input_producer", "string_input_producer", "range_input_producer", "slice_input_producer",
        "batch", "shuffle_batch", "batch_join", "shuffle_batch_join", "maybe_batch", "maybe_shuffle_batch",
        "maybe_batch_join", "maybe_shuffle_batch_join")),
    *(f"tf.{name}" for name in (
        "TextLineReader", "TFRecordReader", "WholeFileReader", "FixedLengthRecordReader", "IdentityReader",
        "LMDBReader", "FIFOQueue", "RandomShuffleQueue", "PaddingFIFOQueue", "PriorityQueue")),
    *(f"tf.queue.{name}" for name in ("FIFOQueue", "RandomShuffleQueue", "PaddingFIFOQueue", "PriorityQueue")),
})


def _queue_input(codemod: MigrationCodemod, plan) -> Optional[str]:
    """The first TF 1 queue API the input_fn of ``plan`` calls (in its own body or a def in
    it), if any."""
    fn = plan.takes_params
    if not isinstance(fn, cst.FunctionDef):
        return None
    index = codemod.index.index_of_node(fn)
    return next((api for _, api, scope in index.api_calls if api in QUEUE_INPUT_APIS and fn in index.scopes(scope)),
                None)


def _check_cores(codemod: MigrationCodemod, site: EstimatorSite, keyword: str, size: cst.BaseExpression) -> None:
    """E2T249 for a batch size, known here as a number, that the TPU's cores cannot share."""
    value = codemod.index.value_of(size, site.scope) if isinstance(size, cst.Name) else size
    if isinstance(value, cst.Integer) and int(value.evaluated_value) % TPU_CORES:
        codemod.report(site.call, NOT_PER_CORE.code,
                       f"{NOT_PER_CORE.title}: {keyword}={value.evaluated_value}, not a multiple of {TPU_CORES}",
                       f"make it a multiple of {TPU_CORES}")


def _code(expr: Optional[cst.BaseExpression]) -> Optional[str]:
    return None if expr is None else "".join(cst.Module([]).code_for_node(expr).split())


class EstimatorToTPUEstimator(MigrationCodemod):
    """Build TPUEstimators with TPU RunConfigs, lifting the input_fns' batch sizes."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [TO_TPU_ESTIMATOR, TO_TPU_RUN_CONFIG, NO_TRAIN_STEPS, NO_EVAL_STEPS,
             RESERVED_PARAMS, PARAMS_CALL, NO_BATCH_SIZE, BATCH_CONFLICT, CONFIG_UNKNOWN, UNKNOWN_KEYWORDS,
             CHECKPOINTS_PER_LOOP, NOT_PER_CORE]
    TRIGGERS = ("stimator", "RunConfig")  # Estimator, and the estimators tf.estimator makes (canned)

    def visit_Module(self, node: cst.Module) -> None:
        self.sites: Dict[cst.Call, EstimatorSite] = {}
        #: params dicts ({...} or dict(...)) -> their batch_size entry, which leaves them
        self.batch_key_dicts: Dict[cst.BaseExpression, cst.CSTNode] = {}
        self.params_copies: Dict[cst.BaseExpression, cst.BaseExpression] = {}  # params=d: a copy of d without batch_size
        self.none_configs: Set[cst.Call] = set()  # config=None: a TPU RunConfig instead
        self.run_configs = set(self.index.calls_to("tf.estimator.RunConfig"))
        for call in self.run_configs:
            self._check_checkpoint_steps(call)
        for site in self.index.estimators:
            if site.api == "tf.estimator.Estimator" and self.index.star_keywords(site.call, site.scope) is None:
                self.report(site.call, UNKNOWN_KEYWORDS.code, UNKNOWN_KEYWORDS.title,
                            "pass config=, params= and model_fn= explicitly")
            elif site.api == "tf.estimator.Estimator":
                self.sites[site.call] = site
            elif site.api in ("tf.estimator.tpu.TPUEstimator", "tf.contrib.tpu.TPUEstimator"):
                self._report_missing_batch_sizes(site)
        for use in self.index.uses:
            self._check_steps(use.call, use.mode)
        self.new_args: Dict[cst.Call, List[cst.Arg]] = {}
        for call, site in self.sites.items():
            self.new_args[call] = self._estimator_args(site)
        self._plan_factory_batch_sizes()

    def _plan_factory_batch_sizes(self) -> None:
        """The parameters this module's estimator factories gain, and the batch sizes this
        module's calls of factories pass (see :meth:`Program.factory_batch_sizes`), for the
        estimators of the program, whatever their kind."""
        #: a factory's parameters -> the batch size keywords it gains
        self.factory_params: Dict[cst.Parameters, Dict[str, None]] = {}
        self.factory_args: Dict[cst.Call, Dict[str, cst.BaseExpression]] = {}  # a factory's call -> keyword: size
        for index in self.program.indexes if self.program is not None else ():
            for site in index.estimators:
                for keyword, (call, size) in self.program.factory_batch_sizes(site).items():
                    if self.index.owns(site.scope):
                        self.factory_params.setdefault(site.scope.params, {})[keyword] = None
                    if self.index.owns(call):
                        self.factory_args.setdefault(call, {})[keyword] = size

    def rewrites(self) -> bool:
        return bool(self.sites or self.run_configs or self.factory_params or self.factory_args)

    def _check_steps(self, call: cst.Call, mode: str) -> None:
        """train()/TrainSpec and evaluate()/EvalSpec must bound their steps on a TPU (EvalSpec's
        default is 100: only an explicit None is unbounded)."""
        spec = self.api(call.func) in ("tf.estimator.TrainSpec", "tf.estimator.EvalSpec")
        if mode == "train":
            bounds = [find_arg(call, "max_steps", 1)] if spec else [find_arg(call, "steps", 2),
                                                                      find_arg(call, "max_steps", 3)]
            if all(_unbounded(arg) for arg in bounds):
                self.report(call, NO_TRAIN_STEPS.code, NO_TRAIN_STEPS.title, "pass max_steps=")
        elif mode == "eval":
            steps = find_arg(call, "steps", 1)
            if (steps is not None or not spec) and _unbounded(steps):
                self.report(call, NO_EVAL_STEPS.code, NO_EVAL_STEPS.title, "pass steps=")

    def targets(self):
        return [*self.sites, *self.run_configs, *self.batch_key_dicts, *self.params_copies,
                *self.factory_params, *self.factory_args]

    def _report_missing_batch_sizes(self, site: EstimatorSite) -> None:
        """A TPUEstimator (migrated, or written by hand) used in a mode without that mode's
        batch size, or with one its cores cannot share: blocking, so reported on every run
        until fixed."""
        if self.index.star_keywords(site.call, site.scope) is None or any(arg.star == "*" for arg in site.call.args):
            return
        for mode, keyword in BATCH_KEYWORDS.items():
            given = self.index.argument(site, keyword, None)
            if given is not None:
                _check_cores(self, site, keyword, given)
            use = next((u for u in site.uses if u.mode == mode), None)
            if use is not None and given is None:
                self.report(use.arg or use.call, NO_BATCH_SIZE.code, f"{NO_BATCH_SIZE.title} ({keyword})",
                            f"pass {keyword}= where the estimator is built")

    # -- Estimator ----------------------------------------------------------------

    def _batch_size_read(self, given: cst.BaseExpression, site: EstimatorSite) -> Optional[cst.Subscript]:
        """``P["batch_size"]`` for params=P, a dotted name, when this estimator's input_fns show
        that P holds a batch size: one reads params["batch_size"], or batches by P["batch_size"]."""
        name = dotted(given)
        if name is None or not any(u.plan.from_params or (u.plan.batch is not None and is_batch_size_param(u.plan.batch, name))
                                   for u in site.uses if u.plan is not None):
            return None
        return cst.Subscript(given, [cst.SubscriptElement(cst.Index(cst.SimpleString('"batch_size"')))])

    def _known_without_batch_size(self, given: cst.BaseExpression, site: EstimatorSite) -> bool:
        """Whether params= is known to hold no batch_size: ``dict(key=value, ...)`` with
        keywords only, or a ``{...}`` kept on self (``self.params``) with constant keys only."""
        items = self.index.dict_items(self.index.value_of(given, site.scope) or given, site.scope)
        return items is not None and "batch_size" not in items

    def _params_batch_size(self, site: EstimatorSite) -> Optional[cst.BaseExpression]:
        """The batch size params= holds, planned out of params (its dict entry dropped, or a
        copy without it passed); None when it holds none, or when it cannot be moved (reported)."""
        given = self.index.argument(site, "params", 3)
        if given is None:
            return None
        value = self.index.params_dict_of(site)  # {...} or dict(...), given directly or through one name
        if value is not None:
            entry = find_arg(value, "batch_size") if isinstance(value, cst.Call) else next(
                (e for e in value.elements if isinstance(e, cst.DictElement) and is_batch_size_key(e.key)), None)
            if entry is None:
                return None
            if isinstance(given, cst.Name) and _reads_batch_size(self._module, given.value):
                # the dict is also read for its batch_size: keep it, pass a copy without it
                self.params_copies[given] = _without_batch_size(given)
            else:
                self.batch_key_dicts[value] = entry
            return entry.value
        read = self._batch_size_read(given, site)
        if read is not None:
            self.params_copies[given] = _without_batch_size(given)
        elif any(u.plan.from_params for u in site.uses if u.plan):
            self.report(given, PARAMS_CALL.code, PARAMS_CALL.title, "bind params to a name first")
        elif not self._known_without_batch_size(given, site):
            self.report(given, RESERVED_PARAMS.code, RESERVED_PARAMS.title, "remove 'batch_size' from params")
        return read

    def _estimator_args(self, site: EstimatorSite) -> List[cst.Arg]:
        args: List[cst.Arg] = []
        config = self.index.argument(site, "config", 2)
        if config is None:
            args.append(kwarg("config", self._tpu_run_config(None)))
        elif is_name(config, "None") and find_arg(site.call, "config", 2):
            self.none_configs.add(site.call)
        elif self.index.run_config_of(site) is None:
            self.report(config, CONFIG_UNKNOWN.code, CONFIG_UNKNOWN.title, "build a tf.compat.v1.estimator.tpu.RunConfig")
        args.append(kwarg("use_tpu", cst.Call(self.runtime("use_tpu"))))
        return args + batch_size_args(self, site, self._params_batch_size(site))

    def _check_checkpoint_steps(self, run_config: cst.Call) -> None:
        arg = find_arg(run_config, "save_checkpoints_steps", RUN_CONFIG_FIELDS.index("save_checkpoints_steps"))
        loop = self.options.iterations_per_loop
        if arg is not None and isinstance(arg.value, cst.Integer) and int(arg.value.value) % loop:
            every = -(-int(arg.value.value) // loop) * loop
            self.report(arg, CHECKPOINTS_PER_LOOP.code,
                        f"{CHECKPOINTS_PER_LOOP.title}: every {every} steps, not {arg.value.value}",
                        f"save_checkpoints_steps a multiple of iterations_per_loop ({loop})")

    def _tpu_run_config(self, call: Optional[cst.Call], like=None) -> cst.Call:
        tpu_config = cst.Call(self.target("TPUConfig", like), [
            kwarg("iterations_per_loop", cst.Integer(str(self.options.iterations_per_loop)))])
        extra = []
        if call is None or find_arg(call, "cluster") is None:
            extra.append(kwarg("cluster", cst.Call(self.runtime("tpu_cluster_resolver"))))
        extra.append(kwarg("tpu_config", tpu_config))
        if call is None:
            return cst.Call(self.target("RunConfig", like), extra)
        call = keywordize(call, RUN_CONFIG_FIELDS, start=0)
        return add_args(call.with_changes(func=self.target("RunConfig", like)), extra)

    def rewrite_code(self, node: cst.CSTNode) -> str:
        return (TO_TPU_RUN_CONFIG if node in self.run_configs else TO_TPU_ESTIMATOR).code

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if original_node in self.sites:
            call = keywordize(updated_node, ESTIMATOR_FIELDS, start=4)
            if original_node in self.none_configs:
                call = replace_arg(call, "config", 2, self._tpu_run_config(None))
            call = call.with_changes(func=self.target("TPUEstimator", like=original_node.func))
            self.drop_import_of(original_node.func)
            return add_args(call, self.new_args[original_node])
        if original_node in self.run_configs:
            self.drop_import_of(original_node.func)
            return self._tpu_run_config(updated_node, like=original_node.func)
        if original_node in self.batch_key_dicts:  # params=dict(..., batch_size=B, ...)
            return remove_kwarg(updated_node, "batch_size")
        if original_node in self.factory_args:  # build_estimator(config) -> (config, train_batch_size=...)
            return add_args(updated_node, [kwarg(k, size) for k, size in self.factory_args[original_node].items()])
        return updated_node

    def leave_Parameters(self, original_node: cst.Parameters, updated_node: cst.Parameters) -> cst.Parameters:
        for keyword in self.factory_params.get(original_node, ()):
            updated_node = add_param(updated_node, keyword, default=True)
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.params_copies.get(original_node, updated_node)

    leave_Attribute = leave_Name

    def leave_Dict(self, original_node: cst.Dict, updated_node: cst.Dict) -> cst.Dict:
        element = self.batch_key_dicts.get(original_node)
        if element is None:
            return updated_node
        index = original_node.elements.index(element)
        elements = list(updated_node.elements)
        del elements[index]
        if elements and index == len(elements):  # removed the last one: keep its comma style
            elements[-1] = elements[-1].with_changes(comma=element.comma)
        return updated_node.with_changes(elements=elements)


def _without_batch_size(params: cst.BaseExpression) -> cst.BaseExpression:
    """``{k: v for k, v in params.items() if k != "batch_size"}``."""
    code = cst.Module([]).code_for_node(params)
    return cst.parse_expression(f'{{k: v for k, v in {code}.items() if k != "batch_size"}}')


def _reads_batch_size(module: cst.Module, name: str) -> bool:
    """Whether ``name["batch_size"]`` or ``name.get("batch_size")`` appears in the module."""
    finder = _BatchSizeReads(name)
    finder.walk(module)
    return finder.found


class _BatchSizeReads(Visitor):
    def __init__(self, name: str) -> None:
        self.name, self.found = name, False

    def visit_Subscript(self, node: cst.Subscript) -> None:
        self.found = self.found or is_batch_size_param(node, self.name)

    visit_Call = visit_Subscript


def _unbounded(arg: Optional[cst.Arg]) -> bool:
    return arg is None or is_name(arg.value, "None")
