"""Code generation that copies unchanged statements (``positions.Spans``) gives exactly
LibCST's code, and findings' positions agree with LibCST's ``PositionProvider``."""

import pathlib
import random
import sysconfig

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from est2tpu.codemods.base import SOURCE_KEY, Context
from est2tpu.codemods.migrate import Migrate
from est2tpu.codemods.positions import Spans, _Verbatim, code, differs, locate
from est2tpu.codemods.walk import Preorder, Visitor
import fixture_programs

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = [fixture_programs.FIXTURES / f"{name}.py" for name in fixture_programs.NAMES]

CASES = {
    "decorators": "x = 0\n# a\n@a\n# between\n@b(\n  1)\n\n# c\n@c\ndef f(x):\n    return x\n",
    "elif and else": "if a:\n    x = 1\n# between\nelif b:\n    x = 2\nelse:\n    # lead\n    x = 3\n    # footer\n# after\ny = 4\n",
    "try": "try:\n    a()\nexcept E as e:\n    b()\nexcept (F, G):\n    pass\nelse:\n    c()\nfinally:\n    d()\nz = 1\n",
    "try star": "try:\n    a()\nexcept* E:\n    b()\nz = 1\n",
    "match": "match x:\n    case 1:\n        y = 1\n    case [a, *rest] if a:\n        y = 2\n    case _:\n        pass\nz = 1\n",
    "async": "async def f():\n    async with a as b:\n        async for i in b:\n            await i\nz = 1\n",
    "semicolons and one-line suites": "a = 1; b = 2\nif a: b = 3; c = 4\nelse: pass\nwhile a: a -= 1\n"
                                      "for i in x: pass\nelse:\n    z = 1\n",
    "continuations and strings": "x = 1 + \\\n    2\ns = '''\n\n# not a comment\n'''\ndef f():\n    return (\n        1)\n",
    "class with footer comments": "class C(B):\n    '''doc'''\n\n    def m(self):\n        pass\n    # trailing\n\n\n# end\n",
    "no final newline": "def f():\n    return 1",
    "comment last, no final newline": "x = 1\ny = 2\n# a",
    "crlf": "def f():\r\n    x = 1\r\n\r\n    return x\r\n",
    "lone cr": "def f():\r    x = 1\r    return x\r",
    "form feed": "import os\n\x0c\ndef f():\n    pass\n",
    "tabs": "if a:\n\tb = 1\n\tif c:\n\t\td = 2\n",
    "header and trailing lines": "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n\"\"\"Doc.\"\"\"\nimport os\n# a\n\n# b\n\n",
    "with": "with a as b, c as d:\n    e()\nz = 1\n",
    "nested defs": "def f():\n    def g():\n        def h():\n            return 1\n        return h\n    return g\n",
    # ast places a decorator at its expression, LibCST at the `@`: the lines do not tile
    "parenthesized decorator": "@(\n    deco\n)\ndef f():\n    pass\nx = 1\n",
}
NO_SPANS = {"parenthesized decorator"}


class _Nodes(Visitor):
    """Every Name, and each node's parent."""

    def __init__(self, module: cst.Module) -> None:
        self.names = []
        index = Preorder(module)
        self.parents = index.parent_of()
        index.close()
        self.walk(module)

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append(node)


class _Targeted(cst.CSTTransformer):
    """Rewrites ``targets`` and enters only the nodes above them, so the rest of the tree
    keeps its original nodes (as est2tpu's own traversal does)."""

    def __init__(self, module: cst.Module, targets) -> None:
        super().__init__()
        self.targets = set(targets)
        parents = _Nodes(module).parents
        self.above = set()
        for node in self.targets:
            while node in parents:
                node = parents[node]
                self.above.add(node)

    def on_visit(self, node) -> bool:
        return node in self.above


class _Rename(_Targeted):
    def leave_Name(self, original_node, updated_node):
        return updated_node.with_changes(value=updated_node.value + "_x") if original_node in self.targets else updated_node


class _Deepen(_Targeted):
    """Moves a function's statements into an ``if True:`` block (a level deeper)."""

    def leave_FunctionDef(self, original_node, updated_node):
        if original_node not in self.targets:
            return updated_node
        block = cst.If(test=cst.Name("True"), body=updated_node.body)
        return updated_node.with_changes(body=cst.IndentedBlock([block]))


class _Functions(Visitor):
    def __init__(self, module: cst.Module) -> None:
        self.found = []
        self.walk(module)

    def visit_FunctionDef(self, node) -> None:
        self.found.append(node)


def _copies(tree: cst.CSTNode) -> int:
    """How many statements ``tree`` holds as verbatim copies."""
    count = 0
    for value in getattr(tree, "__dataclass_fields__", {}):
        child = getattr(tree, value)
        for item in child if isinstance(child, (list, tuple)) else [child]:
            if isinstance(item, _Verbatim):
                count += 1
            elif isinstance(item, cst.CSTNode):
                count += _copies(item)
    return count


def _check_code(source: str, changes, copies: bool = True) -> None:
    module = cst.parse_module(source)
    spans = Spans(module, source)
    assert bool(spans) is copies
    copied = 0
    for transformer in changes(module):
        new = module.visit(transformer)
        assert code(new, spans) == code(new) == new.code
        assert differs(new, source, spans) is differs(new, source) is (new.code != source)
        copied += _copies(spans.copied(new))
    assert (copied > 0) is copies


