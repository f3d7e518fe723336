"""Black's layout of the statements the codemods lengthen or insert, without black.

A black pass costs milliseconds (a parse, then a second pass to settle trailing commas),
more than migrating the file; most statements the codemods change are one call grown
too long for its line (``x = f(a, b=g(c))``, ``return f(...)``, ``f(...)``) or a block
they insert (``if params["use_tpu"]:``, ``def metric_fn(labels, logits):``).  For those,
black's right-hand split is computed here: a call's arguments on one line inside its
brackets if they fit, else one per line with the trailing comma black adds, each still
too long split at its own last bracket; collections and magic trailing commas exploded;
method chains in parentheses, one call per line, but a lone method call without
arguments after a call (``.repeat()``) left in the tail; a conditional expression as an
argument, an element or a keyword's value (``optimizer=(... if params["use_tpu"] else
"Adam")``) in the parentheses black puts around it, split before ``if`` and ``else``;
the ``with`` header of the host_call (:func:`layout_with`); and the blank lines black
puts around them when given line ranges (:func:`lay_out_statements`).

Only names, attributes, calls, subscripts (slices with names and numbers for bounds:
``probabilities[:, 1]``), literals, displays, lambdas, arithmetic, comparisons and those
conditional expressions are taken, on lines without comments.  Anything else returns
None and black lays it out: other conditional expressions and slices, ``*args``,
comments, docstrings, decorators, a statement's value black would split at an operator
(an argument or an element it splits before its loosest operators, as laid out here),
a head that does not fit, blank lines whose rules go further than these.  The tests
compare every layout made here with black's.

    >>> layout_call('estimator = tf.estimator.Estimator(model_fn=model_fn, config=config)', 0, 40)
    ['estimator = tf.estimator.Estimator(', '    model_fn=model_fn, config=config', ')']
    >>> layout_call('return f(a + b)  # why', 1, 10) is None  # a comment: black decides
    True
"""

from __future__ import annotations

import ast
import keyword
import re
import sys
from typing import Callable, List, Optional, Sequence, Tuple

from .python_tree import python_ast, split_lines

_OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = {")", "]", "}"}
_ARITHMETIC = {"+": 2, "-": 2, "*": 1, "/": 1, "//": 1, "%": 1}  # black's MATH priorities, ranked
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">="}
_OPERATORS = {",", ".", "=", ":", *_OPENING, *_CLOSING, *_ARITHMETIC, *_COMPARISONS}
_VALUES = {"None", "True", "False"}
_KEYWORDS = ("lambda", "return", "if", "else")  # the only keywords taken
_TERNARY = ("if", "else")
# Black's priorities, ranked: COMMA above all, then TERNARY, COMPARATOR, the MATH ones; DOT below all.
_COMMA, _CONDITIONAL, _COMPARISON, _DOT = 100, 50, 10, 0.5


class _Unsure(Exception):
    """The statement leaves the shape laid out here: black decides."""


class _Leaf:
    __slots__ = ("kind", "text", "depth", "match", "unary", "kwarg", "space", "magic", "invisible", "slice")

    def __init__(self, kind: str, text: str, invisible: bool = False) -> None:
        self.kind, self.text = kind, text
        self.invisible = invisible  # black's invisible parentheses (seen once it splits at them)
        self.depth = 0  # brackets (and lambda parameter lists) around it, in the statement
        self.match: Optional[int] = None  # a bracket's partner
        self.unary = self.kwarg = self.slice = False  # slice: a slice's colon
        self.magic = False  # an opening bracket whose contents end in a (magic) trailing comma
        self.space = ""  # what black puts before it, once its line is known


#: Python's tokens, as its tokenizer splits the code taken here (ASCII, a backslash only
#: in ``\n``, ``\t``, ``\r``, ``\0`` and ``\\`` in a string, escapes black leaves as they
#: are and whose quotes it may change without changing their length: no line
#: continuations): blanks and line ends, one-line strings, names, numbers
#: (followed by no letter, digit or dot: ``1e5``, ``0x1f`` and ``1j`` match nothing), and
#: operators, the longest first.  Ten times faster than :mod:`tokenize` on a statement.
_TOKEN = re.compile(r"""
    (?P<blank>[ \t\f]+)
  | (?P<newline>\r?\n|\r)
  | (?P<string>[rRbBuUfF]{0,2}(?:'(?:[^'\\\r\n]|\\[ntr0\\])*'|"(?:[^"\\\r\n]|\\[ntr0\\])*"))
  | (?P<name>[A-Za-z_]\w*)
  | (?P<number>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?![\w.]))
  | (?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|[-+*/%&|^@=!<>]=|\*\*|//|<<|>>|[-+*/%&|^~@<>()\[\]{},:;.=])
""", re.VERBOSE)
#: The prefixes of the strings taken: black rewrites the others' (``u``, capitals).
_PREFIXES = ("", "r", "b", "f", "rb", "br", "rf", "fr")
#: Python 3.12's tokenizer splits f-strings into parts, which are not taken here.
_SPLIT_FSTRINGS = sys.version_info >= (3, 12)


