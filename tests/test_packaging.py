"""A regular (non-editable) install, run from a project that has a ``codemods`` package of its own."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_installed_codemods_do_not_clash_with_a_projects_own(tmp_path):
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-compile", "-q",
         "--target", str(target), str(REPO)],
        capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    assert (target / "est2tpu" / "codemods" / "migrate.py").is_file()
    assert (target / "est2tpu" / "verify" / "boot" / "sitecustomize.py").is_file()  # what verify's child loads
    assert not (target / "codemods").exists()  # nothing installed under the top-level name

    project = tmp_path / "project"
    (project / "codemods").mkdir(parents=True)
    (project / "codemods" / "__init__.py").write_text("MINE = True\n")
    (project / "model.py").write_bytes((REPO / "fixtures" / "basic_custom.py").read_bytes())
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-c", "import sys; from est2tpu.cli.main import main; "
                          "sys.exit(main(['migrate', '--diff', '.']))"],
                         capture_output=True, text=True, cwd=project, env=env)
    assert run.returncode == 1, run.stderr  # a patch was printed
    assert "TPUEstimatorSpec(" in run.stdout and "+++ b/model.py" in run.stdout
    check = subprocess.run([sys.executable, "-c", "import codemods, est2tpu.codemods.migrate as m; "
                            "print(codemods.MINE, m.__file__)"], capture_output=True, text=True, cwd=project, env=env)
    assert check.returncode == 0, check.stderr
    mine, engine = check.stdout.split()
    assert mine == "True" and engine.startswith(str(target))
