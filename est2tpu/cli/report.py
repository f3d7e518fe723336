"""What the CLI prints: diffs, findings in four formats, the summary line.

Formats of findings (``--output-format``):

``text``
    ``path:line:col: CODE message (hint: ...)``, one a line; in a notebook
    ``path:cell N:line:col: ...`` with the line counted in cell N (the N-th cell).
``json``
    One object: ``changed`` (paths migrated, or that would be with --diff/--check),
    ``findings`` (path, line, col, cell, code, title, message, hint, blocking),
    ``rewrites`` (path, line, col, cell, code, title: the rewrites made),
    ``errors`` (path, line, col, cell, message) and ``summary`` counts.
``sarif``
    SARIF 2.1.0 for GitHub code scanning: one run, the rules that were reported
    with their documentation, results located relative to ``%SRCROOT%`` (the
    current directory), columns in Unicode code points, and files that could not
    be processed as tool execution notifications.  Blocking findings are errors,
    review notes warnings, and each rewrite made (E2T1xx) a note at the statement
    it changed.
``github``
    GitHub Actions workflow commands:
    ``::warning file=...,line=...,col=...,title=CODE::message`` (``::error`` for a
    blocking finding, ``::notice`` for a rewrite), and ``::error`` for files that
    could not be processed.

Positions in a notebook are cell-relative in ``text`` and ``json``, and
positions in the ``.ipynb`` file itself in ``sarif`` and ``github`` (those are
what code-scanning and annotations show on the file).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from est2tpu import __version__
from est2tpu.cli.files import Problem

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FORMATS = ("text", "json", "sarif", "github")


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """A finding, or a rewrite made, placed in a file (and, in a notebook, a cell)."""

    display: str
    line: int
    col: int
    code: str
    message: str
    hint: str = ""
    cell: Optional[int] = None  # 1-based cell number in a notebook
    file_line: int = 0  # position in the file itself (differs from line/col in notebooks)
    file_col: int = 0
    #: The rule's kind: "rewrite" (E2T1xx), "blocking" or "review" (see codemods.base.Rule).
    kind: str = "review"
    #: Characters of the name or token the position points at (where SARIF's region ends).
    length: int = 1

    @property
    def blocking(self) -> bool:
        return self.kind == "blocking"

    def where(self) -> str:
        cell = f":cell {self.cell}" if self.cell is not None else ""
        return f"{self.display}{cell}:{self.line}:{self.col}"

    def full_message(self) -> str:
        """The message and, if there is one, its hint."""
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message

    def format(self) -> str:
        return f"{self.where()}: {self.code} {self.full_message()}"


@dataclasses.dataclass
class FileResult:
    """What happened to one file, for the json/sarif documents, ``--report`` and ``--statistics``."""

    display: str
    status: str  # "migrated", "would be migrated", "unchanged" or "failed"
    findings: List[Diagnostic] = dataclasses.field(default_factory=list)
    rewrites: List[Diagnostic] = dataclasses.field(default_factory=list)
    error: Optional[Problem] = None


@dataclasses.dataclass
class Summary:
    """What a run did: the files migrated (or that would be) and those that failed, in full;
    the others, the findings (and how many of them block a TPU run) and rewrites, counted."""

    changed: List[str] = dataclasses.field(default_factory=list)
    problems: List[Problem] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    findings: int = 0
    blocking: int = 0
    rewrites: int = 0

    @property
    def migrated(self) -> int:
        return len(self.changed)

    @property
    def failed(self) -> int:
        return len(self.problems)

    def counts(self) -> Dict[str, int]:
        return {"migrated": self.migrated, "unchanged": self.unchanged, "failed": self.failed,
                "findings": self.findings, "blocking": self.blocking, "rewrites": self.rewrites}

    def line(self, would: bool) -> str:
        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        verb = "would be migrated" if would else "migrated"
        blocking = ""
        if self.blocking:  # in place, what is left for a person: why the exit code is 1
            blocking = f", {self.blocking} blocking" + ("" if would else " left to fix")
        return (f"{n(self.migrated, 'file')} {verb}, {self.unchanged} unchanged, "
                f"{self.failed} failed, {n(self.findings, 'finding')}{blocking}")


# --------------------------------------------------------------------------- diffs


def _lines(data: bytes) -> List[bytes]:
    """Lines as patch tools see them: split after each b"\\n" only (a CR stays in the line)."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def _quote(path: str) -> str:
    """A path for a diff header, C-quoted the way git does when it needs to be."""
    if not any(c in path for c in '"\\\t\n') and path.isprintable():
        return path
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")
    return f'"{escaped}"'


