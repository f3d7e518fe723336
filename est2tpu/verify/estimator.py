"""TPUEstimator under verify: every call checks the TPU graph, then runs a little on the CPU.

Every TPUEstimator is built with use_tpu=True, whatever the program asked for (a
construction only the TPU refuses is a finding, and the estimator stays on the CPU).
``train``, ``evaluate`` and ``predict`` first build their mode's TPU graph and check it
(:func:`check`), then run the program's request on the CPU, with the CPU form of the
graph, for at most ``Settings.steps`` steps: training writes a checkpoint the program
can evaluate, warm-start and export from, and evaluate/predict return what they
normally return, so the program goes on to its end.  (``train_and_evaluate`` goes
through ``train`` and ``evaluate``.)  Export builds and checks the TPU SavedModel's graph
as it really exports it; if that fails, the CPU SavedModel is still written.
"""

from __future__ import annotations

import contextlib
import inspect
import tensorflow as tf
from tensorflow_estimator.python.estimator import estimator as estimator_lib
from tensorflow_estimator.python.estimator.tpu import tpu_estimator

from est2tpu.verify import graph_checks, rules, session, spec_checks, xla_step
from est2tpu.verify.build import Build, construct
from est2tpu.verify.locate import of_caller, of_exception

ModeKeys = tf.estimator.ModeKeys
TPUEstimator = tpu_estimator.TPUEstimator
_BATCH_ATTRS = {ModeKeys.TRAIN: "_train_batch_size", ModeKeys.EVAL: "_eval_batch_size",
                ModeKeys.PREDICT: "_predict_batch_size"}
_METHODS = {ModeKeys.TRAIN: "train", ModeKeys.EVAL: "evaluate", ModeKeys.PREDICT: "predict"}


class _TPUExportFailed(Exception):
    """The TPU half of an export failed (and was reported)."""


@contextlib.contextmanager
def _use_tpu(estimator, on: bool):
    """TPUEstimator's context decides, call by call, whether a mode runs on the TPU."""
    ctx = estimator._ctx
    saved, ctx._use_tpu = ctx._use_tpu, on
    try:
        yield
    finally:
        ctx._use_tpu = saved


def _verified(estimator) -> bool:
    return session.ACTIVE is not None and getattr(estimator, "_est2tpu_verified", False)


def _message(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:400]


# --------------------------------------------------------------------------- construction


def init(original):
    signature = inspect.signature(original)

    def __init__(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs).arguments
        arguments.pop("self")
        if session.ACTIVE is None:
            return original(self, **arguments)
        self._est2tpu_site = of_caller()
        try:
            original(self, **{**arguments, "use_tpu": True})
            self._est2tpu_verified = True
            return
        except Exception as tpu_error:
            original(self, **arguments)  # fails the same way when it is not the TPU's doing
            self._est2tpu_verified = False
            session.ACTIVE.reporter.finding(
                rules.TPU_ERROR.code, self._est2tpu_site,
                f"TPUEstimator(use_tpu=True) fails: {_message(tpu_error)}", "fix it before running on a TPU")

    return __init__


# --------------------------------------------------------------------------- checks


