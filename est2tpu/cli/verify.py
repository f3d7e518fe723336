"""``est2tpu verify -- COMMAND...``: run a migrated program and prove its TPU graphs on the CPU.

The program runs as a child process with ``est2tpu/verify/boot`` first on its
PYTHONPATH: its ``sitecustomize`` installs :mod:`est2tpu.verify` once the program
imports TPUEstimator, and every TPUEstimator then builds and checks its TPU graphs
before it trains, evaluates and predicts a few steps on the CPU.  The child appends its
findings to a file named in ``EST2TPU_VERIFY_REPORT``; this side (which never imports
TensorFlow) reads them and prints them like ``migrate`` does.  The program's own output
goes to stderr, so that stdout holds only the report.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional, Tuple

from est2tpu.cli.files import Problem
from est2tpu.cli.report import FORMATS as OUTPUT_FORMATS
from est2tpu.cli.report import Diagnostic, FileResult, Summary, render
from est2tpu.verify.settings import CORES_ENV, REPORT_ENV, STEPS_ENV, Settings

BOOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "verify", "boot")
#: Lines of a quiet program's output shown when it fails.
TAIL_LINES = 30

EXIT_CODES = """\
exit codes:
  0  the program ran to its end and every check passed: no known TPU-only problem
  1  findings (printed as `path:line:col: CODE message`, or --output-format)
  2  the program failed before any check, nothing was checked, a check could not be
     done, the program failed after the checks (without a finding), or bad usage

The program runs with TPU_NAME unset; each TPUEstimator is made to use the TPU (N cores on
one local host), builds and checks its TPU graphs, then trains, evaluates and predicts at
most --steps steps on the CPU.  Its output goes to stderr.  `# est2tpu: ignore[CODE]` on a
finding's line hides it.
"""


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def add_parser(sub) -> None:
    v = sub.add_parser(
        "verify", help="run a migrated program and check its TPU graphs on the CPU",
        description="Run COMMAND (a migrated TPUEstimator program) with its TPU graphs built and checked on "
                    "the CPU, and a few steps of each train/evaluate/predict run on the CPU.",
        usage="est2tpu verify [options] -- COMMAND...",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES)
    v.add_argument("--num-cores", type=_positive, default=Settings.cores, metavar="N",
                   help=f"TPU cores to check for, on one host (default {Settings.cores}, a v2-8/v3-8)")
    v.add_argument("--steps", type=_positive, default=Settings.steps, metavar="K",
                   help=f"at most K steps of each train, evaluate and predict run on the CPU "
                        f"(default {Settings.steps})")
    v.add_argument("--output-format", choices=OUTPUT_FORMATS, default="text",
                   help="how findings are printed: text (default), json, sarif, github")
    v.add_argument("-q", "--quiet", action="store_true",
                   help="hide the program's output (shown when it fails) and the summary line")
    v.add_argument("program", nargs=argparse.REMAINDER, metavar="COMMAND", help="the program and its arguments")


def _environment(report: str, args: argparse.Namespace) -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("TPU_NAME", None)  # the program's own TPU path must not look for a real TPU
    env["PYTHONPATH"] = os.pathsep.join([BOOT] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env[REPORT_ENV] = report
    env[CORES_ENV] = str(args.num_cores)
    env[STEPS_ENV] = str(args.steps)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _records(path: str) -> List[dict]:
    import json

    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _display(path: str, cwd: str) -> str:
    if not path:
        return "<unknown>"
    relative = os.path.relpath(path, cwd)
    return path if relative.startswith(os.pardir + os.sep) else relative


def _diagnostics(records: List[dict], cwd: str) -> List[Diagnostic]:
    from est2tpu.cli.main import directives  # main imports this module

    ignores: Dict[str, Dict] = {}
    out = []
    for r in records:
        if r["kind"] != "finding":
            continue
        if r["path"] not in ignores:
            try:
                with open(r["path"], encoding="utf-8") as f:
                    ignores[r["path"]] = directives(f.read())[1]
            except (OSError, UnicodeDecodeError):
                ignores[r["path"]] = {}
        codes = ignores[r["path"]].get(r["line"], frozenset())
        if codes is None or any(r["code"].startswith(c) for c in codes):
            continue
        out.append(Diagnostic(_display(r["path"], cwd), r["line"], r["col"], r["code"], r["message"], r["hint"],
                              kind="blocking"))
    # (each once: several processes of the program may have found the same)
    return sorted(set(out), key=lambda d: (d.display, d.line, d.col, d.code, d.message))


def _run(command: List[str], env: Dict[str, str], quiet: bool) -> Tuple[Optional[int], str]:
    """(exit status or None if it could not start, what to show of its output if it failed)."""
    import subprocess
    import tempfile

    try:
        stderr = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (e.g. captured): copy it there after
        stderr = None
    with tempfile.TemporaryFile() as output:
        target = output if quiet or stderr is None else stderr
        try:
            sys.stderr.flush()
            status = subprocess.call(command, env=env, stdout=target, stderr=target)
        except OSError as e:
            return None, f"cannot run {command[0]!r}: {e.strerror or e}"
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    if not quiet:
        sys.stderr.write(text)
        return status, ""
    if status == 0:
        return status, ""
    return status, "".join(f"  | {line}\n" for line in text.splitlines()[-TAIL_LINES:])


def _checked(records: List[dict]) -> str:
    counts: Dict[str, int] = {}
    for r in records:
        if r["kind"] == "checked":
            counts[r["what"]] = counts.get(r["what"], 0) + 1
    return ", ".join(f"{what} ×{n}" if n > 1 else what for what, n in counts.items())


def _problems(program: str, status: Optional[int], shown: str, records: List[dict]) -> List[Problem]:
    """Why the run is not a verdict (exit 2): the program's failures, checks not done."""
    if status is None:
        return [Problem(program, shown)]
    if not _checked(records):
        return [Problem(program, f"the program exited with status {status} before any check" if status
                        else "nothing was checked: the program ran no TPUEstimator train, evaluate, predict "
                             "or export")]
    if status:
        return [Problem(program, f"the program exited with status {status} after the checks")]
    if any(r["kind"] == "error" for r in records):
        return [Problem(program, "some checks could not be done (see the errors above)")]
    return []