def _leaves(code: str) -> List[_Leaf]:
    if not code.isascii() or "'''" in code or '"""' in code:
        raise _Unsure  # black measures wide characters; docstrings
    leaves: List[_Leaf] = []
    at, end, depth = 0, len(code), 0
    match = _TOKEN.match
    while at < end:
        token = match(code, at)
        if token is None:
            raise _Unsure  # comments, continuation lines (the user's), other escapes, characters Python does not take
        at = token.end()
        kind, text = token.lastgroup, token.group()
        if kind == "blank":
            continue
        if kind == "newline":
            if not depth and code[at:].strip():
                raise _Unsure  # a second logical line
            continue
        if kind == "name":
            if keyword.iskeyword(text) and text not in _KEYWORDS and text not in _VALUES:
                raise _Unsure
        elif kind == "number":
            if not text.replace(".", "").replace("_", "").isdigit():
                raise _Unsure  # black normalizes hex, exponents, suffixes
        elif kind == "string":
            prefix = text[: min(i for i in (text.find("'"), text.find('"')) if i >= 0)]
            if prefix not in _PREFIXES or (leaves and leaves[-1].kind == "string") \
                    or (_SPLIT_FSTRINGS and "f" in prefix):
                raise _Unsure  # prefixes black rewrites, implicit concatenation
        elif text not in _OPERATORS:
            raise _Unsure  # other operators
        else:
            depth += (text in _OPENING) - (text in _CLOSING)
        leaves.append(_Leaf(kind, text))
    return leaves


def _simple_slices(inside: List[_Leaf], depth: int) -> bool:
    """Whether each slice among the items ``inside`` a subscript has only names, numbers
    (negative too) and strings for bounds (black's ``is_complex_subscript`` false)."""
    items: List[List[_Leaf]] = [[]]
    for leaf in inside:
        if leaf.text == "," and leaf.depth == depth:
            items.append([])
        else:
            items[-1].append(leaf)
    return all(all(leaf.depth == depth and (leaf.kind != "op" or leaf.slice or leaf.unary) for leaf in item)
               for item in items if any(leaf.slice for leaf in item))


def _operand_end(leaf: Optional[_Leaf]) -> bool:
    return leaf is not None and (leaf.kind in ("number", "string") or leaf.text in _CLOSING
                                 or (leaf.kind == "name" and leaf.text not in _KEYWORDS))


def _analyse(leaves: List[_Leaf]) -> None:
    """Bracket depths and partners, lambda parameters, unary minus and keyword ``=``;
    the space black puts before each leaf."""
    stack: List[Tuple[int, str]] = []  # (index, "(" "[" "{" or "lambda")
    depth = 0
    previous: Optional[_Leaf] = None
    for i, leaf in enumerate(leaves):
        text = leaf.text
        if leaf.kind == "op" and text in _CLOSING:
            if not stack or stack[-1][1] == "lambda" or _OPENING[stack[-1][1]] != text:
                raise _Unsure
            j, _ = stack.pop()
            depth -= 1
            leaf.match, leaves[j].match = j, i
            if previous is not None and previous.text == ",":
                items = sum(1 for other in leaves[j + 1: i] if other.text == "," and other.depth == depth + 1)
                if (items < 2 and text == ")") or (text == "]" and _operand_end(leaves[j - 1] if j else None)):
                    raise _Unsure  # a one-tuple (or one argument), a subscript: black's exceptions to magic commas
                leaves[j].magic = True
            if text == "]" and not _simple_slices(leaves[j + 1: i], depth + 1):
                raise _Unsure  # black spaces out the colons of slices with expressions
        leaf.depth = depth
        inner = stack[-1][1] if stack else None
        if leaf.kind == "op":
            if text in _OPENING:
                if text == "{" and _operand_end(previous):
                    raise _Unsure
                stack.append((i, text))
                depth += 1
            elif text == ":":
                if inner == "lambda":
                    stack.pop()
                    depth -= 1
                    leaf.depth = depth
                elif inner == "[" and stack[-1][0] and _operand_end(leaves[stack[-1][0] - 1]):
                    leaf.slice = True
                elif inner != "{":
                    raise _Unsure  # annotations
            elif text == "=":
                if inner == "(" and previous is not None and previous.kind == "name":
                    leaf.kwarg = True
                elif inner is not None:
                    raise _Unsure  # lambda defaults, walrus-like oddities
            elif text in _ARITHMETIC and not _operand_end(previous):
                if text != "-":
                    raise _Unsure  # *args, **kwargs, unary +
                leaf.unary = True
        elif text == "lambda":
            stack.append((i, "lambda"))
            depth += 1
        leaf.space = _space(previous, leaf)
        previous = leaf
    if stack:
        raise _Unsure


