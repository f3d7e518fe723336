"""codemods.black_versions infers the versions black infers, or leaves them to black.

Each answer is compared with black's own inference (its ``lib2to3`` parse, with the
file's ``__future__`` imports, as ``black.format_str`` does): on a case for each
feature black looks for, both spellings of those the tree cannot tell apart, and on the
fixtures, the real programs and part of the standard library.
"""

import doctest
import pathlib
import sys
import sysconfig

import black
import pytest
from black.mode import VERSION_TO_FEATURES, Feature

from est2tpu.codemods import black_versions, layout
from est2tpu.codemods.black_versions import oldest

ROOT = pathlib.Path(__file__).resolve().parent.parent
REALWORLD = next((p for p in (ROOT.parent / "shared" / "realworld", ROOT.parent.parent / "shared" / "realworld")
                  if p.is_dir()), ROOT.parent / "shared" / "realworld")

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="read off the tree on Python <= 3.11 only")


def black_infers(source: str):
    node = black.lib2to3_parse(source)
    return black.detect_target_versions(node, future_imports=black.get_future_imports(node))


def from_oldest(version):
    return {v for v in black.TargetVersion if (3, v.value) >= version}


CASES = [  # (source, the oldest version read off the tree; None: left to black)
    ("x = 1\n", (3, 3)),
    ("print(f'{x}')\n", (3, 6)),
    ("print(f'x={x!r}')\n", (3, 6)),
    ("print(f'{x=}')\n", None),
    ("n = 1_000\n", (3, 6)),
    ("s = 'a_b'\nlayer_1 = 2\n", (3, 3)),
    ("f(*args)\n", (3, 3)),
    ("f(*args,)\n", (3, 5)),
    ("f(**kwargs,\n  )\n", (3, 5)),
    ("f(a, (b,))\n", (3, 3)),
    ("f(*a, (b,))\n", (3, 3)),
    ("f(*a,  # why\n)\n", None),
    ("class A(*bases,):\n    pass\n", (3, 5)),
    ("def f(*args):\n    pass\n", (3, 3)),
    ("def f(*args,):\n    pass\n", (3, 6)),
    ("def f(a, *, b=(1,)):\n    pass\n", (3, 3)),
    ("def f(*, b,\n      ):\n    pass\n", (3, 6)),
    ("def f(*a,\n): pass\n", None),
    ("def f(*a,) -> int:\n    pass\n", None),
    ("class A(*b,\n        ):\n    x = 1\n", (3, 5)),
    ("def f(a, /):\n    pass\n", (3, 8)),
    ("g = lambda a, /: a\n", (3, 8)),
    ("if (n := 10) > 5:\n    pass\n", (3, 8)),
    ("from __future__ import annotations\nf(*args)\n", (3, 7)),
    ("from __future__ import division\n", (3, 3)),
    ("def f():\n    return *a, b\n", None),
    ("def f():\n    return (*a, b)\n", None),
    ("def f():\n    return a, b\n", (3, 3)),
    ("x: tuple = 1, 2\n", None),
    ("x: int = 1\n", (3, 3)),
    ("@property\ndef f():\n    pass\n", (3, 3)),
    ("@a.b.c(1, 2)\ndef f():\n    pass\n", (3, 3)),
    ("@a[0]\ndef f():\n    pass\n", (3, 9)),
    ("@a().b\nclass C:\n    pass\n", (3, 9)),
    ("@(a)\ndef f():\n    pass\n", None),
    ("with open(a) as f, open(b) as g:\n    pass\n", (3, 3)),
    ("with (open(a) as f, open(b) as g):\n    pass\n", None),
    ("with (a, b):\n    pass\n", (3, 3)),
    ("async def f():\n    async with a as b:\n        pass\n", (3, 3)),
    ("match x:\n    case 1:\n        pass\n", (3, 10)),
    ("try:\n    pass\nexcept* ValueError:\n    pass\n", (3, 11)),
    ("x = t[*a]\n", None),
    ("def f(*args: *Ts):\n    pass\n", (3, 11)),
    ("print(f'{1_000}')\n", (3, 6)),
    ("s = 'ünïcode'; f(*a,)\n", (3, 5)),
    ("x = 1\r\ny = f(*a,)\r\n", (3, 5)),
]


@pytest.mark.parametrize("source, expected", CASES)
def test_each_feature_black_looks_for_is_read_off_the_tree_or_left_to_black(source, expected):
    assert oldest(source) == expected
    if expected is not None:
        assert from_oldest(expected) == black_infers(source)


def test_black_infers_every_version_from_the_oldest_one():
    """The premise: each feature black finds, once a version has it, every later one has it
    too (so black's versions are every version from an oldest one)."""
    versions = sorted(black.TargetVersion, key=lambda v: v.value)
    for feature in Feature:
        if feature is Feature.ASYNC_IDENTIFIERS:  # not something get_features_used finds
            continue
        having = [feature in VERSION_TO_FEATURES[v] for v in versions]
        assert having == sorted(having), feature


def _corpus():
    stdlib = sorted(pathlib.Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[::8]
    return [*sorted(ROOT.glob("fixtures/*.py*")), *sorted(REALWORLD.rglob("*.py")), *stdlib]


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_files_get_the_versions_black_infers(path):
    source = path.read_text(encoding="utf-8", errors="replace")
    try:
        compile(source, str(path), "exec")
        expected = black_infers(source)
    except Exception:
        pytest.skip("not code that both Python and black read")
    found = oldest(source)
    if found is not None:
        assert from_oldest(found) == expected
    assert layout._detected_versions(source) == expected  # read off the tree or by black


def test_where_black_decides_it_counts_the_future_imports_as_on_the_whole_file():
    """``from __future__ import annotations`` alone makes black target 3.7 on (a trailing
    comma after ``*args``): it did not count when black was asked without the file's imports."""
    source = "from __future__ import annotations\n\ndef f():\n    return (*a, b)\n"
    assert oldest(source) is None
    assert layout._detected_versions(source) == from_oldest((3, 7)) == black_infers(source)


def test_docstring_examples():
    assert doctest.testmod(black_versions).failed == 0