def cmd_verify(args: argparse.Namespace) -> int:
    import shlex
    import tempfile

    command = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not command:
        sys.stderr.write("est2tpu verify: error: give the program to run: est2tpu verify -- COMMAND...\n")
        return 2
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="est2tpu-verify-") as scratch:
        report = os.path.join(scratch, "report.jsonl")
        status, shown = _run(command, _environment(report, args), args.quiet)
        records = _records(report)
    diagnostics = _diagnostics(records, cwd)
    problems = _problems(shlex.join(command), status, shown, records)

    rules = {}
    if diagnostics and args.output_format in ("json", "sarif"):
        from est2tpu.codemods.base import RULES
        import est2tpu.verify.rules  # noqa: F401  registers verify's rules

        rules = dict(RULES)
    summary = Summary(problems=problems, findings=len(diagnostics), blocking=len(diagnostics))
    results = [FileResult(display, "unchanged", [d for d in diagnostics if d.display == display])
               for display in dict.fromkeys(d.display for d in diagnostics)]
    sys.stdout.write(render(args.output_format, results, problems, summary, rules, cwd))
    sys.stdout.flush()
    lines = [f"est2tpu verify: {r['kind']}: {r['message']}" for r in records if r["kind"] in ("note", "error")]
    if shown and status is not None:
        lines.append(shown.rstrip("\n"))
    if args.output_format == "text":
        lines += [p.format() for p in problems]
    if not args.quiet:
        lines.append(f"est2tpu verify: checked {_checked(records) or 'nothing'}; {len(diagnostics)} "
                     f"finding{'' if len(diagnostics) == 1 else 's'}")
    sys.stderr.write("".join(line + "\n" for line in lines))
    if diagnostics:
        return 1
    return 2 if problems else 0
