"""Property: the migration does not depend on how a program is spelled.

Hypothesis mutates the fixture programs without changing their meaning (renamed import
aliases, reordered keyword arguments, keyword <-> positional input_fn/model_fn/mode,
comments and blank lines in odd places) and checks that the output parses, that a
second run changes nothing, and that the same rewrites are made.
"""

import random
import re

import libcst as cst
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from est2tpu.codemods.migrate import migrate_code
from fixture_programs import FIXTURES, NAMES

REWRITE_MARKERS = ("TPUEstimatorSpec(", "TPUEstimator(", "RunConfig(", "TPUConfig(", "CrossShardOptimizer(",
                   "eval_metrics=", "drop_remainder=True", 'params["batch_size"]', "params", "def metric_fn")


def rewrites(before: str, after: str):
    """How many of each rewrite the migration added."""
    return {m: after.count(m) - before.count(m) for m in REWRITE_MARKERS}


class RenameAlias(cst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def leave_Name(self, original_node, updated_node):
        return updated_node.with_changes(value=self.new) if updated_node.value == self.old else updated_node


class ShuffleKeywords(cst.CSTTransformer):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def leave_Call(self, original_node, updated_node):
        args = list(updated_node.args)
        keywords = [i for i, a in enumerate(args) if a.keyword is not None and not a.star]
        if len(keywords) < 2 or keywords != list(range(keywords[0], len(args))):
            return updated_node
        tail = [args[i] for i in keywords]
        commas = [a.comma for a in tail]
        self.rng.shuffle(tail)
        tail = [a.with_changes(comma=c) for a, c in zip(tail, commas)]
        return updated_node.with_changes(args=args[: keywords[0]] + tail)


class Positional(cst.CSTTransformer):
    """``input_fn=f``/``model_fn=f`` as the first argument -> positional."""

    def leave_Call(self, original_node, updated_node):
        args = list(updated_node.args)
        if args and args[0].keyword is not None and args[0].keyword.value in ("input_fn", "model_fn"):
            args[0] = args[0].with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(args=args)
        return updated_node


class Comments(cst.CSTTransformer):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if self.rng.random() < 0.3:
            extra = [cst.EmptyLine(comment=cst.Comment("# note: odd place")), cst.EmptyLine()]
            return updated_node.with_changes(leading_lines=[*updated_node.leading_lines, *extra])
        if self.rng.random() < 0.2:
            return updated_node.with_changes(
                trailing_whitespace=cst.TrailingWhitespace(cst.SimpleWhitespace("  "), cst.Comment("# trailing")))
        return updated_node


def mutate(source: str, seed: int, alias: bool, shuffle: bool, positional: bool, comments: bool) -> str:
    rng = random.Random(seed)
    module = cst.parse_module(source)
    if alias:
        for old in sorted(set(re.findall(r"^import tensorflow(?:\.compat\.v1)? as (\w+)$", source, re.M))):
            module = module.visit(RenameAlias(old, old + "_x"))
    if shuffle:
        module = module.visit(ShuffleKeywords(rng))
    if positional:
        module = module.visit(Positional())
    if comments:
        module = module.visit(Comments(rng))
    return module.code


BASELINE = {}


def baseline(name):
    if name not in BASELINE:
        source = (FIXTURES / f"{name}.py").read_text()
        BASELINE[name] = rewrites(source, migrate_code(source, style="none").code)
    return BASELINE[name]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # shrinking a 12-flag case costs minutes
@given(st.sampled_from(NAMES), st.integers(0, 2**16), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_meaning_preserving_mutations_get_the_same_rewrites(name, seed, alias, shuffle, positional, comments):
    source = mutate((FIXTURES / f"{name}.py").read_text(), seed, alias, shuffle, positional, comments)
    first = migrate_code(source, style="none").code
    cst.parse_module(first)
    compile(first, name, "exec")
    assert migrate_code(first, style="none").code == first
    assert rewrites(source, first) == baseline(name)