def _space(previous: Optional[_Leaf], leaf: _Leaf) -> str:
    """Black's whitespace before ``leaf`` for the leaves taken here."""
    if previous is None:
        return ""
    p, t = previous.text, leaf.text
    hugged = p in _OPENING or (p == "=" and previous.kwarg) or previous.slice  # nothing after these
    if leaf.kind != "op":
        return "" if hugged or p == "." or previous.unary else " "
    if leaf.slice and p == ",":
        return " "
    if t in _CLOSING or t in (",", ".", ":"):
        return ""
    if t == "=":
        return "" if leaf.kwarg else " "
    if t in ("(", "["):  # a call or subscript after an operand; a display otherwise
        return "" if hugged or _operand_end(previous) or previous.unary or p == "." else " "
    if t == "{" or leaf.unary:
        return "" if hugged else " "
    return " "  # binary arithmetic


def _render(leaves: Sequence[_Leaf]) -> str:
    return "".join((leaf.space if i else "") + ("" if leaf.invisible else leaf.text) for i, leaf in enumerate(leaves))


def _parsed(code: str) -> List[_Leaf]:
    """The leaves of ``code``, analysed, with black's invisible parentheses around its
    conditional expressions."""
    leaves = _leaves(code)
    _analyse(leaves)
    inserts = {}  # index -> the invisible bracket that goes before that leaf
    for i, leaf in enumerate(leaves):
        if leaf.kind == "name" and leaf.text == "if":
            start, end = _conditional(leaves, i)
            if leaves[start - 1].text != "(" or leaves[start - 1].match != end:
                inserts[start], inserts[end] = "(", ")"
            elif not _parentheses_kept(leaves, start - 1, end):
                raise _Unsure  # alone in parentheses alone in brackets: black may drop those
    if not inserts:
        return leaves
    fresh = []
    for i, leaf in enumerate(leaves):
        if i in inserts:
            fresh.append(_Leaf("op", inserts[i], invisible=True))
        fresh.append(_Leaf(leaf.kind, leaf.text))
    _analyse(fresh)
    return fresh


def _parentheses_kept(leaves: List[_Leaf], opening: int, closing: int) -> bool:
    """Whether black keeps the parentheses ``leaves[opening]``, ``leaves[closing]`` as they
    are: a call's, or around a keyword's value, an argument or an element among others."""
    before = leaves[opening - 1] if opening else None
    after = leaves[closing + 1] if closing + 1 < len(leaves) else None
    return _operand_end(before) or (before is not None and (before.kwarg or before.text == ",")) \
        or (after is not None and after.text == ",")


def _conditional(leaves: List[_Leaf], i: int) -> Tuple[int, int]:
    """The leaves ``start:end`` of the conditional expression whose ``if`` is ``leaves[i]``:
    an argument, an element or a keyword's value (black's ``test`` node); else _Unsure."""
    depth = leaves[i].depth

    def bound(leaf: _Leaf) -> bool:  # what ends an argument, an element or a keyword's value
        return leaf.depth < depth or (leaf.depth == depth and (leaf.text == "," or leaf.kwarg))

    start = i
    while start > 0 and not bound(leaves[start - 1]):
        start -= 1
        if leaves[start].depth == depth and leaves[start].text in ("lambda", ":", *_TERNARY):
            raise _Unsure  # a lambda's body, a dict's value, a nested conditional
    if start == 0 or (leaves[start - 1].depth < depth and leaves[start - 1].text not in _OPENING):
        raise _Unsure  # a statement's value: black wraps it whole
    end, parts = i + 1, ["if"]
    while end < len(leaves) and not bound(leaves[end]):
        if leaves[end].depth == depth and leaves[end].text in ("lambda", ":", *_TERNARY):
            parts.append(leaves[end].text)
        end += 1
    if parts != ["if", "else"] or end == len(leaves):
        raise _Unsure
    return start, end


