"""The codemods run through LibCST's own CLI, as any LibCST codemod does."""

import shutil
import subprocess
import sys

from fixture_programs import FIXTURES


def test_migrate_through_libcst_tool(tmp_path):
    shutil.copy(FIXTURES / "basic_custom.py", tmp_path / "basic_custom.py")
    (tmp_path / ".libcst.codemod.yaml").write_text(
        "generated_code_marker: '@generated'\nformatter: ['cat']\nblacklist_patterns: []\n"
        "modules:\n- 'est2tpu.codemods'\nrepo_root: '.'\n")
    run = subprocess.run([sys.executable, "-m", "libcst.tool", "codemod", "--no-format", "commands.Migrate",
                          "basic_custom.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "E2T209" in run.stderr  # findings come out as LibCST warnings
    out = (tmp_path / "basic_custom.py").read_text()
    assert "TPUEstimatorSpec" in out and "def model_fn(features, labels, mode, params):" in out
    listed = subprocess.run([sys.executable, "-m", "libcst.tool", "list"], cwd=tmp_path, capture_output=True, text=True)
    assert "commands.EstimatorSpecToTPU" in listed.stdout and "commands.Migrate" in listed.stdout
    # Only the commands, each with its description (not their shared base class).
    assert "_Command" not in listed.stdout and "No description" not in listed.stdout
    assert all(" - " in line and line.split(" - ", 1)[1] for line in listed.stdout.splitlines())
