"""The ``est2tpu`` command: a repeated run that would change nothing is replayed.

Pre-commit and CI run ``est2tpu migrate --check`` over the same tree again and again.  A
``--check`` or ``--diff`` run that changes no file and meets no problem records what it
printed and everything it learnt from the file system: the listing of each directory it
searched and where each path given and directory searched resolves to (symbolic links),
whether each path it looked for exists (project markers, pyproject.toml,
.gitignore, ``__init__.py``, modules an import may reach) and the digest of each file it
read.  The same command (the same arguments, directory, environment and est2tpu) is then
replayed when every one of those is unchanged: nothing is imported but this module, nothing
is parsed, and the output and exit code are the recorded ones.  Any change, a file
edited, added or removed where the run looked, runs est2tpu in full (which records again).

Entries are files in ``.est2tpu_cache/<layout>/runs/`` next to the per-program cache
(:mod:`est2tpu.cli.cache`), written atomically; ``--no-cache`` and ``EST2TPU_NO_CACHE``
neither read nor write them.  This module imports only what the interpreter has loaded
already, and BLAKE2 (``_blake2``, what ``hashlib.blake2b`` is, without loading OpenSSL).
"""

from __future__ import annotations

import functools
import marshal
import os
import stat
import sys

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without it
    from hashlib import blake2b

from est2tpu import __version__

CACHE_DIRECTORY = ".est2tpu_cache"
#: Bumped when what makes a cache entry (here or in :mod:`est2tpu.cli.cache`) changes meaning.
LAYOUT = "1"
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
#: Environment variables that change what a run prints.
_ENVIRONMENT = ("NO_COLOR", "TERM", "PYTHONIOENCODING", "PYTHONUTF8", "LANG", "LC_ALL", "LC_CTYPE")
_NO_CACHE = ("--no-cache", "--help", "-h", "--version")


def main() -> None:
    """The console script: replay, else run est2tpu in full (recording)."""
    argv = sys.argv[1:]
    code = replay(argv)
    if code is not None:
        sys.exit(code)
    global _recording
    if _cached(argv):
        _recording = Recording(argv)
    from est2tpu.cli.main import main as run

    sys.exit(run(argv))


# --------------------------------------------------------------------------- what a run reads


class Recording:
    """What one run printed and read; :func:`save` keeps it when the run may be replayed."""

    def __init__(self, argv) -> None:
        self.argv = list(argv)
        self.directories: dict = {}  # path -> listing digest
        self.paths: dict = {}  # path -> state
        self.real: dict = {}  # path -> the path it resolves to (through symbolic links above it)
        self.files: dict = {}  # path -> digest of the bytes
        self.output: list = []  # (1 stdout or 2 stderr, text or bytes)
        self.spoilt = False


_recording = None


def listed(directory: str) -> None:
    """The run lists ``directory``."""
    if _recording is not None and directory not in _recording.directories:
        _recording.directories[directory] = _listing(directory)


def probed(path: str) -> None:
    """The run asks whether ``path`` exists, or what it is."""
    if _recording is not None and path not in _recording.paths:
        _recording.paths[path] = _state(path)


def resolved(path: str, real: str) -> None:
    """The run resolves ``path`` to ``real`` (``os.path.realpath``): a link above it that is
    pointed elsewhere changes what the run reads, and which settings apply."""
    if _recording is not None:
        _recording.real.setdefault(path, real)


def read(path: str, data=None) -> None:
    """The run reads the file ``path`` (its bytes ``data``, when the caller has them; else
    they are read here, or its absence is noted)."""
    if _recording is not None and path not in _recording.files:
        if data is None:
            data = _bytes(path)
        _recording.files[path] = None if data is None else blake2b(data).digest()
        probed(path)


def wrote(stream, data) -> None:
    """The run writes ``data`` (text or bytes) to ``stream``: kept if it is stdout or stderr."""
    if _recording is not None:
        if stream is sys.stdout:
            _recording.output.append((1, data))
        elif stream is sys.stderr:
            _recording.output.append((2, data))
        else:
            _recording.spoilt = True


def save(cache_directory: str, code: int) -> None:
    """Keep this run's recording under ``cache_directory`` (the cache's, see
    :class:`est2tpu.cli.cache.Cache`), to be replayed; ``code``: its exit code."""
    global _recording
    recording, _recording = _recording, None
    if recording is None or recording.spoilt:
        return
    entry = marshal.dumps((recording.argv, os.getcwd(), recording.directories, recording.paths,
                           recording.real, recording.files, recording.output, code))
    from est2tpu.cli.cache import make_top

    folder = os.path.join(cache_directory, "runs")
    try:
        make_top(os.path.dirname(cache_directory))  # its .gitignore too: a run may cache no program
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f".tmp-{os.getpid()}")
        with open(temporary, "wb") as f:
            f.write(entry)
        os.replace(temporary, os.path.join(folder, _key(recording.argv)))
    except OSError:
        pass