@contextlib.contextmanager
def _divisible_batch(build: Build):
    """Check the mode's global batch size against the cores; while the graph is built,
    TPUEstimator sees a valid one (rounded up), so that the rest can still be checked."""
    estimator, mode = build.estimator, build.mode
    ctx, attr = estimator._ctx, _BATCH_ATTRS[mode]
    with ctx.with_mode(mode) as moded:
        cores, broadcast = moded.num_replicas, moded.is_input_broadcast_with_iterators()
    value = getattr(ctx, attr)
    name = attr.lstrip("_")
    usable = value
    if value is None:
        build.report(rules.TPU_ERROR, estimator._est2tpu_site,
                     f"{name} is None: TPUEstimator.{_METHODS[mode]} fails on a TPU ('{name} in TPUEstimator "
                     f"constructor cannot be `None` if .{_METHODS[mode]} is running on TPU.')",
                     f"pass {name}= to TPUEstimator")
        usable = cores
    elif value % cores and not broadcast:
        usable = -(-value // cores) * cores
        build.report(rules.BATCH_NOT_DIVISIBLE, estimator._est2tpu_site,
                     f"{name} {value} is not divisible by the {cores} TPU cores: TPUEstimator fails on a TPU "
                     f"('{name.split('_')[0]} batch size {value} must be divisible by number of replicas {cores}')",
                     f"use a multiple of {cores}, e.g. {usable}")
    setattr(ctx, attr, usable)
    try:
        with ctx.with_mode(mode) as moded:
            build.input_batch = moded.batch_size_for_input_fn
        yield
    finally:
        setattr(ctx, attr, value)


def check(estimator, mode: str, input_fn, hooks=None, steps_check=None) -> None:
    """Build and check ``mode``'s TPU graph; ``steps_check`` raises TPUEstimator's own
    complaint about the steps asked for."""
    active = session.ACTIVE
    active.reporter.check(_METHODS[mode])
    with active.guarded(_METHODS[mode]):
        _check(Build(active, estimator, mode, of_caller()), input_fn, hooks, steps_check)


def _check(build: Build, input_fn, hooks, steps_check) -> None:
    estimator, mode = build.estimator, build.mode
    with _use_tpu(estimator, True):
        with estimator._ctx.with_mode(mode) as moded:
            if moded._is_running_on_cpu(False):  # eval_on_tpu=False: evaluation stays on the CPU
                return
        with _divisible_batch(build):
            if steps_check is not None:
                try:
                    steps_check()
                except ValueError as error:
                    build.report(rules.TPU_ERROR, build.site, f"{_message(error)} (TPUEstimator, on a TPU)",
                                 "give the number of steps")
            construct(build, input_fn)
        if build.error is not None:
            if not build.reported:
                build.report(rules.TPU_ERROR, of_exception(build.error),
                             f"TPUEstimator.{_METHODS[mode]} fails on a TPU: {_message(build.error)}",
                             "fix it before running on a TPU")
            return
        spec_checks.check_held(build, hooks)
        ops_failed = graph_checks.check(build)
        if mode == ModeKeys.TRAIN and not ops_failed and not getattr(estimator, "_est2tpu_compiled", False):
            estimator._est2tpu_compiled = True
            xla_step.compile_train_step(build)


# --------------------------------------------------------------------------- train, evaluate, predict


def _global_step(estimator) -> int:
    checkpoint = estimator.latest_checkpoint()
    return int(tf.train.load_variable(checkpoint, "global_step")) if checkpoint else 0


def train(original):
    def train(self, input_fn, hooks=None, steps=None, max_steps=None, saving_listeners=None):
        if not _verified(self):
            return original(self, input_fn, hooks, steps, max_steps, saving_listeners)
        check(self, ModeKeys.TRAIN, input_fn, hooks,
              lambda: self._convert_train_steps_to_hooks(steps, max_steps))
        limit = session.ACTIVE.settings.steps
        if steps is not None:
            steps = min(steps, limit)
        elif max_steps is not None:
            start = _global_step(self)
            max_steps = min(max_steps, start + limit) if start < max_steps else max_steps
        else:
            steps = limit
        with _use_tpu(self, False):
            return original(self, input_fn, hooks, steps, max_steps, saving_listeners)

    return train


def evaluate(original):
    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None):
        if not _verified(self):
            return original(self, input_fn, steps, hooks, checkpoint_path, name)
        check(self, ModeKeys.EVAL, input_fn, hooks, lambda: self._convert_eval_steps_to_hooks(steps))
        limit = session.ACTIVE.settings.steps
        with _use_tpu(self, False):
            return original(self, input_fn, min(steps or limit, limit), hooks, checkpoint_path, name)

    return evaluate


class _StopAfter(tf.compat.v1.train.SessionRunHook):
    """Stops a prediction after ``runs`` batches."""

    def __init__(self, runs: int) -> None:
        self._left = runs

    def after_run(self, run_context, run_values):
        self._left -= 1
        if self._left <= 0:
            run_context.request_stop()


def predict(original):
    def predict(self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None, yield_single_examples=True):
        if not _verified(self):
            yield from original(self, input_fn, predict_keys, hooks, checkpoint_path, yield_single_examples)
            return
        check(self, ModeKeys.PREDICT, input_fn, hooks)
        hooks = list(hooks or []) + [_StopAfter(session.ACTIVE.settings.steps)]
        with _use_tpu(self, False):
            yield from original(self, input_fn, predict_keys, hooks, checkpoint_path, yield_single_examples)

    return predict


# --------------------------------------------------------------------------- export


def call_model_fn(original):
    """``TPUEstimator._call_model_fn``: check the TPU rewrite export builds for serving."""

    def _call_model_fn(self, features, labels, mode, config):
        if mode != tpu_estimator._INFERENCE_ON_TPU_MODE or not _verified(self):
            return original(self, features, labels, mode, config)
        active = session.ACTIVE
        active.reporter.check("export")
        build = Build(active, self, "export", of_caller())
        with active.building(build):
            try:
                result = original(self, features, labels, mode, config)
            except Exception as error:
                if not build.reported:
                    build.report(rules.TPU_EXPORT, of_exception(error) or self._est2tpu_site,
                                 f"the TPU SavedModel cannot be built: {_message(error)}",
                                 "fix it, or pass export_to_tpu=False to TPUEstimator")
                raise _TPUExportFailed() from error
        with active.guarded("export"):
            spec_checks.check_held(build)
            graph_checks.check(build)
        return result

    return _call_model_fn


def add_meta_graph_for_mode(original):
    """``TPUEstimator._add_meta_graph_for_mode``: a failed TPU export still exports for the CPU."""

    def _add_meta_graph_for_mode(self, builder, input_receiver_fn_map, checkpoint_path, save_variables=True,
                                 mode=ModeKeys.PREDICT, export_tags=None, check_variables=True,
                                 strip_default_attrs=True):
        try:
            return original(self, builder, input_receiver_fn_map, checkpoint_path, save_variables, mode,
                            export_tags, check_variables, strip_default_attrs)
        except _TPUExportFailed:
            if not self._export_to_cpu:  # the TPU graph was to be the only one
                estimator_lib.Estimator._add_meta_graph_for_mode(
                    self, builder, input_receiver_fn_map, checkpoint_path, save_variables, mode, export_tags,
                    check_variables, strip_default_attrs)

    return _add_meta_graph_for_mode
