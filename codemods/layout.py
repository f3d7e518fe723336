"""Lay out the statements the codemods changed, and only those.

A file that black leaves unchanged stays black-formatted.  Any other file keeps its own
style: black formats just the changed lines (``--line-ranges``), without normalizing
string quotes, at the file's own line length (79 when no line is longer, else 88).
Files not indented by four spaces are left as the codemods wrote them.
"""

from __future__ import annotations

import difflib
from typing import List, Tuple


def changed_lines(before: str, after: str) -> List[Tuple[int, int]]:
    """1-based inclusive line ranges of ``after`` that differ from ``before``."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    return [(j1 + 1, j2) for tag, _, _, j1, j2 in matcher.get_opcodes() if tag in ("replace", "insert") and j2 > j1]


def is_black_formatted(source: str) -> bool:
    import black

    try:
        return black.format_str(source, mode=black.Mode()) == source
    except Exception:  # black cannot parse some valid code; treat it as "not black"
        return False


def _four_space_indented(source: str) -> bool:
    for line in source.splitlines():
        stripped = line.lstrip(" ")
        if stripped and not stripped.startswith("#") and len(line) != len(stripped):
            return (len(line) - len(stripped)) % 4 == 0 and not line.startswith("\t")
    return True


def lay_out(before: str, after: str, style: str = "auto") -> str:
    """Format ``after`` (the migrated ``before``) according to ``style``: auto, black or none."""
    if style == "none" or before == after:
        return after
    import black

    try:
        if style == "black" or is_black_formatted(before):
            return black.format_str(after, mode=black.Mode())
        if not _four_space_indented(before):
            return after  # black would re-indent whole blocks of a 2-space file
        longest = max((len(line) for line in before.splitlines()), default=0)
        mode = black.Mode(line_length=79 if longest <= 79 else 88, string_normalization=False)
        return black.format_str(after, mode=mode, lines=changed_lines(before, after))
    except Exception:
        return after
