"""Lay out the statements the codemods changed, and only those.

``auto`` (the default): changed statements that black left unchanged before are
black-formatted after.  Any other file keeps its own style: black formats just the
changed lines (``lines=``), without normalizing string quotes, at the project's line
length (else 79 when no line of the file is longer, else 88); files not indented by four
spaces are left exactly as the codemods wrote them (black would re-indent whole blocks).
``black`` formats every migrated file; ``none`` never formats.  Black is configured from
``[tool.black]`` settings when given (as ``(key, value)`` pairs) and imported only for
changed files.

Black costs about 50 ms per pass on a 100-line file, more than the migration itself, so
in ``auto`` it sees only :class:`Snippet` s: the statements around each change, at their
own depth.  Black lays a statement out the same way whatever surrounds it, except for
the blank lines that its neighbours and depth decide, which the snippets keep (the
tests compare them with black on the whole file).  A file without a final newline
keeps it so.  In a file's own style, a snippet whose changed statements are all of the
shapes the codemods write (calls grown too long, the ``if`` and ``def`` blocks they
insert) is laid out by :mod:`codemods.statement_layout`, as black would, without black.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import io
import re
import tokenize
from typing import Any, List, Optional, Tuple

from .black_versions import oldest
from .python_tree import python_ast, split_lines
from .statement_layout import blocks, lay_out_statements, reformats, touches

BlackConfig = Tuple[Tuple[str, Any], ...]


Change = Tuple[Tuple[int, int], Tuple[int, int]]
def changed_lines(before: str, after: str, line_length: int, shrunk: bool = False) -> List[Change]:
    """1-based inclusive line ranges of ``after`` that need laying out, each with the
    lines of ``before`` it replaces (the line before it, for an insertion).

    A changed line that still fits, in place of one no longer, is already laid out (black
    would only add churn around it, such as blank lines around a nested def); so are
    added top-level imports.  Inserted blocks and lines grown too long are laid out, and
    with ``shrunk`` lines grown shorter too (black may join a split call that lost an
    argument: black-formatted code only, others would churn).
    """
    return _changes(_line_diff(before, after), line_length, shrunk)


LineDiff = Tuple[List[str], List[str], List[Tuple[str, int, int, int, int]]]


def _line_diff(before: str, after: str) -> LineDiff:
    """The lines of ``before`` and ``after`` (without newlines), and difflib's opcodes
    between them: computed once for both readings of :func:`changed_lines`."""
    old = [line.rstrip("\n") for line in split_lines(before)]
    lines = [line.rstrip("\n") for line in split_lines(after)]
    return old, lines, difflib.SequenceMatcher(None, old, lines, autojunk=False).get_opcodes()


def _changes(diff: LineDiff, line_length: int, shrunk: bool) -> List[Change]:
    old, lines, opcodes = diff
    changes = []
    for tag, i1, i2, j1, j2 in opcodes:
        new = lines[j1:j2]
        if tag == "equal" or not new or all(line.startswith(("import ", "from ")) for line in new):
            continue
        if tag == "replace" and i2 - i1 == j2 - j1 and \
                all((len(old[i]) <= len(line) or not shrunk) and len(line) <= line_length
                    for i, line in zip(range(i1, i2), new)):
            continue
        changes.append(((j1 + 1, j2), (i1 + 1, i2) if i2 > i1 else (max(i1, 1), max(i1, 1))))
    return changes


def black_mode(config: BlackConfig = ()):
    """black.Mode from ``[tool.black]`` settings."""
    import black

    options = dict(config)
    kwargs = {}
    if isinstance(options.get("line_length"), int):
        kwargs["line_length"] = options["line_length"]
    for key, field, negate in (
        ("skip_string_normalization", "string_normalization", True),
        ("skip_magic_trailing_comma", "magic_trailing_comma", True),
        ("preview", "preview", False),
        ("skip_source_first_line", "skip_source_first_line", False),
    ):
        if isinstance(options.get(key), bool):
            kwargs[field] = not options[key] if negate else options[key]
    versions = options.get("target_version") or ()
    chosen = {getattr(black.TargetVersion, str(v).upper(), None) for v in ([versions] if isinstance(versions, str) else versions)}
    if chosen - {None}:
        kwargs["target_versions"] = chosen - {None}
    return black.Mode(**kwargs)


def _black(text: str, mode, lines=()) -> str:
    """Black's layout of ``text``; with ``lines`` (1-based inclusive ranges), of those only."""
    import black

    if not lines:
        return black.format_str(text, mode=mode)
    return _outside_kept(text, black.format_str(text, mode=mode, lines=lines), lines)


