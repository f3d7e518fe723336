"""Tree walks several times cheaper than LibCST's ``node.visit``.

LibCST's visitors rebuild every node they pass (``_visit_and_replace_children``) and
call a handful of hooks per node, whitespace and punctuation included.  The analyses
here only read the tree, so :class:`Visitor` keeps LibCST's protocol (``visit_<Type>``
returning False skips the children, then ``leave_<Type>``) and order, but reads the
children off the node and skips the fields that can only hold whitespace, comments or
punctuation.  A module's analysis walks parts of it dozens of times: once its
:class:`Preorder` index is built, a walk scans only the nodes its visitor has methods
for.  :func:`transform` does the same for the rewrite's transformer, rebuilding only the
nodes whose children it changed.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import typing
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import libcst as cst
from libcst._nodes import op as _op
from libcst._nodes import whitespace as _whitespace


def subclasses(cls: type):
    """Every class below ``cls``, depth first (a class with two bases among them, twice)."""
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


#: Node types that hold no names or expressions.
TRIVIA = frozenset(
    cls for cls in subclasses(cst.CSTNode) if cls.__module__ in (_op.__name__, _whitespace.__name__)
) | {
    cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket,
    cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.Asynchronous, cst.ParamStar, cst.ParamSlash,
}


def _node_types(hint) -> list:
    """The CSTNode classes a field annotation admits (``Sequence[Union[A, B]]`` -> A, B)."""
    args = typing.get_args(hint)
    if args:
        return [t for arg in args for t in _node_types(arg)]
    return [hint] if isinstance(hint, type) and issubclass(hint, cst.CSTNode) else []


def _may_hold_names(hint) -> bool:
    """Whether a field so annotated may hold a node other than whitespace and punctuation."""
    return any(map(_holds_names, _node_types(hint)))


@functools.lru_cache(maxsize=None)
def _holds_names(cls: type) -> bool:
    """Whether ``cls`` or a concrete subclass is a node other than whitespace and punctuation."""
    return any(sub not in TRIVIA and not getattr(sub, "__abstractmethods__", ()) for sub in (cls, *subclasses(cls)))


class _FieldOrder(cst.CSTVisitor):
    """Records the fields of one node in the order LibCST visits them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if attribute not in self.fields:
            self.fields.append(attribute)


_FIELDS: Dict[type, Tuple[str, ...]] = {}
#: Whether a type is a CSTNode: a dict lookup is cheaper than ``isinstance`` on LibCST's
#: abstract classes, the commonest call of a walk.
_NODE_TYPES: Dict[type, bool] = {}


def _fields(node: cst.CSTNode) -> Tuple[str, ...]:
    """The fields of ``node``'s type that may hold names, in LibCST's visiting order.

    Found once per node type: the order by visiting one node (LibCST's order is not
    the dataclass field order: ``lpar`` and decorators come first), the fields from
    their annotations.  A field the node does not visit when empty (only f-strings'
    ``format_spec``, visited last) goes last.
    """
    fields = _FIELDS.get(type(node))
    if fields is None:
        order = _FieldOrder()
        node._visit_and_replace_children(order)  # rebuilds this one node, once per node type
        hints = typing.get_type_hints(type(node))
        unvisited = [f.name for f in dataclasses.fields(node) if f.name not in order.fields]
        fields = _FIELDS[type(node)] = tuple(f for f in order.fields + unvisited if _may_hold_names(hints[f]))
    return fields


