"""codemods.walk against LibCST's own traversal (``node.visit``): ``transform`` writes the
same code and makes the same calls on every node that is not whitespace or punctuation;
a walk of an indexed tree (``Preorder``) makes the same calls as a walk node by node."""

from __future__ import annotations

import pathlib

import libcst as cst
import pytest

from est2tpu.codemods import walk
from est2tpu.codemods.walk import TRIVIA, Preorder, Visitor, transform

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"

SOURCE = '''\
import os  # a comment
from a import (b,
               c)


@decorator(x=1)
def f(x, y=2, *args, **kwargs) -> int:
    """Docstring."""
    drop_me()
    if x:
        drop_me()
    elif y:
        return [v for v in args if v]
    z = x if y else lambda q: q ** 2
    print(f"{x!r:>{y}}", *args, sep="")
    return g(x, y)[0].attr


class K(Base, metaclass=Meta):
    def m(self):
        drop_me(); keep()
'''


class Recorder(cst.CSTTransformer):
    """Records the nodes it visits and leaves; rewrites as the test asks."""

    def __init__(self, rewrite=None) -> None:
        super().__init__()
        self.calls = []
        self.rewrite = rewrite or (lambda original, updated: updated)

    def on_visit(self, node):
        self.calls.append(("visit", node))
        return True

    def on_leave(self, original_node, updated_node):
        self.calls.append(("leave", original_node))
        return self.rewrite(original_node, updated_node)


def _drop_calls(original, updated):
    """Removes ``drop_me()`` statements, the return annotation and ``sep=``; renames ``y`` ``w``."""
    if isinstance(original, cst.Expr) and cst.Module([]).code_for_node(original.value) == "drop_me()":
        return cst.RemoveFromParent()  # its emptied line goes too (a body's statements)
    if isinstance(original, cst.Annotation):
        return cst.RemoveFromParent()  # an optional field: None
    if isinstance(original, cst.Arg) and original.keyword is not None and original.keyword.value == "sep":
        return cst.RemoveFromParent()
    if isinstance(original, cst.Name) and original.value == "y":
        return updated.with_changes(value="w")
    return updated


def _flatten_returns(original, updated):
    if isinstance(original, cst.SimpleStatementLine) and isinstance(original.body[0], cst.Return):
        return cst.FlattenSentinel([cst.SimpleStatementLine([cst.Expr(cst.Name("before"))]), updated])
    return updated


def _not_trivia(calls):
    return [(kind, node) for kind, node in calls if type(node) not in TRIVIA]


@pytest.mark.parametrize("rewrite", [None, _drop_calls, _flatten_returns])
def test_transform_writes_what_libcst_writes_and_calls_the_same_nodes(rewrite):
    module = cst.parse_module(SOURCE)
    ours, theirs = Recorder(rewrite), Recorder(rewrite)
    ours_module, their_module = transform(module, ours), module.visit(theirs)
    assert ours_module.code == their_module.code
    assert _not_trivia(ours.calls) == _not_trivia(theirs.calls)
    assert len(ours.calls) < len(theirs.calls)  # whitespace and punctuation are not visited
    if rewrite is _drop_calls:
        assert "drop_me" not in ours_module.code and "-> int" not in ours_module.code
        assert "        pass\n" in ours_module.code  # the emptied block, as LibCST writes it
        assert "keep()" in ours_module.code


def test_a_node_whose_children_come_back_unchanged_is_kept_as_it_was():
    module = cst.parse_module(SOURCE)
    assert transform(module, Recorder()) is module


def test_removing_a_required_child_is_refused_as_libcst_refuses_it():
    def remove_func(original, updated):
        return cst.RemoveFromParent() if isinstance(original, cst.Name) and original.value == "g" else updated

    with pytest.raises(TypeError):
        transform(cst.parse_module("g(x)\n"), Recorder(remove_func))
    with pytest.raises(Exception):
        cst.parse_module("g(x)\n").visit(Recorder(remove_func))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.py")), ids=lambda p: p.name)
def test_transform_follows_libcst_on_every_fixture(path):
    module = cst.parse_module(path.read_text())
    ours, theirs = Recorder(_drop_calls), Recorder(_drop_calls)
    assert transform(module, ours).code == module.visit(theirs).code
    assert _not_trivia(ours.calls) == _not_trivia(theirs.calls)


