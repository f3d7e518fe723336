"""What a run tells a reviewer: --output-file, --report, --statistics, and the rewrites the
engine says it made."""

from __future__ import annotations

import ast
import difflib
import json
import re
import shutil
import subprocess

import pytest

from fixture_programs import FIXTURES, NAMES
from test_cli_helpers import CHIEF, CHIEF_LINE, SPEC, TRAINED_REWRITES, run_cli, write

CANNED = "import tensorflow as tf\n\nest = tf.estimator.BaselineClassifier(n_classes=3)\n"
BROKEN = "import tensorflow as tf\n\ndef model_fn(:\n    tf.estimator\n"


@pytest.fixture
def tree(tmp_path):
    write(tmp_path, {"m.py": CHIEF, "canned.py": CANNED, "ok.py": SPEC, "bad.py": BROKEN,
                     "plain.py": "import tensorflow as tf\n"})
    return tmp_path


# --------------------------------------------------------------------------- the rewrites the engine reports


@pytest.mark.parametrize("name", NAMES)
def test_each_rewrite_reported_is_at_a_statement_the_migration_changed(name):
    """Every rewrite the engine says it made is on a line the migration changed, or next to
    lines it inserted (a CrossShardOptimizer after the optimizer); and every code the
    migration rewrites by is reported somewhere."""
    from est2tpu.codemods.base import RULES
    from est2tpu.codemods.migrate import migrate_code

    code = (FIXTURES / f"{name}.py").read_text()
    result = migrate_code(code, style="none", rewrites=True)
    assert result.rewrites, name
    old, new = code.splitlines(), result.code.splitlines()
    changed = [op for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes() if op[0] != "equal"]
    last_line = {node.lineno: node.end_lineno for node in ast.walk(ast.parse(code)) if isinstance(node, ast.stmt)}
    for rewrite in result.rewrites:
        assert RULES[rewrite.code].kind == "rewrite" and rewrite.message == RULES[rewrite.code].title
        first, last = rewrite.line - 1, last_line.get(rewrite.line, rewrite.line) - 1
        assert any(i1 <= first < i2 or (i1 == i2 and first <= i1 <= last + 1) for _, i1, i2, _, _ in changed), (
            rewrite, old[first])
    # Without asking, nothing is located (it costs) and the migration is the same.
    plain = migrate_code(code, style="none")
    assert plain.rewrites == [] and plain.code == result.code and plain.findings == result.findings


#: What the code at a rewrite's position starts with, in the file written in place.
#: (E2T104 also rewrites params: a dict literal without batch_size, or a copy {k: v ...}.)
REWRITTEN = {"E2T101": r"[\w.]*TPUEstimatorSpec\(", "E2T102": r"def ", "E2T104": r"[\w.]*TPUEstimator\(|\{",
             "E2T105": r"[\w.]*RunConfig\(", "E2T108": r"est2tpu\.model_to_estimator\("}


def test_rewrites_in_place_point_at_the_new_code(tmp_path):
    """Migrated in place (black laying out the new code), each rewrite is placed in the
    written file, at the code it wrote."""
    for name in NAMES:
        write(tmp_path, {f"{name}.py": (FIXTURES / f"{name}.py").read_text()})
    doc = json.loads(run_cli("migrate", "--exit-zero", "--output-format", "json", ".", cwd=tmp_path).stdout)
    assert len(doc["rewrites"]) > 10 * len(NAMES)
    for rewrite in doc["rewrites"]:
        here = (tmp_path / rewrite["path"]).read_text().splitlines()[rewrite["line"] - 1][rewrite["col"] - 1:]
        assert here.strip(), rewrite
        if rewrite["code"] in REWRITTEN:
            assert re.match(REWRITTEN[rewrite["code"]], here), (rewrite, here)