def _outside_kept(before: str, after: str, lines) -> str:
    """``after`` with every line of ``before`` that black had no reason to touch as it was.

    Black lays out each statement (a compound statement's header) that ``lines`` touch,
    all its lines; but its line ranges still respace some lines of other statements
    (``if x: y`` becomes ``if x:y``).  Each such line black kept, up to whitespace, is
    put back as written.
    """
    try:
        statements = [_extent(node) for node in ast.walk(python_ast(before)) if isinstance(node, ast.stmt)]
    except (SyntaxError, ValueError, RecursionError):
        return after
    touched = {n for first, last in statements if touches(lines, first, last)
               for n in range(first, last + 1)}
    touched.update(n for a, b in lines for n in range(a, b + 1))
    old, new = split_lines(before), split_lines(after)
    squeezed = difflib.SequenceMatcher(
        None, ["".join(line.split()) for line in old], ["".join(line.split()) for line in new], autojunk=False)
    for i, j, size in squeezed.get_matching_blocks():
        for k in range(size):
            if i + k + 1 not in touched:
                new[j + k] = old[i + k]
    return "".join(new)


def _extent(node: ast.stmt) -> Tuple[int, int]:
    """The lines of a simple statement, or of a compound statement's header (decorators included)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
    body = getattr(node, "body", None)
    if not body or not isinstance(body[0], ast.stmt):  # simple (a lambda's body is no statement)
        return first, node.end_lineno
    return first, max(node.lineno, body[0].lineno - 1)


def is_black_formatted(source: str, mode=None) -> bool:
    """Whether black (``mode``, by default black's own) leaves ``source`` as it is."""
    mode = mode or black_mode()
    if _surely_reformatted(source, mode):
        return False
    try:
        return _black(source, mode) == source
    except Exception:  # black cannot parse some valid code; treat it as "not black"
        return False


#: A string literal from its opening quote (its prefix, if any, is read as code before it).
_STRING = r"""'''(?:[^\\]|\\.)*?'''|\"\"\"(?:[^\\]|\\.)*?\"\"\"|'(?:[^'\\\r\n]|\\.)*'|"(?:[^"\\\r\n]|\\.)*\""""
#: Comments and strings, found left to right (so that neither is taken for the other).
_STRING_OR_COMMENT = re.compile(rf"\#[^\r\n]*|(?P<string>{_STRING})", re.DOTALL)
#: Python's tokens, as far as :func:`_surely_reformatted` tells them apart: comments,
#: strings, line ends, brackets, blanks and other code.  Many times faster than
#: :mod:`tokenize`, which they follow on valid code without backslash continuations.
_TOKEN = re.compile(rf"""
    (?P<comment>\#[^\r\n]*)
  | (?P<string>{_STRING})
  | (?P<newline>\r\n?|\n)
  | (?P<bracket>[][(){{}}])
  | (?P<blank>[ \t\f]+)
  | [^\s\#'"()\[\]{{}}]+ | \S
""", re.VERBOSE | re.DOTALL)


def _surely_reformatted(source: str, mode) -> bool:
    """Whether ``source`` has a line black never leaves as it is, found without black
    (a black pass costs as much as the migration of the file): a line with trailing
    blanks, or a bracket closed after other code on a later line than it opened
    (``f(a,`` / ``  b)``: black joins a statement's lines and splits them again, and
    its every split puts such a bracket first on its line).  Code black keeps as
    written (``fmt:``/``yapf:`` comments, backslash continuations, strings over several
    lines) and black's preview styles are left to black itself."""
    if mode.preview or getattr(mode, "unstable", False) or getattr(mode, "enabled_features", None) \
            or "fmt:" in source or "yapf:" in source or "\\\n" in source:
        return False
    if any(_over_lines(found.group("string")) for found in _STRING_OR_COMMENT.finditer(source)):
        return False  # a string over several lines: black keeps its lines
    if any(line.endswith((" \n", "\t\n")) for line in split_lines(source)):
        return True
    opened: List[int] = []  # the rows of the brackets open
    row = 1
    line_of_last = 0  # the row of the last token that is code
    for token in _TOKEN.finditer(source):
        kind = token.lastgroup
        if kind == "newline":
            row += 1
        elif kind == "bracket":
            if token.group() in "([{":
                opened.append(row)
            elif opened and opened.pop() < row and line_of_last == row:
                return True
            line_of_last = row
        elif kind not in ("comment", "blank"):
            line_of_last = row
    return False


def _over_lines(string: Optional[str]) -> bool:
    return string is not None and ("\n" in string or "\r" in string)


@dataclasses.dataclass
class Snippet:
    """Whole lines ``start``..``end`` (1-based, inclusive): sibling statements inside blocks
    whose headers ``headers`` stands for (one per depth)."""

    start: int
    end: int
    headers: Tuple[str, ...]

    @property
    def indent(self) -> int:
        return 4 * len(self.headers)

    def text(self, lines: List[str]) -> str:
        """The lines under stand-in headers that put them at their own depth, in the same
        kind of block, so black lays them out as it would in the file (blank lines, line
        length and docstrings depend on those)."""
        text = self.header() + "".join(lines[self.start - 1 : self.end])
        return text if text.endswith("\n") else text + "\n"

    def header(self) -> str:
        return "".join("    " * depth + header + "\n" for depth, header in enumerate(self.headers))

    def local(self, first: int, last: int) -> Tuple[int, int]:
        """Lines ``first``..``last`` of the file, as lines of :meth:`text`."""
        shift = len(self.headers) - self.start + 1
        return max(first, self.start) + shift, min(last, self.end) + shift

    def local_ranges(self, ranges) -> List[Tuple[int, int]]:
        """The parts of the file's line ``ranges`` inside the snippet, as lines of :meth:`text`."""
        return [self.local(a, b) for a, b in ranges if a <= self.end and b >= self.start]


#: Stand-ins for the headers of the blocks black treats apart (docstrings, blank lines).
_HEADERS = {ast.ClassDef: "class _:", ast.FunctionDef: "def _():", ast.AsyncFunctionDef: "async def _():"}


def _span(statement: ast.stmt) -> Tuple[int, int]:
    first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))])
    return first, statement.end_lineno or statement.lineno