class Reads(Visitor):
    """Records its calls: skips lambdas' bodies, walks an attribute's value and an
    argument's value alone (a walk inside a walk), leaves functions, calls and attributes;
    ``visit_Module`` makes the index scan the module whole or by type alike."""

    def __init__(self) -> None:
        self.calls = []

    def visit_Name(self, node):
        self.calls.append(("name", node))

    def visit_Call(self, node):
        self.calls.append(("call", node))

    def leave_Call(self, node):
        self.calls.append(("left call", node))

    def leave_FunctionDef(self, node):
        self.calls.append(("left def", node))

    def visit_Lambda(self, node):
        self.calls.append(("lambda", node))
        return False

    def leave_Lambda(self, node):
        self.calls.append(("left lambda", node))

    def visit_Attribute(self, node):
        self.calls.append(("attribute", node))
        self.walk(node.value)
        return False

    def leave_Attribute(self, node):
        self.calls.append(("left attribute", node))

    def visit_Arg(self, node):
        self.walk(node.value)
        return False


def _subtrees(module):
    """The module, and every statement at any depth."""
    found = [module]

    class Statements(Visitor):
        def visit_SimpleStatementLine(self, node):
            found.append(node)

        def visit_FunctionDef(self, node):
            found.append(node)

        def visit_If(self, node):
            found.append(node)

    Statements().walk(module)
    return found


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.py"))[:40], ids=lambda p: p.name)
def test_an_indexed_walk_makes_the_calls_of_a_walk_node_by_node(path):
    module = cst.parse_module(path.read_text())
    subtrees = _subtrees(module)
    by_node = [Reads().walked(node).calls for node in subtrees]
    index = Preorder(module)
    try:
        assert [Reads().walked(node).calls for node in subtrees] == by_node
        # large and small subtrees are both found: scanned whole, and by type
        sizes = [index.ends[i] - i for i in range(len(index.nodes))]
        assert max(sizes) > walk._SCANNED > min(sizes)
    finally:
        index.close()
    assert [Reads().walked(node).calls for node in subtrees] == by_node  # node by node again


class _Returned(Reads):
    """Reads, each value returned to the walk instead (in the subtree: no walk of its own)."""

    def visit_Attribute(self, node):
        self.calls.append(("attribute", node))
        return node.value

    def visit_Arg(self, node):
        return node.value


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.py"))[:40], ids=lambda p: p.name)
def test_a_node_returned_by_visit_is_walked_as_a_walk_inside_the_walk(path):
    module = cst.parse_module(path.read_text())
    subtrees = _subtrees(module)
    nested = [Reads().walked(node).calls for node in subtrees]
    assert [_Returned().walked(node).calls for node in subtrees] == nested
    assert any(call[0] == "left attribute" for calls in nested for call in calls)
    index = Preorder(module)
    try:
        assert [_Returned().walked(node).calls for node in subtrees] == nested
        assert [Reads().walked(node).calls for node in subtrees] == nested
    finally:
        index.close()


def test_a_node_returned_from_outside_the_subtree_is_walked_too():
    module = cst.parse_module(SOURCE)
    elsewhere = module.body[0]

    class Nested(Reads):
        def visit_Call(self, node):
            self.calls.append(("call", node))
            self.walk(elsewhere)
            return False

    class Returned(Reads):
        def visit_Call(self, node):
            self.calls.append(("call", node))
            return elsewhere

    expected = Nested().walked(module).calls
    assert Returned().walked(module).calls == expected
    index = Preorder(module)
    try:
        assert Returned().walked(module.body[-1]).calls == Nested().walked(module.body[-1]).calls
        assert Returned().walked(module).calls == expected
    finally:
        index.close()


def test_the_index_holds_the_walk_order_and_the_parents():
    module = cst.parse_module(SOURCE)
    index = Preorder(module)
    try:
        order = []

        class Every(cst.CSTVisitor):
            def on_visit(self, node):
                if type(node) not in TRIVIA:
                    order.append(node)
                return True

        module.visit(Every())
        assert index.nodes == order
        parents = index.parent_of()
        assert list(parents) == order[1:]
        for node, parent in parents.items():
            assert index.nodes.index(node) in range(index.nodes.index(parent) + 1, index.ends[index.nodes.index(parent)])
    finally:
        index.close()
