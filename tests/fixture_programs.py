"""Load fixture programs (``fixtures/NAME.py`` and their migrated ``NAME.py.out``) as modules."""

import importlib.machinery
import importlib.util
import pathlib

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.py"))


def load(path: pathlib.Path, name: str):
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
