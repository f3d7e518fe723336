"""The CLI's import of the migration engine (:mod:`est2tpu.codemods.migrate`, and LibCST).

Importing LibCST defines some two hundred dataclasses, and :mod:`dataclasses` writes
their methods (``__init__``, ``__eq__``, ``__repr__``...) as source text and compiles it
at every start-up: over half of what a one-file run spends on imports (556 M of the
984 M instructions of ``import libcst``).  While the engine is imported, ``dataclasses``
is handed an ``exec`` that keeps that compiled code in a file beside this module's
bytecode, keyed by the exact text, like a ``.pyc`` for generated code: the same text
compiles to the same code (flags as ``dataclasses``' own, so the classes are the same),
and the file is written only where Python writes bytecode (not under
PYTHONDONTWRITEBYTECODE), atomically, and ignored when unreadable or stale.  LibCST's
node classes then get ``type``'s own ``isinstance`` (:func:`plain_isinstance`) and
``object``'s own hash and equality (:func:`plain_identity`), and the objects the imports
made are moved out of the garbage collector's sight (``gc.freeze``): they live as long
as the process.
"""

from __future__ import annotations

import abc
import gc
import importlib.util
import marshal
import os
import sys
from typing import Dict, Optional

#: Marks the file's format and the bytecode inside (the interpreter's own magic number).
_HEADER = b"est2tpu-dataclasses-1\n" + importlib.util.MAGIC_NUMBER


def cache_path() -> Optional[str]:
    """Where the compiled functions are kept: beside this module's ``.pyc`` (None on an
    interpreter that caches no bytecode)."""
    try:
        compiled = importlib.util.cache_from_source(__file__)
    except NotImplementedError:
        return None
    return compiled[: -len(".pyc")] + ".dataclasses"


def _read(path: Optional[str]) -> Dict[str, object]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(_HEADER):
            codes = marshal.loads(data[len(_HEADER):])
            if isinstance(codes, dict):
                return codes
    except (OSError, ValueError, EOFError, TypeError):
        pass
    return {}


def _write(path: str, codes: Dict[str, object]) -> None:
    temporary = f"{path}.{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask decides, as for a .pyc
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_HEADER + marshal.dumps(codes))
            os.replace(temporary, path)  # concurrent runs: each file written whole, the last one stays
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only installation: compiled again next time


def load() -> int:
    """Import the engine (once per process): how many functions had to be compiled."""
    if "est2tpu.codemods.migrate" in sys.modules:
        return 0
    if "libcst" in sys.modules:  # imported by someone else already: little left to gain
        import est2tpu.codemods.migrate  # noqa: F401
        return 0
    import dataclasses

    path = cache_path()
    known = _read(path)
    used: Dict[str, object] = {}
    compiled = 0

    def exec_cached(source, globals=None, locals=None, /):
        nonlocal compiled
        if type(source) is str:
            code = used.get(source) or known.get(source)
            if code is None:
                # as builtins.exec compiles text for dataclasses, whose module has no __future__ imports
                code = compile(source, "<string>", "exec", dont_inherit=True)
                compiled += 1
            used[source] = code
            source = code
        return exec(source, globals, locals)

    dataclasses.exec = exec_cached  # a module global, found before the builtin
    try:
        import est2tpu.codemods.migrate  # noqa: F401
    finally:
        del dataclasses.exec
    if compiled and path is not None and not sys.dont_write_bytecode:
        _write(path, used)  # what this version of LibCST and est2tpu needs, nothing stale
    plain_isinstance()
    plain_identity()
    # What the imports made lives as long as the process: the cyclic collector need not
    # walk it again, in each collection of the oldest generation and at exit.
    gc.freeze()
    return compiled


class _PlainSubclassing(abc.ABCMeta):
    """``ABCMeta`` with ``type``'s subclass checks: by the class's bases alone, in C."""

    __instancecheck__ = type.__instancecheck__
    __subclasscheck__ = type.__subclasscheck__


def plain_isinstance() -> int:
    """Give LibCST's node classes ``type``'s ``isinstance``: how many were given it.

    They are abstract base classes, so ``isinstance(node, cst.Name)`` calls
    ``ABCMeta.__instancecheck__``, a Python function, where a plain class is checked in C:
    the engine makes millions of such checks.  ABCMeta's check differs from type's only
    for classes registered as virtual subclasses (``ABC.register``) or with a
    ``__subclasshook__``: LibCST has neither, and where either is found no class is changed.
    """
    import libcst

    from est2tpu.codemods.walk import subclasses

    classes = {libcst.CSTNode, *subclasses(libcst.CSTNode)}
    registered = getattr(abc, "_get_dump", None)  # C's abc: the registry of virtual subclasses
    if registered is None or any(registered(cls)[0] or "__subclasshook__" in vars(cls) for cls in classes):
        return 0
    count = 0
    for cls in classes:
        if type(cls) is abc.ABCMeta:
            try:
                cls.__class__ = _PlainSubclassing
            except TypeError:  # an interpreter that does not allow it: ABCMeta's check stays
                return count
            count += 1
    return count


def plain_identity() -> int:
    """Give LibCST's node classes ``object``'s own ``__hash__`` and ``__eq__``: how many
    methods were replaced.

    LibCST gives every node class Python methods that hash a node by its ``id`` and compare
    by identity, which is what ``object``'s methods do in C; each dict or set of nodes
    calls them (close to a million calls per 300 files).  Only the methods that are still
    LibCST's own are replaced.
    """
    import libcst

    from est2tpu.codemods.walk import subclasses

    own = {"__hash__": (vars(libcst.CSTNode).get("__hash__"), object.__hash__),
           "__eq__": (vars(libcst.CSTNode).get("__eq__"), object.__eq__)}
    count = 0
    for cls in {libcst.CSTNode, *subclasses(libcst.CSTNode)}:
        for name, (theirs, plain) in own.items():
            if theirs not in (None, plain) and vars(cls).get(name) is theirs:
                setattr(cls, name, plain)
                count += 1
    return count
