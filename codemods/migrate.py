"""The composite codemod: every est2tpu concern, in dependency order, on one module."""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Type

import libcst as cst
from libcst.codemod import Codemod, CodemodContext

from codemods.base import FINDINGS_KEY, OPTIONS_KEY, Finding, MigrationCodemod, Options
from codemods.estimator_spec import EstimatorSpecToTPU

#: The concerns, in the order they must run (each sees the previous one's output).
PIPELINE: List[Type[MigrationCodemod]] = [
    EstimatorSpecToTPU,
]


@dataclasses.dataclass
class MigrationResult:
    code: str
    findings: List[Finding]

    @property
    def changed(self) -> bool:
        return self._original != self.code

    _original: str = ""


class Migrate(Codemod):
    """Run every est2tpu codemod.  Findings are located in the original module."""

    DESCRIPTION = "Migrate tf.estimator code to TPUEstimator."

    def __init__(self, context: CodemodContext, target: Optional[str] = None) -> None:
        super().__init__(context)
        if target:
            options = context.scratch.get(OPTIONS_KEY, Options())
            context.scratch[OPTIONS_KEY] = dataclasses.replace(options, target=target)

    add_args = staticmethod(MigrationCodemod.add_args)

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        code = tree.code
        active = [cls for cls in PIPELINE if cls(self.context).should_run(code)]
        # Pass 1: every concern looks at the untouched module, so positions are the user's.
        findings = self.context.scratch.setdefault(FINDINGS_KEY, [])
        for cls in active:
            cls(self.context).transform_module(tree)
        reported = list(findings)
        # Pass 2: the concerns rewrite one after another; their findings were already taken.
        for cls in active:
            tree = cls(self.context).transform_module(tree)
        findings[:] = sorted(set(reported))
        return tree


def migrate_code(code: str, options: Options = Options()) -> MigrationResult:
    """Migrate one module's source text.  Raises ``libcst.ParserSyntaxError`` if it does not parse."""
    context = CodemodContext(scratch={OPTIONS_KEY: options})
    module = cst.parse_module(code)
    new = Migrate(context).transform_module(module).code
    return MigrationResult(new, list(context.scratch.get(FINDINGS_KEY, [])), code)
