"""Python's own tree of a file, parsed once: the CLI's syntax check compiles it, the
statement lines of :mod:`codemods.positions` and the snippets of :mod:`codemods.layout`
read it; and the line ends Python counts.  Imports no LibCST, so the check costs nothing
more on a file that fails it."""

from __future__ import annotations

import ast
import functools
import re
import warnings
from typing import List

#: Where Python (and LibCST, and the findings' line numbers) end a line: not at the form
#: feeds and other separators where ``str.splitlines`` also does.
NEWLINE = re.compile(r"\r\n?|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+\Z")


def split_lines(source: str) -> List[str]:
    """``source``'s lines, each with its line end, as Python (``ast``, black) numbers them."""
    return _LINE.findall(source)


@functools.lru_cache(maxsize=8)  # a file's code before and after migration, and the snippets laid out between
def python_ast(source: str) -> ast.Module:
    """Python's tree of ``source``, without its warnings (invalid escapes...): Python's
    verdict on the code is given elsewhere.  Raises SyntaxError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)
