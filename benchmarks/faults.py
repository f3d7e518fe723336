"""Bad inputs and faults: est2tpu loses no file and leaves nothing behind.

    python benchmarks/faults.py            # everything (about two minutes)
    python benchmarks/faults.py --quick    # fewer random moments
    python benchmarks/faults.py --seed 7   # other random moments

Every case runs ``est2tpu migrate`` (a subprocess) on a tree in a temporary directory
while a fault happens, then checks every file: a file is *lost* when it holds neither
its old bytes nor its migration as a clean run writes it (or has gone), an *edit is
lost* when a file that an editor changed during the run holds neither the editor's
last version nor its migration.  Also counted: temporary files left
(``*.est2tpu-tmp``: only ``kill -9`` may leave one, and never a lost file), processes
left once est2tpu has gone, and cases whose exit code or message is not the one
promised.

Groups: bad inputs next to a good file (-j1 and -j2); the output on a full disk
(/dev/full, and a small tmpfs when one can be mounted: root); the files on a full disk
(tmpfs); kill -9 of est2tpu at random moments; SIGTERM/SIGHUP/SIGINT at random moments;
a file that makes LibCST abort under a memory cap; two runs at once on one tree; an
editor saving files during the run; what replacing a file must keep (another user's
file, hard links, extended attributes, 255-byte names).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SUFFIX = ".est2tpu-tmp"
#: In-place runs of the fault groups skip black: it is not what they test, and costs 4x.
FAST = ("--format", "none")
SPEC = """\
import tensorflow as tf