def _check_positions(source: str, sample=None) -> None:
    module = cst.parse_module(source)
    nodes = _Nodes(module)
    wanted = list(nodes.parents) if sample is None else sample(list(nodes.parents))
    provider = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    expected = {n: (provider[n].start.line, provider[n].start.column + 1) for n in wanted}
    assert locate(module, wanted, Spans(module, source), nodes.parents) == expected
    for node in wanted[:20]:  # one at a time: the copies around each node differ
        assert locate(module, [node], Spans(module, source), nodes.parents) == {node: expected[node]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_copied_statements_give_libcsts_code(name):
    """Renaming each name in turn rebuilds the statements above it; deepening moves
    statements to another indentation, where they must be generated, not copied."""
    _check_code(CASES[name], lambda module: [_Rename(module, [n]) for n in _Nodes(module).names]
                + [_Deepen(module, [fn]) for fn in _Functions(module).found], copies=name not in NO_SPANS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_positions_with_copies_are_libcsts(name):
    _check_positions(CASES[name])


def test_a_statement_at_its_own_indentation_is_copied_not_generated():
    source = CASES["nested defs"] + "x = 1\n"
    module = cst.parse_module(source)
    new = module.visit(_Rename(module, [_Nodes(module).names[-1]]))  # the last line changes
    spans = Spans(module, source)
    assert _copies(spans.copied(new)) == 1  # the whole def, untouched
    assert code(new, spans) == source.replace("x = 1", "x_x = 1")


def test_code_that_ast_and_libcst_disagree_on_has_no_spans():
    source = "x = 1\n"
    assert not Spans(cst.parse_module(source), "x = 1\ny = 2\n")
    assert not Spans(cst.parse_module(source), "x = (\n")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixtures_migrate_to_the_same_code_with_copies(path):
    source = path.read_text()
    module = cst.parse_module(source)
    migrate = Migrate(Context({SOURCE_KEY: source}))
    new = migrate.transform_module(module)
    assert migrate.spans and _copies(migrate.spans.copied(new)) > 0
    assert code(new, migrate.spans) == code(new)
    assert differs(new, source, migrate.spans)
    _check_positions(source)


@pytest.mark.parametrize("source", ["x = 1\ny = 2\n", "x = 1\ny = 2", "# c\nx = 1\n\n# end", "x = 1", "x = 1\n",
                                    "x = 1  # c\n\n\n", "if x:\n    x = 1\n# end\n"])
def test_differs_is_whether_the_code_differs(source):
    """Each name renamed in turn (the first, the last, in a header or footer's neighbour),
    and the module rebuilt unchanged, with and without its trailing newline."""
    module = cst.parse_module(source)
    spans = Spans(module, source)
    for new in [module.visit(_Rename(module, [n])) for n in _Nodes(module).names] + [module.deep_clone()]:
        for tree in (new, new.with_changes(has_trailing_newline=not new.has_trailing_newline)):
            assert differs(tree, source, spans) is differs(tree, source) is (tree.code != source), tree.code


def test_differs_stops_at_the_first_statement_that_differs(monkeypatch):
    source = "x = 1\ny = 2\ndef f():\n    return 3\n"
    module = cst.parse_module(source)
    new = module.visit(_Rename(module, [_Nodes(module).names[0]]))
    monkeypatch.setattr(cst.Return, "_codegen_impl", lambda *args: pytest.fail("generated past the change"))
    assert differs(new, source)


def _stdlib_sample(count: int):
    files = sorted(p for p in pathlib.Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")
                   if "site-packages" not in p.parts and p.stat().st_size > 200)
    return random.Random(5).sample(files, count)


@pytest.mark.parametrize("path", _stdlib_sample(30), ids=lambda p: p.name)
def test_standard_library_files(path):
    """Code nobody here wrote: three random names renamed, statements deepened, and the
    positions of 50 random nodes."""
    try:
        source = path.read_text(encoding="utf-8")
        cst.parse_module(source)
    except (UnicodeDecodeError, cst.ParserSyntaxError):
        pytest.skip("not UTF-8 or not parsable by LibCST")
    rng = random.Random(path.name)
    def changes(module):
        names, functions = _Nodes(module).names, _Functions(module).found
        return [_Rename(module, rng.sample(names, min(3, len(names)))),
                _Deepen(module, rng.sample(functions, min(1, len(functions))))]

    _check_code(source, changes)
    _check_positions(source, lambda nodes: rng.sample(nodes, min(50, len(nodes))))


def _generated(tree: cst.CSTNode, functions=None):
    """The statements of ``tree`` (copied by ``Spans.copied``) that code generation writes,
    outside functions not named in ``functions`` (when given)."""
    for value in getattr(tree, "__dataclass_fields__", {}):
        child = getattr(tree, value)
        for item in child if isinstance(child, (list, tuple)) else [child]:
            if isinstance(item, cst.FunctionDef) and functions is not None and item.name.value not in functions:
                continue
            if isinstance(item, cst.BaseStatement) and not isinstance(item, _Verbatim):
                yield item
            if isinstance(item, cst.CSTNode) and not isinstance(item, (_Verbatim, cst.SimpleStatementLine)):
                yield from _generated(item, functions)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_only_changed_statements_are_generated(path):
    """Every statement the migration leaves alone is copied.  (Statements moved into a new
    function, such as metric_fn, are at a new depth: they are generated.)"""
    source = path.read_text()
    module = cst.parse_module(source)
    migrate = Migrate(Context({SOURCE_KEY: source}))
    new = migrate.transform_module(module)
    original = {module.code_for_node(s) for s in _generated(module)}
    functions = {fn.name.value for fn in _Functions(module).found}
    generated = [module.code_for_node(s) for s in _generated(migrate.spans.copied(new), functions)]
    assert generated and not [s for s in generated if s in original]