def _delimiters(leaves: Sequence[_Leaf], depth: int) -> List[Tuple[int, float]]:
    """(index, priority) of the delimiters at ``depth``: after a comma, before the ``if``
    and ``else`` of a conditional expression, a comparison or an arithmetic operator, a
    dot that follows a closing bracket."""
    found = []
    for i, leaf in enumerate(leaves):
        if leaf.depth != depth:
            continue
        if leaf.text == ",":
            found.append((i, _COMMA))
        elif not i:  # black counts a split before a leaf on the leaf before it
            continue
        elif leaf.kind == "name":
            if leaf.text in _TERNARY:
                found.append((i, _CONDITIONAL))
        elif leaf.text in _ARITHMETIC and not leaf.unary:
            found.append((i, _ARITHMETIC[leaf.text]))
        elif leaf.text in _COMPARISONS:
            found.append((i, _COMPARISON))
        elif leaf.text == "." and leaves[i - 1].text in _CLOSING:
            found.append((i, _DOT))
    return found


class _Layout:
    def __init__(self, leaves: List[_Leaf], line_length: int) -> None:
        self.leaves, self.line_length = leaves, line_length

    def fits(self, start: int, end: int, indent: int) -> Optional[str]:
        """The leaves on one line, if it is short enough and no magic trailing comma
        inside makes black split it."""
        if any(leaf.text in _CLOSING and leaf.match >= start and self.leaves[leaf.match].magic
               for leaf in self.leaves[start:end]):
            return None
        text = _render(self.leaves[start:end])
        return text if indent * 4 + len(text) <= self.line_length else None

    def line(self, start: int, end: int, indent: int, inside: bool, explode: bool = False) -> List[str]:
        """Black's ``transform_line`` of leaves ``start:end`` at ``indent``; ``explode``:
        a collection's contents, one item per line whenever they hold a comma."""
        depth = self.leaves[start].depth
        delimiters = [(i, p) for i, p in _delimiters(self.leaves[start:end], depth) if start + i != end - 1]
        explode = explode and any(p == _COMMA for _, p in delimiters)
        text = None if explode else self.fits(start, end, indent)
        if text is not None:
            return ["    " * indent + text]
        if not inside:
            return self.split_at_last_bracket(start, end, indent)
        if delimiters:
            top = max(p for _, p in delimiters)
            if top == _DOT and len(delimiters) > 1 and all(p == _DOT for _, p in delimiters):
                return self.split_before(start, end, indent, [start + i for i, _ in delimiters])
            if top == _DOT and len(delimiters) == 1:  # black splits no lone dot: at the last bracket then
                return self.split_at_last_bracket(start, end, indent)
            if top != _COMMA:  # before `if` and `else`, or before each operator of the loosest kind
                return self.split_before(start, end, indent, [start + i for i, p in delimiters if p == top])
            lines, begin = [], start
            for i, priority in delimiters:
                if priority != _COMMA:
                    continue
                lines.extend(self.line(begin, start + i + 1, indent, True))
                begin = start + i + 1
            if self.leaves[end - 1].text == ",":
                lines.extend(self.line(begin, end, indent, True))
            else:  # the trailing comma black adds
                comma = _Leaf("op", ",")
                comma.depth = depth
                self.leaves.insert(end, comma)
                lines.extend(self.line(begin, end + 1, indent, True))
                del self.leaves[end]
            return lines
        return self.split_at_last_bracket(start, end, indent)

    def split_before(self, start: int, end: int, indent: int, delimiters: List[int]) -> List[str]:
        """Black's split before ``delimiters``: a method chain, one call per line (at its
        dots); a conditional expression, before its ``if`` and its ``else``; arithmetic or
        a comparison, before each of its loosest operators."""
        lines, begin = [], start
        for delimiter in delimiters:
            lines.extend(self.line(begin, delimiter, indent, True))
            begin = delimiter
        lines.extend(self.line(begin, end, indent, True))
        return lines

    def split_at_last_bracket(self, start: int, end: int, indent: int) -> List[str]:
        """Black's right-hand split at the last bracket: a call's, or a collection's."""
        close = end - 1
        if self.leaves[close].text == ",":
            close -= 1
        while _empty_call(self.leaves, start, close):  # `).repeat()`: black leaves a call without arguments in the tail
            close -= 4
        leaf = self.leaves[close]
        if leaf.text not in _CLOSING or leaf.match is None or leaf.match < start or leaf.match + 1 == close:
            raise _Unsure  # nothing to put inside
        opening = leaf.match
        leaf.invisible = self.leaves[opening].invisible = False  # black splits there: they show
        collection = opening == start or not _operand_end(self.leaves[opening - 1])
        if not collection and leaf.text != ")":
            raise _Unsure  # a subscript
        head = self.fits(start, opening + 1, indent)
        if head is None:
            raise _Unsure  # black would try other brackets
        body = self.line(opening + 1, close, indent + 1, True, explode=collection or self.leaves[opening].magic)
        tail = "    " * indent + _render(self.leaves[close:end])
        if len(tail) > self.line_length:
            raise _Unsure  # black would split the tail too
        return ["    " * indent + head, *body, tail]

    def in_parentheses(self, start: int, end: int, indent: int) -> List[str]:
        """The value ``start:end`` in the parentheses black makes visible around it."""
        head = self.fits(0, start, indent)
        if head is None:
            raise _Unsure
        head = (head + " (") if head else "("
        return ["    " * indent + head, *self.line(start, end, indent + 1, True), "    " * indent + ")"]


