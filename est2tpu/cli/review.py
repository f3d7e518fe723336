"""What a run did, for a person to review: the migration report (``--report``) and
``--statistics``.

The report lists, per file, each rewrite made (E2T1xx, at the statement it changed) and
each finding with its rule's explanation, so that review notes printed once during the
run are not lost.  It is Markdown, or JSON when its path ends in ``.json``.  Positions
are those the findings are printed with: in the file as written after a migration in
place, in the file as read with ``--diff``/``--check``, and in a notebook's cells.
"""

from __future__ import annotations

import collections
import json
import re
from typing import Any, Dict, List, Mapping, Sequence

from est2tpu import __version__
from est2tpu.cli.report import Diagnostic, FileResult, Summary

#: How each kind of rule is named for a person.
KINDS = {"rewrite": "rewrite", "review": "review note", "blocking": "blocking"}


def _where(d: Diagnostic) -> str:
    cell = f"cell {d.cell}, " if d.cell is not None else ""
    return f"{cell}line {d.line}, col {d.col}"


def _md(text: str) -> str:
    """``text`` with the characters that Markdown would read as markup escaped (not
    backquotes: the explanations quote code with them)."""
    return re.sub(r"([\\*<>|])", r"\\\1", text)


def _explained(rule: Any) -> Dict[str, str]:
    return {"explanation": rule.explanation, "before": rule.before, "after": rule.after}


def json_report(results: Sequence[FileResult], summary: Summary, rules: Mapping[str, Any], mode: str) -> str:
    files = []
    for r in results:
        files.append({
            "path": r.display,
            "status": r.status,
            "rewrites": [{"line": d.line, "col": d.col, "cell": d.cell, "code": d.code, "title": rules[d.code].title}
                         for d in r.rewrites],
            "findings": [{"line": d.line, "col": d.col, "cell": d.cell, "code": d.code, "kind": d.kind,
                          "title": rules[d.code].title, "message": d.message, "hint": d.hint or None,
                          **_explained(rules[d.code])} for d in r.findings],
            "error": r.error and {"line": r.error.line, "col": r.error.col, "cell": r.error.cell,
                                  "message": r.error.message},
        })
    doc = {"tool": "est2tpu", "version": __version__, "mode": mode, "summary": summary.counts(), "files": files}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def markdown_report(results: Sequence[FileResult], summary: Summary, rules: Mapping[str, Any], mode: str) -> str:
    out = [f"# est2tpu migration report\n\nest2tpu {__version__}, {mode}: {summary.line(mode != 'in place')}.\n"]
    if results:
        out.append("\n| file | status | rewrites | review notes | blocking |\n|---|---|--:|--:|--:|\n")
        for r in results:
            blocking = sum(d.blocking for d in r.findings)
            out.append(f"| {_md(r.display)} | {r.status} | {len(r.rewrites)} | "
                       f"{len(r.findings) - blocking} | {blocking} |\n")
    for r in results:
        out.append(f"\n## {_md(r.display)}\n\n{r.status.capitalize()}.\n")
        if r.error is not None:
            out.append(f"\nError: {_md(r.error.format())}\n")
        if r.rewrites:
            out.append("\n### Rewrites made\n\n")
            out.extend(f"- {_where(d)}: **{d.code}** {_md(rules[d.code].title)}\n" for d in r.rewrites)
        by_code: Dict[str, List[Diagnostic]] = collections.defaultdict(list)
        for d in r.findings:
            by_code[d.code].append(d)
        if by_code:
            out.append("\n### Findings\n")
        for code, found in sorted(by_code.items(), key=lambda item: (item[1][0].kind != "blocking", item[0])):
            rule = rules[code]
            out.append(f"\n#### {code} {_md(rule.title)} ({KINDS[rule.kind]})\n\n")
            out.extend(f"- {_where(d)}: {_md(d.full_message())}\n" for d in found)
            out.append("\n" + "".join(f"> {_md(line)}\n" for line in rule.explanation.splitlines()))
            if rule.before or rule.after:
                out.append(f"\nBefore:\n\n```python\n{rule.before}\n```\n\nAfter:\n\n```python\n{rule.after}\n```\n")
    problems = [p for p in summary.problems if p.display not in {r.display for r in results}]
    if problems:  # paths that were never files: missing, not regular
        out.append("\n## Errors\n\n" + "".join(f"- {_md(p.format())}\n" for p in problems))
    return "".join(out)


def report(path: str, results: Sequence[FileResult], summary: Summary, rules: Mapping[str, Any], mode: str) -> str:
    """The report for ``path``: JSON when it ends in ``.json``, else Markdown."""
    make = json_report if path.lower().endswith(".json") else markdown_report
    return make(results, summary, rules, mode)


def statistics(results: Sequence[FileResult], rules: Mapping[str, Any]) -> str:
    """Counts per code, as ``ruff --statistics`` prints them: most frequent first, each with
    its kind and title."""
    counts = collections.Counter(d.code for r in results for d in (*r.rewrites, *r.findings))
    lines = [f"{n}\t{code}\t[{rules[code].kind}] {rules[code].title}\n"
             for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    return "".join(lines)
