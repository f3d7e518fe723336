"""Where in the user's code something happened: the innermost frame that is theirs.

A frame is the user's unless its file belongs to Python itself, to an installed package
(``site-packages``/``dist-packages``), or to est2tpu; generated code (``<string>``,
AutoGraph's temporary files) is nobody's.  Ops carry the stack that created them
(``op.traceback``), exceptions theirs, and the current stack is ours to read.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import linecache
import os
import sys
import sysconfig
from typing import Iterable, Optional, Tuple

import est2tpu

_PACKAGE = os.path.dirname(os.path.abspath(est2tpu.__file__)) + os.sep
_LIBRARY_DIRS = tuple(sorted({os.path.abspath(p) + os.sep for key in ("stdlib", "platstdlib")
                              if (p := sysconfig.get_paths().get(key))}))


@dataclasses.dataclass(frozen=True)
class Place:
    """A place in a file: 1-based line and column (where the expression being evaluated
    starts, when the stack says; else the line's first character)."""

    path: str
    line: int
    col: int = 1


@functools.lru_cache(maxsize=None)
def is_user_file(path: str) -> bool:
    if not path or path.startswith("<") or os.path.basename(path).startswith("__autograph_generated_file"):
        return False
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not path.startswith(_PACKAGE) and not path.startswith(_LIBRARY_DIRS)


def _place(path: str, line: int, col: Optional[int] = None) -> Place:
    if col is None:  # the line's first character
        text = linecache.getline(path, line)
        col = len(text) - len(text.lstrip()) if text.strip() else 0
    return Place(os.path.abspath(path), line, col + 1)


def innermost(frames: Iterable[Tuple[str, int, Optional[int]]]) -> Optional[Place]:
    """The last of ``(path, line, column or None)`` frames, outermost first, in the user's code."""
    found = None
    for frame in frames:
        if is_user_file(frame[0]):
            found = frame
    return _place(*found) if found else None


def _position(code, lasti: int, line: int) -> Tuple[int, Optional[int]]:
    """(line, 0-based column) where the expression being evaluated starts, e.g. a call
    over several lines (Python 3.11+; the frame's line elsewhere)."""
    positions = getattr(code, "co_positions", None)
    if positions is not None and lasti >= 0:
        start, _, col, _ = next(itertools.islice(positions(), lasti // 2, None), (None, None, None, None))
        if start is not None and col is not None:
            return start, col
    return line, None


def of_op(op) -> Optional[Place]:
    """Where the user's code created a TensorFlow op (or the op of a tensor)."""
    op = getattr(op, "op", op)
    try:
        stack = op.traceback
    except (AttributeError, ValueError):
        return None
    return innermost((frame.filename, frame.lineno, None) for frame in stack or ())


def of_exception(error: BaseException) -> Optional[Place]:
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, *_position(tb.tb_frame.f_code, tb.tb_lasti, tb.tb_lineno)))
        tb = tb.tb_next
    return innermost(frames)


def of_caller() -> Optional[Place]:
    """The innermost user frame of the current stack, at the call it is making."""
    frames = []
    frame = sys._getframe(1)
    while frame is not None:
        frames.append((frame.f_code.co_filename, *_position(frame.f_code, frame.f_lasti, frame.f_lineno)))
        frame = frame.f_back
    return innermost(reversed(frames))


def of_function(fn) -> Optional[Place]:
    """The ``def`` line of a Python function (through functools.partial and bound methods)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None or not is_user_file(code.co_filename):
        return None
    return _place(code.co_filename, code.co_firstlineno)
