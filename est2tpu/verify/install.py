"""Install verify's patches into TensorFlow, and take them out again.

One patch makes the TPU graph buildable on the CPU: the TPU system metadata query is
answered with N cores on one host.  ``est2tpu.use_tpu()`` says yes (and the cluster is
local), so that the program's own TPU branches are the ones checked.  The others check
and record (see :mod:`est2tpu.verify.estimator` and :mod:`est2tpu.verify.capture`).
"""

from __future__ import annotations

import os
from typing import Callable, List, Tuple

from tensorflow.python.tpu import tpu_system_metadata
from tensorflow.python.training import session_run_hook
from tensorflow_estimator.python.estimator.tpu import tpu_estimator

from est2tpu.runtime import tpu as runtime_tpu
from est2tpu.verify import capture, estimator, session, tpu_system
from est2tpu.verify.report import Reporter
from est2tpu.verify.session import Session
from est2tpu.verify.settings import CORES_ENV, REPORT_ENV, STEPS_ENV, Settings


def install(reporter: Reporter, settings: Settings = Settings()) -> Callable[[], None]:
    """Patch TensorFlow for a verify run reporting to ``reporter``; returns the undo."""
    if session.ACTIVE is not None:
        raise RuntimeError("est2tpu verify is already installed")
    cls = tpu_estimator.TPUEstimator
    patches: List[Tuple[object, str, object]] = [
        (tpu_system_metadata, "_query_tpu_system_metadata", tpu_system.query(settings.cores)),
        # The program's own choice of TPU (est2tpu.use_tpu()) is the TPU too, on a local cluster.
        (runtime_tpu, "use_tpu", _on_tpu),
        (runtime_tpu, "tpu_cluster_resolver", _local_cluster),
        (tpu_estimator._ModelFnWrapper, "_call_model_fn", capture.call_model_fn(
            tpu_estimator._ModelFnWrapper._call_model_fn)),
        (tpu_estimator._Inputs, "from_input_fn", capture.from_input_fn(tpu_estimator._Inputs.from_input_fn)),
        (session_run_hook.SessionRunHook, "__new__", staticmethod(capture.hook_new)),
        (cls, "__init__", estimator.init(cls.__init__)),
        (cls, "train", estimator.train(cls.train)),
        (cls, "evaluate", estimator.evaluate(cls.evaluate)),
        (cls, "predict", estimator.predict(cls.predict)),
        (cls, "_call_model_fn", estimator.call_model_fn(cls._call_model_fn)),
        (cls, "_add_meta_graph_for_mode", estimator.add_meta_graph_for_mode(cls._add_meta_graph_for_mode)),
    ]
    saved = [(owner, name, owner.__dict__.get(name, _MISSING)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    session.ACTIVE = Session(reporter, settings)

    def undo() -> None:
        session.ACTIVE = None
        for owner, name, value in reversed(saved):
            if value is _MISSING and name == "__new__":
                # Deleting it would leave CPython's slot calling object.__new__ with the
                # hook's arguments, which it refuses: a __new__ that drops them stays.
                setattr(owner, name, staticmethod(_plain_new))
            elif value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)

    return undo


_MISSING = object()


def _plain_new(cls, *args, **kwargs):
    return object.__new__(cls)


def _on_tpu() -> bool:
    return True


def _local_cluster():
    return None


def install_from_environment() -> None:
    """In the program verify runs: report to the file the CLI named, for good."""
    settings = Settings(cores=int(os.environ.get(CORES_ENV, Settings.cores)),
                        steps=int(os.environ.get(STEPS_ENV, Settings.steps)))
    install(Reporter(os.environ[REPORT_ENV]), settings)