_TOKEN = re.compile(r"[\w.]+|\S")


def relocate(diagnostics: Sequence[Diagnostic], before: str, after: str) -> List[Diagnostic]:
    """Findings placed in ``before`` moved to where their code is in ``after`` (the file as
    migrated and written), so that the positions printed are those of the file on disk.

    An unchanged line moves with the lines around it.  A changed or moved line is found by
    its text (a statement moved into a new function), else by the token the finding
    points at among the lines that replaced it (an API's dotted name: anywhere), else by
    the text before it (a rewritten call: ``return `` before it), else it is the most
    similar of those lines.
    """
    from est2tpu.codemods.python_tree import NEWLINE  # the line ends the findings count

    if not diagnostics:
        return []
    old, new = NEWLINE.split(before), NEWLINE.split(after)
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    stripped = [line.strip() for line in new]
    out = []
    for d in diagnostics:
        index = d.line - 1
        tag, i1, i2, j1, j2 = next((op for op in opcodes if op[1] <= index < op[2]), ("", index, index, 0, 0))
        if tag == "equal" or not new:
            line = j1 + index - i1 if tag == "equal" else 0
            out.append(dataclasses.replace(d, line=line + 1, file_line=line + 1))
            continue
        text = old[index] if index < len(old) else ""
        token = _TOKEN.match(text, d.col - 1)
        moved = [k for k, s in enumerate(stripped) if text.strip() and s == text.strip()]
        found = [k for k in range(j1, j2) if token and token.group() in new[k]] or [
            k for k, line in enumerate(new) if token and "." in token.group() and token.group() in line]
        same = _same_occurrence(token.group(), old, new, (i1, i2), (j1, j2), (index, d.col - 1)) if token else None
        prefix = text[:d.col - 1]  # a rewritten call keeps what precedes it: `return `, `est = `
        kept = [k for k in range(j1, j2) if prefix.strip() and new[k].startswith(prefix)]
        if moved:
            line = min(moved, key=lambda k: abs(k - j1))
            col = d.col - 1 - _indent(text) + _indent(new[line])
        elif same:
            line, col = same
        elif found:
            line = min(found, key=lambda k: abs(k - (j1 + index - i1)))
            col = new[line].index(token.group())
        elif kept:
            line, col = kept[0], d.col - 1
        else:  # the token itself was rewritten: the same place in the most similar line
            candidates = [k for k in range(j1, j2) if new[k].strip()] or [min(j1, len(new) - 1)]
            line = max(candidates, key=lambda k: difflib.SequenceMatcher(None, text.strip(), new[k].strip()).ratio())
            col = _same_place(text, new[line], d.col - 1)
        out.append(dataclasses.replace(d, line=line + 1, col=col + 1, file_line=line + 1, file_col=col + 1))
    return out


def token_length(line: str, col: int) -> int:
    """Characters of the name (dotted) or other token at 1-based column ``col`` of ``line``."""
    token = _TOKEN.match(line, col - 1) if col >= 1 else None
    return len(token.group()) if token else 1


def _same_occurrence(token: str, old, new, old_lines, new_lines, at) -> Optional[Tuple[int, int]]:
    """(line, column) of the token in ``new_lines`` that is the same occurrence (the first,
    the second...) as the one ``at`` in ``old_lines``, when both hold it equally often."""
    def occurrences(lines, first, last):
        return [(k, m.start()) for k in range(first, last) for m in re.finditer(re.escape(token), lines[k])]

    before, after = occurrences(old, *old_lines), occurrences(new, *new_lines)
    if at not in before or len(before) != len(after):
        return None
    return after[before.index(at)]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _same_place(old: str, new: str, col: int) -> int:
    """Where column ``col`` of ``old`` is in ``new``, aligning their characters."""
    for a, b, size in difflib.SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks():
        if a + size > col:
            return b + max(col - a, 0)
    return min(col, len(new))


