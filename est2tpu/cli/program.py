"""Which files make one program: each Estimator file with the local modules it imports.

A trainer package spreads an estimator over modules, so the engine analyses the files
that import each other as one program (:func:`est2tpu.codemods.migrate.migrate_program`).
Grouping reads only the import statements (a regular expression over the bytes) and
resolves them on disk the way Python would: ``trainer/task.py`` importing ``from . import
model`` or ``from trainer import model`` reaches ``trainer/model.py``.  Files that import
no local module stay programs of their own, so a tree of independent scripts is still
migrated file by file, in parallel.  A file without Estimator code that imports such a
module (``task.py`` setting ``model.BATCH_SIZE``) is part of its program.

A file given alone (as pre-commit passes them) brings the modules of its package: the
Python files of its directory and of each directory above it up to the project root (the
nearest ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``), read for the
analysis only, never written or reported.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from est2tpu.cli import replay

#: ``from .. a.b import (c, d)`` / ``import a.b as c, d``, at the start of a line.
_IMPORT = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*)[ \t]*([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)|import[ \t]+([^\n#;]*))",
    re.M)
#: Top-level packages the engine reads as TensorFlow's API (``codemods.names``): a local
#: directory of that name (a repository's ``tensorflow/`` folder of samples) is never what
#: ``import tensorflow`` reaches, nor a package a module's name goes through.
API_PACKAGES = frozenset({"tensorflow", "tensorflow_estimator", "keras"})
#: A program larger than this is not analysed as one: its files are migrated one by one
#: (an estimator whose code is in another module then stays, with a finding).
MAX_PROGRAM_FILES = 400


def imports(data: bytes) -> List[Tuple[int, str]]:
    """(level, dotted name) of each module an import statement may import: for ``from m
    import n``, both ``m`` and ``m.n`` (n may be a submodule); level > 0 for relative ones."""
    out: List[Tuple[int, str]] = []
    for m in _IMPORT.finditer(data):
        if m.group(4) is not None:
            for part in m.group(4).split(b","):
                words = part.split()
                if words:
                    out.append((0, words[0].decode("ascii", "replace")))
            continue
        level, base = len(m.group(1)), m.group(2).decode("ascii", "replace")
        if base:
            out.append((level, base))
        for part in m.group(3).strip(b"() \t\\").split(b","):
            words = part.split()
            if words and words[0] != b"*":
                name = words[0].decode("ascii", "replace")
                out.append((level, f"{base}.{name}" if base else name))
    return out


@functools.lru_cache(maxsize=None)
def _is_file(path: str) -> bool:
    replay.probed(path)
    return os.path.isfile(path)


#: The nearest directory at or above a directory holding a project marker (a pyproject.toml,
#: setup.py, setup.cfg or .git).
project_root = functools.lru_cache(maxsize=None)(replay.project_root)


@functools.lru_cache(maxsize=None)
def module_names(path: str) -> Tuple[Tuple[str, str], ...]:
    """(import root, dotted name) pairs ``path`` is importable as, nearest root first: its
    package chain (``__init__.py`` files), then its own directory's plain name (a module of
    a package is ``inputs`` to a script beside it), then, up to the project root (without
    one, one directory up), as a namespace package of each directory above
    (``trainer/model.py`` without ``trainer/__init__.py`` is ``model`` from ``trainer/`` and
    ``trainer.model`` from its parent); none goes through a package of :data:`API_PACKAGES`, nor
    through a directory whose name no import can spell (``my-project/``), which is a root."""
    directory, stem = os.path.split(path)
    parts = [] if stem == "__init__.py" else [stem[:-3]]
    if stem == "__init__.py":
        parts.append(os.path.basename(directory))
        directory = os.path.dirname(directory)
    while os.path.basename(directory) not in API_PACKAGES and os.path.basename(directory).isidentifier() \
            and _is_file(os.path.join(directory, "__init__.py")):  # `my-project/__init__.py`: no import reaches it
        parts.append(os.path.basename(directory))
        directory = os.path.dirname(directory)
    names = [(directory, ".".join(reversed(parts)))]
    own = os.path.dirname(path)
    if stem != "__init__.py" and directory != own:
        # a top-level module of its own directory too, after its package's name: as a
        # package's script run from there sees it (``python trainer/task.py``), and as
        # Python 2's implicit relative import (``import inputs`` in trainer/experiment.py)
        names.append((own, parts[0]))
    stop = project_root(directory)
    for _ in range(3 if stop is not None else 1):  # no project root: the directory above only
        if directory == stop or os.path.dirname(directory) == directory:
            break
        parts.append(os.path.basename(directory))
        directory = os.path.dirname(directory)
        names.append((directory, ".".join(reversed(parts))))
    return tuple((root, name) for root, name in names if name and name.split(".")[0] not in API_PACKAGES
                 and all(p.isidentifier() for p in name.split(".")))


def resolve(importer: str, level: int, name: str) -> Optional[str]:
    """The file an import in ``importer`` of ``name`` (``level`` dots) reaches, if a local one."""
    names = module_names(importer)
    if level:
        if not names:
            return None
        root, own = names[0]
        package = own.split(".")
        package = package if os.path.basename(importer) == "__init__.py" else package[:-1]
        if level - 1 > len(package) or (level > 1 and level - 1 == len(package) and not name):
            return None
        base = package[:len(package) - (level - 1)]
        full = ".".join(base + ([name] if name else []))
        return _module_file(root, full) if full else None
    if name.split(".")[0] in API_PACKAGES:
        return None
    for root, _ in names:
        found = _module_file(root, name)
        if found is not None:
            return found
    return None


@functools.lru_cache(maxsize=None)
def _module_file(root: str, dotted: str) -> Optional[str]:
    base = os.path.join(root, *dotted.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if _is_file(path):
            return path
    return None


def package_context(path: str) -> List[str]:
    """The Python files of ``path``'s directory and each one above it up to the project root."""
    directory = os.path.dirname(path)
    stop = project_root(directory)
    found = []
    while True:
        replay.listed(directory)
        try:
            found.extend(os.path.join(directory, e) for e in sorted(os.listdir(directory)) if e.endswith(".py"))
        except OSError:
            pass
        if stop is None or directory == stop or os.path.dirname(directory) == directory:
            return found
        directory = os.path.dirname(directory)