def test_rewrites_name_what_changed():
    from est2tpu.codemods.migrate import migrate_code

    source = (
        "import tensorflow as tf\n\n\n"
        "def model_fn(features, labels, mode):\n"
        "    return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features))\n\n\n"
        "def input_fn():\n"
        "    return tf.data.Dataset.range(8).batch(4)\n\n\n"
        "est = tf.estimator.Estimator(model_fn, config=tf.estimator.RunConfig(model_dir='m'))\n"
        "est.train(input_fn, max_steps=1)\n"
    )
    result = migrate_code(source, style="none", rewrites=True)
    assert [(f.line, f.code) for f in result.rewrites] == [
        (4, "E2T102"), (5, "E2T101"), (8, "E2T103"), (9, "E2T103"), (12, "E2T104"), (12, "E2T105")]
    # An unchanged (already migrated) file made no rewrite.
    assert migrate_code(result.code, style="none", rewrites=True).rewrites == []


# --------------------------------------------------------------------------- --output-file, machine output


def test_output_file_keeps_the_patch_and_the_errors_apart(tree):
    result = run_cli("migrate", "--diff", "--output-format", "json", "--output-file", "out.json", ".", cwd=tree)
    assert result.code == 2
    doc = json.loads((tree / "out.json").read_text())
    assert doc["errors"][0]["path"] == "bad.py"
    assert {f["code"] for f in doc["findings"]} == {"E2T201", "E2T204", "E2T250"}
    assert result.stdout.startswith("--- a/m.py\n") or result.stdout.startswith("--- a/")
    assert "{" not in result.err and "bad.py:3:14: error: syntax error" in result.err
    assert result.err.endswith("3 findings, 2 blocking\n")
    if shutil.which("git"):  # stdout is the patch, nothing else
        (tree / "p.diff").write_bytes(result.out)
        applied = subprocess.run(["git", "apply", "--check", "p.diff"], cwd=tree, capture_output=True, text=True)
        assert applied.returncode == 0, applied.stderr


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_a_document_on_stderr_is_all_stderr_holds(tree, fmt):
    """--diff without --output-file: the document goes to stderr, and nothing mixes with it."""
    result = run_cli("migrate", "--diff", "--output-format", fmt, ".", cwd=tree)
    assert result.code == 2
    doc = json.loads(result.err)
    if fmt == "json":
        assert doc["errors"] and doc["summary"]["failed"] == 1
    else:
        assert doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert result.stdout.startswith("--- a/")
    refused = run_cli("migrate", "--diff", "--output-format", fmt, "--statistics", ".", cwd=tree)
    assert refused.code == 2 and "--output-file" in refused.err


def test_output_file_for_text_and_github(tree):
    result = run_cli("migrate", "--check", "--output-file", "findings.txt", "m.py", cwd=tree)
    assert result.code == 1 and result.stdout == ""
    (line,) = (tree / "findings.txt").read_text().splitlines()
    assert line.startswith(f"m.py:{CHIEF_LINE}:") and " E2T201 " in line
    result = run_cli("migrate", "--check", "--output-format", "github", "--output-file", "gh.txt", "canned.py",
                     cwd=tree)
    assert result.stdout == ""
    assert (tree / "gh.txt").read_text().startswith("::error file=canned.py,line=3,col=7,title=E2T204::")


def test_an_output_file_that_cannot_be_written_fails_before_any_file_is_migrated(tree):
    result = run_cli("migrate", "--output-file", "missing/dir/out.json", "m.py", cwd=tree)
    assert result.code == 2 and "cannot write missing/dir/out.json" in result.err
    assert (tree / "m.py").read_text() == CHIEF
    result = run_cli("migrate", "--report", "missing/report.md", "m.py", cwd=tree)
    assert result.code == 2 and (tree / "m.py").read_text() == CHIEF


# --------------------------------------------------------------------------- --report


