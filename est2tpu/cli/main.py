"""The ``est2tpu`` command line: ``est2tpu migrate PATH...``, ``est2tpu verify -- COMMAND...``
(in :mod:`est2tpu.cli.verify`) and ``est2tpu rules [CODE]``.

Importing this module is cheap and never imports TensorFlow, LibCST or black: the
migration engine (LibCST) is imported only once a file is found that may contain an
Estimator API (by :mod:`est2tpu.cli.engine`), and black only for a migrated file that has
to stay black-formatted.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import errno
import gc
import io
import itertools
import os
import re
import sys
import time
import tokenize
import warnings
from typing import Any, Deque, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from est2tpu import __version__
from est2tpu.cli.engine import load as load_engine
from est2tpu.cli import verify as verify_cli
from est2tpu.cli.cache import for_run
from est2tpu.cli import replay, workers
from est2tpu.cli.config import FORMATS, TARGETS, ConfigError, Resolver, selector
from est2tpu.cli.files import (Candidate, DecodeError, Finder, Problem, decode_notebook, decode_python, display_path,
                               read_bytes)
from est2tpu.cli.replace import NotReplaced, replace_file, sync_directories
from est2tpu.cli.report import FORMATS as OUTPUT_FORMATS
from est2tpu.cli.report import (Diagnostic, FileResult, Summary, colorize, relocate, render, token_length,
                                unified_diff)

#: More files than this that need parsing (and more than one job) use a process pool.
POOL_THRESHOLD = 4
#: Files handed to the pool ahead of the one being reported, per worker.
IN_FLIGHT_PER_WORKER = 4
#: The progress bar appears only once a run has taken this long (seconds).
PROGRESS_AFTER = 1.0

MODES_AND_EXIT_CODES = """\
modes:
  est2tpu migrate PATH...          rewrite the files in place
  est2tpu migrate --diff PATH...   print a unified diff (for git apply / patch -p1), write nothing
  est2tpu migrate --check PATH...  write nothing; fail if a file would change or has a finding

exit codes:
  0  every file was processed, and nothing is left: no blocking finding (migrate in place);
     nothing would change and no findings (--diff, --check)
  1  in place: a blocking finding is left (code that still cannot run on a TPU), as
     `ruff check --fix` exits 1 while something is left to fix; --diff/--check: a file
     would change or a finding was reported; 0 with --exit-zero
  2  a file could not be processed (unreadable, undecodable, syntax error, internal error),
     or bad usage or configuration; the other files are still processed, and a file that
     failed is left byte-for-byte untouched

Findings are printed as `path:line:col: CODE message` (stdout; stderr with --diff, whose
stdout is the patch; --output-file PATH writes them there instead, in --output-format);
errors as `path: error: ...` on stderr, and one summary line on stderr (-q drops it).
--report PATH writes what was rewritten and found, per file, with each rule's explanation
(Markdown, JSON if PATH ends in .json); --statistics prints counts per code on stderr.
A Python file with no "estimator"/"Estimator" (or "contrib.learn") in its bytes is not
decoded or parsed (so it cannot fail).

Configuration: [tool.est2tpu] in the nearest pyproject.toml above each path (keys:
target, select, ignore, exclude, extend-exclude, iterations-per-loop, max-file-size,
format); flags win.  Inline: `# est2tpu: ignore[CODE]` or `# est2tpu: ignore` on a
finding's line, `# est2tpu: skip-file` anywhere in a file.
"""


# --------------------------------------------------------------------------- arguments


def _codes(value: str) -> List[str]:
    codes = [c.strip() for c in value.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError("expected one or more comma-separated rule codes")
    try:
        return [selector(c) for c in codes]
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _globs(value: str) -> List[str]:
    return [g.strip() for g in value.split(",") if g.strip()]


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _jobs(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of jobs, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError("the number of jobs cannot be negative")
    return number


class _Parser(argparse.ArgumentParser):
    """A parser that reports arguments it does not know with its own usage: as a
    subcommand's parser too (argparse leaves them to the top-level parser, whose usage
    says nothing about the subcommand's flags)."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="est2tpu",
        description="Migrate TensorFlow Estimator code to TPUEstimator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=MODES_AND_EXIT_CODES,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"est2tpu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    m = sub.add_parser(
        "migrate",
        help="migrate files and directories (in place, or --diff / --check)",
        description="Migrate tf.estimator code in Python files and Jupyter notebooks to TPUEstimator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=MODES_AND_EXIT_CODES,
        allow_abbrev=False,
    )
    m.add_argument("paths", nargs="+", metavar="PATH", help="files and directories (searched recursively)")
    mode = m.add_argument_group("mode")
    mode.add_argument("--diff", action="store_true", help="print a unified diff of the changes; write nothing")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if a file would change or has a finding")
    mode.add_argument("--exit-zero", action="store_true",
                      help="exit 0 even when changes or findings are left (report-only use)")

    mig = m.add_argument_group("migration")
    mig.add_argument("--target", choices=TARGETS, help="tf2: tf.compat.v1.estimator.tpu names (default); "
                     "tf1: tf.contrib.tpu names")
    mig.add_argument("--iterations-per-loop", type=_positive, metavar="N",
                     help="TPUConfig iterations_per_loop for generated configs (default 100)")
    mig.add_argument("--max-file-size", type=_positive, metavar="KIB",
                     help="a larger file that uses the Estimator API fails instead of being "
                          "parsed (default 1024)")
    mig.add_argument("--format", choices=FORMATS, dest="format_mode",
                     help="auto: keep black-formatted files black-formatted (default); "
                     "black: black-format every migrated file; none: never reformat")

    fnd = m.add_argument_group("findings")
    fnd.add_argument("--select", type=_codes, action="append", metavar="CODES",
                     help="report only findings whose code starts with one of these (comma-separated; "
                          "ALL, rule codes or prefixes of them, any case)")
    fnd.add_argument("--ignore", type=_codes, action="append", metavar="CODES",
                     help="do not report findings whose code starts with one of these (comma-separated)")
    fnd.add_argument("--output-format", choices=OUTPUT_FORMATS, default="text",
                     help="how findings are printed: text (default), json, sarif, github; the last three "
                          "also show each rewrite made")
    fnd.add_argument("--output-file", metavar="PATH",
                     help="write the findings (in --output-format) to PATH instead of stdout/stderr")
    fnd.add_argument("--report", metavar="PATH",
                     help="write a migration report to PATH: per file, each rewrite made and each finding "
                          "with its explanation (Markdown; JSON if PATH ends in .json)")
    fnd.add_argument("--statistics", action="store_true",
                     help="print the number of rewrites and findings of each code on stderr")

    fls = m.add_argument_group("files")
    fls.add_argument("--config", metavar="PATH",
                     help="use this pyproject.toml for every path instead of searching for one")
    fls.add_argument("--exclude", type=_globs, action="append", metavar="GLOBS",
                     help="replace the exclude list (.gitignore-style patterns, comma-separated)")
    fls.add_argument("--extend-exclude", type=_globs, action="append", metavar="GLOBS",
                     help="exclude these too (.gitignore-style patterns, comma-separated)")
    fls.add_argument("--force-exclude", action="store_true",
                     help="apply excludes and .gitignore to files named on the command line too")
    fls.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false",
                     help="do not skip files that .gitignore ignores")
    fls.add_argument("--no-cache", dest="cache", action="store_false",
                     help="migrate every file again, even those unchanged since a run found them clean "
                          "(the cache is .est2tpu_cache/ at the project root)")

    out = m.add_argument_group("output")
    out.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                     help="color the diff: auto (on a terminal, unless NO_COLOR is set), always, never")
    out.add_argument("-q", "--quiet", action="store_true", help="no summary line and no per-file notes")
    out.add_argument("-v", "--verbose", action="store_true", help="a line for every file, with why it was skipped")
    out.add_argument("-j", "--jobs", type=_jobs, default=0, metavar="N",
                     help="parallel processes (default 0: one per CPU)")

    verify_cli.add_parser(sub)

    r = sub.add_parser("rules", help="list the finding codes, or explain one", allow_abbrev=False,
                       description="List every code with its kind and title, or explain CODE with an example.")
    r.add_argument("code", nargs="?", metavar="CODE")
    r.add_argument("--output-format", choices=("text", "json"), default="text")
    return parser