@dataclasses.dataclass
class Program:
    """Files analysed together: those the run migrates (``written``) and those only read."""

    written: List[str]
    read: List[str] = dataclasses.field(default_factory=list)


Imports = List[Tuple[int, str]]


def group(files: Sequence[str], scan: Callable[[str], Optional[Imports]], given_alone: Iterable[str] = ()) -> List[Program]:
    """The programs of a run over ``files`` (real paths, in output order).

    ``scan(path)``: the :func:`imports` of a Python file that may use the Estimator API,
    None for any other file.  Such a file is grouped with the local modules it imports
    (transitively).  Files of ``given_alone`` bring their package's modules as read-only
    context.
    """
    run = set(files)
    parent: Dict[str, str] = {}

    def find(path: str) -> str:
        while parent.get(path, path) != path:
            path = parent[path]
        return path

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    allowed = set(run)
    for path in given_alone:
        allowed.update(os.path.realpath(p) for p in package_context(path))
    scanned: Dict[str, Imports] = {}
    for path in files:
        found = scan(path)
        if found is not None:
            scanned[path] = found
    for path in given_alone:  # the context files that may use the API take part too
        for context in map(os.path.realpath, package_context(path)):
            found = scan(context) if context not in run else None
            if found is not None:
                scanned[context] = found
    _add_importers(scanned, [*files, *sorted(allowed - run)])
    seen: Set[str] = set()
    todo = list(scanned)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        found = scanned.get(path)
        for level, name in found if found is not None else imports(_read(path)):
            target = resolve(path, level, name)
            target = os.path.realpath(target) if target else None
            if target is not None and target != path and target in allowed:
                union(path, target)
                todo.append(target)
    members: Dict[str, List[str]] = {}
    for path in seen:
        members.setdefault(find(path), []).append(path)
    programs: Dict[str, Program] = {}
    order = {path: i for i, path in enumerate(files)}
    for root, paths in members.items():
        written = sorted((p for p in paths if p in run), key=order.__getitem__)
        if not written:
            continue
        read = sorted(p for p in paths if p not in run)
        if len(paths) > MAX_PROGRAM_FILES:
            for path in written:
                programs[path] = Program([path])
        else:
            programs[written[0]] = Program(written, read)
    grouped = {p for program in programs.values() for p in program.written}
    for path in files:
        if path not in grouped:
            programs[path] = Program([path])
    return sorted(programs.values(), key=lambda program: order[program.written[0]])


def _add_importers(scanned: Dict[str, Imports], paths: Sequence[str]) -> None:
    """Add to ``scanned`` the Python files of ``paths`` that import one of its files while
    using no Estimator API themselves: ``task.py`` setting ``model.BATCH_SIZE`` or calling an
    input_fn of ``model.py`` is part of that program.  Only the imports that name one of
    those modules are resolved, so a tree without Estimator code costs nothing."""
    names = {os.path.basename(os.path.dirname(p)) if os.path.basename(p) == "__init__.py"
             else os.path.basename(p)[:-3] for p in scanned}
    if not names:
        return
    targets = set(scanned)
    for path in paths:
        if path in scanned or not path.endswith(".py"):
            continue
        found = imports(_read(path))
        for level, name in found:
            if names.isdisjoint(name.split(".")):
                continue
            target = resolve(path, level, name)
            if target is not None and target != path and os.path.realpath(target) in targets:
                scanned[path] = found
                break


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        replay.read(path)  # noted as unreadable
        return b""
    replay.read(path, data)
    return data