def _snippet(body: List[ast.stmt], first: int, last: int, lines: List[str],
             outer: Tuple[ast.stmt, ...] = ()) -> Optional[Snippet]:
    """The innermost sibling statements holding lines ``first``..``last``, with one more
    statement on each side (black's blank lines depend on the neighbours); ``outer``: the
    compound statements around ``body``."""
    hit = [i for i, (start, end) in enumerate(map(_span, body)) if start <= last and end >= first]
    if not hit:
        return None
    if len(hit) == 1:
        compound = body[hit[0]]
        for block in blocks(compound):
            if _span(block[0])[0] <= first and last <= _span(block[-1])[1] and block[0].lineno > compound.lineno:
                elif_ = isinstance(compound, ast.If) and lines[compound.lineno - 1].lstrip().startswith("elif")
                return _snippet(block, first, last, lines, outer if elif_ else (*outer, compound))
    low, high = max(hit[0] - 1, 0), min(hit[-1] + 1, len(body) - 1)
    start = _span(body[low])[0]
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip(" "))
    if indent != body[low].col_offset or indent != 4 * len(outer):
        return None
    headers = tuple(_HEADERS.get(type(s), "if True:") for s in outer)
    if headers and low:  # a string statement down a def or class is no docstring
        headers = (*headers[:-1], "if True:")
    return Snippet(start, _span(body[high])[1], headers)


