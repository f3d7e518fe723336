"""How fast est2tpu is, against references measured in the same run.

    python benchmarks/cli_speed.py            # everything (several minutes)
    python benchmarks/cli_speed.py --quick    # smaller trees, fewer repeats

Prints, for each figure, what it is compared with and the ratio:

* one file: the whole command on one file, beside the interpreter alone and the
  imports of LibCST and black (what an Estimator file needs);
* sparse tree (the CPython standard library): ``est2tpu migrate --check`` against a
  minimal script that reads every file and searches it for "estimator" (interpreter
  start-up included in both);
* dense tree (the fixtures replicated): files/s of ``est2tpu migrate --check``,
  ``--diff`` and in place, with one job and all cores, against
  ``tf_upgrade_v2 --intree`` (when installed) and against a command that only parses
  and regenerates every file with LibCST on all cores (the ceiling of any LibCST tool);
  the engine against LibCST parse + code generation alone (the floor); name
  resolution against the parse;
* peak memory of ``est2tpu migrate --check -j1`` as the dense tree grows.
"""

from __future__ import annotations

import argparse
import compileall
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
BIN = pathlib.Path(sys.executable).parent
GREP = """
import os, sys
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if d not in ("site-packages", "__pycache__")]
    for name in files:
        if name.endswith(".py"):
            with open(os.path.join(root, name), "rb") as f:
                n += b"estimator" in f.read().lower()
print(n)
"""
#: LibCST parse + code generation of every file of a tree on N processes, and nothing
#: else: what any LibCST-based tool costs at least, start-up included.
FLOOR = """
import multiprocessing, os, sys
import libcst
def one(path):
    with open(path, encoding="utf-8") as f:
        return len(libcst.parse_module(f.read()).code)
paths = [os.path.join(r, n) for r, _, names in os.walk(sys.argv[1]) for n in names if n.endswith(".py")]
with multiprocessing.get_context("fork").Pool(int(sys.argv[2])) as pool:
    print(sum(pool.imap_unordered(one, paths, chunksize=4)))
"""


def best_interleaved(repeats: int, commands, before=lambda: None, cpu=None):
    """Best time of each command, the commands taking turns: a machine whose speed drifts
    then drifts for all of them alike.  ``cpu``, a dict, receives the least CPU time
    (user + system, all processes) of each: what a command costs, however busy the
    machine (a parallel run costs more CPU than it takes time)."""
    times = {name: [] for name in commands}
    used = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            before()
            start, counted = time.perf_counter(), os.times()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
            after = os.times()
            used[name].append(after.children_user + after.children_system
                              - counted.children_user - counted.children_system)
    if cpu is not None:
        cpu.update((name, min(t)) for name, t in used.items())
    return {name: min(t) for name, t in times.items()}


def peak_rss_mib(command) -> float:
    """Peak resident memory of a command (its largest process), in MiB."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
             "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def read_by_reference(path: pathlib.Path) -> bool:
    """Whether tf_upgrade_v2's parser (pasta) reads a file: on one it cannot (a ``match``
    statement), tf_upgrade_v2 stops the whole tree with a traceback."""
    try:
        import pasta
    except ImportError:  # no reference to compare with
        return True
    try:
        pasta.parse(path.read_text())
    except Exception:
        return False
    return True


def dense_tree(directory: pathlib.Path, files: int) -> pathlib.Path:
    """``files`` copies of the fixtures that both tools read."""
    sources = [path for path in sorted(FIXTURES.glob("*.py")) if read_by_reference(path)]
    for i in range(files):
        package = directory / f"pkg{i // 100:03d}"
        package.mkdir(parents=True, exist_ok=True)
        shutil.copy(sources[i % len(sources)], package / f"m{i:05d}_{sources[i % len(sources)].name}")
    return directory


def startup(repeats: int) -> None:
    """One file, whole command: what a pre-commit hook on one changed file costs."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = pathlib.Path(tmp) / "plain.py"
        plain.write_text("import os\n\nprint(os.getcwd())\n")
        model = pathlib.Path(tmp) / "model.py"
        source = (FIXTURES / "basic_custom.py").read_text()
        model.write_text(source)
        est2tpu = str(BIN / "est2tpu")
        rows = [
            ("python -c pass (interpreter alone)", [sys.executable, "-c", "pass"]),
            ("python -c 'import libcst'", [sys.executable, "-c", "import libcst"]),
            ("python -c 'import black'", [sys.executable, "-c", "import black"]),
            ("est2tpu migrate, a file without Estimator code", [est2tpu, "migrate", str(plain)]),
            ("est2tpu migrate --check, an Estimator file", [est2tpu, "migrate", "--check", str(model)]),
            ("est2tpu migrate --diff, an Estimator file", [est2tpu, "migrate", "--diff", str(model)]),
        ]
        print("one file, whole command (best of %d)" % repeats)
        best = best_interleaved(repeats, dict(rows))
        for label, _ in rows:
            print(f"  {label:48s} {best[label]:6.2f} s")


