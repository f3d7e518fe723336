"""How long `est2tpu verify` takes over one migrated program, against what it must pay anyway.

Three commands take turns, ``--repeats`` times each (the best run of each is printed, in
seconds of wall-clock and of CPU time, the latter less disturbed by a busy machine):

* ``import``: the interpreter importing TensorFlow and TPUEstimator, which any verify
  run pays;
* ``program``: the migrated program itself on the CPU (``TPU_NAME`` unset), all its
  steps;
* ``verify``: ``est2tpu verify -q -- python PROGRAM``: its TPU graphs built and checked,
  the train step compiled with XLA, and at most ``--steps`` steps of each run.

    python benchmarks/verify_speed.py [--fixture basic_custom] [--repeats 3] [--steps 2]

The target is seconds, not minutes.  On a shared machine single runs vary a lot.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Tuple

REPO = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seconds(command, env) -> Tuple[float, float]:
    """(wall-clock, CPU) seconds of one run of ``command``."""
    start, cpu = time.perf_counter(), _cpu()
    run = subprocess.run(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if run.returncode not in (0, 1):  # (1: verify's findings)
        sys.exit(f"{' '.join(command)} failed ({run.returncode}):\n{run.stderr.decode()[-2000:]}")
    return time.perf_counter() - start, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", default="basic_custom", help="fixtures/NAME.py.out to verify")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()

    program = str(REPO / "fixtures" / f"{args.fixture}.py.out")
    env = {k: v for k, v in os.environ.items() if k != "TPU_NAME"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    commands = {
        "import": [sys.executable, "-c", "import tensorflow as tf; tf.compat.v1.estimator.tpu.TPUEstimator"],
        "program": [sys.executable, program],
        "verify": [sys.executable, "-m", "est2tpu", "verify", "-q", "--steps", str(args.steps), "--",
                   sys.executable, program],
    }
    times = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            times[name].append(_seconds(command, env))
    best = {name: min(values) for name, values in times.items()}
    print(f"fixture {args.fixture}, best of {args.repeats} (wall-clock / CPU seconds):")
    for name, (wall, cpu) in best.items():
        runs = ", ".join(f"{w:.2f}" for w, _ in times[name])
        print(f"  {name:8} {wall:6.2f} s / {cpu:5.2f} s   (wall-clock of each run: {runs})")
    print(f"  verify beyond the import: {best['verify'][0] - best['import'][0]:.2f} s / "
          f"{best['verify'][1] - best['import'][1]:.2f} s")


if __name__ == "__main__":
    main()
