"""`est2tpu verify -- COMMAND`: the child process, the report, formats and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
SEEDED = REPO / "fixtures" / "verify"


def verify(*command: str, options=(), cwd=REPO, env=None):
    return run_cli("verify", *options, "--", *command, cwd=cwd, env=env)


# --------------------------------------------------------------------------- without TensorFlow


def test_the_cli_side_never_imports_tensorflow(tmp_path):
    code = ("import sys; from est2tpu.cli.main import main; "
            "rc = main(['verify', '--', sys.executable, '-c', 'pass']); "
            "assert 'tensorflow' not in sys.modules; sys.exit(rc)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "nothing was checked: the program ran no TPUEstimator" in run.stderr


def test_a_program_that_fails_before_any_check_exits_2():
    result = verify(sys.executable, "-c", "raise SystemExit(3)")
    assert result.code == 2 and result.stdout == ""
    assert "exited with status 3 before any check" in result.err


def test_quiet_hides_the_program_and_shows_its_end_when_it_fails():
    ok = verify(sys.executable, "-c", "print('hel' + 'lo')", options=("-q",))
    assert "hello" not in ok.err and ok.code == 2  # (nothing checked)
    failed = verify(sys.executable, "-c", "print('bo' + 'om'); raise SystemExit(4)", options=("-q",))
    assert failed.code == 2 and "  | boom\n" in failed.err


def test_a_command_that_cannot_start_and_no_command_exit_2():
    missing = verify("no-such-program-est2tpu")
    assert missing.code == 2 and "cannot run 'no-such-program-est2tpu'" in missing.err
    assert run_cli("verify").code == 2
    assert run_cli("verify", "--num-cores", "0", "--", "python").code == 2


def test_the_child_gets_the_boot_directory_and_keeps_its_own_sitecustomize(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("MINE = True\n")
    probe = ("import os, sys, sitecustomize; print('mine', getattr(sitecustomize, 'MINE', None)); "
             "print('tpu', os.environ.get('TPU_NAME')); print('report', bool(os.environ['EST2TPU_VERIFY_REPORT']))")
    result = verify(sys.executable, "-c", probe, env={"PYTHONPATH": str(own), "TPU_NAME": "my-tpu"})
    assert "mine True" in result.err and "tpu None" in result.err and "report True" in result.err


def test_rules_lists_verify_codes():
    result = run_cli("rules")
    codes = [line.split()[0] for line in result.stdout.splitlines()]
    assert {f"E2T3{n:02d}" for n in range(1, 16)} <= set(codes)
    assert "CrossShardOptimizer" in run_cli("rules", "E2T309").stdout


# --------------------------------------------------------------------------- with TensorFlow


@pytest.fixture
def tensorflow_installed():
    pytest.importorskip("tensorflow")


def test_a_clean_program_exits_0_with_its_output_on_stderr(tensorflow_installed):
    # TPU_NAME names a TPU that does not exist: verify must not let the program look for it.
    result = verify(sys.executable, str(SEEDED / "clean.py"), options=("--output-format", "json"),
                    env={"TPU_NAME": "no-such-tpu"})
    assert result.code == 0, result.err
    doc = json.loads(result.stdout)
    assert doc["findings"] == [] and doc["errors"] == []
    assert "{'accuracy':" in result.err  # what the program printed
    assert "checked train, evaluate, predict; 0 findings" in result.err


def test_a_seeded_mistake_exits_1_located_in_text_and_sarif(tensorflow_installed):
    from test_cli_findings import _validate

    program = SEEDED / "hook_holds_tensor.py"
    text = verify(sys.executable, str(program.relative_to(REPO)), options=("--steps", "1"))
    assert text.code == 1, text.err
    assert text.stdout.startswith("fixtures/verify/hook_holds_tensor.py:33:12: E2T312 LoggingTensorHook holds")
    assert text.stdout.count("\n") == 1

    sarif = verify(sys.executable, str(program), options=("--output-format", "sarif"))
    doc = json.loads(sarif.stdout)
    _validate(doc)
    run = doc["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["E2T312"]
    region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (33, 12)
    assert run["results"][0]["level"] == "error"
    assert run["tool"]["driver"]["rules"][0]["shortDescription"]["text"].startswith("hook or scaffold holds")


def test_an_inline_ignore_hides_a_verify_finding(tensorflow_installed, tmp_path):
    program = tmp_path / "hook.py"
    shutil.copy(SEEDED / "hook_holds_tensor.py", program)
    program.write_text(program.read_text().replace("# verify: E2T312", "# est2tpu: ignore[E2T312]"))
    result = verify(sys.executable, str(program), options=("--output-format", "github"), cwd=tmp_path)
    assert result.code == 0 and result.stdout == "", result.err