def snippets(source: str, ranges: List[Tuple[int, int]]) -> Optional[List[Snippet]]:
    """Disjoint snippets of ``source`` covering ``ranges``, in order; None if some range
    is not in whole statements at four-space depths (then the whole file is laid out)."""
    lines = split_lines(source)
    module = python_ast(source).body
    found = []
    for first, last in ranges:
        snippet = _snippet(module, first, last, lines)
        if snippet is None:
            if any(line.strip() for line in lines[first - 1 : last]):
                return None
            continue  # blank lines only
        found.append(snippet)
    merged: List[Snippet] = []
    for snippet in sorted(found, key=lambda s: (s.start, s.indent)):
        if merged and snippet.start <= merged[-1].end:  # nested or overlapping siblings
            outer = merged[-1]
            shallower = min(outer, snippet, key=lambda s: s.indent)
            merged[-1] = Snippet(outer.start, max(outer.end, snippet.end), shallower.headers)
        else:
            merged.append(snippet)
    return merged


#: What makes black's layout of a statement depend on the Python versions it targets: a
#: trailing comma after ``*args``/``**kwargs``, parentheses around ``with`` items and ``:=``.
_VERSION_DEPENDENT = re.compile(r"\*\w|\bwith\b|:=")


@functools.lru_cache(maxsize=4)
def _detected_versions(source: str):
    """The versions black infers ``source`` targets: read off Python's tree, else by black
    (with the file's ``__future__`` imports, as black counts them)."""
    import black

    found = oldest(source)
    if found is not None:
        return {version for version in black.TargetVersion if (3, version.value) >= found}
    node = black.lib2to3_parse(source)
    return black.detect_target_versions(node, future_imports=black.get_future_imports(node))


def _file_versions(mode, source: str, snippet: str):
    """``mode`` for a snippet of ``source``.  Unless configured, black infers the versions
    to target from the code it sees: a snippet where they matter gets the whole file's."""
    if mode.target_versions or not _VERSION_DEPENDENT.search(snippet):
        return mode
    return dataclasses.replace(mode, target_versions=set(_detected_versions(source)))


def _with_parentheses(mode) -> Optional[bool]:
    """Whether black may put parentheses around context managers in ``mode``: every
    version it targets has them (None: black infers the versions from what it sees)."""
    if not mode.target_versions:
        return None
    import black

    feature = black.Feature.PARENTHESIZED_CONTEXT_MANAGERS
    return all(feature in black.VERSION_TO_FEATURES[version] for version in mode.target_versions)


#: The first black whose layout :mod:`codemods.statement_layout` follows: before it, black
#: given line ranges also capped the blank lines of the statements it did not lay out.
EMULATED_SINCE = (26, 10)


@functools.lru_cache(maxsize=8)
def _emulated(mode) -> bool:
    """Whether :mod:`codemods.statement_layout` lays out for black in ``mode``: black since
    :data:`EMULATED_SINCE` (the tests compare the two), magic trailing commas respected,
    no preview features."""
    import black

    version = tuple(int(part) if part.isdigit() else -1 for part in black.__version__.split(".")[:2])
    return version >= EMULATED_SINCE and mode.magic_trailing_comma and not (
        mode.preview or mode.is_pyi or getattr(mode, "unstable", False) or getattr(mode, "enabled_features", None))


def _lay_out_snippets(after: str, found: List[Snippet], mode, ranges) -> Tuple[str, bool]:
    """``after`` with each snippet formatted as black formats it: only ``ranges`` of it, or
    all of it when ``ranges`` is None; and whether black itself formatted one."""
    lines = split_lines(after)
    out, done, by_black = [], 0, False
    for snippet in found:
        out.extend(lines[done : snippet.start - 1])
        text = snippet.text(lines)
        inside = None if ranges is None else snippet.local_ranges(ranges)
        formatted = lay_out_statements(
            text, inside, mode.line_length, lambda: _with_parentheses(_file_versions(mode, after, text)),
        ) if inside and not mode.string_normalization and _emulated(mode) else None
        if formatted is None:
            formatted, by_black = _black(text, _file_versions(mode, after, text), inside or ()), True
        header = snippet.header()
        if not formatted.startswith(header):
            raise ValueError("black changed the snippet's headers")
        out.append(formatted[len(header):])
        done = snippet.end
    out.extend(lines[done:])
    result = "".join(out)
    return (result if after.endswith("\n") else result.rstrip("\n")), by_black