# --------------------------------------------------------------------------- small helpers


class OutputError(Exception):
    """The output could not be written (a full disk, a closed stream): the run stops."""


@contextlib.contextmanager
def _output() -> Iterator[None]:
    """A write to the output: its OSError (but a closed pipe's) becomes OutputError."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(e.strerror or str(e)) from None


def _write_text(stream, text: str) -> None:
    if not text:
        return
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and not hasattr(buffer, "raw"):  # unbuffered (python -u, PYTHONUNBUFFERED): the
        _write_bytes(stream, text.encode(stream.encoding, stream.errors))  # text layer drops a short write
        return
    replay.wrote(stream, text)
    with _output():
        stream.write(text)
        stream.flush()


def _write_bytes(stream, data: bytes) -> None:
    if not data:
        return
    replay.wrote(stream, data)
    with _output():
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(data.decode("utf-8", "replace"))
            return
        view = memoryview(data)
        while view:
            written = buffer.write(view)  # an unbuffered stream's file may take part of it (a full disk)
            if not written:
                raise OSError(errno.EAGAIN, "the output takes no more")
            view = view[written:]
        buffer.flush()


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered for it is not written
    (and not reported once more) when the interpreter exits."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _use_color(choice: str, stream) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _flatten(lists: Optional[List[List[str]]]) -> Optional[Tuple[str, ...]]:
    if lists is None:
        return None
    return tuple(item for group in lists for item in group)


class Progress:
    """A one-line progress bar on stderr, only on a terminal and only for long runs."""

    def __init__(self, total: int, stream=None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) and total > 1

    def advance(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < PROGRESS_AFTER or (now - self.last < 0.1 and self.done < self.total):
            return
        self.last = now
        width = 30
        filled = width * self.done // max(self.total, 1)
        self.stream.write(f"\r\x1b[Kest2tpu [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} files")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """Erase the bar (before other output, which the next :meth:`advance` draws it after)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


# --------------------------------------------------------------------------- inline directives


_DIRECTIVE = re.compile(r"est2tpu:\s*(skip-file|ignore)(?:\[([^\]]*)\]|(?![\w-]))")


