"""The codemods as LibCST codemod commands, for ``python -m libcst.tool codemod``.

With ``codemods`` in the ``modules`` of ``.libcst.codemod.yaml``::

    python -m libcst.tool codemod --no-format commands.Migrate src/
    python -m libcst.tool codemod --no-format commands.EstimatorSpecToTPU src/

Findings are printed as LibCST warnings.  The est2tpu engine itself does not import
this module: ``libcst.codemod`` costs half a second of start-up.
"""

from __future__ import annotations

import abc
import argparse
from typing import ClassVar, Optional, Type

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext

from . import migrate
from .base import FINDINGS_KEY, MigrationCodemod


class _Command(CodemodCommand, abc.ABC):
    """Runs one est2tpu codemod inside LibCST's codemod runner.  A direct subclass of ABC,
    so that LibCST's ``list`` leaves it out (it lists only the commands made from it)."""

    CONCERN: ClassVar[Type[MigrationCodemod]]

    def __init__(self, context: CodemodContext, target: Optional[str] = None) -> None:
        super().__init__(context)
        self.target = target

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--target", choices=("tf2", "tf1"), default="tf2",
            help="tf2: tf.compat.v1.estimator.tpu names; tf1: tf.contrib.tpu names",
        )

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        new = self.CONCERN(self.context, self.target).transform_module(tree)
        for finding in self.context.scratch.pop(FINDINGS_KEY, []):
            self.warn(f"{finding.line}:{finding.col}: {finding.code} {finding.message}")
        return new


def _command(concern: Type[MigrationCodemod]) -> Type[_Command]:
    return type(concern.__name__, (_Command,), {
        "CONCERN": concern, "DESCRIPTION": concern.DESCRIPTION, "__doc__": concern.__doc__,
        "__module__": __name__,
    })


Migrate = _command(migrate.Migrate)
ModelFnTakesParams = _command(migrate.ModelFnTakesParams)
EvalMetricOpsToEvalMetrics = _command(migrate.EvalMetricOpsToEvalMetrics)
WrapOptimizerForTPU = _command(migrate.WrapOptimizerForTPU)
SummariesToHostCall = _command(migrate.SummariesToHostCall)
CheckpointInitToScaffoldFn = _command(migrate.CheckpointInitToScaffoldFn)
EstimatorSpecToTPU = _command(migrate.EstimatorSpecToTPU)
EstimatorToTPUEstimator = _command(migrate.EstimatorToTPUEstimator)
KerasModelToTPUEstimator = _command(migrate.KerasModelToTPUEstimator)
CannedInputToRuntime = _command(migrate.CannedInputToRuntime)
CannedToRuntime = _command(migrate.CannedToRuntime)
InputFnTakesParams = _command(migrate.InputFnTakesParams)
ReportTPUHazards = _command(migrate.ReportTPUHazards)
