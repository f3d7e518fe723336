"""Equivalence: each fixture and its migrated version train to the same numbers on the CPU.

The original runs as a tf.estimator.Estimator, the migrated file (``NAME.py.out``) as a
TPUEstimator with ``use_tpu=False`` (``TPU_NAME`` unset).  Initializers are seeded, so
the loss and every eval metric (and the predictions' sum, where a fixture predicts)
must agree to float32 rounding.
"""

import math
import re

import pytest

from fixture_programs import FIXTURES, NAMES, load

tf = pytest.importorskip("tensorflow")


@pytest.fixture(autouse=True)
def _cpu_only(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)


@pytest.fixture
def tpu_estimators_built(monkeypatch):
    """How many TPUEstimators have been constructed (by any spelling or helper)."""
    cls = tf.compat.v1.estimator.tpu.TPUEstimator
    built = []
    original = cls.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", counting_init)
    return built


@pytest.mark.parametrize("name", NAMES)
def test_migrated_program_trains_the_same(name, tmp_path, tpu_estimators_built):
    before = load(FIXTURES / f"{name}.py", f"before_{name}").run(str(tmp_path / "before"))
    assert not tpu_estimators_built
    after = load(FIXTURES / f"{name}.py.out", f"after_{name}").run(str(tmp_path / "after"))
    assert tpu_estimators_built, "the migrated program built no TPUEstimator"
    assert set(before) == set(after) and "loss" in before
    for key in before:
        assert math.isclose(before[key], after[key], rel_tol=1e-6, abs_tol=1e-6), (key, before, after)


SUMMARIZED = {name: re.findall(r"summary\.scalar\(\s*[\"'](\w+)[\"']", (FIXTURES / f"{name}.py").read_text())
              for name in NAMES}


def _scalar_tags(model_dir) -> set:
    from tensorflow.core.util import event_pb2

    tags = set()
    for path in tf.io.gfile.glob(f"{model_dir}/events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(path):
            tags.update(v.tag for v in event_pb2.Event.FromString(record.numpy()).summary.value)
    return tags


@pytest.mark.parametrize("name", [name for name in NAMES if SUMMARIZED[name]])
def test_migrated_program_still_writes_its_summaries(name, tmp_path):
    """Scalar summaries moved into a host_call are still written under model_dir."""
    load(FIXTURES / f"{name}.py", f"summaries_before_{name}").run(str(tmp_path / "before"))
    load(FIXTURES / f"{name}.py.out", f"summaries_after_{name}").run(str(tmp_path / "after"))
    wanted = set(SUMMARIZED[name])
    assert wanted <= _scalar_tags(tmp_path / "before")
    assert wanted <= _scalar_tags(tmp_path / "after"), _scalar_tags(tmp_path / "after")
