"""codemods.statement_layout lays out what black would, or leaves it to black.

Every layout it makes is compared with black's over the same snippet and line ranges
(``layout._black``, what it replaces): on generated call statements of every shape it
takes, and on the fixtures and real programs, migrated with and without it.
"""

import ast
import doctest
import io
import keyword
import pathlib
import re
import sysconfig
import tokenize
import warnings

import black
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from est2tpu.codemods import layout, statement_layout
from est2tpu.codemods.migrate import migrate_code
from est2tpu.codemods.statement_layout import lay_out_statements, layout_call, reformats

ROOT = pathlib.Path(__file__).resolve().parent.parent
REALWORLD = next((p for p in (ROOT.parent / "shared" / "realworld", ROOT.parent.parent / "shared" / "realworld")
                  if p.is_dir()), ROOT.parent / "shared" / "realworld")

pytestmark = pytest.mark.skipif(not layout._emulated(black.Mode()), reason="laid out here for black >= 26.10 only")

NAMES = st.sampled_from(["a", "x", "params", "labels", "model_fn", "tf", "est2tpu", "batch_size",
                         "a_rather_long_argument_name", "EVAL_ROWS"])
DOTTED = st.lists(NAMES, min_size=1, max_size=4).map(".".join)
ATOMS = st.one_of(
    NAMES, DOTTED,
    st.sampled_from(["1", "100", "0.5", "-1", '"batch_size"', "'single'", '"/tmp/model"', "None", "True",
                     '"rows\\n"', "'a\\tb\\\\'",
                     'f"{model_dir}/pretrain"', "r'\\d+'", "b'bytes'"]),
)


def _joined(items, comma):
    """Items with a magic trailing comma when ``comma``."""
    return ", ".join(items) + ("," if comma and items else "")


def _call(args):
    return st.tuples(DOTTED, st.lists(args, max_size=5), st.booleans()).map(
        lambda t: f"{t[0]}({_joined(t[1], t[2])})")


#: Slices: simple ones, and others (bounds black spaces out, an ellipsis) left to black.
SLICES = ["[:, 0]", "[:32]", "[1:]", "[::2]", "[a:b]", "[:, -1]", "[1, :]", "[-1:]", "[:, 1:3]", "[a:b:2]",
          "[a + 1:]", "[f(x):]", "[x.y:]", "[..., 0]", "[:, None]"]
EXPRESSIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        _call(st.one_of(inner, st.tuples(NAMES, inner).map("=".join))),
        st.tuples(_call(inner), st.sampled_from([".repeat()", ".numpy()"])).map("".join),
        st.tuples(DOTTED, st.sampled_from(['"key"', "0", "name"])).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(DOTTED, st.sampled_from(SLICES)).map("".join),
        st.tuples(st.lists(inner, min_size=1, max_size=4), st.booleans()).map(lambda t: f"[{_joined(*t)}]"),
        st.lists(inner, min_size=2, max_size=4).map(lambda xs: f"({', '.join(xs)})"),
        st.lists(st.tuples(st.sampled_from(['"accuracy"', '"loss"', "key"]), inner), min_size=1, max_size=3)
        .map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.tuples(st.lists(NAMES, max_size=2, unique=True), inner)
        .map(lambda t: f"lambda {', '.join(t[0])}: {t[1]}" if t[0] else f"lambda: {t[1]}"),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "//", "%", "==", "!=", "<", ">="]), inner).map(" ".join),
        st.tuples(inner, inner, inner, st.booleans())
        .map(lambda t: ("({} if {} else {})" if t[3] else "{} if {} else {}").format(*t[:3])),
    ),
    max_leaves=12,
)
ARGUMENT = st.one_of(EXPRESSIONS, st.tuples(NAMES, EXPRESSIONS).map("=".join))
#: Calls and method chains, some ending in a call without arguments (``.repeat()``).
CALLS = st.tuples(DOTTED, st.lists(st.lists(ARGUMENT, max_size=6).map(", ".join), min_size=1, max_size=3),
                  st.sampled_from(["", "", ".repeat()", ".as_default()"])).map(
    lambda t: t[0] + "(" + ").x(".join(t[1]) + ")" + t[2])