def _children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The children of ``node`` a walk visits, in order (not whitespace nor punctuation)."""
    children = []
    fields = _FIELDS.get(type(node))
    for field in fields if fields is not None else _fields(node):
        value = getattr(node, field)
        is_node = _NODE_TYPES.get(value.__class__)  # _is_node, inlined: the commonest call of a walk
        if is_node is None:
            is_node = _NODE_TYPES[value.__class__] = isinstance(value, cst.CSTNode)
        if is_node:
            children.append(value)
        elif isinstance(value, (tuple, list)):
            children.extend(value)
    return children


Handler = Optional[Callable]
_V = TypeVar("_V", bound="Visitor")


def _handlers_of(visitor_type: type) -> Dict[type, Tuple[Handler, Handler]]:
    """The cache of :func:`_pair` for ``visitor_type``: its own, not inherited."""
    handlers = visitor_type.__dict__.get("_handlers")
    if handlers is None:
        handlers = visitor_type._handlers = {}
    return handlers


def _pair(visitor_type: type, node_type: type) -> Tuple[Handler, Handler]:
    """The ``visit_`` and ``leave_`` methods of ``visitor_type`` for ``node_type`` (cached per class)."""
    handlers = _handlers_of(visitor_type)
    pair = handlers.get(node_type)
    if pair is None:
        name = node_type.__name__
        pair = handlers[node_type] = (getattr(visitor_type, "visit_" + name, None),
                                      getattr(visitor_type, "leave_" + name, None))
    return pair


class Visitor:
    """Read-only ``cst.CSTVisitor`` lookalike: ``visitor.walk(node)`` instead of ``node.visit(visitor)``.

    A walk of a tree that has a :class:`Preorder` index visits only the nodes its visitor
    has methods for.  A ``visit_`` method returns False to skip the node's subtree, or a
    node to walk instead (``return node.value``: as ``self.walk(node.value)`` and False,
    without starting another walk when it is in the subtree).
    """

    _handlers: Dict[type, Tuple[Handler, Handler]]

    def walked(self: _V, node: cst.CSTNode) -> _V:
        """This visitor, after walking ``node`` (``Finder().walked(fn).found``)."""
        self.walk(node)
        return self

    def walk(self, node: cst.CSTNode) -> None:
        """Visit ``node`` and its subtree."""
        indexed = _INDEXED.get(id(node))
        if indexed is not None:
            indexed.walk(self, node)
            return
        visitor_type = type(self)
        handlers = _handlers_of(visitor_type)  # a local name: `go` runs once per node

        def go(node: cst.CSTNode) -> None:
            pair = handlers.get(type(node))
            visit, leave = pair if pair is not None else _pair(visitor_type, type(node))
            walked = None if visit is None else visit(self, node)
            if walked is None or walked is True:
                for child in _children(node):
                    go(child)
            elif walked is not False:
                self.walk(walked)
            if leave is not None:
                leave(self, node)

        try:
            go(node)
        finally:
            go = None  # `go` refers to itself: a cycle only the garbage collector would free


#: id of each node of an indexed tree -> its tree's :class:`Preorder`.
_INDEXED: Dict[int, "Preorder"] = {}


class Preorder:
    """The nodes of one tree (whitespace and punctuation left out) in walk order, each with
    the end of its subtree and its parent.

    While the index lives, a :meth:`Visitor.walk` of any node of the tree scans only the
    nodes of the types its visitor has methods for, in the same order and with the same
    calls as a walk node by node: an analysis asks dozens of walks of the same module.
    The index holds the tree's nodes, so their ids stay theirs until :meth:`close`.
    """

    def __init__(self, root: cst.CSTNode) -> None:
        nodes: List[cst.CSTNode] = []
        ends: List[int] = []
        parents: List[int] = []
        by_type: Dict[type, List[int]] = {}

        def go(node: cst.CSTNode, parent: int) -> None:
            here = len(nodes)
            nodes.append(node)
            parents.append(parent)
            ends.append(0)
            positions = by_type.get(type(node))
            if positions is None:
                positions = by_type[type(node)] = []
            positions.append(here)
            for child in _children(node):
                go(child, here)
            ends[here] = len(nodes)

        try:
            go(root, -1)
        finally:
            go = None
        self.nodes, self.ends, self.parents, self._by_type = nodes, ends, parents, by_type
        self._place = {id(node): i for i, node in enumerate(nodes)}
        self._handled_by: Dict[type, List[List[int]]] = {}
        _INDEXED.update(dict.fromkeys(self._place, self))

    def close(self) -> None:
        """Forget the tree: walks of its nodes go node by node again."""
        for key in self._place:
            if _INDEXED.get(key) is self:
                del _INDEXED[key]
        self._place, self._handled_by = {}, {}

    def parent_of(self) -> Dict[cst.CSTNode, cst.CSTNode]:
        """Each node's parent, in walk order (the root has none)."""
        nodes = self.nodes
        return {nodes[i]: nodes[p] for i, p in enumerate(self.parents) if p >= 0}

    def _positions(self, visitor_type: type, start: int, end: int) -> Sequence[int]:
        """Where, from ``start`` to ``end``, the nodes are that ``visitor_type`` has methods for.

        A small subtree is scanned whole; in a larger one only the nodes of the types
        handled are, found by type.
        """
        if end - start <= _SCANNED:
            return range(start, end)
        by_type = self._handled_by.get(visitor_type)
        if by_type is None:
            by_type = self._handled_by[visitor_type] = [
                at for node_type, at in self._by_type.items() if _pair(visitor_type, node_type) != (None, None)]
        found = []
        for at in by_type:
            low = bisect.bisect_left(at, start)
            high = bisect.bisect_left(at, end, low)
            if low < high:
                found.append(at[low:high])
        return found[0] if len(found) == 1 else sorted(itertools.chain(*found))

    def walk(self, visitor: Visitor, node: cst.CSTNode) -> None:
        """``visitor.walk(node)``, scanning the index."""
        start = self._place[id(node)]
        nodes, ends = self.nodes, self.ends
        visitor_type = type(visitor)
        handlers = _handlers_of(visitor_type)
        positions = self._positions(visitor_type, start, ends[start])
        at, stop = 0, len(positions)
        waiting: List[Tuple[int, cst.CSTNode, Callable]] = []  # the leave_ calls due at the end of a subtree
        alone: List[Tuple[int, int]] = []  # (end of a subtree walked alone, end of the subtree it is in)
        while at < stop:
            here = positions[at]
            if alone and here >= alone[-1][0]:  # the rest of the subtree it is in is skipped
                at = bisect.bisect_left(positions, alone.pop()[1], at, stop)
                continue
            node = nodes[here]
            pair = handlers.get(type(node))
            visit, leave = pair if pair is not None else _pair(visitor_type, type(node))
            if visit is None and leave is None:
                at += 1
                continue
            while waiting and waiting[-1][0] <= here:
                _, done, done_leave = waiting.pop()
                done_leave(visitor, done)
            walked = None if visit is None else visit(visitor, node)
            if walked is None or walked is True:
                if leave is not None:
                    waiting.append((ends[here], node, leave))
                at += 1
                continue
            inner = -1 if walked is False else self._place.get(id(walked), -1)
            if here < inner < ends[here]:  # only the subtree of ``walked``, walked on in this loop
                if leave is not None:
                    waiting.append((ends[here], node, leave))
                alone.append((ends[inner], ends[here]))
                at = bisect.bisect_left(positions, inner, at + 1, stop)
            else:  # its subtree is skipped (``walked``, a node elsewhere, walked on its own)
                if walked is not False:
                    visitor.walk(walked)
                if leave is not None:
                    leave(visitor, node)
                at = bisect.bisect_left(positions, ends[here], at + 1, stop)
        while waiting:
            _, done, leave = waiting.pop()
            leave(visitor, done)


