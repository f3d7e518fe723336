"""numpy_input_fn / pandas_input_fn become est2tpu's, which take params and return a Dataset.

    train_input_fn = tf.compat.v1.estimator.inputs.numpy_input_fn(
        x={"image": images}, y=labels, batch_size=100, num_epochs=None, shuffle=True)
    estimator = tf.estimator.Estimator(model_fn)
    # becomes
    train_input_fn = est2tpu.numpy_input_fn(
        x={"image": images}, y=labels, batch_size=100, num_epochs=None, shuffle=True)
    estimator = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, ..., train_batch_size=100)

est2tpu's take the same arguments and give the original's batches (``shuffle=False``) by
``params["batch_size"]``, which TPUEstimator sets to the batch size lifted here from the
call (its 3rd argument or ``batch_size=``, 128 when omitted; through a function returning
the call, as its caller binds it).  The call is left as it is, and so its estimator, when
that batch size cannot be read, when the input_fn is also called directly (est2tpu's
returns a Dataset, not tensors), or for TF 1.x targets (which cannot import est2tpu).
"""

from typing import Dict, List, Set

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import InputFnPlan
from .input_fns import EVAL_REMAINDER, TRAIN_REMAINDER
from .syntax import find_arg, is_name

CANNED_TO_RUNTIME = Rule(
    "E2T112",
    "numpy_input_fn/pandas_input_fn become est2tpu's",
    "tf.estimator.inputs.numpy_input_fn and pandas_input_fn take no params and read through "
    "queues. est2tpu.numpy_input_fn/pandas_input_fn take the same arguments and return an "
    "input_fn(params, mode) giving a tf.data.Dataset of the same batches (with shuffle=False) "
    "by params['batch_size']; the batch size moves into TPUEstimator. On a TPU, training and "
    "evaluation drop the last partial batch of their last epoch; on the CPU nothing changes.",
    before="est.train(tf.compat.v1.estimator.inputs.numpy_input_fn(x, y, batch_size=32, shuffle=False))",
    after="est.train(est2tpu.numpy_input_fn(x, y, batch_size=32, shuffle=False))  # train_batch_size=32",
)
CANNED_INPUT = Rule(
    "E2T216",
    "numpy_input_fn/pandas_input_fn that cannot be rewritten",
    "est2tpu.numpy_input_fn and pandas_input_fn stand in for these helpers when their batch "
    "size can be read here (a 3rd argument or batch_size=, not in *args/**kwargs), the input_fn "
    "they make is only given to the estimator (est2tpu's returns a Dataset where the original "
    "returned tensors, so a direct call would change), and the target is TF 2.x (TF 1.x "
    "programs cannot import est2tpu). Otherwise write a tf.data input_fn that batches by "
    "params['batch_size'].",
    before="est.train(tf.compat.v1.estimator.inputs.numpy_input_fn(x, y, **settings))",
    after="est.train(tf.compat.v1.estimator.inputs.numpy_input_fn(x, y, batch_size=32, shuffle=False))",
    blocking=True,
    obstacle=True,
)
SHUFFLED = Rule(
    "E2T238",
    "est2tpu's numpy/pandas input_fn shuffles in another order",
    "With shuffle=True each epoch of est2tpu.numpy_input_fn/pandas_input_fn is a uniformly "
    "random permutation of all rows (seeded by the graph seed, RunConfig(tf_random_seed=...)): "
    "every row once per epoch, as in the original, but in another order than its "
    "RandomShuffleQueue of queue_capacity rows gives, so the numbers change as with another "
    "seed. shuffle=False gives the original's batches exactly.",
    before="numpy_input_fn(x, y, batch_size=32, shuffle=True)",
    after="est2tpu.numpy_input_fn(x, y, batch_size=32, shuffle=True)  # other permutations",
)


class CannedInputToRuntime(MigrationCodemod):
    """Point numpy_input_fn/pandas_input_fn at est2tpu's, which take params."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [CANNED_TO_RUNTIME, CANNED_INPUT, SHUFFLED]
    TRIGGERS = ("numpy_input_fn", "pandas_input_fn")

    def visit_Module(self, node: cst.Module) -> None:
        index = self.index
        plans: Dict[cst.Call, InputFnPlan] = {}
        modes: Dict[cst.Call, Set[str]] = {}
        for use, plan in index.input_fn_plans():
            if plan.canned is not None and index.owns(plan.canned):
                plans.setdefault(plan.canned, plan)
                modes.setdefault(plan.canned, set()).add(use.mode)
        #: the calls rewritten -> est2tpu's function of that name
        self.calls: Dict[cst.Call, str] = {}
        for call, plan in plans.items():
            problem = self._problem(call, plan.batch is None)
            if problem:
                self.report(call, CANNED_INPUT.code, f"{CANNED_INPUT.title}: {problem}", "write a tf.data input_fn")
                continue
            self.calls[call] = self.api(call.func).rpartition(".")[2]
            self._notes(call, plan, modes[call])

    def _notes(self, call: cst.Call, plan: InputFnPlan, modes: Set[str]) -> None:
        """What est2tpu's does differently: another shuffle; on a TPU, the last epoch's partial
        batch (``num_epochs`` epochs, 1 by default; None repeats with whole batches)."""
        shuffle = plan.canned_argument(self.index, "shuffle", 4)
        if shuffle is None or not is_name(shuffle, "False"):
            self.report(call, SHUFFLED.code, SHUFFLED.title, "shuffle=False gives the original's batches")
        epochs = plan.canned_argument(self.index, "num_epochs", 3)
        if find_arg(call, "num_epochs", 3) is not None and (epochs is None or is_name(epochs, "None")):
            return
        if "eval" in modes:
            self.report(call, EVAL_REMAINDER.code, EVAL_REMAINDER.title, "make the eval set a multiple of eval_batch_size")
        if "train" in modes:
            self.report(call, TRAIN_REMAINDER.code, TRAIN_REMAINDER.title + " (of the last epoch)",
                        "num_epochs=None repeats with whole batches")

    def _problem(self, call: cst.Call, unread: bool) -> str:
        """Why a canned call is left as it is, or ""."""
        if self.options.target == "tf1":
            return "TF 1.x programs cannot import est2tpu"
        if unread:
            return "its batch size cannot be read here"
        bound = self.index.parent_of.get(call)
        if isinstance(bound, cst.Assign) and len(bound.targets) == 1 and isinstance(bound.targets[0].target, cst.Name):
            direct: List[cst.Call] = self.index.calls_of(call, bound.targets[0].target.value)
            if direct:
                return f"{bound.targets[0].target.value}() is also called directly, which est2tpu's would make return a Dataset"
        return ""

    def rewrites(self) -> bool:
        return bool(self.calls)

    def targets(self):
        return self.calls

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = self.calls.get(original_node)
        if name is None:
            return updated_node
        self.drop_import_of(original_node.func)
        return updated_node.with_changes(func=self.runtime(name))

