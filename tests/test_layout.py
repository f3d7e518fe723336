"""Layout by snippets (codemods.layout): black runs on the statements around the changed
lines only, and must give what black gives on the whole file."""

from __future__ import annotations

import ast
import dataclasses
import io
import pathlib
import sysconfig
import tokenize

import black
import pytest

from est2tpu.codemods import layout
from fixture_programs import FIXTURES, NAMES, migrate_in_package

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROGRAMS = [p for p in [FIXTURES / f"{name}.py" for name in NAMES] + sorted((ROOT / "examples").rglob("*.py"))
            if p.stat().st_size]
MODE = black.Mode()
LONG = "return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op, eval_metrics=(metric_fn, [labels, logits]))"


def whole_file(before: str, after: str) -> str:
    """What black gives on the whole file: the reference the snippets must agree with (a
    file not indented by four spaces, as metric_helpers, is left as the codemods wrote it:
    black would re-indent whole blocks)."""
    if not layout._four_space_indented(before):
        return after
    if layout.is_black_formatted(before, MODE):
        return black.format_str(after, mode=MODE)
    longest = max(len(line) for line in before.splitlines())
    own = dataclasses.replace(MODE, line_length=79 if longest <= 79 else 88, string_normalization=False)
    ranges = [new for new, _ in layout.changed_lines(before, after, own.line_length)]
    return black.format_str(after, mode=own, lines=ranges) if ranges else after


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_black_formatted_program_stays_black_formatted(path):
    source = black.format_str(path.read_text(), mode=MODE)
    out = migrate_in_package(path, source=source).code
    assert out != source
    assert out == black.format_str(migrate_in_package(path, source=source, style="none").code, mode=MODE)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_program_in_its_own_style_gets_what_black_gives_on_the_changed_lines(path):
    source = path.read_text()
    after = migrate_in_package(path, style="none").code
    assert layout.lay_out(source, after) == whole_file(source, after)


BEFORE = '''\
import tensorflow as tf


def model_fn(features, labels, mode):
    logits = tf.layers.dense(features, 2)
    if mode == "eval":
        loss = 1
    else:
        loss = 2
    try:
        pass
    except ValueError:
        x = 1
    return loss


class Trainer:
    """Trains."""

    @property
    def spec(self):
        x = 1
        return x
'''

CASES = {
    "in an else block": ("        loss = 2\n", f"        loss = 2\n        {LONG}\n"),
    "in an elif block": ("        loss = 3\n", f"        loss = 3\n        {LONG}\n"),
    "in an except block": ("        x = 1\n    return loss", f"        {LONG}\n    return loss"),
    "a decorated method": ("        x = 1\n        return x", f"        x = 1\n        {LONG}"),
    "a nested def inserted": (
        "    logits = tf.layers.dense(features, 2)\n",
        "    logits = tf.layers.dense(features, 2)\n    def metric_fn(labels, logits):\n"
        "        return {'accuracy':   tf.metrics.accuracy(labels, logits)}\n"),
    "a one-line compound statement": ("        loss = 1\n", f"        loss = 1\n        if loss: {LONG}\n"),
    "two places": ("    return loss\n", f"    {LONG}\n"),
    "the last line, without a newline": ("        return x\n", f"        {LONG}"),
    "after a class docstring": ('    """Trains."""\n', f'    """Trains."""\n    {LONG}\n'),
}


