"""The composite codemod: every est2tpu concern, in one pass over one module.

Each concern analyses the untouched module (so batch sizes, model_fns and input_fns
are read before anything is rewritten, and findings point at the user's own lines);
then a single traversal hands every node to each concern in turn, in
:data:`PIPELINE` order.  Imports are added and removed once, at the end.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Type

import libcst as cst
from libcst.codemod import CodemodContext

from codemods.base import FINDINGS_KEY, OPTIONS_KEY, RULES, Finding, MigrationCodemod, Options
from codemods.cross_shard_optimizer import WrapOptimizerForTPU
from codemods.estimator_spec import EstimatorSpecToTPU
from codemods.eval_metrics import EvalMetricOpsToEvalMetrics
from codemods.input_fns import InputFnTakesParams
from codemods.keras_model_to_estimator import KerasModelToTPUEstimator
from codemods.layout import lay_out
from codemods.model_fn_params import ModelFnTakesParams
from codemods.tpu_estimator import EstimatorToTPUEstimator
from codemods.tpu_hazards import ReportTPUHazards

#: The concerns.  Where two rewrite the same node, the earlier one sees it first.
PIPELINE: List[Type[MigrationCodemod]] = [
    ModelFnTakesParams,
    EvalMetricOpsToEvalMetrics,
    WrapOptimizerForTPU,
    EstimatorSpecToTPU,
    EstimatorToTPUEstimator,
    KerasModelToTPUEstimator,
    InputFnTakesParams,
    ReportTPUHazards,
]


@dataclasses.dataclass
class MigrationResult:
    code: str
    findings: List[Finding]


class Migrate(MigrationCodemod):
    """Run every est2tpu codemod (``python -m libcst.tool codemod migrate.Migrate``)."""

    DESCRIPTION = "Migrate tf.estimator code to TPUEstimator."

    def __init__(self, context: CodemodContext, target: Optional[str] = None) -> None:
        super().__init__(context, target)
        context.scratch[OPTIONS_KEY] = self.options
        self.concerns: List[MigrationCodemod] = []

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        code = tree.code
        self.concerns = [cls(self.context) for cls in PIPELINE if cls.should_run(code)]
        if not self.concerns:
            return tree
        for concern in self.concerns:
            concern.prepare(tree, shared=self)
        new = self.fix_imports(tree.visit(self))
        self.locate_findings()
        return new

    def on_visit(self, node: cst.CSTNode) -> bool:
        for concern in self.concerns:
            concern.on_visit(node)
        return True

    def on_leave(self, original_node, updated_node):
        for concern in self.concerns:
            updated_node = concern.on_leave(original_node, updated_node)
            if not isinstance(updated_node, cst.CSTNode):
                break  # removed or replaced by several statements: nothing more to rewrite
        return updated_node


def migrate_code(code: str, options: Options = Options(), style: str = "auto") -> MigrationResult:
    """Migrate one module's source text and lay out the changed lines (see :mod:`codemods.layout`).

    Raises ``libcst.ParserSyntaxError`` if the code does not parse.
    """
    context = CodemodContext(scratch={OPTIONS_KEY: options})
    module = cst.parse_module(code)
    new = Migrate(context).transform_module(module).code
    findings = sorted(set(context.scratch.get(FINDINGS_KEY, [])))
    if new == code:  # already migrated: only what still blocks a TPU run is reported
        findings = [f for f in findings if RULES[f.code].blocking]
    return MigrationResult(lay_out(code, new, style), findings)
