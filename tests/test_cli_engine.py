"""The CLI's import of the engine keeps the functions dataclasses compiles (est2tpu.cli.engine)."""

from __future__ import annotations

import os
import subprocess
import sys

from test_cli_helpers import REPO

LOAD = ("import sys\nfrom est2tpu.cli import engine\ncompiled = engine.load()\n"
        "import libcst\nsource = open(sys.argv[1]).read()\nassert libcst.parse_module(source).code == source\n"
        "print(compiled, engine.cache_path())\n")


def _env(prefix, write=True):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _load(prefix, write=True):
    proc = subprocess.run([sys.executable, "-c", LOAD, str(REPO / "fixtures" / "basic_custom.py")],
                          env=_env(prefix, write), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    compiled, path = proc.stdout.split()
    return int(compiled), path


def test_a_second_start_compiles_nothing(tmp_path):
    compiled, path = _load(tmp_path)
    assert compiled > 100 and path.startswith(str(tmp_path)) and os.path.isfile(path)
    assert _load(tmp_path) == (0, path)


def test_nothing_is_written_where_python_writes_no_bytecode(tmp_path):
    compiled, path = _load(tmp_path, write=False)
    assert compiled > 100 and not os.path.exists(path)


def test_a_damaged_cache_is_compiled_again_and_replaced(tmp_path):
    _, path = _load(tmp_path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    assert _load(tmp_path)[0] > 100
    assert _load(tmp_path)[0] == 0


def test_the_migration_is_the_same_with_the_cache(tmp_path):
    source = REPO / "fixtures" / "summaries_hooks.py"
    outputs = []
    for _ in range(2):  # the first run writes the cache, the second reads it
        proc = subprocess.run([sys.executable, "-m", "est2tpu", "migrate", "--diff", str(source)],
                              env=_env(tmp_path / "cache"), capture_output=True)
        assert proc.returncode == 1, proc.stderr
        outputs.append((proc.stdout, proc.stderr))
    assert outputs[0] == outputs[1]
    assert b"TPUEstimatorSpec" in outputs[0][0]
    assert _load(tmp_path / "cache")[0] == 0


def test_libcsts_classes_get_types_isinstance_with_the_same_answers():
    """After the engine's import, every node class of LibCST is checked by type's
    ``isinstance``, which gives ABCMeta's answer for every pair of them."""
    import abc

    import libcst

    from est2tpu.cli import engine

    engine.load()
    engine.plain_isinstance()
    from est2tpu.codemods.walk import subclasses

    classes = {libcst.CSTNode, *subclasses(libcst.CSTNode)}
    assert len(classes) > 300 and all(isinstance(cls, engine._PlainSubclassing) for cls in classes)
    for cls in classes:
        for other in classes:
            assert type.__subclasscheck__(cls, other) == abc.ABCMeta.__subclasscheck__(cls, other), (cls, other)
    assert isinstance(libcst.Name("x"), libcst.BaseExpression) and not isinstance(libcst.Name("x"), libcst.Call)


def test_libcsts_classes_get_objects_hash_and_equality_with_the_same_answers():
    """After the engine's import, node classes hash and compare in C, by identity, as
    LibCST's own methods do (``self is other``; the hash, by ``id``)."""
    import libcst

    from est2tpu.cli import engine
    from est2tpu.codemods.walk import subclasses

    engine.load()
    engine.plain_identity()  # as the import does (unless the engine was imported already)
    assert engine.plain_identity() == 0  # once is enough
    classes = {libcst.CSTNode, *subclasses(libcst.CSTNode)}
    assert len(classes) > 300
    assert all(cls.__hash__ is object.__hash__ and cls.__eq__ is object.__eq__ for cls in classes)
    a, b = libcst.Name("x"), libcst.Name("x")
    for node, other in ((a, a), (a, b), (b, a), (a, "x"), ("x", a), (a, None), (a, libcst.MaybeSentinel.DEFAULT)):
        assert (node == other) is (node is other) and (node != other) is (node is not other)
    assert len({a, b, a}) == 2 and {a: 1}[a] == 1 and b not in {a: 1} and a in [b, a] and a not in [b]
    assert a.deep_equals(b) and hash(a) == hash(a) != hash(b)


def test_plain_identity_replaces_only_libcsts_own_methods(tmp_path):
    code = ("import libcst\nclass Mine(libcst.Name):\n    def __eq__(self, other): return True\n"
            "    __hash__ = libcst.Name.__hash__\n"
            "from est2tpu.cli import engine\nassert engine.plain_identity() > 700\n"
            "assert libcst.Name.__eq__ is object.__eq__ and Mine.__eq__ is not object.__eq__\n"
            "assert Mine('x') == 3\n")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_engines_import_gives_them_types_isinstance(tmp_path):
    code = ("from est2tpu.cli import engine\nengine.load()\nimport libcst\n"
            "assert type(libcst.Name) is engine._PlainSubclassing\n")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_with_a_virtual_subclass_registered_every_class_keeps_abcmetas_check(tmp_path):
    code = ("import abc, libcst\nlibcst.BaseExpression.register(int)\nfrom est2tpu.cli import engine\n"
            "assert engine.plain_isinstance() == 0\n"
            "assert type(libcst.Name) is abc.ABCMeta and isinstance(3, libcst.BaseExpression)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
