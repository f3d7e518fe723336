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


def migrate_in_package(path: pathlib.Path, source=None, **layout):
    """The engine's result for one module (its text, or ``source``) migrated with the other
    modules of its package directory, all of them written, as one program (fixtures are
    programs of one file)."""
    from est2tpu.cli.program import module_names
    from est2tpu.codemods.migrate import migrate_program
    from est2tpu.codemods.program import Source

    paths = [path] if path.parent == FIXTURES else sorted(path.parent.glob("*.py"))
    sources = [Source(source if p == path and source is not None else p.read_text(), module_names(str(p)), str(p),
                      p.name == "__init__.py") for p in paths]
    return migrate_program(sources, **layout)[paths.index(path)]