# --------------------------------------------------------------------------- replaying


def replay(argv) -> int | None:
    """Replay the run of ``argv`` when it was recorded and nothing it read changed: its exit
    code, else None."""
    if not _cached(argv):
        return None
    try:
        key, cwd = _key(argv), os.getcwd()
        for root in _roots(argv):
            try:
                with open(os.path.join(root, CACHE_DIRECTORY, LAYOUT, "runs", key), "rb") as f:
                    recorded, at, directories, paths, real, files, output, code = marshal.loads(f.read())
                break
            except (OSError, ValueError, EOFError, TypeError):
                continue
        else:
            return None
        if recorded != argv or at != cwd or not _unchanged(directories, paths, real, files):
            return None
    except OSError:  # the current directory is gone, say: the full run reports it
        return None
    try:
        for which, data in output:
            stream = sys.stdout if which == 1 else sys.stderr
            if isinstance(data, str):
                stream.write(data)
                stream.flush()
            else:
                stream.flush()
                stream.buffer.write(data)
                stream.buffer.flush()
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as a full run does
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    return code


def _cached(argv) -> bool:
    """Whether a run of ``argv`` may use the cache: a migrate run, without ``--no-cache``."""
    return argv[:1] == ["migrate"] and not set(argv) & set(_NO_CACHE) and not os.environ.get("EST2TPU_NO_CACHE")


def _unchanged(directories: dict, paths: dict, real: dict, files: dict) -> bool:
    return (all(_state(p) == s for p, s in paths.items())
            and all(os.path.realpath(p) == r for p, r in real.items())
            and all(_listing(d) == digest for d, digest in directories.items())
            and all((None if (data := _bytes(p)) is None else blake2b(data).digest()) == digest
                    for p, digest in files.items()))


def _roots(argv):
    """Where the cache of a run of ``argv`` may be: the project root of each path it may
    name (the cache is at the first path's), then of the current directory."""
    seen = []
    for word in [*argv[1:], "."]:
        if word.startswith("-"):
            continue
        path = os.path.abspath(word)
        if not os.path.exists(path):
            continue
        root = project_root(path if os.path.isdir(path) else os.path.dirname(path)) or path
        if root not in seen:
            seen.append(root)
            yield root


def _key(argv) -> str:
    """The name of the entry of a run of ``argv`` here, with this environment and est2tpu."""
    key = blake2b(engine().encode())
    for part in (*argv, os.getcwd(), sys.version, sys.executable,
                 *(os.environ.get(name, "\0") for name in _ENVIRONMENT),
                 *(str(stream is not None and stream.isatty()) for stream in (sys.stdout, sys.stderr))):
        key.update(b"\0" + part.encode("utf-8", "surrogateescape"))
    return key.hexdigest()


# --------------------------------------------------------------------------- the file system


def project_root(directory: str) -> str | None:
    """The nearest directory at or above ``directory`` holding a project marker."""
    while True:
        for marker in PROJECT_MARKERS:
            path = os.path.join(directory, marker)
            probed(path)
            if os.path.lexists(path):
                return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _state(path: str):
    """What is at ``path``: its type, a symbolic link's target, and what that resolves to."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if not stat.S_ISLNK(mode):
        return stat.S_IFMT(mode)
    try:
        target = os.stat(path).st_mode
    except OSError:
        target = None
    return stat.S_IFLNK, os.readlink(path), os.path.realpath(path), target and stat.S_IFMT(target)


def _listing(directory: str):
    """A digest of the names in ``directory`` and what each is (the cache's own directory left
    out: runs write into it)."""
    try:
        with os.scandir(directory) as it:
            entries = sorted((e.name, _state(e.path) if e.is_symlink() else e.is_dir(follow_symlinks=False))
                             for e in it if e.name != CACHE_DIRECTORY)
    except OSError:
        return None
    return blake2b(repr(entries).encode("utf-8", "surrogateescape")).digest()


def _bytes(path: str):
    try:
        with open(path, "rb", buffering=0) as f:
            return f.read()
    except OSError:
        return None


@functools.lru_cache(maxsize=None)
def engine() -> str:
    """est2tpu's version and the size and time of each of its source files: an installation
    that changed (a development checkout edited, say) trusts no entry of another."""
    import importlib.util

    stamp = [__version__]
    for package in ("est2tpu", "est2tpu.cli", "est2tpu.codemods"):
        folder = os.path.dirname(importlib.util.find_spec(package).origin)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                info = os.stat(os.path.join(folder, name))
                stamp.append(f"{package}.{name}:{info.st_size}:{info.st_mtime_ns}")
    return "\n".join(stamp)
