"""[tool.est2tpu] discovery and validation, and how flags override it."""

from __future__ import annotations

import pytest

from est2tpu.cli.config import Resolver
from test_cli_helpers import CHIEF, ESTIMATOR, SPEC, engine, run_cli, write


def test_nearest_config_wins_per_file(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "[tool.est2tpu]\ntarget = \"tf1\"\niterations-per-loop = 5\n",
        "a/e.py": ESTIMATOR,
        "b/pyproject.toml": "[tool.est2tpu]\niterations-per-loop = 9\n",
        "b/e.py": ESTIMATOR,
        "c/pyproject.toml": "[project]\nname = 'x'\n",  # no [tool.est2tpu]: passed over
        "c/e.py": ESTIMATOR,
    })
    assert run_cli("migrate", "a", "b", "c", cwd=tmp_path).code == 0
    assert (tmp_path / "a/e.py").read_text() == engine(ESTIMATOR, target="tf1", iterations_per_loop=5)
    assert (tmp_path / "b/e.py").read_text() == engine(ESTIMATOR, target="tf2", iterations_per_loop=9)
    assert (tmp_path / "c/e.py").read_text() == engine(ESTIMATOR, target="tf1", iterations_per_loop=5)


def test_config_found_walking_up_from_the_path_not_the_cwd(tmp_path):
    write(tmp_path, {
        "proj/pyproject.toml": "[tool.est2tpu]\niterations-per-loop = 3\n",
        "proj/src/deep/e.py": ESTIMATOR,
        "elsewhere/.keep": "",
    })
    assert run_cli("migrate", str(tmp_path / "proj/src/deep/e.py"), cwd=tmp_path / "elsewhere").code == 0
    assert "iterations_per_loop=3" in (tmp_path / "proj/src/deep/e.py").read_text()


def test_flags_override_config(tmp_path):
    write(tmp_path, {"pyproject.toml": "[tool.est2tpu]\ntarget = \"tf1\"\niterations-per-loop = 5\n",
                     "e.py": ESTIMATOR})
    assert run_cli("migrate", "--target", "tf2", "--iterations-per-loop", "11", "e.py", cwd=tmp_path).code == 0
    assert (tmp_path / "e.py").read_text() == engine(ESTIMATOR, target="tf2", iterations_per_loop=11)


def test_config_flag_replaces_discovery(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "[tool.est2tpu]\niterations-per-loop = 5\n",
        "e.py": ESTIMATOR,
        "ci/other.toml": "[tool.est2tpu]\niterations-per-loop = 8\n",
    })
    assert run_cli("migrate", "--config", "ci/other.toml", "e.py", cwd=tmp_path).code == 0
    assert "iterations_per_loop=8" in (tmp_path / "e.py").read_text()


def test_config_flag_missing_file(tmp_path):
    result = run_cli("migrate", "--config", "nope.toml", ".", cwd=tmp_path)
    assert result.code == 2 and "configuration file not found" in result.err


def test_unknown_key_is_an_error_naming_it(tmp_path):
    write(tmp_path, {"pyproject.toml": "[tool.est2tpu]\niterations_per_loop = 5\n", "m.py": SPEC})
    result = run_cli("migrate", "m.py", cwd=tmp_path)
    assert result.code == 2
    assert "unknown key 'iterations_per_loop'" in result.err
    assert "did you mean 'iterations-per-loop'?" in result.err
    assert (tmp_path / "m.py").read_text() == SPEC  # nothing is done with a bad configuration


@pytest.mark.parametrize("body, needle", [
    ('target = "tf3"', "target must be one of: tf2, tf1"),
    ('format = "yapf"', "format must be one of: auto, black, none"),
    ("iterations-per-loop = 0", "iterations-per-loop must be a positive integer"),
    ("iterations-per-loop = true", "iterations-per-loop must be a positive integer"),
    ('select = "E2T"', "select must be a list of rule code prefixes"),
    ("exclude = [1]", "exclude must be a list of glob patterns"),
    ("[tool.est2tpu", "invalid TOML"),
])
def test_invalid_values(tmp_path, body, needle):
    text = body if body.startswith("[") else f"[tool.est2tpu]\n{body}\n"
    write(tmp_path, {"pyproject.toml": text, "m.py": SPEC})
    result = run_cli("migrate", "--check", "m.py", cwd=tmp_path)
    assert result.code == 2
    assert needle in result.err
    assert "pyproject.toml" in result.err