def sparse(repeats: int) -> None:
    stdlib = sysconfig.get_paths()["stdlib"]
    count = sum(1 for _ in pathlib.Path(stdlib).rglob("*.py") if "site-packages" not in _.parts)
    best = best_interleaved(repeats, {"ours": [str(BIN / "est2tpu"), "migrate", "--check", "-q", "--no-cache", stdlib],
                                      "grep": [sys.executable, "-c", GREP, stdlib]})
    ours, grep = best["ours"], best["grep"]
    print(f"sparse tree: {count} files of the standard library ({stdlib})")
    print(f"  est2tpu migrate --check      {ours:6.2f} s")
    print(f"  read + search 'estimator'    {grep:6.2f} s")
    print(f"  ratio                        {ours / grep:6.2f}x   (target <= 2x)")


def floor_and_names(paths, repeats: int) -> None:
    """In process, one file at a time (holding every tree would make the garbage collector
    the largest cost), best of ``repeats``."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, QualifiedNameProvider

    from est2tpu.codemods.migrate import migrate_code
    from est2tpu.codemods.names import ImportTable

    sources = [p.read_text() for p in paths]

    def timed(run) -> float:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    # taking turns, as the commands do: a machine whose speed drifts drifts for both alike
    floors, engines = [], []
    for _ in range(repeats):
        floors.append(timed(lambda: [cst.parse_module(source).code for source in sources]))
        engines.append(timed(lambda: [migrate_code(source, style="none") for source in sources]))
    floor, engine = min(floors), min(engines)
    parse = names = 0.0
    for source in sources:
        start = time.perf_counter()
        module = cst.parse_module(source)
        parsed = time.perf_counter()
        ImportTable(module)
        parse += parsed - start
        names += time.perf_counter() - parsed
    sample = sources[: max(1, len(sources) // 10)]
    sample_parse = qualified = 0.0
    for source in sample:
        start = time.perf_counter()
        module = cst.parse_module(source)
        parsed = time.perf_counter()
        MetadataWrapper(module, unsafe_skip_copy=True).resolve(QualifiedNameProvider)
        sample_parse += parsed - start
        qualified += time.perf_counter() - parsed
    n = len(sources)
    print(f"  LibCST parse + codegen (floor) {n / floor:7.1f} files/s")
    print(f"  est2tpu engine, in process     {n / engine:7.1f} files/s   "
          f"({engine / floor:.2f}x the floor; target <= 2x)")
    print(f"  name resolution: est2tpu imports {names / parse:.3f}x the parse, "
          f"LibCST QualifiedNameProvider {qualified / sample_parse:.2f}x the parse")


def dense(files: int, repeats: int) -> None:
    """--check (reads only), --diff (prints the patch) and migrate in place (writes; both
    lay the changed statements out with black, ``--format none`` writes the engine's
    text) on fresh copies of the tree, against ``tf_upgrade_v2 --intree``, which writes
    a migrated copy of it."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = dense_tree(pathlib.Path(tmp) / "tree", files)
        work, out = pathlib.Path(tmp) / "work", pathlib.Path(tmp) / "out"
        paths = sorted(tree.rglob("*.py"))
        print(f"dense tree: {files} Estimator files (the fixtures replicated)")
        cores = os.cpu_count() or 1
        est2tpu = [str(BIN / "est2tpu"), "migrate", "-q", "--no-cache"]  # the cache: measured in cached()
        commands = {
            "--check -j1": [*est2tpu, "--check", "-j", "1", str(tree)],
            f"--check -j{cores}": [*est2tpu, "--check", "-j", str(cores), str(tree)],
            "--diff -j1": [*est2tpu, "--diff", "-j", "1", str(tree)],
            f"--diff -j{cores}": [*est2tpu, "--diff", "-j", str(cores), str(tree)],
            "in place -j1": [*est2tpu, "-j", "1", str(work)],
            f"in place -j{cores}": [*est2tpu, "-j", str(cores), str(work)],
            f"in place, --format none -j{cores}": [*est2tpu, "--format", "none", "-j", str(cores), str(work)],
            "floor": [sys.executable, "-c", FLOOR, str(tree), str(cores)],
        }
        upgrade = BIN / "tf_upgrade_v2"
        if upgrade.exists():
            commands["tf_upgrade_v2"] = [str(upgrade), "--intree", str(tree), "--outtree", str(out),
                                         "--reportfile", str(pathlib.Path(tmp) / "report.txt")]
            # a reference that stops early would look fast
            subprocess.run(commands["tf_upgrade_v2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

        def fresh() -> None:
            for directory in (work, out):
                shutil.rmtree(directory, ignore_errors=True)
            shutil.copytree(tree, work)

        cpu = {}
        best = best_interleaved(repeats, commands, before=fresh, cpu=cpu)
        reference = best.pop("tf_upgrade_v2", None)
        floor = best.pop("floor")
        if reference is not None:
            print(f"  {'tf_upgrade_v2 --intree':44} {files / reference:7.1f} files/s"
                  f"{'':39}cpu {cpu['tf_upgrade_v2']:5.2f} s")
        for name, elapsed in best.items():
            ratio = f"   {reference / elapsed:4.1f}x tf_upgrade_v2" if reference is not None else ""
            print(f"  {'est2tpu migrate ' + name:44} {files / elapsed:7.1f} files/s{ratio}"
                  f"   {floor / elapsed:4.2f}x the ceiling   cpu {cpu[name]:5.2f} s")
        ceiling = f"   {reference / floor:4.1f}x tf_upgrade_v2" if reference is not None else ""
        print(f"  {f'LibCST parse + codegen alone, -j{cores}':44} {files / floor:7.1f} files/s{ceiling}"
              f"   (the ceiling of a LibCST tool)   cpu {cpu['floor']:5.2f} s")
        print("  (cpu: the least CPU time of all its processes, which the machine's load changes little)")
        if reference is None:
            print("  tf_upgrade_v2 not installed: pip install -e '.[tf]' to compare")
        else:
            print(f"  (targets: --check -j{cores} >= 0.8x the ceiling; --diff and in place -j{cores} "
                  ">= 3x tf_upgrade_v2)")
        floor_and_names(paths, repeats)


def cached(files: int, repeats: int) -> None:
    """A second ``--check`` of a dense tree already migrated (pre-commit and CI run it again and
    again): against reading every file and searching it, as for the standard library."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = dense_tree(pathlib.Path(tmp) / "tree", files)
        (tree / "pyproject.toml").write_text("")  # the project root, where the cache goes
        est2tpu = [str(BIN / "est2tpu"), "migrate", "-q"]
        subprocess.run([*est2tpu, str(tree)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([*est2tpu, "--check", str(tree)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = best_interleaved(repeats, {"cached": [*est2tpu, "--check", str(tree)],
                                          "grep": [sys.executable, "-c", GREP, str(tree)]})
        print(f"second --check of the migrated dense tree ({files} files), cached")
        print(f"  est2tpu migrate --check      {best['cached']:6.2f} s")
        print(f"  read + search 'estimator'    {best['grep']:6.2f} s")
        print(f"  ratio                        {best['cached'] / best['grep']:6.2f}x   (target <= 2x)")


def memory(sizes) -> None:
    print("peak memory, est2tpu migrate --check -j1 on dense trees")
    for files in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tree = dense_tree(pathlib.Path(tmp), files)
            rss = peak_rss_mib([str(BIN / "est2tpu"), "migrate", "--check", "-q", "--no-cache", "-j", "1", str(tree)])
            print(f"  {files:6d} files  {rss:7.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller trees, fewer repeats")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    # Measure est2tpu as installed, with its bytecode compiled (pip does this on install;
    # an editable checkout under PYTHONDONTWRITEBYTECODE would recompile every run).
    compileall.compile_dir(str(ROOT / "est2tpu"), quiet=1)
    compileall.compile_dir(str(ROOT / "codemods"), quiet=1)
    # ... and the functions dataclasses compiles for LibCST kept, as est2tpu's first run
    # leaves them (est2tpu.cli.engine; like bytecode, not under PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "from est2tpu.cli.engine import load; load()"], env=env, check=True)
    startup(repeats)
    sparse(repeats)
    dense(60 if args.quick else 300, repeats)
    cached(60 if args.quick else 300, repeats)
    memory((20, 100, 200) if args.quick else (100, 1000, 5000))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
