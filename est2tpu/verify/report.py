"""What a verify run found, as the program runs: findings, the checks done, notes, errors.

The CLI runs the program in a child process and names a file in ``settings.REPORT_ENV``; every
record is appended to it as one JSON line (several processes of one program may write
to it).  Tests read the records of an in-process :class:`Reporter` instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import List, Optional, Set

from est2tpu.verify.locate import Place


@dataclasses.dataclass(frozen=True)
class Finding:
    code: str
    path: str
    line: int
    col: int
    message: str
    hint: str = ""


class Reporter:
    """Collects the findings (each once), the checks done, notes and errors (checks that
    could not be done)."""

    def __init__(self, path: Optional[str] = None) -> None:
        self.path = path
        self.findings: List[Finding] = []
        self.checked: List[str] = []
        self.notes: List[str] = []
        self.errors: List[str] = []
        self._seen: Set[Finding] = set()

    def finding(self, code: str, where: Optional[Place], message: str, hint: str = "") -> bool:
        """Record a finding at ``where`` (None: unknown place); False if it was known."""
        where = where or Place("", 0, 0)
        finding = Finding(code, where.path, where.line, where.col, message, hint)
        if finding in self._seen:
            return False
        self._seen.add(finding)
        self.findings.append(finding)
        self._write({"kind": "finding", **dataclasses.asdict(finding)})
        return True

    def check(self, what: str) -> None:
        """Record that a check of ``what`` (train, evaluate, predict, export) was done."""
        self.checked.append(what)
        self._write({"kind": "checked", "what": what})

    def note(self, message: str) -> None:
        """Something the user should know that is no TPU problem."""
        self.notes.append(message)
        self._write({"kind": "note", "message": message})

    def error(self, message: str) -> None:
        """A check that could not be done (a bug in verify, or an unexpected program)."""
        self.errors.append(message)
        self._write({"kind": "error", "message": message})

    def _write(self, record: dict) -> None:
        if not self.path:
            return
        line = (json.dumps(record) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one write per record: lines of several processes do not mix
        finally:
            os.close(fd)