def model_fn(features, labels, mode, params):
    loss = tf.reduce_sum(features)
    train_op = tf.compat.v1.train.get_global_step()
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
"""


class Tally:
    """One row per group: cases, files lost, edits lost, temporary files left, processes
    left, wrong exit codes or messages, and the seconds it took."""

    HEAD = ("group", "cases", "files lost", "edits lost", "temporary files left", "processes left",
            "wrong exit/message", "s")

    def __init__(self) -> None:
        self.groups: List[List] = []
        self.started = time.monotonic()

    def group(self, name: str) -> List:
        self._close()
        row = [name, 0, 0, 0, 0, 0, 0, time.monotonic()]
        self.groups.append(row)
        return row

    def _close(self) -> None:
        if self.groups and isinstance(self.groups[-1][7], float):
            self.groups[-1][7] = round(time.monotonic() - self.groups[-1][7])

    def totals(self) -> List[int]:
        return [sum(r[i] for r in self.groups) for i in range(1, 8)]

    def print(self) -> None:
        self._close()
        rows = [*self.groups, ["total", *self.totals()]]
        widths = [max(len(str(r[i])) for r in [self.HEAD, *rows]) for i in range(8)]
        for r in [self.HEAD, *rows]:
            print("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths))))


class Started:
    """``est2tpu ARGS``, started in a session of its own with its output in files: a process
    it leaves behind would hold a pipe open, and is found by its session."""

    def __init__(self, *args: str, cwd: Path, prefix=(), stdout=None, **kwargs) -> None:
        self.err = tempfile.TemporaryFile()
        self.captured = stdout is None
        self.out = tempfile.TemporaryFile() if self.captured else stdout
        self.proc = subprocess.Popen([*prefix, sys.executable, "-m", "est2tpu", *args], cwd=cwd, stdout=self.out,
                                     stderr=self.err, start_new_session=True, **kwargs)

    def finish(self, row: Optional[List] = None) -> subprocess.CompletedProcess:
        """Wait for it; count the processes of its session still alive after it (``row[5]``)."""
        try:
            self.proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        left = left_in_session(self.proc.pid)
        if row is not None:
            row[5] += left
        out = self._read(self.out) if self.captured else b""
        err = self._read(self.err).decode("utf-8", "replace")
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)

    @staticmethod
    def _read(file) -> bytes:
        file.seek(0)
        data = file.read()
        file.close()
        return data


def run(*args: str, row: Optional[List] = None, **kwargs) -> subprocess.CompletedProcess:
    return Started(*args, **kwargs).finish(row)


def left_in_session(session: int, wait: float = 5.0) -> int:
    """How many processes of ``session`` are still alive ``wait`` s from now (they are killed)."""
    def members() -> List[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[3]) == session and fields[0] != "Z":
                        found.append(int(entry.name))
        return found

    deadline = time.monotonic() + wait
    while members() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = members()
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return len(left)


def snapshot(root: Path) -> Dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and not p.name.endswith(SUFFIX)}


def temporaries(root: Path) -> List[Path]:
    return [p for p in root.rglob(f"*{SUFFIX}")]


def lost(before: Dict[str, bytes], after: Dict[str, bytes], migrated: Dict[str, bytes]) -> int:
    return sum(after.get(name) not in (data, migrated.get(name, data)) for name, data in before.items())


def tree(root: Path, copies: int) -> None:
    root.mkdir(parents=True)
    for i in range(copies):
        for path in FIXTURES.glob("*.py"):
            shutil.copy(path, root / f"{path.stem}_{i}.py")


def reference(root: Path, workdir: Path) -> Dict[str, bytes]:
    """What a clean in-place run writes for the tree at ``root``."""
    clean = workdir / f"reference-{root.name}"
    shutil.copytree(root, clean)
    run("migrate", "-q", *FAST, ".", cwd=clean)
    out = snapshot(clean)
    shutil.rmtree(clean)
    return out


# --------------------------------------------------------------------------- groups


def bad_inputs(tally: Tally, work: Path) -> None:
    row = tally.group("bad inputs next to a good file")
    nb = lambda *source: json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},  # noqa: E731
                                                "outputs": [], "source": list(source)}],
                                     "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    failing = {
        "py2_print.py": SPEC + 'print "x"\n', "py2_except.py": SPEC + "try:\n    pass\nexcept E, e:\n    pass\n",
        "null_byte.py": SPEC + "x = 1\0\n", "undecodable.py": SPEC.encode() + b"# \xff\n",
        "bad_cookie.py": "# -*- coding: nonsense -*-\n" + SPEC, "syntax.py": SPEC + "def (:\n",
        "parens_5000.py": SPEC + "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
        "unary_20000.py": SPEC + "x = " + "-" * 20000 + "1\n",
        "tabs_and_spaces.py": SPEC + "if x:\n\tpass\n        pass\n",
        "huge_estimator.py": SPEC + "x = 1\n" * 900_000,
        "json.ipynb": '{"cells": [ estimator', "not_a_notebook.ipynb": '{"estimator": 1}',
        "surrogate.ipynb": nb("import tensorflow as tf\n", "x = '\ud800'\n", "tf.estimator.Estimator(f)\n"),
        "future_below_code.ipynb": nb("import tensorflow as tf\n", "x = 1\n", "from __future__ import division\n",
                                      "tf.estimator.Estimator(f)\n"),
    }
    valid = {
        "empty.py": "", "comments.py": "# estimator\n", "crlf.py": SPEC.replace("\n", "\r\n"),
        "cr.py": SPEC.replace("\n", "\r"), "form_feed.py": SPEC.replace("    loss", "\f    loss"),
        "bom.py": b"\xef\xbb\xbf" + SPEC.encode(), "latin1.py": "# -*- coding: latin-1 -*-\n# caf\xe9\n" + SPEC,
        "huge_plain.py": "x = 1\n" * 900_000, "no_newline.py": SPEC.rstrip("\n"),
        "magics.ipynb": nb("!pip install -q tensorflow \\\n", "    numpy\n", "%matplotlib inline\n",
                           "import tensorflow as tf\n", "est = tf.estimator.Estimator(f)\n"),
        "colab.ipynb": nb("import tensorflow as tf\n", "x = 1 < 2 & 3 > 2\n",
                          "est = tf.estimator.Estimator(f)\n").replace("<", "\\u003c").replace(">", "\\u003e")
                                                                       .replace("&", "\\u0026"),
    }
    inputs = {**failing, **valid}
    # -j1: each input alone next to good.py; -j2: all of them at once, with good files, in the pool.
    for jobs, groups in (("1", [[name] for name in inputs]), ("2", [list(inputs)])):
        for names in groups:
            root = work / f"bad-{jobs}-{len(names)}-{names[0]}"
            root.mkdir()
            goods = {f"good{i}.py": SPEC for i in range(1 if jobs == "1" else 6)}
            for file, content in {**{n: inputs[n] for n in names}, **goods}.items():
                data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
                (root / file).write_bytes(data)
            before = snapshot(root)
            result = run("migrate", "-j", jobs, ".", cwd=root, row=row)
            after = snapshot(root)
            errors = [line for line in result.stderr.splitlines() if ": error: " in line]
            row[1] += len(names)
            row[2] += sum(after[f] == before[f] or b"TPUEstimatorSpec" not in after[f] for f in goods)
            row[2] += sum(after[n] != before[n] for n in names if n in failing)
            row[2] += sum(_broken(n, after[n]) for n in names if n in valid)
            row[4] += len(temporaries(root))
            wrong = [n for n in names if (n in failing) != any(line.startswith(n + ":") for line in errors)]
            if len(errors) != sum(n in failing for n in names) or result.returncode != (2 if errors else 0) \
                    or "Traceback" in result.stderr:
                wrong.append(f"exit {result.returncode}")
            row[6] += len(wrong)
            if wrong:
                print(f"  bad inputs, -j{jobs}: wrong for {wrong}: {result.stderr[-400:]}")
            shutil.rmtree(root)


def _broken(name: str, data: bytes) -> bool:
    """Whether a migrated valid file is no longer valid Python or JSON."""
    try:
        if name.endswith(".ipynb"):
            json.loads(data)
        else:
            compile(data, name, "exec")
        return False
    except (SyntaxError, ValueError):
        return True


def output_on_a_full_disk(tally: Tally, work: Path, tmpfs: Optional[Callable]) -> None:
    row = tally.group("output on a full disk")
    root = work / "output"
    tree(root, 3)  # its findings alone fill more than the 4 KiB tmpfs
    before = snapshot(root)
    targets = []
    if os.path.exists("/dev/full"):
        targets.append(("/dev/full", None))
    if tmpfs is not None:
        targets.append(("tmpfs", tmpfs))
    for mode in (["--diff"], ["--check"], ["--check", "--output-format", "json"], ["--diff", "-j", "2"]):
        for target, mount in targets:
            with (mount(4096) if mount else contextlib.nullcontext(None)) as place:
                path = Path(place) / "out.patch" if place else Path(target)
                with open(path, "wb") as out:
                    result = run("migrate", *mode, ".", cwd=root, stdout=out, row=row)
            row[1] += 1
            row[2] += lost(before, snapshot(root), {})
            if result.returncode != 2 or "cannot write the output" not in result.stderr or "Traceback" in result.stderr:
                row[6] += 1
                print(f"  output {' '.join(mode)} on {target}: exit {result.returncode}: {result.stderr[-300:]}")
    shutil.rmtree(root)


def files_on_a_full_disk(tally: Tally, work: Path, tmpfs: Optional[Callable]) -> None:
    row = tally.group("files on a full disk (tmpfs)")
    if tmpfs is None:
        print("  (skipped: no tmpfs can be mounted here)")
        return
    source = work / "full-source"
    tree(source, 1)
    migrated = reference(source, work)
    size = sum(len(d) for d in snapshot(source).values())
    for spare in (0, 2_000, 8_000, 20_000, 40_000, 80_000):
        with tmpfs(size + spare + 64 * 1024) as place:
            root = Path(place) / "t"
            shutil.copytree(source, root)
            filler = Path(place) / "filler"
            with open(filler, "wb") as f:  # leave `spare` bytes free
                with contextlib.suppress(OSError):
                    f.write(b"\0" * max(shutil.disk_usage(place).free - spare, 0))
            before = snapshot(root)
            result = run("migrate", *FAST, "-j", "2", ".", cwd=root, row=row)
            after = snapshot(root)
            row[1] += 1
            row[2] += lost(before, after, migrated)
            row[4] += len(temporaries(root))
            row[6] += result.returncode not in (0, 2) or "Traceback" in result.stderr
    shutil.rmtree(source)


def killed(tally: Tally, work: Path, source: Path, migrated: Dict[str, bytes], rng: random.Random, moments: int,
           how: signal.Signals) -> None:
    """``how`` sent to est2tpu at a random moment of an in-place run over ``source``."""
    row = tally.group("kill -9 at random moments" if how == signal.SIGKILL else f"{how.name} at random moments")
    start = time.monotonic()
    run("migrate", "--check", *FAST, ".", cwd=source)
    duration = time.monotonic() - start
    for i in range(moments):
        jobs = ("1", "2")[i % 2]
        root = work / f"kill-{how.name}-{i}"
        shutil.copytree(source, root)
        before = snapshot(root)
        started = Started("migrate", *FAST, "-j", jobs, ".", cwd=root, stdout=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration))  # while it runs, mostly
        started.proc.send_signal(how)
        code = started.finish(row).returncode
        row[1] += 1
        row[2] += lost(before, snapshot(root), migrated)
        left = temporaries(root)
        row[4] += len(left) if how != signal.SIGKILL else 0
        if how == signal.SIGKILL and left:
            print(f"  kill -9 left {len(left)} temporary file(s) (allowed; no file lost)")
        row[6] += code not in (0, -how, 130)
        shutil.rmtree(root)


def memory_cap(tally: Tally, work: Path) -> None:
    row = tally.group("LibCST aborts under a memory cap")
    root = work / "cap"
    root.mkdir()
    (root / "big.py").write_text(SPEC + "".join(f"x{i} = [{i}, {i + 1}, {i + 2}]\n" for i in range(20000)))
    for i in range(6):
        (root / f"good{i}.py").write_text(SPEC)
    before = snapshot(root)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20))

    for jobs in ("1", "2"):
        result = run("migrate", "--max-file-size", "8192", "-j", jobs, ".", cwd=root, preexec_fn=cap, row=row)
        after = snapshot(root)
        row[1] += 1
        row[2] += after["big.py"] != before["big.py"]
        row[6] += result.returncode != 2 or "6 files migrated, 0 unchanged, 1 failed" not in result.stderr \
            or any(b"TPUEstimatorSpec" not in after[f"good{i}.py"] for i in range(6))  # the run went on
        if result.returncode != 2:
            print(f"  memory cap, -j{jobs}: exit {result.returncode}")
        for name, data in before.items():
            (root / name).write_bytes(data)
    shutil.rmtree(root)


def concurrent_runs(tally: Tally, work: Path, rounds: int) -> None:
    row = tally.group("two runs at once on one tree")
    source = work / "concurrent-source"
    tree(source, 2)
    migrated = reference(source, work)
    for i in range(rounds):
        root = work / f"concurrent-{i}"
        shutil.copytree(source, root)
        before = snapshot(root)
        runs = [Started("migrate", *FAST, "-j", "2", ".", cwd=root) for _ in range(2)]
        codes = [started.finish(row).returncode for started in runs]
        after = snapshot(root)
        row[1] += 1
        row[2] += lost(before, after, migrated)
        row[4] += len(temporaries(root))
        row[6] += any(c not in (0, 2) for c in codes) or after != migrated  # the other run migrated it
        shutil.rmtree(root)
    shutil.rmtree(source)


def editor_during_the_run(tally: Tally, work: Path, rng: random.Random, rounds: int) -> None:
    """An editor saves files (in place, or by writing a copy and renaming it) while est2tpu
    migrates them; its last version of each file must survive, migrated or not."""
    sys.path.insert(0, str(ROOT))
    from est2tpu.codemods.migrate import migrate_code

    row = tally.group("an editor saving files during the run")
    names = [f"m{i}.py" for i in range(12)]
    for r in range(rounds):
        root = work / f"editor-{r}"
        root.mkdir()
        last: Dict[str, str] = {}
        for name in names:
            last[name] = SPEC
            (root / name).write_text(SPEC)
        stop = threading.Event()

        def edit() -> None:
            k = 0
            while not stop.is_set():
                name = rng.choice(names)
                k += 1
                text = SPEC + f"# edit {k}\n"
                if k % 2:
                    (root / name).write_text(text)
                else:
                    (root / f".{name}.swp").write_text(text)
                    os.replace(root / f".{name}.swp", root / name)
                last[name] = text
                time.sleep(rng.uniform(0, 0.01))

        editor = threading.Thread(target=edit)
        editor.start()
        result = run("migrate", *FAST, "-j", ("1", "2")[r % 2], ".", cwd=root, row=row)
        stop.set()
        editor.join()
        for name in names:
            now = (root / name).read_text()
            row[1] += 1
            row[3] += now not in (last[name], migrate_code(last[name], style="none").code)
        row[4] += len(temporaries(root))
        row[6] += result.returncode not in (0, 2) or "Traceback" in result.stderr
        shutil.rmtree(root)


def what_is_kept(tally: Tally, work: Path) -> None:
    row = tally.group("replacing: owner, links, attributes, names")
    cases = []
    root = work / "kept"
    root.mkdir()
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv:  # root without CAP_CHOWN cannot give a file to another user
        (root / "theirs.py").write_text(SPEC)
        os.chown(root / "theirs.py", 4242, 4242)
        without_chown = [setpriv, "--bounding-set=-chown", "--inh-caps=-chown", "--"]
        cases.append(("another user's file is refused", root, "theirs.py", without_chown, 2,
                      lambda p: p.stat().st_uid == 4242 and p.read_text() == SPEC))
    (root / "linked.py").write_text(SPEC)
    os.link(root / "linked.py", root / "linked_too.py")
    cases.append(("a hard-linked file is written through its links", root, "linked.py", None, 0,
                  lambda p: (root / "linked_too.py").read_text() == p.read_text() != SPEC))
    (root / "attributes.py").write_text(SPEC)
    with contextlib.suppress(OSError):
        os.setxattr(root / "attributes.py", "user.origin", b"kept")
        cases.append(("extended attributes are kept", root, "attributes.py", None, 0,
                      lambda p: os.getxattr(p, "user.origin") == b"kept" and p.read_text() != SPEC))
    long_name = "m" * 252 + ".py"
    (root / long_name).write_text(SPEC)
    cases.append(("a 255-byte name is migrated in place", root, long_name, None, 0,
                  lambda p: p.read_text() != SPEC))
    for what, where, name, prefix, code, check in cases:
        result = run("migrate", name, cwd=where, prefix=prefix or (), row=row)
        row[1] += 1
        row[2] += not (where / name).exists()
        row[4] += len(temporaries(where))
        try:
            kept = check(where / name)
        except OSError:
            kept = False
        if result.returncode != code or not kept:
            row[6] += 1
            print(f"  {what}: not so (exit {result.returncode}): {result.stderr[-200:]}")
    shutil.rmtree(root)


# --------------------------------------------------------------------------- main


def tmpfs_mounter(work: Path) -> Optional[Callable]:
    """A context manager mounting a tmpfs of N bytes (root only), or None."""

    @contextlib.contextmanager
    def mount(size: int):
        place = Path(tempfile.mkdtemp(dir=work))
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(place)], check=True,
                       capture_output=True)
        try:
            yield place
        finally:
            subprocess.run(["umount", str(place)], check=True)
            place.rmdir()

    try:
        with mount(4096):
            return mount
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer random moments")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    moments = 6 if args.quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tmpfs = tmpfs_mounter(work)
        tally = Tally()
        bad_inputs(tally, work)
        output_on_a_full_disk(tally, work, tmpfs)
        files_on_a_full_disk(tally, work, tmpfs)
        source = work / "kill-source"
        tree(source, 3)
        migrated = reference(source, work)
        killed(tally, work, source, migrated, rng, moments, signal.SIGKILL)
        for how in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            killed(tally, work, source, migrated, rng, moments // 2, how)
        memory_cap(tally, work)
        concurrent_runs(tally, work, 2 if args.quick else 5)
        editor_during_the_run(tally, work, rng, 2 if args.quick else 6)
        what_is_kept(tally, work)
    tally.print()
    return 1 if any(tally.totals()[1:6]) else 0


if __name__ == "__main__":
    sys.exit(main())
