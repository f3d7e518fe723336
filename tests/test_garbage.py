"""Reference counting frees a migrated file's trees as soon as it is done: no reference
cycle holds them for Python's cyclic garbage collector, which the CLI runs once per file
instead of dozens of times (see ``est2tpu.cli.process``)."""

import gc
import pathlib
import types

import pytest

from est2tpu.codemods.base import MigrationCodemod
from est2tpu.codemods.estimators import EstimatorIndex
from est2tpu.codemods.migrate import migrate_code
from est2tpu.codemods.positions import Spans
from est2tpu.cli import main as cli

FIXTURES = sorted((pathlib.Path(__file__).resolve().parent.parent / "fixtures").glob("*.py"))


def _cyclic_garbage(run) -> list:
    """What only the cyclic collector would free after ``run()``."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_no_cycle_holds_a_migrated_module(path):
    """The holders of a whole tree: a walk's closure and its parents map, the codemods
    (which hold each other through their dispatch tables), the index, the spans."""
    source = path.read_text()
    garbage = _cyclic_garbage(lambda: migrate_code(source, style="none"))
    holders = [o for o in garbage if isinstance(o, (MigrationCodemod, EstimatorIndex, Spans))
               or isinstance(o, types.FunctionType) and o.__module__.startswith(("codemods.", "est2tpu."))]
    assert not holders


@pytest.mark.parametrize("enabled", [True, False])
def test_process_leaves_the_collector_as_it_found_it(enabled):
    job = cli.ProgramJob([cli.Job("m.py", "python", FIXTURES[0].read_text(), "utf-8", "tf2", 100, (), (), "none", ())])
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert cli.process(job)[0].changed
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