def test_markdown_report_lists_each_rewrite_and_each_finding_with_its_explanation(tree):
    from est2tpu.codemods.base import RULES

    result = run_cli("migrate", "--report", "report.md", ".", cwd=tree)
    assert result.code == 2  # bad.py
    text = (tree / "report.md").read_text()
    assert text.startswith("# est2tpu migration report\n")
    assert "in place: 2 files migrated, 2 unchanged, 1 failed, 3 findings, 2 blocking left to fix." in text
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.S | re.M))
    assert set(sections) == {"m.py", "canned.py", "ok.py", "bad.py"}  # plain.py: nothing to say
    m = sections["m.py"]
    assert m.startswith("\nMigrated.\n")
    # The review note the run printed once, with its explanation and example...
    assert f"#### E2T201 {RULES['E2T201'].title} (review note)" in m
    assert RULES["E2T201"].explanation in m and RULES["E2T201"].before in m
    # ...and the rewrite made, where it now is in the written file.
    (line, col), = re.findall(rf"^- line (\d+), col (\d+): \*\*E2T101\*\* {RULES['E2T101'].title}$", m, re.M)
    written = (tree / "m.py").read_text().splitlines()
    assert written[int(line) - 1][int(col) - 1:].startswith("tf.compat.v1.estimator.tpu.TPUEstimatorSpec(")
    assert "(blocking)" in sections["canned.py"] and "### Rewrites made" not in sections["canned.py"]
    assert "Error: bad.py:3:14: error: syntax error" in sections["bad.py"]
    assert "| canned.py | unchanged | 0 | 0 | 2 |" in text


def test_json_report(tree):
    from est2tpu.codemods.base import RULES

    result = run_cli("migrate", "--check", "--report", "report.json", ".", cwd=tree)
    assert result.code == 2
    doc = json.loads((tree / "report.json").read_text())
    assert doc["mode"] == "--check" and doc["summary"]["blocking"] == 2
    files = {f["path"]: f for f in doc["files"]}
    assert set(files) == {"m.py", "canned.py", "ok.py", "bad.py"}
    assert files["m.py"]["status"] == "would be migrated"
    (finding,) = files["m.py"]["findings"]
    assert finding["code"] == "E2T201" and finding["kind"] == "review"
    assert finding["explanation"] == RULES["E2T201"].explanation and finding["line"] == CHIEF_LINE
    assert [r["code"] for r in files["m.py"]["rewrites"]] == ["E2T101", *(code for code, _ in TRAINED_REWRITES)]
    assert files["bad.py"]["status"] == "failed" and "syntax error" in files["bad.py"]["error"]["message"]
    assert (tree / "m.py").read_text() == CHIEF


def test_report_of_a_notebook_names_the_cells(tmp_path):
    from test_cli_notebook import make_notebook

    write(tmp_path, {"nb.ipynb": make_notebook()})
    run_cli("migrate", "--check", "--report", "r.json", "nb.ipynb", cwd=tmp_path)
    (entry,) = json.loads((tmp_path / "r.json").read_text())["files"]
    assert entry["findings"][0]["cell"] == 3 and all(r["cell"] for r in entry["rewrites"])


# --------------------------------------------------------------------------- --statistics


def test_statistics_count_each_code_on_stderr(tree):
    from est2tpu.codemods.base import RULES

    result = run_cli("migrate", "--check", "--statistics", "--output-format", "json", ".", cwd=tree)
    doc = json.loads(result.stdout)
    counted = {}
    for entry in doc["findings"] + doc["rewrites"]:
        counted[entry["code"]] = counted.get(entry["code"], 0) + 1
    lines = [line for line in result.err.splitlines() if re.match(r"\d+\t", line)]
    assert [line.split("\t")[1] for line in lines] == sorted(counted, key=lambda c: (-counted[c], c))
    for line in lines:
        count, code, rest = line.split("\t")
        assert int(count) == counted[code] and rest == f"[{RULES[code].kind}] {RULES[code].title}"
    assert result.err.splitlines()[-1].startswith("2 files would be migrated")
    assert not any(re.match(r"\d+\t", line) for line in run_cli("migrate", "--check", ".", cwd=tree).err.splitlines())
