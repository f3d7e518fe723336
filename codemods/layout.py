"""Lay out the statements the codemods changed, and only those.

``auto`` (the default): a file that black leaves unchanged stays black-formatted.  Any
other file keeps its own style: black formats just the changed lines (``lines=``),
without normalizing string quotes, at the project's line length (else 79 when no line
of the file is longer, else 88); files not indented by four spaces are left exactly as
the codemods wrote them (black would re-indent whole blocks).  ``black`` formats every
migrated file; ``none`` never formats.  Black is configured from ``[tool.black]``
settings when given (as ``(key, value)`` pairs) and imported only for changed files.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import tokenize
from typing import Any, List, Tuple

BlackConfig = Tuple[Tuple[str, Any], ...]


def changed_lines(before: str, after: str, line_length: int) -> List[Tuple[int, int]]:
    """1-based inclusive line ranges of ``after`` that need laying out.

    A changed line that still fits, in place of one line, is already laid out (black
    would only add churn around it, such as blank lines around a nested def); so are
    added top-level imports.  Inserted blocks and lines grown too long are laid out.
    """
    lines = after.splitlines()
    matcher = difflib.SequenceMatcher(None, before.splitlines(), lines, autojunk=False)
    ranges = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        new = lines[j1:j2]
        if tag == "equal" or not new or all(line.startswith(("import ", "from ")) for line in new):
            continue
        if tag == "replace" and i2 - i1 == j2 - j1 and all(len(line) <= line_length for line in new):
            continue
        ranges.append((j1 + 1, j2))
    return ranges


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
    import black

    crlf = "\r\n" in text
    source = text.replace("\r\n", "\n") if crlf else text
    out = black.format_str(source, mode=mode, lines=lines) if lines else black.format_str(source, mode=mode)
    return out.replace("\n", "\r\n") if crlf else out


def is_black_formatted(source: str, mode=None) -> bool:
    """Whether black (``mode``, by default black's own) leaves ``source`` as it is."""
    try:
        return _black(source, mode or black_mode()) == source
    except Exception:  # black cannot parse some valid code; treat it as "not black"
        return False


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
    asking black."""
    if not mode.string_normalization or "fmt:" in source:
        return False
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING:
                body = token.string.lstrip("rRbBuUfF")
                if body[:1] == "'" and body[:3] != "'''" and '"' not in body and "\\" not in body:
                    return True
    except (tokenize.TokenError, SyntaxError):
        pass
    return False


def lay_out(before: str, after: str, style: str = "auto", config: BlackConfig = ()) -> str:
    """Format ``after`` (the migrated ``before``) according to ``style``: auto, black or none."""
    if style == "none" or before == after:
        return after
    try:
        mode = black_mode(config)
        if style == "black":
            return _black(after, mode)
        if not _four_space_indented(before):  # black indents by four: not black-formatted either
            return after
        if not _single_quoted_string(before, mode) and is_black_formatted(before, mode):
            return _black(after, mode)
        if "line_length" not in dict(config):
            longest = max((len(line) for line in before.splitlines()), default=0)
            mode = dataclasses.replace(mode, line_length=79 if longest <= 79 else 88)
        mode = dataclasses.replace(mode, string_normalization=False)
        ranges = changed_lines(before, after, mode.line_length)
        return _black(after, mode, ranges) if ranges else after
    except Exception:  # the codemods' own output is valid Python: keep it rather than fail
        return after