def test_every_documented_key_is_accepted(tmp_path):
    write(tmp_path, {"pyproject.toml": (
        "[tool.est2tpu]\n"
        'target = "tf2"\n'
        'select = ["E2T"]\n'
        'ignore = ["e2t24"]\n'  # codes are case-insensitive
        'exclude = ["build"]\n'
        'extend-exclude = ["gen/"]\n'
        "iterations-per-loop = 50\n"
        'format = "none"\n'
    )})
    settings = Resolver({}, None, cwd=str(tmp_path)).for_dir(str(tmp_path))
    assert settings.target == "tf2" and settings.iterations_per_loop == 50
    assert settings.select == ("E2T",) and settings.ignore == ("E2T24",)
    assert [p for p, _ in settings.excludes] == ["build", "gen/"]
    assert settings.format == "none"
    assert settings.source == str(tmp_path / "pyproject.toml")


def test_select_and_ignore_from_config(tmp_path):
    write(tmp_path, {"pyproject.toml": '[tool.est2tpu]\nignore = ["E2T201"]\n', "m.py": CHIEF})
    result = run_cli("migrate", "--check", "m.py", cwd=tmp_path)
    assert "E2T201" not in result.stdout
    # The flag overrides the file's list.
    result = run_cli("migrate", "--check", "--ignore", "E2T24", "m.py", cwd=tmp_path)
    assert "E2T201" in result.stdout


@pytest.mark.parametrize("table, needle", [
    ('select = ["E2T2O4"]', "select: unknown rule code or prefix 'E2T2O4' (did you mean E2T204?)"),
    ('ignore = ["E2T201", "XYZ"]', "ignore: unknown rule code or prefix 'XYZ'; `est2tpu rules` lists them"),
    ('ignore = ["E2T4"]', "ignore: unknown rule code or prefix 'E2T4'"),
])
def test_unknown_codes_in_config_are_an_error(tmp_path, table, needle):
    """A selector that matches no code would hide every finding (select) or none (ignore)."""
    write(tmp_path, {"pyproject.toml": f"[tool.est2tpu]\n{table}\n", "m.py": CHIEF})
    result = run_cli("migrate", "m.py", cwd=tmp_path)
    assert result.code == 2 and needle in result.err and "pyproject.toml" in result.err
    assert (tmp_path / "m.py").read_text() == CHIEF  # nothing was migrated


def test_format_from_config(tmp_path):
    source = SPEC.replace("import tensorflow as tf\n", "import tensorflow as tf\nx = [1,2,  3]\n")
    write(tmp_path, {"pyproject.toml": '[tool.est2tpu]\nformat = "black"\n', "m.py": source})
    assert run_cli("migrate", "m.py", cwd=tmp_path).code == 0
    assert "x = [1, 2, 3]" in (tmp_path / "m.py").read_text()


def test_resolver_rejects_nested_bad_config_during_discovery(tmp_path):
    write(tmp_path, {"sub/pyproject.toml": "[tool.est2tpu]\nbogus = 1\n", "sub/m.py": SPEC, "a.py": SPEC})
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 2 and "unknown key 'bogus'" in result.err
    assert (tmp_path / "a.py").read_text() == SPEC


def test_toml_is_read_only_when_a_configuration_file_exists(tmp_path):
    from test_cli import _modules_after

    write(tmp_path, {"m.py": SPEC})
    assert "tomllib" not in _modules_after(["migrate", "--check", "m.py"], tmp_path)[1]
    write(tmp_path, {"pyproject.toml": "[tool.est2tpu]\ntarget = 'tf1'\n"})
    assert "tomllib" in _modules_after(["migrate", "--check", "m.py"], tmp_path)[1]