DISPLAYS = st.tuples(st.sampled_from("[({"), st.lists(EXPRESSIONS, min_size=2, max_size=5), st.booleans()).map(
    lambda t: t[0] + _joined(t[1] if t[0] != "{" else [f'"k{i}": {x}' for i, x in enumerate(t[1])], t[2])
    + {"[": "]", "(": ")", "{": "}"}[t[0]])
STATEMENTS = st.one_of(
    st.tuples(st.sampled_from(["", "return ", "value = ", "self.estimator = ", 'metrics["rmse"] = ']), CALLS),
    st.tuples(st.sampled_from(["return ", "value = ", "table[key] = "]), DISPLAYS),
).map("".join)


def _snippet(statement: str, depth: int, respace: bool) -> str:
    if respace:  # the codemods' own spacing, not black's
        statement = statement.replace(", ", ",").replace("(", "( ", 1)
    indent = "    " * depth
    headers = "".join("    " * d + ("def _():" if d == 0 else "if True:") + "\n" for d in range(depth))
    return f"{headers}{indent}first = 1\n{indent}{statement}\n{indent}last = 2\n"


def _black_says(text: str, line: int, line_length: int) -> str:
    mode = black.Mode(line_length=line_length, string_normalization=False)
    return layout._black(text, mode, [(line, line)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STATEMENTS, st.integers(0, 3), st.sampled_from([40, 60, 79, 88, 120]), st.booleans())
def test_every_layout_made_is_blacks(statement, depth, line_length, respace):
    text = _snippet(statement, depth, respace)
    line = depth + 2
    ours = lay_out_statements(text, [(line, line)], line_length)
    if ours is not None:
        assert ours == _black_says(text, line, line_length)
    if reformats(text, [(line, line)], line_length):  # then black, quotes normalized or not, changes it
        for normalized in (True, False):
            mode = black.Mode(line_length=line_length, string_normalization=normalized)
            assert not layout.is_black_formatted(text, mode)


BLOCKS = st.one_of(
    st.tuples(st.lists(NAMES, max_size=3, unique=True), st.sampled_from(["return", "value ="]))
    .map(lambda t: (f"def metric_fn({', '.join(t[0])}):", t[1])),
    st.just(('if params["use_tpu"]:', "optimizer =")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BLOCKS, EXPRESSIONS, STATEMENTS, st.integers(1, 2), st.sampled_from([50, 79, 88]),
       st.lists(st.booleans(), min_size=5, max_size=5), st.lists(st.integers(0, 2), min_size=3, max_size=3),
       st.booleans())
def test_inserted_blocks_are_laid_out_as_black_does(block, inner, after, depth, line_length, touch, gaps, opening):
    """A block the codemods insert (a def, an ``if``) between statements or ``opening``
    its block, some of its lines touched (not the blank lines above it): black's blank
    lines around it as well as its lines (untouched lines just above a def are comments
    to black)."""
    (header, start), indent = block, "    " * depth
    headers = "".join("    " * d + ("def _():" if d == 0 else "if True:") + "\n" for d in range(depth))
    parts = [] if opening else [f"{indent}zeroth = g(b)\n", "\n" * gaps[0] + f"{indent}first = f(a)\n"]
    parts += ["\n" * gaps[1] + f"{indent}{header}\n", f"{indent}    {start} {inner}\n",
              "\n" * gaps[2] + f"{indent}{after}\n"]
    text = headers + "".join(parts)
    ranges, line = [], depth + 1
    for part, chosen in zip(parts, touch):
        blank = len(part) - len(part.lstrip("\n"))  # the blank lines the part starts with
        size = part.count("\n")
        if chosen:  # the part's code lines, not its blank lines
            ranges.append((line + blank, line + size - 1))
        line += size
    if not ranges:
        return
    ours = lay_out_statements(text, ranges, line_length)
    if ours is not None:
        mode = black.Mode(line_length=line_length, string_normalization=False)
        assert ours == layout._black(text, mode, ranges)


#: Context managers: calls, some followed by calls without arguments, some named ``as``.
WITH_ITEMS = st.lists(
    st.tuples(DOTTED, st.lists(ARGUMENT, max_size=4).map(", ".join),
              st.sampled_from(["", "", ".as_default()", ".as_default().x()", " as f"]))
    .map(lambda t: f"{t[0]}({t[1]}){t[2]}"),
    min_size=1, max_size=3).map(", ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(WITH_ITEMS, st.integers(1, 3), st.sampled_from([40, 60, 79, 88]))
def test_with_headers_laid_out_are_blacks(items, depth, line_length):
    """A ``with`` header (the host_call's), for versions without parenthesized context
    managers: as black lays it out, or left to black; never laid out for versions that
    all have them."""
    headers = "".join("    " * d + ("def _():" if d == 0 else "if True:") + "\n" for d in range(depth))
    text = f"{headers}{'    ' * depth}with {items}:\n{'    ' * depth}    pass\n"
    line = depth + 1
    ours = lay_out_statements(text, [(line, line)], line_length, lambda: False)
    if ours is not None:
        mode = black.Mode(line_length=line_length, string_normalization=False,
                          target_versions={black.TargetVersion.PY38})
        assert ours == layout._black(text, mode, [(line, line)])
    assert lay_out_statements(text, [(line, line)], line_length, lambda: True) is None


@pytest.mark.parametrize("depth, line_length", [(1, 60), (2, 88), (1, 79)])
def test_the_host_calls_header_is_made_here(depth, line_length):
    """The ``with`` est2tpu's host_call opens, too long for its line: laid out here."""
    header = ("with tf.compat.v2.summary.create_file_writer(config.model_dir).as_default(), "
              "tf.compat.v2.summary.record_if(True):")
    headers = "".join("    " * d + ("def _():" if d == 0 else "if True:") + "\n" for d in range(depth))
    text = f"{headers}{'    ' * depth}{header}\n{'    ' * depth}    pass\n"
    ours = lay_out_statements(text, [(depth + 1, depth + 1)], line_length, lambda: False)
    mode = black.Mode(line_length=line_length, string_normalization=False, target_versions={black.TargetVersion.PY38})
    assert ours is not None and ours.count("\n") == text.count("\n") + 2
    assert ours == layout._black(text, mode, [(depth + 1, depth + 1)])


#: Statements black splits at a call: made here, and as black makes them.
MADE = [
    ("estimator = tf.estimator.Estimator(model_fn=model_fn, config=tf.estimator.RunConfig(model_dir=d))", 1, 60),
    ("return ds.shuffle(64, seed=3).repeat().batch(params['batch_size'], drop_remainder=True)", 1, 60),
    ("return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={'accuracy': accuracy(l, p)})", 2, 70),
    ("dataset = dataset.repeat(5).batch(params['batch_size'], drop_remainder=est2tpu.on_tpu(params))", 1, 79),
    ("est.train(input_fn=lambda params: input_fn(train_x, train_y, batch_size=params['batch_size']), steps=5)", 1, 79),
    # optimize_loss's optimizer on a TPU: a conditional expression in its parentheses, and one in black's
    ("op = optimize_loss(loss, step, optimizer=(CrossShardOptimizer(AdamOptimizer(rate)) if tpu else 'Adam'))", 2, 50),
    ("return Spec(mode, host_call=(host_call, [tf.reshape(step, [1])]) if mode == TRAIN else None)", 1, 60),
    ('metrics["auc"] = tf.compat.v1.metrics.auc(labels, probabilities[:, 1], weights=w[1:-1])', 2, 60),
    # a call without arguments ends the chain: black leaves it in the tail, inside an argument too
    ("dataset = dataset.batch(params['batch_size'], drop_remainder=est2tpu.on_tpu(params)).repeat()", 1, 79),
    ("x = f(aaaa, bbbbbbbbbbbbbbbbbbbbb, ccccccccccccccccccccc=ddddddddddddddd(eeeeeeeeeeeeee).g()).h()", 0, 44),
]

#: Left to black: a comment, a magic trailing comma, an operator outside the call, a
#: subscript to split, a block header, a lone value without a call, conditional
#: expressions as a statement's value, a lambda's body, alone in a list, nested; slices
#: whose bounds black spaces out.
LEFT = [
    "return f(a, b)  # keep",
    "estimator = f(a,)",
    "x = f(aaaaaaaaaaa) + g(bbbbbbbbbbbbb)",
    "x = table[a_rather_long_argument_name, another_long_argument_name]",
    "x = f(*args)",
    "x = a_rather_long_name_that_does_not_fit_the_line_at_all_anymore_never",
    "optimizer = tf_optimizer if params_use_tpu else 'Adam'",
    "x = f(input_fn=lambda: train_input if training else eval_input)",
    "x = f([(a_rather_long_argument_name if training else another_long_argument_name)])",
    "x = f(a_rather_long_argument_name if training else another if nested else name)",
    "x = f(a_rather_long_argument_name[offset + 1:], another_long_argument_name)",
    "x = f(a_rather_long_argument_name[:len(x)], another_long_argument_name)",
]


def test_an_invalid_escape_in_the_snippet_warns_nothing():
    """The CLI reports Python's verdict on the code itself; parsing a snippet is silent."""
    text = "def _():\n    pattern = '\\d'\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lay_out_statements(text, [(3, 3)], 30) is not None
        assert reformats(text, [(3, 3)], 30)


def test_a_form_feed_in_a_comment_does_not_shift_the_lines():
    """Python ends lines at newlines only (``str.splitlines`` also at form feeds): the
    statement below such a comment is still the one laid out, as black lays it out."""
    text = "x = 1  # \x0c\ny = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\nz = g(aaaaaaaaaa, bbbbbbbbbbbb)\n"
    mode = black.Mode(line_length=30, string_normalization=False)
    assert lay_out_statements(text, [(2, 2)], 30) == layout._black(text, mode, [(2, 2)])
    assert reformats(text, [(2, 2)], 30)


def test_the_examples_in_its_docstring():
    assert doctest.testmod(statement_layout).failed == 0


@pytest.mark.parametrize("statement, depth, line_length", MADE)
def test_made_here(statement, depth, line_length):
    laid = layout_call(statement, depth, line_length)
    assert laid is not None and len(laid) > 1
    text = _snippet(statement, depth, False)
    assert lay_out_statements(text, [(depth + 2, depth + 2)], line_length) == _black_says(text, depth + 2, line_length)


@pytest.mark.parametrize("statement", LEFT)
def test_left_to_black(statement):
    assert layout_call(statement, 1, 30) is None


#: A statement after an untouched def (black, given line ranges, knows only the defs it
#: lays out), after three blank lines (black keeps one), after a def it lays out (one),
#: and a def after untouched lines (to black, comments leading into it).
CONTEXTS = [
    ("def _():\n    def g():\n        pass\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n", [(4, 4)]),
    ("def _():\n    y = 1\n\n\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n", [(5, 5)]),
    ("def _():\n    y = 1\n    def g(a):\n        return a\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n", [(2, 5)]),
    ("def _():\n    y = 1\n\n    def g(a):\n        return a\n    x = 1\n", [(4, 4)]),
    # a def right after untouched lines: its blank line goes before them (after a touched line)
    ("def _():\n    y = 1\n    def g(a):\n        return a\n", [(3, 3)]),
    ("def _():\n    x = f(a)\n    y = 1\n    def g(a):\n        return a\n", [(2, 2), (4, 5)]),
    # a def opening an if block, after a blank line or none, the range from the blank line or the def
    ("def _():\n    if y:\n\n        def g(a):\n            return a\n        x = 1\n", [(3, 5)]),
    ("def _():\n    if y:\n\n\n        def g(a):\n            return a\n        x = 1\n", [(5, 6)]),
    ("def _():\n    if y:\n        def g(a):\n            return a\n        x = 1\n", [(3, 4)]),
]


@pytest.mark.parametrize("text, ranges", CONTEXTS)
def test_blank_lines_as_black_puts_them(text, ranges):
    laid = lay_out_statements(text, ranges, 30)
    assert laid is not None
    assert laid == layout._black(text, black.Mode(line_length=30, string_normalization=False), ranges)


def test_blank_lines_black_decides_otherwise_are_left_to_black():
    after_import = "def _():\n    import os\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n"
    header = "def _():\n    if y:\n        x = 1\n    else:\n        x = 2\n"
    after_comment = "def _():\n    y = 1\n    # why\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n"
    magic_header = "def _():\n    y = 1\n    if f(a, b,):\n        x = 2\n"
    for text, line in ((after_import, 3), (header, 2), (after_comment, 4), (magic_header, 3)):
        assert lay_out_statements(text, [(line, line)], 30) is None


def _migrated(source: str, emulated: bool, monkeypatch) -> str:
    monkeypatch.setattr(layout, "lay_out_statements", lay_out_statements if emulated else lambda *a: None)
    result = migrate_code(source)
    return getattr(result, "code", result)


@pytest.mark.parametrize("path", sorted((ROOT / "fixtures").glob("*.py")), ids=lambda p: p.name)
def test_fixtures_migrate_the_same_with_and_without(path, monkeypatch):
    source = path.read_text()
    assert _migrated(source, True, monkeypatch) == _migrated(source, False, monkeypatch)


@pytest.mark.slow
@pytest.mark.skipif(not REALWORLD.is_dir(), reason="../shared/realworld is not here")
def test_real_programs_migrate_the_same_with_and_without(monkeypatch):
    compared = 0
    for path in sorted(REALWORLD.rglob("*.py")):
        try:
            source = path.read_text()
            without = _migrated(source, False, monkeypatch)
        except Exception:  # unparsable or not UTF-8: nothing laid out
            continue
        assert _migrated(source, True, monkeypatch) == without, path
        compared += 1
    assert compared > 50


def _tokenized(code: str):
    """The leaves Python's tokenizer gives ``code``, as ``statement_layout._leaves`` takes
    them (kind, text), or None where it takes none (by the same rules)."""
    if not code.isascii():
        return None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    strings = [token.string for token in tokens if token.type == tokenize.STRING]
    if sum(string.count("\\") for string in strings) != code.count("\\") or not all(
            re.fullmatch(r"(?:[^\\]|\\[ntr0\\])*", string) for string in strings):
        return None  # a line continuation, or an escape other than \n, \t, \r, \0, \\
    kinds = {tokenize.NAME: "name", tokenize.NUMBER: "number", tokenize.STRING: "string", tokenize.OP: "op"}
    out = []
    for token in tokens:
        kind, text = kinds.get(token.type), token.string
        if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
            continue
        prefix = text[: len(text) - len(text.lstrip("rRbBuUfF"))] if kind == "string" else ""
        if kind is None or (kind == "name" and keyword.iskeyword(text) and text not in (
                "lambda", "return", "if", "else", "None", "True", "False")) \
                or (kind == "number" and not text.replace(".", "").replace("_", "").isdigit()) \
                or (kind == "string" and (not set(prefix) <= set("rbf") or text[len(prefix):][:3] in ('"""', "'''")
                                          or (out and out[-1][0] == "string"))) \
                or (kind == "op" and text not in statement_layout._OPERATORS):
            return None
        out.append((kind, text))
    return out


def _pieces(path: pathlib.Path):
    """The simple statements and one-line expressions of a file, as written."""
    try:
        source = path.read_text()
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    lines = source.splitlines(True)
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not hasattr(node, "body"):
            yield "".join(lines[node.lineno - 1 : node.end_lineno]).strip()
        elif isinstance(node, ast.expr) and node.lineno == node.end_lineno:
            yield lines[node.lineno - 1].encode()[node.col_offset : node.end_col_offset].decode()


def test_its_tokens_are_pythons():
    """Where the regular expression that splits statements takes one, Python's tokenizer
    splits it alike; and it takes nearly all that the tokenizer does (the rest is left to
    black)."""
    stdlib = sorted(pathlib.Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[::4]
    paths = [*sorted((ROOT / "fixtures").rglob("*.py*")), *sorted(REALWORLD.rglob("*.py")), *stdlib]
    taken = tokenized = both = 0
    for code in {piece for path in paths for piece in _pieces(path)}:
        expected = _tokenized(code)
        tokenized += expected is not None
        try:
            leaves = statement_layout._leaves(code)
        except statement_layout._Unsure:
            continue
        both += expected is not None
        try:
            statement_layout._analyse(leaves)  # unbalanced brackets, which the tokenizer refuses, go here
        except statement_layout._Unsure:
            continue
        taken += 1
        assert [(leaf.kind, leaf.text) for leaf in leaves] == expected, code
    assert taken > 20000 and both >= 0.99 * tokenized, (taken, both, tokenized)