def layout_call(statement: str, indent: int, line_length: int) -> Optional[List[str]]:
    """Black's lines for the simple statement ``statement`` (its code, any layout) at
    block depth ``indent``, or None when black must decide."""
    try:
        leaves = _parsed(statement)
        if not leaves:
            return None
        first = 1 if leaves[0].text == "return" else 0
        equals = [i for i, leaf in enumerate(leaves) if leaf.text == "=" and leaf.depth == 0]
        if equals:
            if first or len(equals) > 1 or not _target(leaves[: equals[0]]):
                return None
            first = equals[0] + 1
        value = leaves[first:]
        if not value:
            return None
        display = value[0].text in _OPENING and value[0].match == len(leaves) - 1
        if display and value[0].text == "(" and not any(leaf.text == "," and leaf.depth == 1 for leaf in value):
            return None  # black drops redundant parentheses
        layout = _Layout(leaves, line_length)
        text = layout.fits(0, len(leaves), indent)
        if text is not None:
            return ["    " * indent + text]
        # Too long: black splits at the value's last bracket when its optional parentheses
        # can go (nothing but one dot after a bracket between the value's trailers) and
        # the line up to that bracket fits; then that bracket must close a call.
        if display:
            return layout.split_at_last_bracket(0, len(leaves), indent)  # exploded
        delimiters = _delimiters(value, 0)
        if any(p != _DOT for _, p in delimiters) or value[0].kind != "name" \
                or any(leaf.text == "lambda" and leaf.depth == 0 for leaf in value):
            return None
        if len(delimiters) > 1:  # a method chain: black keeps the parentheses
            return layout.in_parentheses(first, len(leaves), indent) if first else None
        if value[-1].text != ")":
            return None
        return layout.split_at_last_bracket(0, len(leaves), indent)
    except _Unsure:
        return None


def layout_if(header: str, indent: int, line_length: int) -> Optional[str]:
    """Black's line for the header ``if test:`` when it fits, or None."""
    if not header.startswith("if ") or not header.endswith(":"):
        return None
    try:
        leaves = _leaves(header[3:-1])
        if not leaves or leaves[0].text == "return":
            return None
        _analyse(leaves)
        if any(leaf.magic or (leaf.depth == 0 and leaf.text in ("=", ":", "lambda", *_TERNARY)) for leaf in leaves):
            return None  # a magic trailing comma: black splits the header
        line = "if " + _render(leaves) + ":"
    except _Unsure:
        return None
    return "    " * indent + line if indent * 4 + len(line) <= line_length else None


def layout_with(header: str, indent: int, line_length: int) -> Optional[List[str]]:
    """Black's lines for the header ``with a(x).b(), c(y):`` (no ``as``) for Python
    versions without parenthesized context managers, or None.

    Each context manager a call, maybe followed by calls without arguments; too long,
    the header is split at the last of their calls whose head fits, from the last
    manager back (black omits the trailers after it while they fit a line), unless a
    manager has more than one dot after a bracket (then black keeps the parentheses it
    puts around the first one)."""
    if not header.startswith("with ") or not header.endswith(":"):
        return None
    try:
        leaves = _leaves(header[5:-1])
        if not leaves:
            return None
        _analyse(leaves)
        if any(leaf.magic or leaf.text in ("lambda", *_TERNARY) or (leaf.depth == 0 and leaf.text in ("=", ":"))
               for leaf in leaves):
            return None
        layout = _Layout(leaves, line_length)
        pad = "    " * indent
        text = layout.fits(0, len(leaves), indent)
        if text is not None:
            line = f"{pad}with {text}:"
            return [line] if len(line) <= line_length else None
        items, begin = [], 0
        for i, leaf in enumerate(leaves + [_Leaf("op", ",")]):
            if leaf.text == "," and leaf.depth == 0:
                items.append((begin, i))
                begin = i + 1
        closes = [_call_bracket(leaves, start, end) for start, end in items]
        if None in closes or any(p != _DOT for start, end in items for _, p in _delimiters(leaves[start:end], 0)) \
                or len(_delimiters(leaves[items[0][0]:items[0][1]], 0)) > 1:
            return None
        for k in reversed(range(len(items))):
            close = closes[k]
            after = pad + _render(leaves[close:]) + ":"
            if k < len(items) - 1 and len(after) > line_length:
                return None  # black omits no trailer that long: it splits elsewhere
            opening = leaves[close].match
            head = f"{pad}with {_render(leaves[:opening + 1])}"
            if len(head) > line_length:
                continue
            body = layout.line(opening + 1, close, indent + 1, True, explode=leaves[opening].magic)
            return None if len(after) > line_length else [head, *body, after]
        return None
    except _Unsure:
        return None