def _four_space_indented(source: str) -> bool:
    """Whether the first indented block is indented by four spaces (as black indents)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.INDENT:
                return token.string == "    "
    except (tokenize.TokenError, SyntaxError):
        return False
    return True


def _single_quoted_string(source: str, mode) -> bool:
    """Whether ``source`` has a string black would turn to double quotes (so it is not
    black-formatted): single quotes around no quote and no backslash.  Cheaper than
    asking black, and than Python's tokenizer."""
    if not mode.string_normalization or "fmt:" in source or "'" not in source:
        return False
    for found in _STRING_OR_COMMENT.finditer(source):
        body = found.group("string")
        if body and body[0] == "'" and body[:3] != "'''" and '"' not in body and "\\" not in body:
            return True
    return False


def uniform_crlf(text: str) -> bool:
    """Whether every line of ``text`` ends in CRLF (then every line it gains does too)."""
    return "\r\n" in text and text.count("\n") == text.count("\r\n")


def lay_out(before: str, after: str, style: str = "auto", config: BlackConfig = ()) -> str:
    """Format ``after`` (the migrated ``before``) according to ``style``: auto, black or none."""
    if style == "none" or before == after:
        return after
    crlf = uniform_crlf(before)
    if crlf:
        before, after = before.replace("\r\n", "\n"), after.replace("\r\n", "\n")
    elif "\r" in before or "\r" in after:  # mixed line endings: left as the codemods wrote them
        return after
    try:
        out, by_black = _lay_out(before, after, style, black_mode(config), "line_length" in dict(config))
        if by_black and out != after:
            python_ast(out)  # black over lines of a block not indented by four spaces re-indents them
    except Exception:  # the codemods' own output is valid Python: keep it rather than fail
        out = after
    return out.replace("\n", "\r\n") if crlf else out


def _lay_out(before: str, after: str, style: str, mode, fixed_length: bool) -> Tuple[str, bool]:
    """``after`` laid out, and whether black itself laid some of it out (the statements
    :mod:`codemods.statement_layout` lays out are tested against black instead)."""
    if style == "black":
        return _black(after, mode), True
    if not _four_space_indented(before):  # black indents by four: not black-formatted either
        return after, False
    own = mode  # the file's own style: no quote changes, its own line length
    if not fixed_length:
        longest = max((len(line.rstrip("\n")) for line in split_lines(before)), default=0)
        own = dataclasses.replace(own, line_length=79 if longest <= 79 else 88)
    own = dataclasses.replace(own, string_normalization=False)
    diff = _line_diff(before, after)
    changes = _changes(diff, own.line_length, shrunk=True)
    if not changes:
        return after, False
    black_style = not _single_quoted_string(before, mode) and _black_formatted_at(
        before, [old for _, old in changes], mode)
    if not black_style:
        changes = _changes(diff, own.line_length, shrunk=False)
        if not changes:
            return after, False
    ranges = [new for new, _ in changes]
    found = snippets(after, ranges)
    if found is None:
        return (_black(after, mode) if black_style else _black(after, own, ranges)), True
    return _lay_out_snippets(after, found, mode, None) if black_style else _lay_out_snippets(after, found, own, ranges)


def _black_formatted_at(before: str, ranges: List[Tuple[int, int]], mode) -> bool:
    """Whether black leaves the statements around ``ranges`` of ``before`` as they are
    (the whole file when they are not whole statements)."""
    found = snippets(before, ranges)
    if found is None:
        return is_black_formatted(before, mode)
    lines = split_lines(before)
    texts = [snippet.text(lines) for snippet in found]
    if any(_surely_reformatted(text, mode) for text in texts):  # before any black pass
        return False
    if _emulated(mode) and any(
            reformats(text, snippet.local_ranges(ranges), mode.line_length) for snippet, text in zip(found, texts)):
        return False  # a statement black would lay out again, found without black
    return all(is_black_formatted(text, _file_versions(mode, before, text)) for text in texts)