def _comments(text: str) -> List[Tuple[int, str]]:
    """(line, text) of every comment; tokenize knows what is inside a string."""
    try:
        return [
            (tok.start[0], tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        return [(n, line[line.index("#"):]) for n, line in enumerate(text.splitlines(), 1) if "#" in line]


def directives(text: str) -> Tuple[bool, Dict[int, Optional[FrozenSet[str]]]]:
    """(skip-file?, {line: codes ignored there, None for all}) from ``# est2tpu:`` comments."""
    if "est2tpu:" not in text:
        return False, {}
    skip = False
    ignores: Dict[int, Optional[FrozenSet[str]]] = {}
    for line, comment in _comments(text):
        for m in _DIRECTIVE.finditer(comment):
            if m.group(1) == "skip-file":
                skip = True
                continue
            codes = frozenset(c.strip().upper() for c in (m.group(2) or "").split(",") if c.strip())
            if not codes:
                ignores[line] = None
            elif line not in ignores or ignores[line] is not None:
                ignores[line] = (ignores.get(line) or frozenset()) | codes
    return skip, ignores


def selected(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    """Whether a finding code is reported: the longest matching prefix decides, and an
    ignore wins a tie; with no ``select`` everything is selected."""
    if select:
        best_select = max((len(p) if p != "ALL" else 0 for p in select
                           if p == "ALL" or code.startswith(p)), default=-1)
        if best_select < 0:
            return False
    else:
        best_select = 0
    best_ignore = max((len(p) if p != "ALL" else 0 for p in ignore
                       if p == "ALL" or code.startswith(p)), default=-1)
    return best_ignore < 0 or best_select > best_ignore


def _suppressed(code: str, line: int, ignores: Dict[int, Optional[FrozenSet[str]]]) -> bool:
    if line not in ignores:
        return False
    codes = ignores[line]
    return codes is None or any(code.startswith(c) for c in codes)


def may_use_estimator(text: Union[str, bytes]) -> bool:
    """The cheap pre-filter: every Estimator API name contains "estimator" or "Estimator",
    and tf.contrib.learn (ModelFnOps, Experiment: refused, E2T248) is imported by that name.

    Plain substring searches (a case-insensitive regex costs ten times more).  On a
    Python file's bytes, before decoding: Python source encodings are ASCII-compatible,
    so the names appear as these bytes whatever the encoding.
    """
    if isinstance(text, bytes):
        return b"stimator" in text or b"STIMATOR" in text or b"contrib.learn" in text
    return "stimator" in text or "STIMATOR" in text or "contrib.learn" in text


# --------------------------------------------------------------------------- one file (runs in workers)


@dataclasses.dataclass
class Job:
    display: str
    kind: str
    text: str
    encoding: str
    target: str
    iterations_per_loop: int
    select: Tuple[str, ...]
    ignore: Tuple[str, ...]
    format_mode: str
    black: Tuple[Tuple[str, Any], ...]
    #: False under --check alone: only whether the file changes matters, not the new text.
    output_needed: bool = True
    #: The migrated file is written: findings are placed in it, not in the original.
    in_place: bool = False
    #: Say which rewrites were made, and where (a report or machine output shows them).
    rewrites: bool = False
    #: (import root, dotted name) pairs the module is importable as (see est2tpu.cli.program).
    names: Tuple[Tuple[str, str], ...] = ()
    is_package: bool = False
    #: False: a module read only for the analysis of its program; no outcome is made for it.
    write: bool = True
    #: KiB of code over which a notebook is not migrated (a Python file is refused before its job).
    max_file_size: int = 0


@dataclasses.dataclass
class ProgramJob:
    """Files analysed as one program (one, for a file that imports no local module)."""

    members: List[Job]


@dataclasses.dataclass
class Outcome:
    changed: bool = False
    new_data: Optional[bytes] = None  # the migrated file, when changed and the output is needed
    diagnostics: List[Diagnostic] = dataclasses.field(default_factory=list)
    rewrites: List[Diagnostic] = dataclasses.field(default_factory=list)  # when Job.rewrites
    error: Optional[Problem] = None
    note: str = ""  # why nothing was done, for --verbose


def python_rejects(display: str, text: str, flags: int = 0, read: bool = True) -> Optional[Problem]:
    """Python's own verdict on ``text``: a located syntax error, or None if it compiles.

    LibCST accepts some code Python does not (Python 2's ``except E, e:``, which it reads
    as newer syntax; null bytes in strings; brackets nested deeper than Python allows, on
    which its parser may even crash), so this runs first.  ``read``: the engine reads
    Python's tree of ``text`` too (so that tree is compiled; else the text, which is faster).
    """
    from est2tpu.codemods.python_tree import python_ast

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Compiled: that catches what Python's symbol table refuses too (``return``
            # outside a function, ...).
            compile(python_ast(text) if read else text, display, "exec", flags=flags, dont_inherit=True)
    except SyntaxError as e:
        if not e.lineno and "\0" in text:
            at = text.index("\0")
            return Problem(display, "syntax error: null byte", text.count("\n", 0, at) + 1,
                           at - text.rfind("\n", 0, at))
        return Problem(display, f"syntax error: {e.msg}", e.lineno, (e.offset or 1) if e.lineno else None)
    except RecursionError:
        return Problem(display, "syntax error: nested too deeply for Python to compile")
    except MemoryError:  # Python 3.11's parser says so for code nested thousands deep, too
        return Problem(display, "cannot compile: out of memory (or nested too deeply for Python's parser)")
    except UnicodeError:  # a notebook's JSON can hold half a surrogate pair, which is no text
        at = _SURROGATE.search(text)
        if at is None:
            raise
        offset = at.start()
        return Problem(display, f"not valid text: a lone surrogate, U+{ord(text[offset]):04X}",
                       text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset))
    return None


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _libcst_problem(display: str, error) -> Problem:
    """A syntax error that only LibCST finds (Python compiled the code: see python_rejects)."""
    message = re.sub(r"^parser error: (error at \d+:\d+: )?", "", str(getattr(error, "message", error)))
    return Problem(display, f"syntax error: {message}", getattr(error, "editor_line", None),
                   getattr(error, "editor_column", None))


def _consistent_newlines(original: str, new: str) -> str:
    """A file whose every line ends in CRLF keeps doing so, whatever the engine inserted."""
    from est2tpu.codemods.layout import uniform_crlf

    if uniform_crlf(original):
        return re.sub(r"(?<!\r)\n", "\r\n", new)
    return new


def _filter(job: Job, code: str, findings, ignores, locate=None) -> List[Diagnostic]:
    """The engine's findings (or rewrites) on ``code`` that ``job`` reports: selected, not
    silenced by a comment (``ignores``; a rewrite is made whatever the comments say), and
    placed in the file (``locate``: in a notebook's cells)."""
    from est2tpu.codemods.base import RULES
    from est2tpu.codemods.python_tree import NEWLINE

    out = []
    lines = NEWLINE.split(code) if findings else []
    for f in findings:
        if not selected(f.code, job.select, job.ignore) or _suppressed(f.code, f.line, ignores):
            continue
        length = token_length(lines[f.line - 1] if 0 < f.line <= len(lines) else "", f.col)
        if locate is None:
            d = Diagnostic(job.display, f.line, f.col, f.code, f.message, f.hint, None, f.line, f.col)
        else:
            d = locate(f)
        out.append(dataclasses.replace(d, kind=RULES[f.code].kind, length=length))
    return out


def _unparsable_output(job: Job, code: str, flags: int = 0) -> Optional[Outcome]:
    """The error for migrated code Python does not compile (checked only when the output is
    used: ``--check`` alone only compares)."""
    rejected = python_rejects(job.display, code, flags, read=False) if job.output_needed else None
    if rejected is None:
        return None
    return Outcome(error=Problem(
        job.display,
        f"internal error: the migrated code does not parse ({rejected.line}:{rejected.col}); file left untouched",
    ))


class _Member:
    """One file of a program job, before and after the engine: the code the engine reads
    (a notebook's cells joined), or the final outcome when it is not migrated."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.code: Optional[str] = None
        self.flags = 0
        self.outcome: Optional[Outcome] = None
        self.skip = False
        self.ignores: Dict[int, Optional[FrozenSet[str]]] = {}
        self.locate = self.place = None
        self.notebook = self.joined = None
        if job.kind == "notebook":
            self._read_notebook()
        else:
            self._read(job.text)

    def _read(self, code: str) -> None:
        self.skip, self.ignores = directives(code)
        if self.skip:  # not migrated; read (see include) only when its program migrates another file
            self.outcome = Outcome(note="skip-file comment")
            return
        problem = python_rejects(self.job.display, code, self.flags)
        if problem is None:
            self.code = code
        else:
            self.outcome = Outcome(error=self.place(problem) if self.place else problem)

    def include(self) -> None:
        """A skip-file member, read for the analysis of its program when Python compiles it."""
        text = self.joined.code if self.joined is not None else self.job.text
        if self.skip and python_rejects(self.job.display, text, self.flags) is None:
            self.code = text

    def _read_notebook(self) -> None:
        import ast

        from est2tpu.cli import notebook

        job = self.job
        try:
            nb = self.notebook = notebook.parse(job.text)
        except notebook.NotebookError as e:
            self.outcome = Outcome(error=Problem(job.display, str(e)))
            return
        if not nb.python:
            self.outcome = Outcome(note="not a Python notebook")
            return
        joined = self.joined = notebook.join(nb)
        if not joined.cells or not may_use_estimator(joined.code):
            self.outcome = Outcome(note="no Estimator API")
            return
        size = len(joined.code.encode("utf-8", "surrogatepass"))
        if job.max_file_size and size > job.max_file_size * 1024:  # outputs (plots, tables) do not count
            self.outcome = Outcome(error=too_large(job.display, f"its code cells hold {size:,} bytes", job.max_file_size))
            return

        def place(problem: Problem) -> Problem:
            cell, line = joined.locate(problem.line or 1)
            col = joined.column(cell, problem.col) if cell else problem.col
            return Problem(job.display, problem.message, line, col, cell.index + 1 if cell else None)

        def locate(f) -> Diagnostic:
            cell, line = joined.locate(f.line)
            if cell is None:
                return Diagnostic(job.display, f.line, f.col, f.code, f.message, f.hint, None, 1, 1)
            col = joined.column(cell, f.col)
            file_line, file_col = notebook.file_position(nb, cell, line, col)
            return Diagnostic(job.display, line, col, f.code, f.message, f.hint, cell.index + 1,
                              file_line, file_col)

        self.place, self.locate, self.flags = place, locate, ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self._read(joined.code)

    @property
    def migrated(self) -> bool:
        """Whether the engine writes this member (else it is only read, or already done)."""
        return self.code is not None and not self.skip and self.job.write

    def source(self):
        from est2tpu.codemods.program import Source

        job = self.job
        style = job.format_mode if job.kind == "python" else "none"
        # --check only compares (a file with CRLF line ends, after _consistent_newlines).
        text = job.output_needed or job.kind != "python" or "\r" in self.code
        return Source(self.code, job.names, job.display, job.is_package, write=self.migrated,
                      style=style, black_config=job.black, where=self._where, text=text)

    def _where(self, line: int) -> str:
        """A line of the engine's code, as findings name it: in a notebook, ``cell N:L``."""
        if self.joined is None:
            return str(line)
        cell, in_cell = self.joined.locate(line)
        return f"cell {cell.index + 1}:{in_cell}" if cell else str(line)

    def finish(self, result) -> Outcome:
        """The outcome of the engine's result for this member."""
        job = self.job
        if result.error is not None:
            problem = _libcst_problem(job.display, result.error)
            return Outcome(error=self.place(problem) if self.place else problem)
        # Rewrites in a file written in place: where the engine put the new code (in a notebook,
        # positions are those of the cells as read).
        after = job.in_place and self.locate is None
        outcome = Outcome(diagnostics=_filter(job, self.code, result.findings, self.ignores, self.locate),
                          rewrites=_filter(job, *((result.code, result.rewritten) if after else (self.code, result.rewrites)),
                                           {}, self.locate))
        if result.code == self.code:
            return outcome
        if result.code is None:  # changed (see source)
            return Outcome(changed=True, diagnostics=outcome.diagnostics, rewrites=outcome.rewrites)
        broken = _unparsable_output(job, result.code, self.flags)
        if broken is not None:
            return broken
        if job.kind == "notebook":
            return self._finish_notebook(outcome, result.code)
        new = _consistent_newlines(job.text, result.code)
        if new == job.text:
            return outcome
        try:
            data = new.encode(job.encoding)
        except UnicodeEncodeError as e:
            return Outcome(error=Problem(
                job.display,
                f"internal error: the migrated code cannot be encoded as {job.encoding} ({e.reason}); "
                "file left untouched",
            ))
        diagnostics = relocate(outcome.diagnostics, job.text, new) if job.in_place else outcome.diagnostics
        return Outcome(changed=True, new_data=data if job.output_needed else None, diagnostics=diagnostics,
                       rewrites=outcome.rewrites)

    def _finish_notebook(self, outcome: Outcome, code: str) -> Outcome:
        from est2tpu.cli import notebook

        job = self.job
        try:
            sources = notebook.split(self.joined, code)
            new_text = notebook.splice(self.notebook, sources) if sources else job.text
        except notebook.NotebookError as e:
            return Outcome(error=Problem(job.display, f"internal error: {e}; file left untouched"))
        if new_text == job.text:
            return outcome
        return Outcome(changed=True, new_data=new_text.encode(job.encoding) if job.output_needed else None,
                       diagnostics=outcome.diagnostics, rewrites=outcome.rewrites)


def _migrate_job(job: ProgramJob) -> List[Outcome]:
    """Run the engine on the files of a program job: an outcome per member that is written."""
    members = [_Member(m) for m in job.members]
    if not any(m.migrated for m in members):
        return [m.outcome for m in members if m.job.write]
    load_engine()
    from est2tpu.codemods.base import Options
    from est2tpu.codemods.migrate import migrate_program

    for member in members:
        member.include()
    engine = [m for m in members if m.code is not None]
    first = job.members[0]
    results = migrate_program([m.source() for m in engine],
                              Options(target=first.target, iterations_per_loop=first.iterations_per_loop),
                              rewrites=any(m.rewrites for m in job.members))
    by_member = dict(zip(map(id, engine), results))
    outcomes = []
    for member in members:
        if not member.job.write:
            continue
        result = by_member.get(id(member))
        outcomes.append(member.outcome if result is None else member.finish(result))
    return outcomes


def process(job: ProgramJob) -> List[Outcome]:
    """Migrate the files of a program job: the outcomes of its written members, in order.
    Never raises: failures come back as ``Outcome.error`` (an internal error fails every
    file of the program).

    Python's cyclic garbage collector waits until the job is done: parsing allocates
    enough objects to start dozens of collections per file, each walking the live tree,
    and reference counting frees nearly all of it anyway.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _migrate_job(job)
    except RecursionError:
        return _failed(job, "internal error: code nested too deeply; file left untouched")
    except MemoryError:
        return _failed(job, "out of memory while migrating it; file left untouched")
    except Exception as e:  # a bug in a codemod must not stop the other files
        return _failed(job, f"internal error: {type(e).__name__}: {e}; file left untouched")
    finally:
        if collecting:
            gc.enable()
            gc.collect(0)  # the cycles this file left are all still in the youngest generation


def _failed(job: ProgramJob, message: str) -> List[Outcome]:
    return [Outcome(error=Problem(m.display, message)) for m in job.members if m.write]


def _start_worker(parent: int) -> None:  # pragma: no cover - runs in worker processes
    workers.exit_with_parent(parent)
    load_engine()


def _guarded(isolated: workers.Isolated, job: ProgramJob) -> List[Outcome]:
    """``job`` run by ``isolated``: a crash of its process fails only the files of this job."""
    try:
        return isolated(job)
    except workers.Crashed as e:
        return _failed(job, f"internal error: the process migrating this file {e}; file left untouched")


@dataclasses.dataclass
class Record:
    candidate: Candidate
    original: bytes = b""
    outcome: Outcome = dataclasses.field(default_factory=Outcome)
    written: bool = False
    notice: Optional[str] = None  # how it was written, when the user should know
    #: (cache key of its program, how many files it writes), when the run may record the
    #: program as clean.
    key: Optional[Tuple[str, int]] = None


def _prepare(candidate: Candidate, output_needed: bool, in_place: bool = False,
             grouped: bool = False, rewrites: bool = False, data: Optional[bytes] = None) -> Tuple[Record, Optional[Job]]:
    """Read (unless its bytes are given) and pre-filter one file: its record, and the job to
    run when it must be parsed (``grouped``: it is part of a program of several files, and
    parsed even without an Estimator API of its own; ``rewrites``: the rewrites made are
    reported too)."""
    record = Record(candidate)
    try:
        record.original = data if data is not None else read_bytes(candidate.path)
    except OSError as e:
        record.outcome = Outcome(error=Problem(candidate.display, f"cannot read: {e.strerror or e}"))
        return record, None
    python = candidate.kind == "python"
    # A Python file is filtered on its bytes, before decoding; a notebook's JSON may escape them.
    if not grouped and not may_use_estimator(record.original) and python:
        return _no_estimator_api(record)
    try:
        text, encoding = (decode_python if python else decode_notebook)(record.original)
    except DecodeError as e:
        record.outcome = Outcome(error=Problem(candidate.display, str(e), e.line, e.col))
        return record, None
    if not python and not may_use_estimator(text):
        return _no_estimator_api(record)
    s = candidate.settings
    if python and len(record.original) > s.max_file_size * 1024:  # a notebook's code is measured once read
        record.outcome = Outcome(error=too_large(candidate.display, f"{len(record.original):,} bytes", s.max_file_size))
        return record, None
    return record, Job(candidate.display, candidate.kind, text, encoding, s.target, s.iterations_per_loop,
                       s.select, s.ignore, s.format if output_needed else "none", s.black, output_needed,
                       in_place, rewrites, *_module(candidate.path, python), max_file_size=s.max_file_size)


def too_large(display: str, size: str, max_file_size: int) -> Problem:
    """The error of a file whose code (``size`` of it) is over ``max_file_size`` KiB."""
    return Problem(display, f"too large to migrate: {size}, over max-file-size ({max_file_size} KiB = "
                   f"{max_file_size * 1024:,} bytes); file left untouched")


def _module(path: str, python: bool) -> Tuple[Tuple[Tuple[str, str], ...], bool]:
    """(names, is_package) of the module at ``path`` (none for a notebook)."""
    from est2tpu.cli.program import module_names

    return (module_names(path), os.path.basename(path) == "__init__.py") if python else ((), False)


def _context_job(path: str, display: str, like: Job, data: Optional[bytes]) -> Optional[Job]:
    """The job of a module read only for the analysis of its program (None if unreadable)."""
    if data is None:
        return None
    try:
        text, encoding = decode_python(data)
    except DecodeError:
        return None
    names, is_package = _module(path, True)
    return dataclasses.replace(like, display=display, kind="python", text=text, encoding=encoding,
                               names=names, is_package=is_package, write=False, output_needed=False, rewrites=False)


def _no_estimator_api(record: Record) -> Tuple[Record, None]:
    record.outcome = Outcome(note="no Estimator API")
    record.original = b""  # only changed files need their bytes again
    return record, None


#: A unit of work: the records of a program's written files, its job (None when no file
#: needs parsing) and the records that receive its outcomes, in the order of its members.
Item = Tuple[List[Record], Optional[ProgramJob], List[Record]]


def _prepare_program(program, candidates: Dict[str, Candidate], known_plain: Set[str], cwd: str,
                     output_needed: bool, in_place: bool, rewrites: bool, cache=None) -> Item:
    """Read the files of one program (see :mod:`est2tpu.cli.program`); none of them is
    migrated when ``cache`` holds the program as left unchanged by an earlier run."""
    grouped = len(program.written) + len(program.read) > 1
    if not grouped and program.written[0] in known_plain:  # already read once: no Estimator API in it
        record, _ = _no_estimator_api(Record(candidates[program.written[0]]))
        return [record], None, []
    data = {path: _read_or_none(path) for path in (*program.written, *program.read)}
    key = _cache_key(cache, program, candidates, data) if cache is not None else None
    if key is not None:
        records = [Record(candidates[path]) for path in program.written]
        entry = cache.get(key)
        reported = _cached(entry, records) if entry is not None else None
        if reported is not None:
            for record in records:
                record.outcome = Outcome(diagnostics=reported[record.candidate.display], note=CACHED)
            return records, None, []
    records, members, receivers = [], [], []
    for path in program.written:
        record, job = _prepare(candidates[path], output_needed, in_place, grouped, rewrites, data[path])
        records.append(record)
        if job is not None:
            members.append(job)
            receivers.append(record)
    if members:
        for path in program.read:
            job = _context_job(path, display_path(path, cwd), members[0], data[path])
            if job is not None:
                members.append(job)
    if key is not None and members and len(receivers) == len(records):
        for record in receivers:
            record.key = (key, len(receivers))
    return records, (ProgramJob(members) if members else None), receivers


def _read_or_none(path: str) -> Optional[bytes]:
    try:
        return read_bytes(path)
    except OSError:
        return None  # reported when the file is prepared


def _cache_key(cache, program, candidates: Dict[str, Candidate], data: Dict[str, Optional[bytes]]) -> Optional[str]:
    """The cache key of a program whose files could all be read, else None."""
    if any(value is None for value in data.values()):
        return None
    first = candidates[program.written[0]]
    s = first.settings
    return cache.key((s.target, s.iterations_per_loop, s.max_file_size, s.select, s.ignore, s.format, s.black),
                     first.kind, list(data.items()))


CACHED = "unchanged since an earlier run (cache)"


def _cached(entry: str, records: List[Record]):
    """display -> diagnostics of a cache entry that names exactly these files, else None."""
    import json

    try:
        found = {display: [Diagnostic(**d) for d in ds] for display, ds in json.loads(entry).items()}
    except (ValueError, TypeError):
        return None
    return found if set(found) == {r.candidate.display for r in records} else None


def _cache_entry(records: List[Record]) -> str:
    import json

    return json.dumps({r.candidate.display: [dataclasses.asdict(d) for d in r.outcome.diagnostics] for r in records})


def run_jobs(pending: Iterable[Item], n_jobs: int) -> Iterator[Record]:
    """The records of ``pending`` in order, each with its job's outcome.

    Jobs run in a process pool once more than POOL_THRESHOLD files need parsing, else one
    at a time in a child process (:class:`workers.Isolated`); a job whose process dies
    fails alone.  Files are read as they are needed and at most a few jobs per worker are
    in flight, so memory stays flat however large the tree.
    """
    pending = iter(pending)
    head: List[Item] = []
    if n_jobs > 1:
        parsing = 0
        for item in pending:
            head.append(item)
            parsing += item[1] is not None
            if parsing > POOL_THRESHOLD:
                break
        else:
            n_jobs = 1
    items = itertools.chain(head, pending)
    isolated = workers.Isolated(process)
    if n_jobs == 1:
        try:
            for records, job, receivers in items:
                if job is not None:
                    _receive(receivers, _guarded(isolated, job))
                yield from records
        finally:
            isolated.close()
        return

    import concurrent.futures

    load_engine()  # imported once here, inherited by forked workers

    def new_pool(size: int):
        return concurrent.futures.ProcessPoolExecutor(size, mp_context=workers.context(),
                                                      initializer=_start_worker, initargs=(os.getpid(),))

    def submit(job: ProgramJob):
        nonlocal pool
        try:
            return pool.submit(process, job)
        except concurrent.futures.BrokenExecutor:  # a worker died: later files get a new pool
            pool.shutdown(wait=False)
            pool = new_pool(n_jobs)
            return pool.submit(process, job)

    limit = IN_FLIGHT_PER_WORKER * n_jobs
    window: Deque[Tuple[Item, Any]] = collections.deque()
    in_flight = 0
    pool = new_pool(n_jobs)
    try:
        for item in itertools.chain(items, [None]):
            if item is not None:
                window.append((item, submit(item[1]) if item[1] is not None else None))
                in_flight += item[1] is not None
            while window and (window[0][1] is None or in_flight > limit or item is None):
                (records, job, receivers), future = window.popleft()
                if future is not None:
                    in_flight -= 1
                    try:
                        _receive(receivers, future.result())
                    except concurrent.futures.BrokenExecutor:  # run again alone: only the culprit fails
                        _receive(receivers, _guarded(isolated, job))
                yield from records
    finally:
        pool.shutdown()
        isolated.close()


def _receive(records: List[Record], outcomes: List[Outcome]) -> None:
    for record, outcome in zip(records, outcomes):
        record.outcome = outcome


# --------------------------------------------------------------------------- migrate


def _overrides(args: argparse.Namespace) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if args.target:
        out["target"] = args.target
    if args.iterations_per_loop:
        out["iterations_per_loop"] = args.iterations_per_loop
    if args.max_file_size:
        out["max_file_size"] = args.max_file_size
    if args.format_mode:
        out["format"] = args.format_mode
    for key in ("select", "ignore", "exclude", "extend_exclude"):
        value = _flatten(getattr(args, key))
        if value is not None:
            out[key] = value
    return out


def _programs(found, paths: Sequence[str], cwd: str, output_needed: bool, in_place: bool,
              rewrites: bool, cache=None) -> Iterator[Item]:
    """The work of a run: its files grouped into programs (see :mod:`est2tpu.cli.program`),
    each read as its turn comes."""
    from est2tpu.cli.program import group, imports

    candidates = {c.path: c for c in found.files}
    plain: Set[str] = set()  # Python files read once already, with no Estimator API

    def scan(path: str):
        candidate = candidates.get(path)
        if (candidate is not None and candidate.kind != "python") or not path.endswith(".py"):
            return None
        try:
            data = read_bytes(path)
        except OSError:
            return None  # reported when the file is read for its job
        if not may_use_estimator(data):
            plain.add(path)
            return None
        return imports(data)

    alone = [os.path.realpath(p) for p in paths if os.path.isfile(p)]
    for program in group([c.path for c in found.files], scan, alone):
        yield _prepare_program(program, candidates, plain, cwd, output_needed, in_place, rewrites, cache)


def _in_order(records: Iterable[Record], files: Sequence[Candidate]) -> Iterator[Record]:
    """``records`` in the order of ``files`` (a program's files come together; the files
    between them wait)."""
    position = {id(c): i for i, c in enumerate(files)}
    waiting: Dict[int, Record] = {}
    next_up = 0
    for record in records:
        waiting[position[id(record.candidate)]] = record
        while next_up in waiting:
            yield waiting.pop(next_up)
            next_up += 1
    yield from (waiting[i] for i in sorted(waiting))


def _write(record: Record, renamed: Set[str]) -> None:
    """Write a migrated file (``renamed`` collects its directory); a failure becomes the
    record's error."""
    try:
        record.notice = replace_file(record.candidate.path, record.outcome.new_data, record.original, renamed)
        record.written = True
    except NotReplaced as e:
        record.outcome = Outcome(error=Problem(record.candidate.display, str(e)))
    except OSError as e:
        record.outcome = Outcome(error=Problem(record.candidate.display,
                                               f"cannot write: {e.strerror or e}; file left untouched"))


def _rules(results: Sequence[FileResult]) -> Dict[str, Any]:
    """The registry of rules, when some result needs their documentation (the engine, and
    so LibCST, is imported then already)."""
    if not any(r.findings or r.rewrites for r in results):
        return {}
    load_engine()  # registers every rule
    from est2tpu.codemods.base import RULES

    return dict(RULES)


def cmd_migrate(args: argparse.Namespace) -> int:
    stdout, stderr = sys.stdout, sys.stderr
    cwd = os.getcwd()
    # A json/sarif document on stderr (--diff, whose stdout is the patch) is all stderr holds:
    # its errors and counts are in it.
    document_on_stderr = args.output_format in ("json", "sarif") and args.diff and not args.output_file
    if document_on_stderr and args.statistics:
        _write_text(stderr, "est2tpu migrate: error: --statistics prints on stderr, where --diff puts the "
                            f"{args.output_format} report: write the report with --output-file PATH\n")
        return 2
    try:
        resolver = Resolver(_overrides(args), args.config, cwd)
        found = Finder(resolver, force_exclude=args.force_exclude,
                       respect_gitignore=args.respect_gitignore, cwd=cwd).find(args.paths)
    except ConfigError as e:
        _write_text(stderr, f"est2tpu: error: {e}\n")
        return 2
    with contextlib.ExitStack() as files:
        try:  # before any file is migrated: a path that cannot be written is a usage error
            output = files.enter_context(open(args.output_file, "w", encoding="utf-8")) if args.output_file else None
            report_file = files.enter_context(open(args.report, "w", encoding="utf-8")) if args.report else None
        except OSError as e:
            _write_text(stderr, f"est2tpu: error: cannot write {e.filename}: {e.strerror or e}\n")
            return 2
        return _migrate(args, found, cwd, output or (stderr if args.diff else stdout), report_file,
                        notes_shown=not document_on_stderr)


def _migrate(args: argparse.Namespace, found, cwd: str, findings_out, report_file, notes_shown: bool) -> int:
    """Migrate the files ``found``; findings go to ``findings_out``, the report (if asked
    for) to ``report_file``, and unless not ``notes_shown`` errors and the summary to stderr."""
    stdout, stderr = sys.stdout, sys.stderr
    write = not (args.diff or args.check)
    # --check alone only asks whether a file changes: no layout, no re-parse of the output.
    output_needed = not (args.check and not args.diff)
    color = args.diff and _use_color(args.color, stdout)
    # text and github findings are printed file by file; json, sarif, the report and the
    # statistics need them all.
    streamed = args.output_format in ("text", "github")
    keep = not streamed or report_file is not None or args.statistics
    rewrites = args.output_format != "text" or keep
    results: List[FileResult] = []
    states: List[str] = []  # --verbose
    notices: List[str] = []
    renamed: Set[str] = set()  # directories of the files replaced, flushed once at the end
    summary = Summary(problems=list(found.problems))
    progress = Progress(len(found.files), stderr)
    cache = for_run(args.paths, cwd) if args.cache else None
    unchanged: Dict[str, Optional[List[Record]]] = {}  # cache key -> files of its program seen (None: one changed)
    try:
        programs = _programs(found, args.paths, cwd, output_needed, write, rewrites, cache)
        for record in _in_order(run_jobs(programs, args.jobs or _cpu_count()), found.files):
            progress.advance()
            outcome = record.outcome
            if write and outcome.new_data is not None and not outcome.error:
                _write(record, renamed)
                outcome = record.outcome
            if record.key is not None:  # a program whose files all come back unchanged: cached
                seen = unchanged.setdefault(record.key[0], [])
                if not (outcome.error or outcome.changed) and seen is not None:
                    seen.append(record)
                    if len(seen) == record.key[1]:
                        cache.add(record.key[0], _cache_entry(seen))
                else:
                    unchanged[record.key[0]] = None
            display = record.candidate.display
            if outcome.error:
                summary.problems.append(outcome.error)
                if keep:
                    results.append(FileResult(display, "failed", error=outcome.error))
                continue
            if record.notice:
                notices.append(f"{display}: note: {record.notice}")
            if outcome.changed:
                summary.changed.append(display)
            else:
                summary.unchanged += 1
            found_here = sorted(outcome.diagnostics, key=lambda d: (d.cell or 0, d.line, d.col, d.code))
            summary.findings += len(found_here)
            summary.blocking += sum(d.blocking for d in found_here)
            summary.rewrites += len(outcome.rewrites)
            status = ("migrated" if write else "would be migrated") if outcome.changed else "unchanged"
            result = FileResult(display, status, found_here, outcome.rewrites)
            if keep and (found_here or outcome.changed):
                results.append(result)
            if streamed and (found_here or outcome.rewrites):
                progress.close()
                _write_text(findings_out, render(args.output_format, [result], [], summary, {}, cwd))
            if outcome.changed and args.diff:
                progress.close()
                diff = unified_diff(record.original, outcome.new_data, display)
                _write_bytes(stdout, colorize(diff) if color else diff)
            if args.verbose:
                state = ("migrated" if record.written else "would migrate") if outcome.changed else "unchanged"
                states.append(f"{display}: {state}" + (f" ({outcome.note})" if outcome.note else ""))
    except KeyboardInterrupt:
        progress.close()
        written = summary.changed if write else []
        _write_text(stderr, f"est2tpu: interrupted; {len(written)} file{'' if len(written) == 1 else 's'} "
                            "already migrated in place" + "".join(f"\n  {display}" for display in written) + "\n")
        return 130
    finally:
        progress.close()
        sync_directories(renamed)
    summary.problems.sort(key=lambda p: p.display)

    rules = _rules(results)
    # problems: in the json/sarif/github output; text prints them to stderr below.
    _write_text(findings_out, render(args.output_format, [] if streamed else results, summary.problems,
                                     summary, rules, cwd))
    if report_file is not None:
        from est2tpu.cli.review import report

        mode = "--diff" if args.diff else "--check" if args.check else "in place"
        _write_text(report_file, report(args.report, results, summary, rules, mode))

    notes: List[str] = [problem.format() for problem in summary.problems] if notes_shown else []
    if args.statistics:
        from est2tpu.cli.review import statistics

        notes.extend(statistics(results, rules).splitlines())
    if notes_shown and not args.quiet:
        notes.extend(notices)
        if args.check and not args.diff:
            notes.extend(f"would migrate {display}" for display in summary.changed)
        if args.verbose:
            notes.extend(f"{shown}: skipped ({reason})" for shown, reason in found.skipped)
            notes.extend(states)
        notes.append(summary.line(would=not write))
    _write_text(stderr, "".join(n + "\n" for n in notes))

    if summary.problems:
        return 2
    code = 0 if args.exit_zero else (1 if summary.blocking else 0) if write else (
        1 if summary.changed or summary.findings else 0)
    if cache is not None and not write and not summary.changed:
        replay.save(cache.directory, code)  # a run that changes nothing, replayed when repeated
    return code


# --------------------------------------------------------------------------- rules


#: What each kind of rule means, for `est2tpu rules CODE`.
KIND_NOTES = {
    "rewrite": "A rewrite: est2tpu makes this change.",
    "review": "A review note: reported with the rewrite it is about; check it once.",
    "blocking": "Blocking: the code still cannot run on a TPU. Reported until fixed or silenced with "
                "`# est2tpu: ignore[CODE]`; `est2tpu migrate` exits 1 while one is left.",
}


def cmd_rules(args: argparse.Namespace) -> int:
    import json

    load_engine()  # registers every rule
    import est2tpu.verify.rules  # noqa: F401  and verify's (no TensorFlow)

    from est2tpu.codemods.base import RULES

    codes = sorted(RULES)
    if args.code:
        wanted = args.code.strip()
        exact = [c for c in codes if c.upper() == wanted.upper()]
        codes = exact or [c for c in codes if c.upper().startswith(wanted.upper())]
        if not codes:
            _write_text(sys.stderr, f"est2tpu: error: unknown rule {wanted!r}; `est2tpu rules` lists them\n")
            return 2
    if args.output_format == "json":
        doc = [{**dataclasses.asdict(RULES[c]), "kind": RULES[c].kind} for c in codes]
        _write_text(sys.stdout, json.dumps(doc, indent=2) + "\n")
        return 0
    if args.code and len(codes) == 1:
        rule = RULES[codes[0]]
        parts = [f"{rule.code}: {rule.title}\n", f"\n{KIND_NOTES[rule.kind]}\n", f"\n{rule.explanation}\n"]
        if rule.before:
            parts.append("\nBefore:\n\n" + "".join(f"    {line}\n" for line in rule.before.splitlines()))
        if rule.after:
            parts.append("\nAfter:\n\n" + "".join(f"    {line}\n" for line in rule.after.splitlines()))
        _write_text(sys.stdout, "".join(parts))
        return 0
    width = max((len(c) for c in codes), default=0)
    _write_text(sys.stdout, "".join(f"{c.ljust(width)}  {RULES[c].kind:8}  {RULES[c].title}\n" for c in codes))
    return 0


# --------------------------------------------------------------------------- entry point


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Python compiles expressions nested about 3,000 deep; LibCST and the codemods recurse
    # a few frames per level (tested up to that depth).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "verify":
            return verify_cli.cmd_verify(args)
        return cmd_migrate(args)
    except KeyboardInterrupt:
        sys.stderr.write("est2tpu: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `est2tpu migrate --diff . | head`): stop quietly.
        _discard_stdout()
        return 1
    except OutputError as e:  # e.g. a full disk: what was written is incomplete
        _discard_stdout()
        with contextlib.suppress(OSError):
            sys.stderr.write(f"est2tpu: error: cannot write the output: {e}; stopped, the output is incomplete\n")
        return 2
