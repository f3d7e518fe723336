"""In the program verify runs: wait for TPUEstimator, then install the patches.

``boot/sitecustomize.py`` (on the program's PYTHONPATH) calls :func:`arm` at start-up.
Nothing is imported until the program imports TPUEstimator's module, so programs (and
the Python processes they start) that never use it pay nothing and are not changed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

TARGET = "tensorflow_estimator.python.estimator.tpu.tpu_estimator"


class _Finder(importlib.abc.MetaPathFinder):
    """Finds TPUEstimator's module as usual, and installs the patches once it has run."""

    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            from est2tpu.verify.install import install_from_environment

            install_from_environment()

        spec.loader.exec_module = exec_module
        return spec


def arm() -> None:
    if TARGET in sys.modules:  # imported already (e.g. by another sitecustomize)
        from est2tpu.verify.install import install_from_environment

        install_from_environment()
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
