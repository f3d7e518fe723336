"""Processes that migrate files for the CLI: none outlives the est2tpu process that
started it, and none can take it down.

Pool workers and the :class:`Isolated` child call :func:`exit_with_parent` first: when
est2tpu ends, even by ``kill -9``, they end too (left alone they would wait for work
forever, holding its stderr open).  :class:`Isolated` runs one call at a time in a child
process, so that a file that kills the process that works on it (an abort in native
code, the kernel's out-of-memory killer) costs only that file.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Optional


def context():
    """The multiprocessing context: ``fork`` on Linux (the workers inherit what the parent
    imported), the platform's default elsewhere."""
    import multiprocessing

    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)


def exit_with_parent(parent: int) -> None:
    """End this process when process ``parent``, which started it, ends.

    On Linux the kernel sends SIGKILL (``PR_SET_PDEATHSIG``; it watches the thread that
    forked this process, which for the CLI is the main thread); elsewhere a thread checks
    every second.  Must be called first thing in the child.
    """
    if not _kill_with_parent():
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it ended before the watch began
        os._exit(1)


def _kill_with_parent() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL) == 0  # PR_SET_PDEATHSIG
    except (ImportError, AttributeError, OSError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


class Crashed(Exception):
    """The process died during the call; the message says how."""


class Isolated:
    """Calls ``function`` in a child process, one call at a time.  A call during which the
    child dies raises :class:`Crashed`, and the next call starts a new child."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function
        self._process: Any = None
        self._connection: Any = None

    def __call__(self, argument: Any) -> Any:
        if self._process is None:
            mine, theirs = context().Pipe()
            self._process = context().Process(target=_serve, args=(self.function, theirs, os.getpid()), daemon=True)
            self._process.start()
            theirs.close()
            self._connection = mine
        try:
            self._connection.send(argument)
            return self._connection.recv()
        except (EOFError, OSError):
            self._process.join()
            how = _death(self._process.exitcode)
            self.close()
            raise Crashed(how) from None

    def close(self) -> None:
        if self._process is not None:
            self._connection.close()
            self._process.kill()
            self._process.join()
            self._process = None


def _serve(function: Callable[[Any], Any], connection, parent: int) -> None:  # pragma: no cover - the child
    exit_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then ends this process
    while True:
        try:
            argument = connection.recv()
        except EOFError:
            return
        connection.send(function(argument))


def _death(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name}" + (" (out of memory?)" if -exitcode == signal.SIGKILL else "")
    return f"exited with code {exitcode}"