def _empty_call(leaves: Sequence[_Leaf], start: int, close: int) -> bool:
    """Whether leaves ``close - 4 .. close`` are ``).name()``, from ``start`` on."""
    return close - 4 >= start and leaves[close].text == ")" and leaves[close - 1].text == "(" \
        and leaves[close - 2].kind == "name" and leaves[close - 3].text == "." and leaves[close - 4].text in _CLOSING


def _call_bracket(leaves: Sequence[_Leaf], start: int, end: int) -> Optional[int]:
    """The closing bracket of the call ``leaves[start:end]`` makes, the calls without
    arguments after it (``.as_default()``) left out; None for anything else."""
    close = end - 1
    while _empty_call(leaves, start, close):
        close -= 4
    leaf = leaves[close]
    if leaf.text != ")" or leaf.match is None or leaf.match <= start or leaf.match + 1 == close \
            or not _dotted(leaves[start:leaf.match]):
        return None
    return close


def _target(leaves: Sequence[_Leaf]) -> bool:
    """``a.b`` or ``a.b[key]`` with a one-leaf key (black splits its value the same way
    as long as the line up to the value's last bracket fits)."""
    if len(leaves) > 3 and leaves[-1].text == "]" and leaves[-3].text == "[" and leaves[-3].match == len(leaves) - 1:
        return leaves[-2].kind in ("name", "string", "number") and _dotted(leaves[:-3])
    return _dotted(leaves)


def _dotted(leaves: Sequence[_Leaf]) -> bool:
    """``a`` or ``a.b.c``: no brackets, so black's optional parentheses are dropped."""
    return bool(leaves) and len(leaves) % 2 == 1 and all(
        (leaf.kind == "name" and leaf.text not in _VALUES and leaf.text not in _KEYWORDS)
        if i % 2 == 0 else leaf.text == "." for i, leaf in enumerate(leaves))


def touches(ranges: Sequence[Tuple[int, int]], first: int, last: int) -> bool:
    """Whether one of ``ranges`` (inclusive line ranges) overlaps lines ``first``..``last``."""
    return any(a <= last and b >= first for a, b in ranges)


