"""Jupyter notebooks: code cells migrated, IPython syntax and the file's layout kept."""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import warnings

import pytest

from est2tpu.cli import notebook
from test_cli_helpers import CHIEF, SPEC, engine, run_cli, snapshot, stub_engine, write

MAGICS = ["%matplotlib inline\n", "!pip install -q numpy\n", "import tensorflow as tf"]
MODEL = [
    "def model_fn(features, labels, mode, params):\n",
    "    loss = tf.reduce_sum(features)\n",
    "    ratio = (loss\n",
    "             % 2)\n",  # a continuation line starting with %: not a magic
    "    train_op = tf.compat.v1.train.get_global_step()\n",
    "    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, training_chief_hooks=[])",
]
#: The cell that trains MODEL's model_fn.
TRAIN = [
    "def input_fn():\n",
    "    return tf.data.Dataset.from_tensors(([1.0], [1.0])).repeat().batch(8)\n",
    "\n",
    "estimator = tf.estimator.Estimator(model_fn)\n",
    "estimator.train(input_fn, max_steps=10)",
]


def make_notebook(indent=1, ensure_ascii=False, trailing_newline=True, extra_cells=(), sort_keys=True,
                  language="python"):
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Estimator to TPU \u00e9t\u00e9\n", "notes"]},
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": MAGICS},
            {
                "cell_type": "code",
                "execution_count": 2,
                "metadata": {"tags": ["model"]},
                "outputs": [{"name": "stdout", "output_type": "stream", "text": ["estimator caf\u00e9\n"]}],
                "source": MODEL,
            },
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
             "source": ["%%bash\n", "echo tf.estimator.EstimatorSpec\n"]},
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
             "source": ["files = !ls\n", "tf.estimator.EstimatorSpec?\n", "print(files)"]},
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": TRAIN},
            *extra_cells,
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": language, "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    text = json.dumps(nb, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
    return text + "\n" if trailing_newline else text


def changed_lines(before: str, after: str):
    """(removed, added) lines of a line diff."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


@pytest.mark.parametrize("indent, ensure_ascii, trailing_newline, sort_keys", [
    (1, False, True, True),  # what Jupyter writes
    (2, True, False, False),
    (4, False, True, False),
])
def test_round_trip_changes_only_the_migrated_lines(tmp_path, indent, ensure_ascii, trailing_newline, sort_keys):
    text = make_notebook(indent, ensure_ascii, trailing_newline, sort_keys=sort_keys)
    write(tmp_path, {"nb.ipynb": text})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.err
    after = (tmp_path / "nb.ipynb").read_text(encoding="utf-8")
    removed, added = changed_lines(text, after)
    # the model cell's spec, and the train cell's input_fn, batch and Estimator
    assert len(removed) == 4 and "tf.estimator.EstimatorSpec(mode, loss=loss" in removed[0]
    assert all(line.strip() in {json.dumps(t) + "," for t in TRAIN} for line in removed[1:]), removed
    # Only items of that cell's source list were added, in the file's indentation.
    assert added and all(a.startswith(" " * (indent * 4) + '"') for a in added), added
    assert any("TPUEstimatorSpec" in a for a in added)
    # Everything else is byte-identical, including the end of the file.
    assert after.endswith("\n") is trailing_newline
    assert after.startswith(text[:200])
    data, new = json.loads(text), json.loads(after)
    for i, (old_cell, new_cell) in enumerate(zip(data["cells"], new["cells"])):
        if i == 1:  # the cell that imports gains `import est2tpu`
            assert [line for line in new_cell["source"] if line != "import est2tpu\n"] == old_cell["source"]
        elif i not in (2, 5):
            assert old_cell == new_cell
        else:
            assert {k: v for k, v in old_cell.items() if k != "source"} == {
                k: v for k, v in new_cell.items() if k != "source"}
    assert list(new) == list(data)
    # The new source is what the engine makes of the cells, magics put back.
    model = "".join(new["cells"][2]["source"])
    assert "    ratio = (loss\n             % 2)\n" in model
    assert "training_hooks=[]" in model
    assert all(line.endswith("\n") for line in new["cells"][2]["source"][:-1])
    assert [line for line in new["cells"][1]["source"] if line != "import est2tpu\n"] == MAGICS


def test_notebook_is_idempotent_and_check_passes_after(tmp_path):
    write(tmp_path, {"nb.ipynb": make_notebook()})
    assert run_cli("migrate", "nb.ipynb", cwd=tmp_path).code == 0
    once = snapshot(tmp_path)
    result = run_cli("migrate", "--check", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.stdout + result.err
    assert snapshot(tmp_path) == once


def test_imports_in_an_earlier_cell_are_seen(tmp_path):
    """Cells are migrated as one module: `tf` is imported in cell 2 and used in cell 3."""
    write(tmp_path, {"nb.ipynb": make_notebook()})
    run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    new = json.loads((tmp_path / "nb.ipynb").read_text())
    assert "TPUEstimatorSpec" in "".join(new["cells"][2]["source"])


def test_cell_magics_and_other_languages_are_left_alone(tmp_path):
    write(tmp_path, {"nb.ipynb": make_notebook(), "r.ipynb": make_notebook(language="R")})
    run_cli("migrate", ".", cwd=tmp_path)
    new = json.loads((tmp_path / "nb.ipynb").read_text())
    assert new["cells"][3]["source"] == ["%%bash\n", "echo tf.estimator.EstimatorSpec\n"]
    assert new["cells"][4]["source"] == ["files = !ls\n", "tf.estimator.EstimatorSpec?\n", "print(files)"]
    assert (tmp_path / "r.ipynb").read_text() == make_notebook(language="R")


def test_notebook_findings_point_into_the_cell_and_the_file(tmp_path):
    text = make_notebook()
    write(tmp_path, {"nb.ipynb": text})
    result = run_cli("migrate", "--check", "nb.ipynb", cwd=tmp_path)
    assert result.code == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith("nb.ipynb:cell 3:6:")
    col = int(line.split(":")[3])
    assert MODEL[5][col - 1:].startswith("training_chief_hooks")

    gh = run_cli("migrate", "--check", "--output-format", "github", "nb.ipynb", cwd=tmp_path).stdout
    (warning,) = [line for line in gh.splitlines() if line.startswith("::warning ")]
    fields = dict(kv.split("=") for kv in warning.split("::")[1].split(" ", 1)[1].split(","))
    file_line = text.splitlines()[int(fields["line"]) - 1]
    assert file_line[int(fields["col"]) - 1:].startswith("training_chief_hooks")

    doc = json.loads(run_cli("migrate", "--check", "--output-format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    assert doc["findings"][0]["cell"] == 3 and doc["findings"][0]["line"] == 6


def test_notebook_diff_applies(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("needs git")
    write(tmp_path / "t", {"nb.ipynb": make_notebook(2, True, False)})
    diff = run_cli("migrate", "--diff", ".", cwd=tmp_path / "t")
    assert diff.code == 1
    assert diff.out.count(b"\n-") == 4  # the spec's line, and the train cell's three
    shutil.copytree(tmp_path / "t", tmp_path / "m")
    run_cli("migrate", ".", cwd=tmp_path / "m")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path / "t", check=True)
    proc = subprocess.run(["git", "apply", "-"], input=diff.out, cwd=tmp_path / "t", capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(tmp_path / "t") == snapshot(tmp_path / "m")


def test_invalid_notebooks_fail_alone(tmp_path):
    good = make_notebook()
    bad_cell = make_notebook(extra_cells=[{"cell_type": "code", "execution_count": None, "metadata": {},
                                           "outputs": [], "source": ["def broken(:\n", "    pass\n"]}])
    write(tmp_path, {
        "a.ipynb": good,
        "broken_json.ipynb": '{"cells": [ estimator',
        "not_nb.ipynb": '{"estimator": 1}',
        "syntax.ipynb": bad_cell,
    })
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 2
    assert "broken_json.ipynb: error: invalid notebook JSON" in result.err
    assert "not_nb.ipynb: error: not a Jupyter notebook" in result.err
    assert "syntax.ipynb:cell 7:1:12: error: syntax error" in result.err
    assert (tmp_path / "syntax.ipynb").read_text() == bad_cell
    assert "TPUEstimatorSpec" in (tmp_path / "a.ipynb").read_text()


def test_top_level_await_is_valid_in_a_notebook(tmp_path):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": ["import asyncio\n", "await asyncio.sleep(0)"]}
    write(tmp_path, {"nb.ipynb": make_notebook(extra_cells=[cell])})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "TPUEstimatorSpec" in (tmp_path / "nb.ipynb").read_text()


def test_datalab_cells_and_automagic_lines_are_kept_as_written(tmp_path):
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
             for source in (["%bash\n", "gcloud config set project $PROJECT"], ["ls -la data/\n", "x = 1"])]
    write(tmp_path, {"nb.ipynb": make_notebook(extra_cells=cells)})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.err
    new = json.loads((tmp_path / "nb.ipynb").read_text())
    assert "TPUEstimatorSpec" in "".join(new["cells"][2]["source"])
    assert [cell["source"] for cell in new["cells"][-2:]] == [cell["source"] for cell in cells]


def test_max_file_size_counts_a_notebooks_code_not_its_outputs(tmp_path):
    """A 2 MB plot among the outputs does not stop a notebook; code cells over the limit do."""
    plot = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo" * 200_000}}
    cells = [{"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [plot], "source": ["x = 1"]}]
    long_code = make_notebook(extra_cells=[{**cells[0], "outputs": [], "source": ["# pad\n"] * 200}])
    write(tmp_path, {"plots.ipynb": make_notebook(extra_cells=cells), "code.ipynb": long_code})
    assert (tmp_path / "plots.ipynb").stat().st_size > 2 * 1024 * 1024
    result = run_cli("migrate", "--max-file-size", "1", ".", cwd=tmp_path)
    assert result.code == 2, result.err
    assert "TPUEstimatorSpec" in "".join(json.loads((tmp_path / "plots.ipynb").read_text())["cells"][2]["source"])
    code = sum(len(line) for line in MAGICS + MODEL + TRAIN) + 200 * len("# pad\n")
    assert re.search(r"code\.ipynb: error: too large to migrate: its code cells hold [\d,]+ bytes, over "
                     r"max-file-size \(1 KiB = 1,024 bytes\); file left untouched", result.err), result.err
    assert code > 1024 and "1 file migrated, 0 unchanged, 1 failed" in result.err
    assert (tmp_path / "code.ipynb").read_text() == long_code


def test_a_cell_indented_as_a_whole_is_dedented_as_ipython_does_and_written_back_indented(tmp_path):
    """IPython takes the first line's indentation off every line that has it (leading_indent)."""
    train = ["  " + line if line.strip() else "  \n" for line in TRAIN] + ["\n", "print('done')"]
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": train}]
    nb = json.loads(make_notebook(extra_cells=cells))
    nb["cells"][5]["source"] = []  # the unindented TRAIN cell: the indented one trains instead
    write(tmp_path, {"nb.ipynb": json.dumps(nb, indent=1) + "\n"})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.err
    new = json.loads((tmp_path / "nb.ipynb").read_text())
    source = new["cells"][-1]["source"]
    assert source[0] == "  def input_fn(params):\n" and source[-1] == "print('done')" and source[2] == "  \n"
    assert any(line.startswith("  estimator = tf.compat.v1.estimator.tpu.TPUEstimator(") for line in source)
    assert all(line.startswith("  ") or line in ("\n", "print('done')") for line in source), source
    once = snapshot(tmp_path)
    assert run_cli("migrate", "--check", "nb.ipynb", cwd=tmp_path).code == 0 and snapshot(tmp_path) == once


def test_an_error_in_an_indented_cell_is_placed_in_the_cell_as_written(tmp_path):
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": ["    x = 1\n", "    y = = 2"]}]
    write(tmp_path, {"nb.ipynb": make_notebook(extra_cells=cells)})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 2 and "nb.ipynb:cell 7:2:9: error: syntax error" in result.err, result.err


def test_skip_file_and_ignore_in_a_notebook(tmp_path):
    skip = make_notebook(extra_cells=[{"cell_type": "code", "execution_count": None, "metadata": {},
                                       "outputs": [], "source": ["# est2tpu: skip-file\n"]}])
    write(tmp_path, {"skip.ipynb": skip})
    assert run_cli("migrate", "skip.ipynb", cwd=tmp_path).code == 0
    assert (tmp_path / "skip.ipynb").read_text() == skip


def test_string_source_and_no_magic_notebook(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": SPEC}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(nb, indent=1)
    write(tmp_path, {"s.ipynb": text})
    assert run_cli("migrate", "s.ipynb", cwd=tmp_path).code == 0
    new = json.loads((tmp_path / "s.ipynb").read_text())
    assert new["cells"][0]["source"] == engine(SPEC, style="none")  # still one string


# --------------------------------------------------------------------------- unit level


def test_masking_round_trip():
    source = "%time x = 1\n!ls -la\nfor i in range(3):\n    !echo {i}\ny = x?\ns = '''\n%not magic\n'''\n"
    counter = [0]
    masked = notebook.mask(source, counter)
    assert "%time" not in masked.code and "!ls" not in masked.code
    assert "%not magic" in masked.code  # inside a string: untouched
    import ast

    ast.parse(masked.code)
    assert notebook.unmask(masked.code, masked.originals) == source


def test_cell_magic_handling():
    assert notebook.mask("%%bash\necho hi\n", [0]) is None
    masked = notebook.mask("%%time\nx = 1\n", [0])
    assert masked is not None and masked.code.startswith("_est2tpu_magic_0_\n")


def test_unmask_detects_lost_placeholders():
    masked = notebook.mask("!ls\nx = 1\n", [0])
    with pytest.raises(notebook.NotebookError):
        notebook.unmask("x = 1\n", masked.originals)


def test_lost_cell_boundary_is_an_internal_error(tmp_path, monkeypatch):
    stub_engine(monkeypatch, lambda code: (
        code.replace("_est2tpu_cell_boundary_0_\n", "").replace("EstimatorSpec", "TPUEstimatorSpec"), []))
    text = make_notebook()
    write(tmp_path, {"nb.ipynb": text})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 2 and "internal error: cell boundaries were" in result.err
    assert (tmp_path / "nb.ipynb").read_text() == text


def test_chief_in_plain_python_still_works_next_to_notebooks(tmp_path):
    write(tmp_path, {"nb.ipynb": make_notebook(), "m.py": CHIEF})
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 0 and "2 files migrated" in result.err


# --------------------------------------------------------------------------- what IPython runs


def _code_cell(*lines: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": list(lines)}


def _notebook_of(*cells: dict) -> str:
    nb = {"cells": list(cells), "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1) + "\n"


def _migrated_cells(tmp_path, text: str):
    write(tmp_path, {"nb.ipynb": text})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 0, result.err
    return [cell["source"] for cell in json.loads((tmp_path / "nb.ipynb").read_text())["cells"]]


def test_a_future_import_at_the_top_of_a_later_cell(tmp_path):
    """IPython takes `from __future__` at the top of any cell; Python only at the top of a module."""
    future = ["# settings\n", "from __future__ import (absolute_import,\n", "                        division)\n"]
    cells = _migrated_cells(tmp_path, _notebook_of(
        _code_cell("from __future__ import print_function\n", "import tensorflow as tf\n"),
        _code_cell(*future, *MODEL), _code_cell(*TRAIN)))
    assert cells[1][:3] == future
    assert "TPUEstimatorSpec" in "".join(cells[1])


def test_a_future_import_below_other_code_is_still_a_syntax_error(tmp_path):
    text = _notebook_of(_code_cell("import tensorflow as tf\n"),
                        _code_cell("x = 1\n", "from __future__ import division\n", *MODEL), _code_cell(*TRAIN))
    write(tmp_path, {"nb.ipynb": text})
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 2
    assert "nb.ipynb:cell 2:2:" in result.err and "from __future__ imports must occur" in result.err


def test_a_shell_command_continued_by_backslashes(tmp_path):
    command = ["!pip install -q tensorflow \\\n", "    tensorflow-datasets \\\n", "  numpy\n"]
    nested = ["if True:\n", "    !echo a \\\n", "  b\n"]  # continued less indented than it starts
    cells = _migrated_cells(tmp_path, _notebook_of(_code_cell(*command, *nested, "import tensorflow as tf\n"),
                                                   _code_cell(*MODEL), _code_cell(*TRAIN)))
    assert [line for line in cells[0] if line != "import est2tpu\n"] == [*command, *nested, "import tensorflow as tf\n"]
    assert "TPUEstimatorSpec" in "".join(cells[1])


def test_masking_a_continued_magic_round_trip():
    source = "x = 1\n%time y = \\\n  x \\\nz = 2\n"  # IPython joins the three lines
    masked = notebook.mask(source, [0])
    import ast

    assert [type(s).__name__ for s in ast.parse(masked.code).body] == ["Assign", "Expr", "Expr", "Expr"]
    assert notebook.unmask(masked.code, masked.originals) == source


def _colab(text: str) -> str:
    """JSON as Colab writes it: <, > and & escaped."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def test_colab_escapes_are_kept_in_changed_cells(tmp_path):
    model = [*MODEL[:-1], "    small = loss < 1 and loss > 0 & 1\n",
             "    return tf.estimator.EstimatorSpec(mode, loss=loss if small else loss, training_chief_hooks=[])"]
    markdown = {"cell_type": "markdown", "metadata": {}, "source": ["<a href=\"x\">Open</a> & run\n"]}
    text = _colab(_notebook_of(markdown, _code_cell("import tensorflow as tf\n"), _code_cell(*model),
                               _code_cell(*TRAIN)))
    write(tmp_path, {"nb.ipynb": text})

    check = run_cli("migrate", "--check", "--output-format", "github", "nb.ipynb", cwd=tmp_path)
    annotation = next(line for line in check.stdout.splitlines() if "title=E2T201" in line)
    fields = dict(kv.split("=") for kv in annotation.split("::")[1].split(" ", 1)[1].split(","))
    file_line = text.splitlines()[int(fields["line"]) - 1]
    assert file_line[int(fields["col"]) - 1:].startswith("training_chief_hooks")

    assert run_cli("migrate", "nb.ipynb", cwd=tmp_path).code == 0
    new = (tmp_path / "nb.ipynb").read_text()
    assert "TPUEstimatorSpec" in new and "\\u003c" in new
    assert not set("<>&") & set(new)  # the changed cell's lines are all written again
    removed, _ = changed_lines(text, new)
    spec = [line for line in removed if "EstimatorSpec(" in line]
    others = {json.dumps(line) + "," for line in TRAIN} | {json.dumps("import tensorflow as tf\n")}
    assert len(spec) == 1 and all(line.strip() in others for line in removed if line not in spec), removed


# --------------------------------------------------------------------------- where imports go

#: A Colab licence cell: a hidden form of comments and a string, which users do not run.
LICENCE = _code_cell('#@title Licensed under the Apache License, Version 2.0 (the "License");\n',
                     "# you may not use this file except in compliance with the License.\n",
                     '"""Copyright 2019 The TensorFlow Authors."""')


def _importing_cells(cells) -> list:
    return [i for i, source in enumerate(cells) if any(line.startswith("import est2tpu") for line in source)]


@pytest.mark.parametrize("imports", [
    ["import tensorflow as tf"],
    ["try:\n", "  import tensorflow.compat.v1 as tf\n", "except ImportError:\n", "  import tensorflow as tf\n"],
    ["%tensorflow_version 1.x\n", "if True:\n", "  import tensorflow as tf\n"],
])
def test_est2tpu_is_imported_in_the_first_cell_that_imports_not_in_the_licence(tmp_path, imports):
    """A cell of comments and strings (a hidden `#@title` licence) is skipped by users: an import
    put there is a NameError later; it goes into the first cell that imports."""
    settings = _code_cell("BATCH = 8\n")  # code, but no import
    cells = _migrated_cells(tmp_path, _notebook_of(LICENCE, settings, _code_cell(*imports), _code_cell(*MODEL),
                                                   _code_cell(*TRAIN)))
    assert _importing_cells(cells) == [2], cells[:3]
    assert cells[:2] == [LICENCE["source"], settings["source"]]
    assert [line for line in cells[2] if line != "import est2tpu\n"] == imports
    assert "est2tpu.use_tpu()" in "".join(cells[4])


# --------------------------------------------------------------------------- a function redefined in a later cell

#: A first input_fn, the estimator trained with it, then a later cell redefines input_fn (a
#: different batch) and a second estimator trains with that one, as tutorials do.
FIRST_INPUT = ["def input_fn():\n", "    return tf.data.Dataset.from_tensors(([1.0], [1.0])).repeat().batch(8)\n"]
SECOND_INPUT = ["def input_fn():\n", "    return tf.data.Dataset.from_tensors(([2.0], [2.0])).repeat().batch(16)\n"]
#: MODEL without its training_chief_hooks (a finding): converted cleanly.
PLAIN_MODEL = [*MODEL[:-1], "    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)\n"]


def _trained(estimator: str) -> list:
    return [f"{estimator} = tf.estimator.Estimator(model_fn)\n", f"{estimator}.train(input_fn, max_steps=10)\n"]


@pytest.mark.parametrize("redefined", [
    SECOND_INPUT,
    ["input_fn = lambda: tf.data.Dataset.from_tensors(([2.0], [2.0])).repeat().batch(16)\n"],
])
def test_a_function_redefined_in_a_later_cell_migrates_idempotently(tmp_path, redefined):
    """Each use gets the definition bound where it runs: both input_fns take params, each
    estimator its own batch size; a second run changes nothing and --check passes."""
    text = _notebook_of(_code_cell("import tensorflow as tf\n"), _code_cell(*PLAIN_MODEL), _code_cell(*FIRST_INPUT),
                        _code_cell(*_trained("first")), _code_cell(*redefined), _code_cell(*_trained("second")))
    cells = ["".join(source) for source in _migrated_cells(tmp_path, text)]
    once = snapshot(tmp_path)
    assert "params" in cells[2] and "params" in cells[4], cells[4]
    assert "train_batch_size=8" in cells[3] and "train_batch_size=16" in cells[5], cells[5]
    check = run_cli("migrate", "--check", "nb.ipynb", cwd=tmp_path)
    assert check.code == 0, check.stdout + check.err
    assert run_cli("migrate", "nb.ipynb", cwd=tmp_path).code == 0
    assert snapshot(tmp_path) == once


def test_a_model_fn_redefined_before_the_estimator_is_the_one_converted(tmp_path):
    """The estimator runs the model_fn bound when it is built: the later definition."""
    second = [line.replace("reduce_sum", "reduce_mean") for line in PLAIN_MODEL]
    text = _notebook_of(_code_cell("import tensorflow as tf\n"), _code_cell(*PLAIN_MODEL), _code_cell(*second),
                        _code_cell(*FIRST_INPUT), _code_cell(*_trained("estimator")))
    cells = ["".join(source) for source in _migrated_cells(tmp_path, text)]
    assert "TPUEstimatorSpec" in cells[2] and "TPUEstimator(" in cells[4], cells[2]
    once = snapshot(tmp_path)
    assert run_cli("migrate", "nb.ipynb", cwd=tmp_path).code == 0
    assert snapshot(tmp_path) == once


def test_a_cell_run_again_builds_and_trains_its_own_estimator(tmp_path):
    """The train cell copied below itself (``estimator = ...`` bound twice): each
    ``estimator.train`` trains the Estimator built just above it, so neither is E2T218
    ("trained nowhere") and both convert."""
    text = _notebook_of(_code_cell("import tensorflow as tf\n"), _code_cell(*PLAIN_MODEL), _code_cell(*FIRST_INPUT),
                        _code_cell(*_trained("estimator")), _code_cell(*_trained("estimator")))
    cells = ["".join(source) for source in _migrated_cells(tmp_path, text)]
    assert all("TPUEstimator(" in cell and "train_batch_size=8" in cell for cell in cells[3:]), cells[3:]
    once = snapshot(tmp_path)
    check = run_cli("migrate", "--check", "nb.ipynb", cwd=tmp_path)
    assert check.code == 0 and snapshot(tmp_path) == once, check.stdout + check.err


#: A notebook that trains with one input_fn and evaluates with another of the same name,
#: defined in a later cell; seeded, so both versions give the same loss.
RERUN = [
    ["import numpy as np\n", "import tensorflow as tf\n"],
    ["def model_fn(features, labels, mode, params):\n",
     "    w = tf.compat.v1.get_variable('w', [1, 1], initializer=tf.compat.v1.constant_initializer(0.5))\n",
     "    loss = tf.reduce_mean(tf.square(tf.matmul(features, w) - labels))\n",
     "    optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1)\n",
     "    train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())\n",
     "    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)\n"],
    ["def input_fn():\n",
     "    x = np.arange(16, dtype=np.float32).reshape(16, 1) / 16\n",
     "    return tf.data.Dataset.from_tensor_slices((x, 2 * x)).repeat().batch(8)\n"],
    ["estimator = tf.estimator.Estimator(model_fn, model_dir=MODEL_DIR)\n",
     "estimator.train(input_fn, max_steps=5)\n"],
    ["def input_fn():\n",
     "    x = np.ones((16, 1), np.float32)\n",
     "    return tf.data.Dataset.from_tensor_slices((x, 3 * x)).repeat().batch(8)\n"],
    ["result = estimator.evaluate(input_fn, steps=2)\n"],
]


def _runs_the_same(tmp_path, monkeypatch, cells):
    """Migrate a notebook of ``cells``, run the original cells and the migrated ones on the
    CPU (``result["loss"]`` must agree): the migrated cells."""
    pytest.importorskip("tensorflow")
    monkeypatch.delenv("TPU_NAME", raising=False)
    migrated = _migrated_cells(tmp_path, _notebook_of(*(_code_cell(*cell) for cell in cells)))
    losses = []
    for name, run in (("before", cells), ("after", migrated)):
        scope = {"MODEL_DIR": str(tmp_path / name)}
        exec(compile("".join("".join(cell) for cell in run), f"{name}.ipynb", "exec"), scope)
        losses.append(scope["result"]["loss"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-6), losses
    return migrated


def test_a_notebook_redefining_its_input_fn_runs_the_same_after_migration(tmp_path, monkeypatch):
    """Run the cells before and after migration on the CPU: the same evaluation loss."""
    migrated = _runs_the_same(tmp_path, monkeypatch, RERUN)
    assert "TPUEstimator(" in "".join(migrated[3])


#: Train in one cell; in a later one, a new estimator on the same model_dir only evaluates
#: (the checkpoint restored) with a bigger batch.
RESTORED = RERUN[:4] + [
    ["restored = tf.estimator.Estimator(model_fn, model_dir=MODEL_DIR)\n",
     "result = restored.evaluate(lambda: tf.data.Dataset.from_tensor_slices(\n",
     "    (np.ones((16, 1), np.float32), 3 * np.ones((16, 1), np.float32))).batch(16), steps=1)\n"],
]


def test_an_estimator_a_notebook_only_evaluates_runs_its_eval_batch_size_as_its_train_one(tmp_path, monkeypatch):
    """A TPUEstimator needs a train batch size even when it never trains: one a notebook
    only evaluates, whose name nothing else reads, gets its eval batch size (before, E2T218
    "trained nowhere" kept the whole notebook as it was), and evaluates the trained
    checkpoint to the same loss."""
    migrated = _runs_the_same(tmp_path, monkeypatch, RESTORED)
    assert "train_batch_size=16, eval_batch_size=16" in "".join(migrated[4])


@pytest.mark.parametrize("escape", ["kept = [restored]\n", "print(restored.model_dir)\n"])
def test_an_estimator_a_notebook_only_evaluates_but_hands_on_is_still_trained_nowhere(tmp_path, escape):
    """Stored, or read otherwise: something else may train it, so it stays (E2T218)."""
    cells = RESTORED + [[escape]]
    text = _notebook_of(*(_code_cell(*cell) for cell in cells))
    (tmp_path / "nb.ipynb").write_text(text)
    result = run_cli("migrate", "nb.ipynb", cwd=tmp_path)
    assert result.code == 1 and (tmp_path / "nb.ipynb").read_text() == text
    assert "E2T218 batch size of an input_fn not found (train_batch_size): the estimator is trained nowhere" in result.stdout

@pytest.mark.parametrize("cell", [
    "%bash\ngcloud config set project $PROJECT\n",  # Datalab: one % takes the cell too
    "%bq query\nSELECT x\n  FROM t\n",
    "%writefile trainer/task.py\nimport os\n",
])
def test_datalab_cell_magic_with_one_percent_is_left_alone(cell):
    assert notebook.mask(cell, [0]) is None


def test_one_percent_line_magic_is_still_a_line():
    masked = notebook.mask("%bash\n", [0])  # no body: a line (IPython would refuse it, as before)
    assert masked is not None and masked.code == "_est2tpu_magic_0_\n"
    masked = notebook.mask("%matplotlib inline\nx = 1\n", [0])
    assert masked.code == "_est2tpu_magic_0_\nx = 1\n"


@pytest.mark.parametrize("line, magic", [
    ("ls -la ../data/ARC-Easy", True),
    ("cd ../trainer", True),
    ("pip install tensorflow==1.15", True),
    ("cat  data/train.csv", True),
    ("    ls $DIR", True),  # in a block: IPython still runs it
    ("ls", False),  # Python as well: a name, left as written
    ("cd = 1", False),
    ("rm(path)", False),
    ("env.get('x')", False),
    ("history -= 1", False),
    ("pip", False),
    ("run_config = 1", False),  # not an automagic's name
    ("ls is None", False),  # Python
    ("gcloud config list", False),  # not a magic: a syntax error, reported
])
def test_automagic_lines_are_masked(line, magic):
    masked = notebook.mask(line + "\nx = 1\n", [0])
    assert (masked.code.split("\n")[0].strip() == "_est2tpu_magic_0_") is magic
    source = line + "\nx = 1\n"
    assert notebook.indented(notebook.unmask(masked.code, masked.originals), source, masked.indent) == source


def test_automagic_check_ignores_warnings_setting(recwarn):
    """A Python line with an invalid escape stays Python, and says nothing, even under -W error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        masked = notebook.mask('ls in "\\d"\nx = 1\n', [0])
    assert masked.code == 'ls in "\\d"\nx = 1\n'
    assert not recwarn.list
