"""The cache of programs a run left unchanged, so that a repeated run (pre-commit, CI) skips them.

A program (the files analysed together, see :mod:`est2tpu.cli.program`) is cached when the
run would change none of its files: the entry holds what the run reported about each (often
nothing: the program is clean), which a later run replays instead of migrating it.  Its key
is a digest of est2tpu (its version and sources), the settings its files were migrated with
and the bytes of every file of the program, read ones included: a file, or any module it
depends on, that changed since is migrated again.  Entries are files named by their key in
``.est2tpu_cache/`` at the project root (the directory of the nearest ``pyproject.toml``,
``setup.py``, ``setup.cfg`` or ``.git`` above the first path migrated, else above the current
directory, else the current directory), which ignores itself for git; they are written atomically and never change, so
concurrent runs can share the cache.  A whole run that changed nothing is replayed before
this cache is even read (:mod:`est2tpu.cli.replay`).
"""

from __future__ import annotations

import hashlib
import os
from typing import Iterable, Optional, Tuple

from est2tpu.cli.replay import CACHE_DIRECTORY, LAYOUT, engine, project_root


class Cache:
    """Clean programs of earlier runs, by key."""

    def __init__(self, root: str) -> None:
        self.directory = os.path.join(root, CACHE_DIRECTORY, LAYOUT)

    @staticmethod
    def key(settings: Tuple, mode: str, files: Iterable[Tuple[str, bytes]]) -> str:
        """The key of a program: ``files`` are (path, bytes) of all its files."""
        digest = hashlib.sha256(f"{engine()}\0{settings!r}\0{mode}".encode())
        for path, data in sorted(files):
            digest.update(f"\0{path}\0{len(data)}\0".encode())
            digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> Optional[str]:
        """The entry of a program, or None."""
        try:
            with open(os.path.join(self.directory, key[:2], key), encoding="utf-8") as f:
                return f.read()
        except (OSError, ValueError):
            return None

    def add(self, key: str, entry: str) -> None:
        """Record a program left unchanged (an error writing the entry only loses the entry)."""
        import tempfile

        folder = os.path.join(self.directory, key[:2])
        try:
            if not os.path.isdir(folder):
                make_top(os.path.dirname(self.directory))
                os.makedirs(folder, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(entry)
            os.replace(temporary, os.path.join(folder, key))
        except OSError:
            pass


def make_top(top: str) -> None:
    """The cache's top directory, with a .gitignore that ignores all of it."""
    os.makedirs(top, exist_ok=True)
    ignore = os.path.join(top, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w", encoding="utf-8") as f:
            f.write("# Created by est2tpu: its cache of files left unchanged (see `est2tpu migrate --no-cache`).\n*\n")


def for_run(paths, cwd: str) -> Optional[Cache]:
    """The cache of a run over ``paths`` from ``cwd``: at the project root of the first path
    (else of ``cwd``, else ``cwd``); None when ``EST2TPU_NO_CACHE`` is set."""
    if os.environ.get("EST2TPU_NO_CACHE"):
        return None
    first = os.path.abspath(os.path.join(cwd, paths[0])) if paths else cwd
    start = first if os.path.isdir(first) else os.path.dirname(first)
    return Cache(project_root(start) or project_root(os.path.abspath(cwd)) or os.path.abspath(cwd))
