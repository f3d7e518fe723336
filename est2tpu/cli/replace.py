"""Replacing a migrated file's contents: all of them or none, and nothing else about the file.

A file is replaced by a temporary file written next to it (``.NAME.XXXXXXXX.est2tpu-tmp``,
NAME shortened to fit the file system's name limit) that is given the file's owner,
group, extended attributes (ACLs included) and permission bits, flushed to disk
(``fsync``), and renamed over the file; the directory is flushed after (for a whole
run, once per directory at its end: :func:`sync_directories`).  What cannot be
kept is refused (:class:`NotReplaced`, the file untouched): an owner or group the runner
cannot give the new file, an extended attribute it cannot copy.

A file with more than one hard link cannot be replaced without breaking the links, so it
is written in place, through them: the room for the longer contents is reserved first
(a full disk fails before anything changes) and the old contents are written back if
the write fails; that write is not atomic (a ``kill -9`` or a crash of the machine
during it can leave the file partly written), and the caller is told.

The file must still hold the bytes that were migrated (``expected``): they are compared
just before the rename, and where Linux swaps two names atomically (``renameat2``
``RENAME_EXCHANGE``) the rename is a swap, after which the file it displaced is
compared again, so an edit that landed between the check and the swap is swapped back
and reported (:class:`ChangedOnDisk`) instead of lost.

SIGINT, SIGTERM and SIGHUP are held while a file is written (in the main thread) and
act right after, so they never leave a temporary file or a half-written file behind.
Only ``kill -9`` or a crash of the machine can leave a temporary file; the file itself
then holds its old or its new contents.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import signal
import stat
import sys
import threading
from typing import Iterable, Iterator, Optional, Set

from est2tpu.cli.files import read_bytes

SUFFIX = ".est2tpu-tmp"
#: The random characters ``tempfile.mkstemp`` puts between prefix and suffix.
_RANDOM = 8
_HELD = ("SIGINT", "SIGTERM", "SIGHUP")


class NotReplaced(Exception):
    """The file was left untouched; the message says why."""


class ChangedOnDisk(NotReplaced):
    """The file changed between reading and writing."""


def replace_file(path: str, data: bytes, expected: Optional[bytes] = None,
                 renamed: Optional[Set[str]] = None) -> Optional[str]:
    """Replace ``path``'s contents with ``data``.  Returns a note for the user when the file
    was written in place (it has hard links), else None.

    ``renamed``: a set that collects the directory of the rename, for one
    :func:`sync_directories` when a run is done (an ``fsync`` costs milliseconds); without
    it the directory is flushed right away.  A file the user may not write is not
    replaced (PermissionError); any OSError leaves the file untouched, as
    :class:`NotReplaced` does.
    """
    if not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    with _signals_held():
        st = os.stat(path)
        if st.st_nlink > 1:
            _write_through(path, data, expected)
            return f"has {st.st_nlink} hard links: written in place through them, not atomically"
        _replace(path, data, expected, st)
    directory = os.path.dirname(path)
    if renamed is None:
        sync_directories([directory])
    else:
        renamed.add(directory)
    return None


def _replace(path: str, data: bytes, expected: Optional[bytes], st: os.stat_result) -> None:
    import tempfile  # only writes need it

    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(name, directory), suffix=SUFFIX, dir=directory)
    ours = True  # the temporary name holds the new contents (after a swap: the old file)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            _keep_metadata(tmp, path, st)
            os.fsync(f.fileno())
        if expected is not None and read_bytes(path) != expected:
            raise ChangedOnDisk("the file changed while it was being migrated; left untouched")
        if _exchange(tmp, path):
            ours = False
            if expected is not None and read_bytes(tmp) != expected:
                _exchange(tmp, path)
                ours = True
                raise ChangedOnDisk("the file was edited while it was being written; the edit is kept, "
                                    "nothing was migrated")
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
            ours = False
    except BaseException:
        if ours:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def _temporary_prefix(name: str, directory: str) -> str:
    """``.NAME.``, NAME cut so that the whole temporary name fits the file system's limit."""
    try:
        limit = os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        limit = 255
    room = limit - len("..") - _RANDOM - len(SUFFIX)
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}."


def _keep_metadata(tmp: str, path: str, st: os.stat_result) -> None:
    """Give ``tmp`` the owner, group, extended attributes and mode of ``path`` (``st``)."""
    if hasattr(os, "chown"):
        own = os.stat(tmp)
        if (own.st_uid, own.st_gid) != (st.st_uid, st.st_gid):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError as e:
                raise NotReplaced(f"cannot keep its owner and group (uid {st.st_uid}, gid {st.st_gid}): "
                                  f"{e.strerror}; file left untouched") from None
    _copy_xattrs(path, tmp)
    os.chmod(tmp, stat.S_IMODE(st.st_mode))  # last: chown clears set-user-ID bits, an ACL sets group bits


def _copy_xattrs(source: str, target: str) -> None:
    """Make ``target``'s extended attributes exactly ``source``'s (a directory's default ACL
    gives a new file one the old file may not have)."""
    if not hasattr(os, "listxattr"):
        return
    try:
        wanted = {name: os.getxattr(source, name) for name in os.listxattr(source)}
        present = {name: os.getxattr(target, name) for name in os.listxattr(target)}
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):  # the file system has none
            return
        raise
    name = ""
    try:
        for name in present.keys() - wanted.keys():
            os.removexattr(target, name)
        for name, value in wanted.items():
            if present.get(name) != value:
                os.setxattr(target, name, value)
    except OSError as e:
        raise NotReplaced(f"cannot keep its extended attribute {name}: {e.strerror}; file left untouched") from None


def _exchange(a: str, b: str) -> bool:
    """Swap the files named ``a`` and ``b`` atomically; False where the system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    import ctypes

    if renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):  # not on this file system
        return False
    raise OSError(code, os.strerror(code), b)


@functools.lru_cache(maxsize=None)
def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        function = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28 and later
    except (ImportError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


def sync_directories(directories: Iterable[str]) -> None:
    """Make the renames in ``directories`` durable (where directories can be opened and synced)."""
    for directory in directories:
        try:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _write_through(path: str, data: bytes, expected: Optional[bytes]) -> None:
    """Overwrite the file in place (keeping its inode, so every hard link sees the change)."""
    fd = os.open(path, os.O_RDWR)
    try:
        with open(fd, "rb", closefd=False) as f:
            old = f.read()
        if expected is not None and old != expected:
            raise ChangedOnDisk("the file changed while it was being migrated; left untouched")
        if len(data) > len(old) and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, len(old), len(data) - len(old))
            except OSError as e:
                os.ftruncate(fd, len(old))
                if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
        try:
            _write_at_start(fd, data)
        except BaseException:
            with contextlib.suppress(OSError):
                _write_at_start(fd, old)
            raise
    finally:
        os.close(fd)


def _write_at_start(fd: int, data: bytes) -> None:
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        offset += os.pwrite(fd, view[offset:], offset)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP during the block, then let the first one that came act
    as it would have (their handlers are the main thread's, so elsewhere nothing is held)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    saved = {}
    for name in _HELD:
        number = getattr(signal, name, None)
        if number is None or signal.getsignal(number) in (None, signal.SIG_IGN):
            continue  # absent here, ignored, or handled outside Python: left alone
        saved[number] = signal.signal(number, lambda n, _frame: pending.append(n))
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
        if pending:
            signal.raise_signal(pending[0])