def unified_diff(old: bytes, new: bytes, display: str, context: int = 3) -> bytes:
    """A unified diff of one file that ``git apply`` and ``patch -p1`` accept.

    Works on bytes, so the file's encoding, BOM and line endings appear unchanged,
    and marks a last line without a newline with ``\\ No newline at end of file``.
    """
    a, b = _lines(old), _lines(new)
    if a == b:
        return b""
    # Like git: a name with a space ends in a tab, which is where GNU patch stops reading it.
    tab = "\t" if " " in display else ""
    name_a = (_quote("a/" + display) + tab).encode("utf-8", "surrogateescape")
    name_b = (_quote("b/" + display) + tab).encode("utf-8", "surrogateescape")
    out = [b"--- " + name_a + b"\n", b"+++ " + name_b + b"\n"]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n".encode())
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                chunks = [(b" ", line) for line in a[i1:i2]]
            else:
                chunks = [(b"-", line) for line in a[i1:i2]] + [(b"+", line) for line in b[j1:j2]]
            for prefix, line in chunks:
                out.append(prefix + line)
                if not line.endswith(b"\n"):
                    out.append(b"\n\\ No newline at end of file\n")
    return b"".join(out)


_COLORS = {b"---": b"\x1b[1m", b"+++": b"\x1b[1m", b"@@": b"\x1b[36m", b"-": b"\x1b[31m", b"+": b"\x1b[32m"}


def colorize(diff: bytes) -> bytes:
    out = []
    for line in diff.splitlines(keepends=True):
        body = line.rstrip(b"\r\n")
        end = line[len(body):]
        for prefix in (b"---", b"+++", b"@@", b"-", b"+"):
            if body.startswith(prefix):
                out.append(_COLORS[prefix] + body + b"\x1b[0m" + end)
                break
        else:
            out.append(line)
    return b"".join(out)


# --------------------------------------------------------------------------- findings


def text_report(diagnostics: Sequence[Diagnostic]) -> str:
    return "".join(d.format() + "\n" for d in diagnostics)


def _entry(d: Diagnostic, rules: Mapping[str, Any]) -> Dict[str, Any]:
    return {"path": d.display, "line": d.line, "col": d.col, "cell": d.cell, "code": d.code,
            "title": getattr(rules.get(d.code), "title", None)}


def json_report(results: Sequence[FileResult], summary: Summary, rules: Mapping[str, Any]) -> str:
    doc = {
        "changed": list(summary.changed),
        "findings": [{**_entry(d, rules), "message": d.message, "hint": d.hint or None, "blocking": d.blocking}
                     for r in results for d in r.findings],
        "rewrites": [_entry(d, rules) for r in results for d in r.rewrites],
        "errors": [
            {"path": p.display, "line": p.line, "col": p.col, "cell": p.cell, "message": p.message}
            for p in summary.problems
        ],
        "summary": summary.counts(),
    }
    import json

    return json.dumps(doc, indent=2) + "\n"


def _shown(result: FileResult) -> List[Diagnostic]:
    """A file's findings and the rewrites that no finding of the same code on the same line
    already shows (E2T109 and E2T110 are review notes too), in the order of the file."""
    noted = {(d.code, d.line) for d in result.findings}
    rewrites = [d for d in result.rewrites if (d.code, d.line) not in noted]
    return sorted((*result.findings, *rewrites), key=lambda d: (d.file_line or d.line, d.file_col or d.col, d.code))


def _uri(path: str) -> str:
    """``path`` percent-encoded for a SARIF URI."""
    import urllib.parse  # only SARIF needs it

    return urllib.parse.quote(path)


def _artifact(display: str) -> Dict[str, str]:
    if os.path.isabs(display):
        return {"uri": "file://" + _uri(display.replace(os.sep, "/"))}
    return {"uri": _uri(display), "uriBaseId": "%SRCROOT%"}


def _location(display: str, line: Optional[int], col: Optional[int], length: int = 0) -> Dict[str, Any]:
    physical: Dict[str, Any] = {"artifactLocation": _artifact(display)}
    if line and line >= 1:
        region: Dict[str, Any] = {"startLine": line}
        if col and col >= 1:
            region["startColumn"] = col
            if length:
                region.update(endLine=line, endColumn=col + length)
        physical["region"] = region
    return {"physicalLocation": physical}


#: SARIF level of each kind of rule.
LEVELS = {"blocking": "error", "review": "warning", "rewrite": "note"}