def lay_out_statements(text: str, ranges: Sequence[Tuple[int, int]], line_length: int,
                       with_parentheses: Callable[[], Optional[bool]] = lambda: None) -> Optional[str]:
    """``text`` (a snippet of four-space-indented statements) with every statement that
    ``ranges`` touch laid out as black lays it out with those line ranges, or None
    when one of them is not a statement taken here.  Blocks whose header is touched:
    ``if test:``, ``def name(args):`` and, when black may not put parentheses around
    context managers (``with_parentheses()`` False: some version targeted has none),
    ``with a(x).b(), c(y):`` (the blocks the codemods insert)."""
    try:
        module = python_ast(text)
    except (SyntaxError, ValueError):
        return None
    lines = split_lines(text)
    replaced = {}  # first line -> (last line, black's lines for them)
    for body in _bodies(module):
        for k, statement in enumerate(body):
            first, last = statement.lineno, statement.end_lineno or statement.lineno
            block = getattr(statement, "body", None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                if getattr(statement, "decorator_list", None):
                    first = min(d.lineno for d in statement.decorator_list)
                header_end = block[0].lineno - 1
                while header_end > first and not lines[header_end - 1].strip():
                    header_end -= 1  # blank lines opening the block are the first statement's
                if not touches(ranges, first, header_end):
                    continue  # its statements are laid out on their own
                last, laid = first, _header(statement, lines[first - 1], line_length, with_parentheses)
            elif touches(ranges, first, last):
                laid = _simple(statement, lines, line_length)
            else:
                continue
            gap = _blank_lines(body, k, lines, ranges)
            if laid is None or gap is None or block is not None and block[0].lineno != first + 1:
                return None
            above, blank, comments = gap
            blanks = _blanks(lines[above - 1: statement.lineno - 1], blank)
            if blanks is None:
                return None
            replaced[above] = (last, blanks + laid)
            if comments is not None:  # black's blank lines before the untouched lines above
                start, line, count = comments
                blanks = _blanks(lines[start - 1: line - 1], count)
                if blanks is None or start in replaced:
                    return None
                replaced[start] = (line - 1, blanks)
            if isinstance(statement, ast.FunctionDef) and not _after_def(statement, lines, replaced):
                return None
    out, i = [], 0
    while i < len(lines):
        if i + 1 in replaced:  # lines i + 1 .. last replaced (none: an insertion before i + 1)
            last, new = replaced.pop(i + 1)
            out.append(new)
            i = last
        else:
            out.append(lines[i])
            i += 1
    return "".join(out)


def _after_def(definition: ast.FunctionDef, lines: List[str], replaced: dict) -> bool:
    """Black's blank lines after a def it lays out, before the next line whatever it is
    (one, two at the top level), unless that line is laid out here too; False where
    black's rules go further (a comment, an ``else`` or ``except`` clause)."""
    after = definition.end_lineno or definition.lineno  # 1-based, the def's last line
    following = after + 1
    while following <= len(lines) and not lines[following - 1].strip():
        following += 1
    if following > len(lines):
        return True
    line = lines[following - 1]
    code = line.lstrip()
    if code.startswith("#") or code.split(" ")[0].rstrip(":") in ("else", "elif", "except", "finally", "case"):
        return False
    if after + 1 not in replaced:  # not laid out here: only its blank lines change
        blanks = _blanks(lines[after: following - 1], 1 if len(line) - len(code) else 2)
        if blanks is None:
            return False
        replaced[after + 1] = (following - 1, blanks)
    return True


def _blanks(old: List[str], count: int) -> Optional[str]:
    """``count`` blank lines in place of ``old``: the same lines when as many (black keeps
    a blank line's spaces outside what it lays out), else empty ones; None when spaces
    on blank lines make which ones black keeps unclear."""
    if len(old) == count:
        return "".join(old)
    return "\n" * count if all(line == "\n" for line in old) else None


def reformats(text: str, ranges: Sequence[Tuple[int, int]], line_length: int) -> bool:
    """Whether black would lay out again one of the simple statements ``ranges`` touch
    in ``text``, as far as is known here (False: not known).  Black's layout of a
    statement taken here does not depend on its string normalization (the strings have
    no prefix black rewrites and escape no quote: their quotes change, not their length)."""
    try:
        module = python_ast(text)
    except (SyntaxError, ValueError):
        return False
    lines = split_lines(text)
    for body in _bodies(module):
        for statement in body:
            first, last = statement.lineno, statement.end_lineno or statement.lineno
            if isinstance(getattr(statement, "body", None), list) or not touches(ranges, first, last):
                continue
            laid = _simple(statement, lines, line_length)
            if laid is not None and laid != "".join(lines[first - 1: last]):
                return True
    return False


def _simple(statement: ast.stmt, lines: List[str], line_length: int) -> Optional[str]:
    """Black's lines for a simple statement, or None."""
    if not isinstance(statement, (ast.Assign, ast.Return, ast.Expr)):
        return None
    first, last, indent = statement.lineno, statement.end_lineno or statement.lineno, statement.col_offset
    if indent % 4 or any(not line.startswith(" " * indent) for line in lines[first - 1: last]):
        return None
    code = "".join(lines[first - 1: last])
    if not code.endswith("\n") or statement.end_col_offset != len(lines[last - 1].rstrip("\n")):
        return None  # a comment or another statement after it
    laid = layout_call(code.strip(), indent // 4, line_length)
    return None if laid is None else "".join(line + "\n" for line in laid)


def _header(statement: ast.stmt, header: str, line_length: int,
            with_parentheses: Callable[[], Optional[bool]]) -> Optional[str]:
    """Black's lines for the one-line header of an ``if`` without ``else``, of a plain
    ``def`` (positional parameters only) or of a ``with`` (see :func:`layout_with`), or None."""
    indent = statement.col_offset
    if indent % 4 or not header.startswith(" " * indent) or not header.endswith("\n"):
        return None
    if isinstance(statement, ast.If) and not statement.orelse:
        laid = layout_if(header.strip(), indent // 4, line_length)
        return None if laid is None else laid + "\n"
    if isinstance(statement, ast.With):
        lines = layout_with(header.strip(), indent // 4, line_length) if with_parentheses() is False else None
        return None if lines is None else "".join(line + "\n" for line in lines)
    if not isinstance(statement, ast.FunctionDef) or statement.decorator_list or statement.returns:
        return None
    arguments = statement.args
    if arguments.posonlyargs or arguments.vararg or arguments.kwonlyargs or arguments.kwarg or \
            arguments.defaults or any(a.annotation for a in arguments.args) or \
            getattr(statement, "type_params", None):
        return None
    if isinstance(statement.body[0], ast.Expr) and isinstance(statement.body[0].value, ast.Constant):
        return None  # black's docstring rules
    line = f"{'    ' * (indent // 4)}def {statement.name}({', '.join(a.arg for a in arguments.args)}):"
    if "".join(line.split()) != "".join(header.split()) or len(line) > line_length:
        return None  # a comment, a magic trailing comma, a header too long
    return line + "\n"


def blocks(statement: ast.stmt):
    """The statement lists nested in a compound statement."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(statement, field, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
    for part in (*getattr(statement, "handlers", ()), *getattr(statement, "cases", ())):
        yield part.body


def _bodies(module: ast.Module):
    """Every statement list of the module."""
    stack = [module.body]
    while stack:
        body = stack.pop()
        yield body
        for statement in body:
            stack.extend(blocks(statement))


def _blank_lines(body: List[ast.stmt], k: int, lines: List[str], ranges: Sequence[Tuple[int, int]]):
    """Where the blank lines before ``body[k]`` begin (1-based), how many black puts
    there when it lays the statement out, and where else it puts some (see
    :func:`_before_comments`); or None where black's rules go further than these:
    comments and decorators above, imports and docstrings before, a blank line opening
    a block (but an ``if``'s or loop's, before a def), one-line defs, classes.

    With line ranges, black takes the statements it does not lay out for comments, and
    knows only the defs it lays out."""
    statement = body[k]
    above, gap = _gap(statement, lines)
    above -= 1  # the line above the blank lines
    if above < 1 or lines[above - 1].lstrip().startswith(("#", "@")):
        return None
    is_def = isinstance(statement, ast.FunctionDef)
    most = 1 if statement.col_offset else 2
    if k == 0:  # the line above is its block's header
        if not lines[above - 1].rstrip().endswith(":"):
            return None
        if lines[above - 1].lstrip().startswith(("def ", "async def ", "class ")) or not is_def:
            return (above + 1, 0, None) if not gap and (not is_def or touches(ranges, above, above)) else None
        return above + 1, 1, None  # a def opening an if/for/with block: one blank line, however many were there
    previous = body[k - 1]
    if (previous.end_lineno or previous.lineno) != above or isinstance(previous, (ast.Import, ast.ImportFrom)) \
            or (isinstance(previous, ast.Expr) and isinstance(previous.value, ast.Constant)):
        return None
    nested = [node for node in ast.walk(previous) if isinstance(node, ast.stmt)]
    if any(isinstance(node, (ast.AsyncFunctionDef, ast.ClassDef)) or
           (isinstance(node, ast.FunctionDef) and node.body[0].lineno == node.lineno) for node in nested):
        return None
    if is_def:
        if gap or touches(ranges, previous.lineno, above):
            return above + 1, most, None
        return (above + 1, 0, _before_comments(body, k, lines, ranges, most))
    ended = [node for node in nested if isinstance(node, ast.FunctionDef) and touches(ranges, node.lineno, node.lineno)
             and node.lineno <= above <= (node.end_lineno or node.lineno)]
    return above + 1, most if ended else min(gap, most), None


def _gap(statement: ast.stmt, lines: List[str]) -> Tuple[int, int]:
    """(the first blank line above ``statement``, how many there are)."""
    above = statement.lineno - 1
    while above >= 1 and not lines[above - 1].strip():
        above -= 1
    return above + 1, statement.lineno - 1 - above


def _before_comments(body: List[ast.stmt], k: int, lines: List[str], ranges: Sequence[Tuple[int, int]], most: int):
    """For a def right after untouched statements, which black takes for comments
    leading into it: the blank lines it puts before the first of them instead of
    before the def, as (first blank line, that statement's first line, how many blank
    lines there become), or None when it puts none (they open their block, or two blank
    lines already precede them)."""
    j = k - 1
    while j >= 1 and _gap(body[j], lines)[1] == 0 and \
            not touches(ranges, body[j - 1].lineno, body[j - 1].end_lineno or body[j - 1].lineno):
        j -= 1
    if j == 0:
        return None
    start, gap = _gap(body[j], lines)
    return (start, body[j].lineno, max(gap, most)) if gap <= 1 else None
