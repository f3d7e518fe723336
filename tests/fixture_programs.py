"""Load fixture programs (``fixtures/NAME.py`` and their migrated ``NAME.py.out``) as modules."""

import importlib.machinery
import importlib.util
import pathlib

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
# Fixtures whose migration is not written by est2tpu yet: canned_premade is migrated by
# hand (tests/canned_premade_migrated.py, run by tests/test_canned_runtime.py) until
# the canned-estimator codemod writes its golden canned_premade.py.out.
PENDING = {"canned_premade"}
NAMES = sorted(p.stem for p in FIXTURES.glob("*.py") if p.stem not in PENDING)


def load(path: pathlib.Path, name: str):
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
