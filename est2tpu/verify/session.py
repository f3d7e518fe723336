"""The state of a verify run in the program: its settings, its reporter, the graph being built.

One :class:`Session` is active while the patches are installed (:mod:`est2tpu.verify.install`);
the patched TensorFlow functions look it up here.  ``build`` is the TPU graph under
construction, if any: the recording patches only record while there is one, so the
program's own CPU runs pass through them untouched.
"""

from __future__ import annotations

import contextlib
import traceback
from typing import Any, Iterator, Optional

from est2tpu.verify.report import Reporter
from est2tpu.verify.settings import Settings


class Session:
    def __init__(self, reporter: Reporter, settings: Settings) -> None:
        self.reporter = reporter
        self.settings = settings
        self.build: Optional[Any] = None  # the est2tpu.verify.build.Build under construction

    @contextlib.contextmanager
    def guarded(self, what: str) -> Iterator[None]:
        """Run one of verify's own checks: if it fails (verify's bug, or a program it does
        not understand), say so and let the program go on."""
        try:
            yield
        except Exception as error:
            where = traceback.extract_tb(error.__traceback__)[-1]
            self.reporter.error(f"could not check {what}: {type(error).__name__}: {error} "
                                f"(at {where.filename}:{where.lineno}; please report it)")

    @contextlib.contextmanager
    def building(self, build) -> Iterator[None]:
        outer, self.build = self.build, build
        try:
            yield
        finally:
            self.build = outer


ACTIVE: Optional[Session] = None


def current_build():
    """The Build under construction, or None (no session, or the program's own run)."""
    return ACTIVE.build if ACTIVE is not None else None