def documentation_url() -> Optional[str]:
    """The documentation URL est2tpu's package metadata declares (``[project.urls]``), if any."""
    from importlib import metadata

    try:
        urls = metadata.metadata("est2tpu").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    by_label = {label.strip().lower(): url.strip() for label, _, url in (u.partition(",") for u in urls)}
    return next((by_label[k] for k in ("documentation", "homepage", "repository") if k in by_label), None)


def _rule_entry(code: str, rule: Any, docs: Optional[str]) -> Dict[str, Any]:
    title = getattr(rule, "title", "") or code
    explanation = getattr(rule, "explanation", "") or title
    before, after = getattr(rule, "before", ""), getattr(rule, "after", "")
    help_text = explanation
    help_md = explanation
    if before or after:
        indent = lambda code: "\n".join("    " + line for line in code.splitlines())  # noqa: E731
        help_text += f"\n\nBefore:\n{indent(before)}\n\nAfter:\n{indent(after)}"
        help_md += f"\n\nBefore:\n\n```python\n{before}\n```\n\nAfter:\n\n```python\n{after}\n```"
    help_text += f"\n\n`est2tpu rules {code}` prints this text."
    entry = {
        "id": code,
        "name": "".join(w[0].upper() + w[1:] for w in "".join(c if c.isalnum() else " " for c in title).split()) or code,
        "shortDescription": {"text": title},
        "fullDescription": {"text": explanation},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": LEVELS[getattr(rule, "kind", "review")]},
        "properties": {"tags": ["tensorflow", "tpu", "migration", getattr(rule, "kind", "review")]},
    }
    if docs:
        entry["helpUri"] = f"{docs}#{code.lower()}"
    return entry


def sarif_report(results: Sequence[FileResult], problems: Sequence[Problem],
                 rules: Mapping[str, Any], cwd: str) -> str:
    shown = [d for r in results for d in _shown(r)]
    codes = sorted({d.code for d in shown})
    index = {code: i for i, code in enumerate(codes)}
    out = []
    for d in shown:
        out.append({
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": LEVELS[d.kind],
            "message": {"text": d.full_message()},
            "locations": [_location(d.display, d.file_line or d.line, d.file_col or d.col, d.length)],
        })
    notifications = []
    for p in problems:
        notification: Dict[str, Any] = {"level": "error", "message": {"text": f"{p.display}: {p.message}"}}
        notification["locations"] = [_location(p.display, p.line if p.cell is None else None,
                                               p.col if p.cell is None else None)]
        notifications.append(notification)
    root = cwd.replace(os.sep, "/").rstrip("/") + "/"
    docs = documentation_url() if codes else None
    run = {
        "tool": {
            "driver": {
                "name": "est2tpu",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule_entry(code, rules.get(code), docs) for code in codes],
            }
        },
        "invocations": [{
            "executionSuccessful": not problems,
            "toolExecutionNotifications": notifications,
        }],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + _uri(root if root.startswith("/") else "/" + root)}},
        "columnKind": "unicodeCodePoints",
        "results": out,
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    import json

    return json.dumps(doc, indent=2) + "\n"


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


_GH_COMMANDS = {"blocking": "error", "review": "warning", "rewrite": "notice"}


def github_report(results: Sequence[FileResult], problems: Sequence[Problem]) -> str:
    out = []
    for r in results:
        for d in _shown(r):
            out.append(
                f"::{_GH_COMMANDS[d.kind]} file={_gh_property(d.display)},line={d.file_line or d.line},"
                f"col={d.file_col or d.col},title={_gh_property(d.code)}::{_gh_data(d.full_message())}\n"
            )
    for p in problems:
        where = f"file={_gh_property(p.display)}"
        if p.line and p.cell is None:
            where += f",line={p.line}"
            if p.col:
                where += f",col={p.col}"
        out.append(f"::error {where},title=est2tpu::{_gh_data(p.message)}\n")
    return "".join(out)


def render(fmt: str, results: Sequence[FileResult], problems: Sequence[Problem],
           summary: Summary, rules: Mapping[str, Any], cwd: str) -> str:
    if fmt == "json":
        return json_report(results, summary, rules)
    if fmt == "sarif":
        return sarif_report(results, problems, rules, cwd)
    if fmt == "github":
        return github_report(results, problems)
    return text_report([d for r in results for d in r.findings])
