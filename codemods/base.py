"""What every est2tpu codemod shares: findings, rule metadata and the codemod base class."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import ClassVar, Dict, List, Optional

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from codemods.names import TARGETS, ImportTable

FINDINGS_KEY = "est2tpu.findings"
OPTIONS_KEY = "est2tpu.options"


@dataclasses.dataclass(frozen=True)
class Rule:
    """A finding code with its documentation: what it means, how to fix it, an example."""

    code: str
    title: str
    explanation: str
    before: str = ""
    after: str = ""


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    """One diagnostic at a 1-based line and 1-based column."""

    line: int
    col: int
    code: str
    message: str
    hint: str = ""

    def format(self, path: str) -> str:
        text = f"{path}:{self.line}:{self.col}: {self.code} {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


@dataclasses.dataclass(frozen=True)
class Options:
    """User-facing choices that change the generated code."""

    target: str = "tf2"  # "tf2" -> tf.compat.v1.estimator.tpu.*, "tf1" -> tf.contrib.tpu.*
    iterations_per_loop: int = 100


RULES: Dict[str, Rule] = {}


def register(*rules: Rule) -> None:
    for rule in rules:
        if rule.code in RULES and RULES[rule.code] != rule:
            raise ValueError(f"duplicate rule code {rule.code}")
        RULES[rule.code] = rule


class MigrationCodemod(VisitorBasedCodemodCommand):
    """Base of the est2tpu codemods: options from the context, located findings.

    Subclasses list their rules in ``RULES`` and call :meth:`report` where a change
    cannot be made safely.  Positions are computed lazily, only when something is
    reported, so files without findings pay nothing for them.
    """

    RULES: ClassVar[List[Rule]] = []
    #: Substrings at least one of which a file must contain for this codemod to matter.
    TRIGGERS: ClassVar[tuple] = ()

    def __init__(self, context: CodemodContext, target: Optional[str] = None) -> None:
        super().__init__(context)
        options = context.scratch.get(OPTIONS_KEY, Options())
        if target:
            options = dataclasses.replace(options, target=target)
        self.options: Options = options
        self._module: Optional[cst.Module] = None
        self._positions = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(*cls.RULES)

    @staticmethod
    def add_args(arg_parser) -> None:  # for `python -m libcst.tool codemod`
        arg_parser.add_argument(
            "--target", choices=("tf2", "tf1"), default="tf2",
            help="tf2: tf.compat.v1.estimator.tpu names; tf1: tf.contrib.tpu names",
        )

    def should_run(self, code: str) -> bool:
        return not self.TRIGGERS or any(t in code for t in self.TRIGGERS)

    @contextlib.contextmanager
    def _handle_metadata_reference(self, module: cst.Module):
        # LibCST deep-copies the module here by default; the codemods never mutate
        # nodes in place, so skipping the copy is safe and keeps nodes identical to
        # the caller's (findings are located against this very module).
        self._module, self._positions = module, None
        self.imports = ImportTable(module)
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        old = self.context.wrapper
        with self.resolve(wrapper):
            self.context = dataclasses.replace(self.context, wrapper=wrapper)
            try:
                yield module
            finally:
                self.context = dataclasses.replace(self.context, wrapper=old)

    def report(self, node: cst.CSTNode, code: str, message: str, hint: str = "") -> None:
        if self._positions is None:
            wrapper = MetadataWrapper(self._module, unsafe_skip_copy=True)
            self._positions = wrapper.resolve(PositionProvider)
        pos = self._positions.get(node)
        line, col = (pos.start.line, pos.start.column + 1) if pos else (0, 0)
        self.context.scratch.setdefault(FINDINGS_KEY, []).append(
            Finding(line, col, code, message, hint)
        )
        self.warn(f"{line}:{col}: {code} {message}")

    def api(self, node: cst.BaseExpression) -> Optional[str]:
        """Canonical ``tf.…`` name that ``node`` refers to here, or None."""
        return self.imports.api(node)

    def target(self, name: str, like: Optional[cst.BaseExpression] = None) -> cst.BaseExpression:
        """An expression for TPU API ``name`` in the chosen target, importing what it needs."""
        return self.spelled(TARGETS[self.options.target][name], like)

    def spelled(self, qualified: str, like: Optional[cst.BaseExpression] = None) -> cst.BaseExpression:
        code, request = self.imports.reference(qualified, like)
        if request:
            module, obj, asname = request
            AddImportsVisitor.add_needed_import(self.context, module, obj, asname)
        return cst.parse_expression(code)

    def runtime(self, name: str) -> cst.BaseExpression:
        """``est2tpu.<name>``, importing est2tpu once."""
        AddImportsVisitor.add_needed_import(self.context, "est2tpu")
        return cst.parse_expression(f"est2tpu.{name}")

    def drop_import_of(self, name: cst.BaseExpression) -> None:
        """Remove ``from m import name`` once nothing uses ``name`` any more."""
        if isinstance(name, cst.Name) and name.value in self.imports.aliases:
            module, _, obj = self.imports.aliases[name.value].rpartition(".")
            if module:
                asname = name.value if name.value != obj else None
                RemoveImportsVisitor.remove_unused_import(self.context, module, obj, asname)
