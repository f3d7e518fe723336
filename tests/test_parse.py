"""``syntax.parse_module`` skips LibCST's per-node checks: the tree must be LibCST's own
(with the two corrections of ``syntax._as_written``: line ends in "\\r" alone and form
feeds, tested in test_robustness.py), and the checks must be back for every node built
afterwards."""

import libcst as cst
import pytest

from est2tpu.codemods.syntax import _as_written, parse_module
from fixture_programs import FIXTURES
from test_positions import CASES, _stdlib_sample

SOURCES = {name: source for name, source in CASES.items()}
SOURCES.update({path.name: path.read_text() for path in FIXTURES.glob("*.py")})
SOURCES.update({path.name: path.read_text("utf-8", "replace") for path in _stdlib_sample(40)})


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_tree_is_libcsts(name):
    source = SOURCES[name]
    try:
        expected = _as_written(cst.parse_module(source), source)
    except cst.ParserSyntaxError:
        with pytest.raises(cst.ParserSyntaxError):
            parse_module(source)
        return
    tree = parse_module(source)
    assert tree.deep_equals(expected)
    assert tree.code == expected.code


@pytest.mark.parametrize("source", ["x = 1\n", "def f(:\n"])
def test_nodes_built_afterwards_are_checked(source):
    try:
        parse_module(source)
    except cst.ParserSyntaxError:
        pass
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


@pytest.mark.parametrize("code, line", [
    ("lambda: train_input.input_fn(  # pylint: disable=g-long-lambda\n    {'batch_size': 8})",
     "lambda:train_input.input_fn({'batch_size':8})"),
    ("lambda x: f(x)", "lambda x:f(x)"),
    ("a if not b else c", "a if not b else c"),
    ("tf.estimator.Estimator(\n    model_fn)", "tf.estimator.Estimator(model_fn)"),
    ('x["a"] is not None', 'x["a"] is not None'),
])
def test_one_line_drops_comments_and_layout_but_keeps_words_apart(code, line):
    from est2tpu.codemods.syntax import one_line

    assert one_line(cst.parse_expression(code)) == line