@pytest.mark.parametrize("black_file", [False, True], ids=["own style", "black"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_snippets_agree_with_black_on_the_whole_file(case, black_file):
    old, new = CASES[case]
    before = black.format_str(BEFORE, mode=MODE) if black_file else BEFORE
    if case == "two places":
        before = before.replace("        x = 1\n        return x", "        return x")
        after = before.replace(old, new).replace("        return x", f"        {LONG}")
    elif case == "the last line, without a newline":
        before = before.rstrip("\n")
        after = before.replace(old.rstrip("\n"), new)
    elif case == "in an elif block":  # the elif's body is one block deep, as the if's
        before = before.replace("    else:\n", '    elif mode == "infer":\n        loss = 3\n    else:\n')
        after = before.replace(old, new)
    else:
        after = before.replace(old, new)
    assert after != before
    out = layout.lay_out(before, after)
    expected = whole_file(before, after)
    if not after.endswith("\n"):  # black adds the final newline; a file without one keeps it so
        expected = expected.rstrip("\n")
    assert out == expected
    assert out != after
    if black_file and after.endswith("\n"):
        assert black.format_str(out, mode=MODE) == out


def test_a_change_in_an_elif_body_is_a_snippet_one_block_deep():
    """An elif is its if's orelse in Python's tree, but its body is as deep as the if's."""
    source = "def f(mode):\n    if mode:\n        x = 1\n    elif mode == 2:\n        x = 2\n    else:\n        x = 3\n"
    found = layout.snippets(source, [(5, 5)])
    assert found is not None and [(s.start, s.end, s.headers) for s in found] == [(5, 5, ("def _():", "if True:"))]


def test_snippets_hold_the_statements_around_the_change():
    lines = BEFORE.splitlines()
    at = lines.index("        loss = 2") + 1
    (snippet,) = layout.snippets(BEFORE, [(at, at)])
    # The else block holds one statement: the snippet is that statement alone, at depth 2.
    assert (snippet.start, snippet.end, snippet.indent) == (at, at, 8)
    # Under stand-ins for the def and the if around it (only the kind of a def or class matters).
    assert snippet.text(BEFORE.splitlines(keepends=True)) == "def _():\n    if True:\n        loss = 2\n"
    first = lines.index("    logits = tf.layers.dense(features, 2)") + 1
    (snippet,) = layout.snippets(BEFORE, [(first, first)])
    # One statement each side: the def's first statement has none before it.
    assert (snippet.start, snippet.indent, snippet.headers) == (first, 4, ("def _():",))
    assert lines[snippet.end - 1] == "        loss = 2"
    # A snippet that does not start its block is under an `if`: a string there is no docstring.
    last = lines.index("    return loss") + 1
    (snippet,) = layout.snippets(BEFORE, [(last, last)])
    assert lines[snippet.start - 1] == "    try:" and snippet.headers == ("if True:",)


def test_nested_and_overlapping_changes_make_one_snippet():
    lines = BEFORE.splitlines()
    outer = lines.index("    try:") + 1
    inner = lines.index("        x = 1") + 1
    found = layout.snippets(BEFORE, [(outer, outer), (inner, inner)])
    assert len(found) == 1 and found[0].indent == 4 and found[0].start < outer and found[0].end >= inner


def test_crlf_file_keeps_crlf():
    before = black.format_str(BEFORE, mode=MODE)
    after = before.replace("        x = 1\n", f"        x = 1\n        {LONG}\n")
    expected = layout.lay_out(before, after)
    crlf = layout.lay_out(before.replace("\n", "\r\n"), after.replace("\n", "\r\n"))
    assert crlf == expected.replace("\n", "\r\n")


@pytest.mark.parametrize("black_file", [False, True], ids=["own style", "black"])
def test_snippet_targets_the_python_versions_of_the_whole_file(black_file):
    """An f-string elsewhere makes black target Python 3.6+, which adds a trailing comma
    after ``**kwargs`` when it splits a call: the snippet must do the same."""
    call = "    return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op, eval_metrics=eval_metrics, scaffold_fn=scaffold_fn, **kwargs)\n"
    before = 'NAME = f"{1}"\n\n\ndef model_fn(mode, loss, train_op, kwargs):\n    loss = 1\n    return loss\n'
    before = black.format_str(before, mode=MODE) if black_file else before
    after = before.replace("    return loss\n", call)
    out = layout.lay_out(before, after)
    assert out == whole_file(before, after)
    assert "**kwargs,\n" in out


def test_mixed_line_endings_are_left_as_the_codemods_wrote_them():
    """Black works on one kind of newline: converting would change lines the migration did not."""
    before = black.format_str(BEFORE, mode=MODE).replace("    loss = 1\n", "    loss = 1\r\n")
    after = before.replace("        x = 1\n", f"        x = 1\n        {LONG}\n")
    assert layout.lay_out(before, after) == after


def test_one_line_compound_statements_beside_a_change_keep_their_spaces():
    """Black's line ranges respace ``if x: y`` outside them (``if x:y``); the migration
    must not touch a line it did not change.  (A black-formatted file has no such line.)"""
    before = BEFORE.replace("    if mode == \"eval\":\n        loss = 1\n    else:\n        loss = 2\n",
                            "    if mode == \"eval\": loss = 1\n    else: loss = 2\n")
    after = before.replace("    try:\n", f"    {LONG}\n    try:\n")
    out = layout.lay_out(before, after)
    assert "    if mode == \"eval\": loss = 1\n    else: loss = 2\n" in out
    assert "TPUEstimatorSpec(\n" in out  # the change itself is laid out


def test_every_line_of_a_changed_statement_is_laid_out():
    """A statement black lays out is laid out whole, its unchanged middle lines too."""
    before = ("def main(d):\n    cfg = tf.estimator.RunConfig(model_dir=d, tf_random_seed=3,\n"
              "                                 save_checkpoints_steps=None,\n"
              "                                 save_checkpoints_secs=None)\n    return cfg\n")
    after = before.replace("tf.estimator.RunConfig", "tf.estimator.tpu.RunConfig").replace(
        "save_checkpoints_secs=None)", "save_checkpoints_secs=None, cluster=est2tpu.tpu_cluster_resolver())")
    out = layout.lay_out(before, after)
    assert out == whole_file(before, after)
    assert "\n        save_checkpoints_steps=None,\n" in out


@pytest.mark.parametrize("black_file", [False, True], ids=["own style", "black"])
def test_a_form_feed_line_does_not_shift_the_lines_laid_out(black_file):
    """Python, ast and black end lines at newlines only; a form feed (a section break in
    older code) must not move the ranges black is given."""
    plain = black.format_str(BEFORE, mode=MODE) if black_file else BEFORE
    old, new = "    return loss\n", f"    {LONG}\n"  # a line replaced by a longer one
    expected = layout.lay_out(plain, plain.replace(old, new))
    with_feed = plain.replace("import tensorflow as tf\n", "import tensorflow as tf\n\x0c\n", 1)
    out = layout.lay_out(with_feed, with_feed.replace(old, new))
    assert out == expected.replace("import tensorflow as tf\n", "import tensorflow as tf\n\x0c\n", 1)
    assert "TPUEstimatorSpec(\n" in out


#: Real programs from public repositories, beside the project as CI lays it out.
REALWORLD = next((sorted(p.rglob("*.py")) for p in (ROOT.parent / "shared" / "realworld",
                                                     ROOT.parent.parent / "shared" / "realworld") if p.is_dir()), [])


@pytest.mark.parametrize("mode", [MODE, dataclasses.replace(MODE, line_length=79, string_normalization=False),
                                  dataclasses.replace(MODE, line_length=100)], ids=["88", "79", "100"])
def test_what_black_writes_is_never_judged_reformatted_without_black(mode):
    """The check that spares a black pass (``_surely_reformatted``) must never claim black
    changes code that black leaves as it is: black's own output, for many programs."""
    checked = 0
    for path in PROGRAMS + REALWORLD:
        try:
            out = black.format_str(path.read_text(), mode=mode)
        except Exception:  # black cannot parse it
            continue
        assert not layout._surely_reformatted(out, mode), path
        checked += 1
    assert checked >= len(PROGRAMS)


def _single_quoted_by_tokenizer(source: str) -> bool:
    """``layout._single_quoted_string`` by Python's tokenizer: the reference it agrees with."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING:
                body = token.string.lstrip("rRbBuUfF")
                if body[:1] == "'" and body[:3] != "'''" and '"' not in body and "\\" not in body:
                    return True
    except (tokenize.TokenError, SyntaxError):
        pass
    return False


STDLIB = sorted(pathlib.Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
GLUED = ["if'a'in x: pass\n", "x = '''a'b'''\n", "# it's\nx = \"a\"\n", "x = 'a\\'b'\n", "x = '#'  # '\n",
         "x = rb'a'\n", "x = f'{y[\"k\"]}'\n", "x = \"it's\"\n", "x = 'a\\\nb'\n", 'x = """a\n\'b\'\n"""\n']


def test_strings_black_requotes_are_found_as_pythons_tokenizer_finds_them():
    """The screen for single-quoted strings reads strings and comments as Python's
    tokenizer does: the same verdict on every program and module of the standard library
    (strings in comments, comments in strings, triple quotes, escapes, prefixes), and on
    strings glued to keywords."""
    sources = GLUED + [path.read_text() for path in PROGRAMS + REALWORLD]
    for path in STDLIB:
        try:
            sources.append(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    found = 0
    for source in sources:
        if "fmt:" in source:
            continue
        expected = _single_quoted_by_tokenizer(source)
        assert layout._single_quoted_string(source, MODE) is expected, source[:200]
        found += expected
    assert 0 < found < len(sources)


def _reformatted_by_tokenizer(source: str) -> bool:
    """``layout._surely_reformatted`` past its screens (``fmt:``, continuations, preview
    styles), by Python's tokenizer: the reference it agrees with."""
    multiline = any(t.start[0] != t.end[0] and t.type not in (tokenize.NL, tokenize.NEWLINE)
                    for t in tokenize.generate_tokens(io.StringIO(source).readline))
    if multiline:
        return False
    if any(line.endswith((" \n", "\t\n")) for line in source.splitlines(True)):
        return True
    opened, line_of_last = [], 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.OP and token.string in "([{":
            opened.append(token.start[0])
        elif token.type == tokenize.OP and token.string in ")]}" and opened:
            if opened.pop() < token.start[0] and line_of_last == token.start[0]:
                return True
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.ENDMARKER):
            line_of_last = token.end[0]
    return False


def test_lines_black_surely_changes_are_found_as_pythons_tokenizer_finds_them():
    """The screen that spares a black pass reads the code as Python's tokenizer does:
    the same verdict on every program, every module of the standard library and every
    top-level statement of them (brackets closed after code, strings over lines,
    comments and strings holding brackets)."""
    sources = list(GLUED) + ["x = f(a,  # (\n      b)\n", "x = ['(',\n     ')']\n", "x = (1 +\n     2)\n"]
    for path in PROGRAMS + REALWORLD + STDLIB:
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (UnicodeDecodeError, OSError, SyntaxError):
            continue
        lines = source.splitlines(True)
        sources.append(source)
        sources += ["".join(lines[node.lineno - 1:node.end_lineno]) for node in tree.body]
    found = checked = 0
    for source in sources:
        if "fmt:" in source or "yapf:" in source or "\\\n" in source or "\r" in source:
            continue
        expected = _reformatted_by_tokenizer(source)
        assert layout._surely_reformatted(source, MODE) is expected, source[:300]
        found += expected
        checked += 1
    assert 0 < found < checked


@pytest.mark.parametrize("code, reformatted", [
    ("x = f(a,\n      b)\n", True),  # closed after code on a later line
    ("x = f(\n    a, b)\n", True),
    ("x = f(\n    a, b\n)\n", False),
    ("x = f(a, b)  \n", True),  # trailing blanks
    ('x = f("""a\n""")\n', False),  # a string over two lines: left to black
    ("x = f(a,  # fmt: skip\n      b)\n", False),
])
def test_code_black_surely_changes(code, reformatted):
    assert layout._surely_reformatted(code, MODE) is reformatted
    if reformatted:
        assert black.format_str(code, mode=MODE) != code



SIMPLERNN = FIXTURES.parent.parent / "shared" / "realworld" / "tda" / "courses" / "machine_learning" / "deepdive" / \
    "05_artandscience" / "simplernn" / "trainer" / "model.py"


@pytest.mark.skipif(not SIMPLERNN.is_file(), reason="../shared/realworld is absent")
def test_a_block_not_indented_by_four_spaces_is_never_reindented():
    """A real trainer whose blocks are indented by four, three and two spaces: black over the
    changed lines of a two-space def indented them by four (a syntax error, the file then
    failed); the codemods' own lines are kept there instead."""
    from est2tpu.cli.program import module_names
    from est2tpu.codemods.migrate import migrate_program
    from est2tpu.codemods.program import Source

    path = "trainer/model.py"
    result, = migrate_program([Source(SIMPLERNN.read_text(), module_names(path), path, False)])
    compile(result.code, "model.py", "exec")
    assert "  return est2tpu.model_to_estimator(" in result.code