#: Subtrees of up to this many nodes are scanned whole (see :meth:`Preorder._positions`).
_SCANNED = 128


class ValueNames(Visitor):
    """A :class:`Visitor` that reaches a ``Name`` only where it is a value: not as an
    attribute's name (``x.name``) nor as a keyword (``f(name=...)``)."""

    def visit_Attribute(self, node: cst.Attribute) -> cst.BaseExpression:
        return node.value

    def visit_Arg(self, node: cst.Arg) -> cst.BaseExpression:
        return node.value


#: The fields whose emptied statements LibCST drops (``visit_body_sequence``).
_BODIES = {(cst.Module, "body"), (cst.IndentedBlock, "body")}
_REMOVED: Dict[Tuple[type, str], object] = {}


def _removed(node_type: type, field: str):
    """What a field holding one node becomes when a transformer removes that node, as
    LibCST's ``visit_optional`` and ``visit_sentinel`` decide (a required field raises)."""
    key = (node_type, field)
    if key not in _REMOVED:
        admits = typing.get_args(typing.get_type_hints(node_type)[field])
        _REMOVED[key] = (cst.MaybeSentinel.DEFAULT if cst.MaybeSentinel in admits
                         else None if type(None) in admits else TypeError)
    return _REMOVED[key]


def _is_node(value) -> bool:
    """Whether a field's value is one node (not a sequence, None or a sentinel); inlined in
    :func:`_children`, where it is the commonest call."""
    is_node = _NODE_TYPES.get(value.__class__)
    if is_node is None:
        is_node = _NODE_TYPES[value.__class__] = isinstance(value, cst.CSTNode)
    return is_node


def transform(node: cst.CSTNode, transformer: cst.CSTTransformer):
    """``node.visit(transformer)`` for a transformer that neither reads nor rewrites
    whitespace and punctuation: the same ``on_visit`` and ``on_leave`` calls in the same
    order, except on those nodes, which are not visited; and a node whose children all
    come back as they were is not rebuilt (``on_leave`` gets it as it was)."""
    on_visit, on_leave = transformer.on_visit, transformer.on_leave
    sentinels = (cst.RemovalSentinel, cst.FlattenSentinel)

    def go(node: cst.CSTNode):
        updated = node
        if on_visit(node):
            node_type = type(node)
            changes = None
            for field in _fields(node):
                value = getattr(node, field)
                if _is_node(value):
                    new = go(value)
                    if new is value:
                        continue
                    if isinstance(new, cst.FlattenSentinel):
                        raise TypeError(f"a {type(value).__name__} in {node_type.__name__}.{field} "
                                        "cannot be replaced by several nodes")
                    if isinstance(new, cst.RemovalSentinel):
                        new = _removed(node_type, field)
                        if new is TypeError:
                            raise TypeError(f"{node_type.__name__}.{field} cannot be removed")
                elif isinstance(value, (tuple, list)) and value:
                    body = (node_type, field) in _BODIES
                    children, changed = [], False
                    for child in value:
                        new = go(child)
                        if new is child:
                            children.append(child)
                            continue
                        changed = True
                        for one in (new if isinstance(new, cst.FlattenSentinel)
                                    else () if isinstance(new, cst.RemovalSentinel) else (new,)):
                            if not (body and one._is_removable() and not child._is_removable()):
                                children.append(one)
                    if not changed:
                        continue
                    new = tuple(children)
                else:
                    continue
                if changes is None:
                    changes = {}
                changes[field] = new
            if changes:
                updated = node.with_changes(**changes)
        result = on_leave(node, updated)
        if not isinstance(result, (cst.CSTNode, *sentinels)):
            raise cst.CSTValidationError(f"a transformer returned a {type(result).__name__}, not a node")
        return result

    try:
        return go(node)
    finally:
        go = None  # `go` refers to itself: a cycle only the garbage collector would free
