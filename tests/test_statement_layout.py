"""codemods.statement_layout lays out what black would, or leaves it to black.

Every layout it makes is compared with black's over the same snippet and line ranges
(``layout._black``, what it replaces): on generated call statements of every shape it
takes, and on the fixtures and real programs, migrated with and without it.
"""

import pathlib

import black
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from est2tpu.codemods import layout
from est2tpu.codemods.migrate import migrate_code
from est2tpu.codemods.statement_layout import lay_out_statements, layout_call

ROOT = pathlib.Path(__file__).resolve().parent.parent
REALWORLD = next((p for p in (ROOT.parent / "shared" / "realworld", ROOT.parent.parent / "shared" / "realworld")
                  if p.is_dir()), ROOT.parent / "shared" / "realworld")

pytestmark = pytest.mark.skipif(int(black.__version__.split(".")[0]) < 24, reason="laid out for black >= 24 only")

NAMES = st.sampled_from(["a", "x", "params", "labels", "model_fn", "tf", "est2tpu", "batch_size",
                         "a_rather_long_argument_name", "EVAL_ROWS"])
DOTTED = st.lists(NAMES, min_size=1, max_size=4).map(".".join)
ATOMS = st.one_of(
    NAMES, DOTTED,
    st.sampled_from(["1", "100", "0.5", "-1", '"batch_size"', "'single'", '"/tmp/model"', "None", "True"]),
)


def _call(args):
    return st.tuples(DOTTED, st.lists(args, max_size=5)).map(lambda t: f"{t[0]}({', '.join(t[1])})")


EXPRESSIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        _call(st.one_of(inner, st.tuples(NAMES, inner).map("=".join))),
        st.tuples(DOTTED, st.sampled_from(['"key"', "0", "name"])).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: f"[{', '.join(xs)}]"),
        st.lists(inner, min_size=2, max_size=4).map(lambda xs: f"({', '.join(xs)})"),
        st.lists(st.tuples(st.sampled_from(['"accuracy"', '"loss"', "key"]), inner), min_size=1, max_size=3)
        .map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.tuples(st.lists(NAMES, max_size=2, unique=True), inner)
        .map(lambda t: f"lambda {', '.join(t[0])}: {t[1]}" if t[0] else f"lambda: {t[1]}"),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "//", "%"]), inner).map(" ".join),
    ),
    max_leaves=12,
)
ARGUMENT = st.one_of(EXPRESSIONS, st.tuples(NAMES, EXPRESSIONS).map("=".join))
CALLS = st.tuples(DOTTED, st.lists(st.lists(ARGUMENT, max_size=6).map(", ".join), min_size=1, max_size=3)).map(
    lambda t: t[0] + "(" + ").x(".join(t[1]) + ")")
STATEMENTS = st.tuples(st.sampled_from(["", "return ", "value = ", "self.estimator = "]), CALLS).map("".join)


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


#: Statements black splits at a call: made here, and as black makes them.
MADE = [
    ("estimator = tf.estimator.Estimator(model_fn=model_fn, config=tf.estimator.RunConfig(model_dir=d))", 1, 60),
    ("return ds.shuffle(64, seed=3).repeat().batch(params['batch_size'], drop_remainder=True)", 1, 60),
    ("return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={'accuracy': accuracy(l, p)})", 2, 70),
    ("dataset = dataset.repeat(5).batch(params['batch_size'], drop_remainder=est2tpu.on_tpu(params))", 1, 79),
    ("est.train(input_fn=lambda params: input_fn(train_x, train_y, batch_size=params['batch_size']), steps=5)", 1, 79),
]

#: Left to black: a comment, a magic trailing comma, an operator outside the call, a
#: subscript to split, a block header, a lone value without a call.
LEFT = [
    "return f(a, b)  # keep",
    "estimator = f(a,)",
    "x = f(aaaaaaaaaaa) + g(bbbbbbbbbbbbb)",
    "x = table[a_rather_long_argument_name, another_long_argument_name]",
    "x = f(*args)",
    "x = a_rather_long_name_that_does_not_fit_the_line_at_all_anymore_never",
]


@pytest.mark.parametrize("statement, depth, line_length", MADE)
def test_made_here(statement, depth, line_length):
    laid = layout_call(statement, depth, line_length)
    assert laid is not None and len(laid) > 1
    text = _snippet(statement, depth, False)
    assert lay_out_statements(text, [(depth + 2, depth + 2)], line_length) == _black_says(text, depth + 2, line_length)


@pytest.mark.parametrize("statement", LEFT)
def test_left_to_black(statement):
    assert layout_call(statement, 1, 30) is None


def test_blank_lines_black_would_change_are_left_to_black():
    after_def = "def _():\n    def g():\n        pass\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n"
    after_import = "def _():\n    import os\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n"
    too_many = "def _():\n    y = 1\n\n\n    x = f(aaaaaaaaaa, bbbbbbbbbbbb, ccccccccc)\n"
    header = "def _():\n    if y:\n        x = 1\n    else:\n        x = 2\n"
    for text, line in ((after_def, 4), (after_import, 3), (too_many, 5), (header, 2)):
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
