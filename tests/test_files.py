"""File discovery (excludes, .gitignore, virtualenvs, symlinks), reading and writing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from est2tpu.cli.config import Resolver
from est2tpu.cli.files import DecodeError, Finder, PatternSet, compile_pattern, decode_notebook, decode_python
from est2tpu.cli.replace import ChangedOnDisk, replace_file
from test_cli_helpers import PLAIN, SPEC, run_cli, snapshot, write


def find(root: Path, *paths: str, force_exclude=False, overrides=None, config=None):
    resolver = Resolver(overrides or {}, config, cwd=str(root))
    finder = Finder(resolver, force_exclude=force_exclude, cwd=str(root))
    return finder.find([str(root / p) for p in (paths or (".",))])


def names(discovery):
    return [c.display for c in discovery.files]


# --------------------------------------------------------------------------- patterns


@pytest.mark.parametrize(
    "pattern, path, is_dir, expected",
    [
        ("build", "build", True, True),
        ("build", "a/b/build", True, True),
        ("build", "a/build/x.py", False, False),  # the directory matches, not the file in it
        ("build/", "build", False, False),  # directory-only
        ("build/", "a/build", True, True),
        ("/build", "build", True, True),
        ("/build", "a/build", True, False),  # anchored
        ("*.py", "x/y/z.py", False, True),
        ("*.py", "x/y/z.pyc", False, False),
        ("a/*.py", "a/x.py", False, True),
        ("a/*.py", "a/b/x.py", False, False),  # * does not cross /
        ("a/**/x.py", "a/x.py", False, True),
        ("a/**/x.py", "a/b/c/x.py", False, True),
        ("**/gen", "p/q/gen", True, True),
        ("**/gen", "gen", True, True),
        ("gen/**", "gen/a/b.py", False, True),
        ("gen/**", "gen", True, False),
        ("data?.py", "data1.py", False, True),
        ("data?.py", "data10.py", False, False),
        ("data[0-9].py", "data7.py", False, True),
        ("data[!0-9].py", "datax.py", False, True),
        ("data[!0-9].py", "data7.py", False, False),
        ("\\#hash.py", "#hash.py", False, True),
        ("\\!bang.py", "!bang.py", False, True),
        ("trailing.py   ", "trailing.py", False, True),
        ("doc/*.ipynb", "doc/x.ipynb", False, True),
    ],
)
def test_gitignore_patterns(pattern, path, is_dir, expected, tmp_path):
    base = str(tmp_path)
    compiled = compile_pattern(pattern, base)
    assert compiled is not None
    full = os.path.join(base, *path.split("/"))
    assert bool(PatternSet([compiled]).decide(full, is_dir)) is expected


def test_comments_blanks_and_negation(tmp_path):
    base = str(tmp_path)
    assert compile_pattern("# comment", base) is None
    assert compile_pattern("   ", base) is None
    patterns = [compile_pattern(p, base) for p in ("*.py", "!keep.py")]
    ps = PatternSet(patterns)
    assert ps.decide(os.path.join(base, "x.py"), False) is True
    assert ps.decide(os.path.join(base, "keep.py"), False) is False
    assert ps.decide(os.path.join(base, "x.txt"), False) is None


def test_pattern_set_agrees_with_its_patterns_in_order(tmp_path):
    """decide() screens paths with one regex per base: it must give what the last
    matching pattern says, for patterns of several bases, kinds and negations."""
    root, sub = str(tmp_path), str(tmp_path / "pkg")
    lines = [("*.py", root), ("build/", root), ("/top.py", root), ("pkg/**/gen_*.py", root),
             ("!keep.py", root), ("data?", sub), ("[abc]*.ipynb", sub), ("!pkg/x/gen_ok.py", root),
             ("docs", sub), ("*.txt", sub)]
    patterns = [compile_pattern(line, base) for line, base in lines]
    paths = ["top.py", "a/top.py", "keep.py", "pkg/keep.py", "pkg/x/gen_1.py", "pkg/x/gen_ok.py",
             "pkg/data1", "pkg/datax/y", "pkg/a.ipynb", "pkg/d.ipynb", "build", "pkg/build", "pkg/docs",
             "pkg/n.txt", "n.txt", "other/x.ipynb"]
    for count in range(len(patterns) + 1):
        ps = PatternSet(patterns[:count])
        for rel in paths:
            for is_dir in (False, True):
                full = os.path.join(root, rel)
                expected = None
                for p in reversed(patterns[:count]):
                    if p.matches(_rel(full, p.base), os.path.basename(full), is_dir):
                        expected = not p.negated
                        break
                assert ps.decide(full, is_dir) is expected, (rel, is_dir, lines[:count])
    outside = PatternSet(patterns).decide("/elsewhere/n.txt", False)
    assert outside is True  # unanchored patterns still apply by name outside their base


def _rel(path, base):
    return os.path.relpath(path, base).replace(os.sep, "/") if path.startswith(base + os.sep) else None


# --------------------------------------------------------------------------- discovery


def test_finds_py_and_ipynb_sorted(tmp_path):
    write(tmp_path, {"b.py": PLAIN, "a/z.py": PLAIN, "a/n.ipynb": "{}", "c.txt": "", "d.pyi": "", "a.py": ""})
    assert names(find(tmp_path)) == ["a.py", "a/n.ipynb", "a/z.py", "b.py"]
    kinds = {c.display: c.kind for c in find(tmp_path).files}
    assert kinds["a/n.ipynb"] == "notebook" and kinds["a.py"] == "python"


def test_default_excludes_and_virtualenvs(tmp_path):
    write(tmp_path, {
        "keep.py": PLAIN,
        ".git/hooks/x.py": PLAIN,
        "__pycache__/x.py": PLAIN,
        "build/x.py": PLAIN,
        ".tox/py/x.py": PLAIN,
        "node_modules/pkg/x.py": PLAIN,
        "lib/python3.11/site-packages/pkg/x.py": PLAIN,
        "myenv/pyvenv.cfg": "home = /usr\n",
        "myenv/lib/x.py": PLAIN,
        ".ipynb_checkpoints/n-checkpoint.ipynb": "{}",
        "src/build_utils.py": PLAIN,  # only the exact name is excluded
    })
    discovery = find(tmp_path)
    assert names(discovery) == ["keep.py", "src/build_utils.py"]
    reasons = dict(discovery.skipped)
    assert reasons["myenv"] == "virtual environment"
    assert reasons["build"] == "excluded"


def test_gitignore_respected_inside_a_git_work_tree(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {
        ".gitignore": "generated/\n*_pb2.py\n/top_only.py\n# comment\n",
        ".git/info/exclude": "local.py\n",
        "generated/x.py": PLAIN,
        "a_pb2.py": PLAIN,
        "sub/b_pb2.py": PLAIN,
        "top_only.py": PLAIN,
        "other/top_only.py": PLAIN,  # "/top_only.py" is anchored at the top
        "local.py": PLAIN,
        "sub/.gitignore": "*.py\n!keep.py\n",
        "sub/keep.py": PLAIN,
        "sub/drop.py": PLAIN,
        "main.py": PLAIN,
    })
    assert names(find(tmp_path)) == ["main.py", "other/top_only.py", "sub/keep.py"]


def test_gitignore_of_the_work_tree_applies_below_the_path_given(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {".gitignore": "gen/\n", "pkg/gen/x.py": PLAIN, "pkg/y.py": PLAIN})
    assert names(find(tmp_path, "pkg")) == ["pkg/y.py"]


def test_gitignore_is_not_read_outside_git(tmp_path):
    write(tmp_path, {".gitignore": "*.py\n", "x.py": PLAIN})
    assert names(find(tmp_path)) == ["x.py"]


def test_no_respect_gitignore_flag(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {".gitignore": "ignored.py\n", "ignored.py": SPEC})
    assert run_cli("migrate", "--check", ".", cwd=tmp_path).code == 0
    assert run_cli("migrate", "--check", "--no-respect-gitignore", ".", cwd=tmp_path).code == 1


def test_explicit_files_are_taken_unless_force_exclude(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {
        ".gitignore": "ignored.py\n",
        "ignored.py": PLAIN,
        "build/gen.py": PLAIN,
        "pyproject.toml": '[tool.est2tpu]\nextend-exclude = ["legacy/*.py"]\n',
        "legacy/old.py": PLAIN,
    })
    explicit = ("ignored.py", "build/gen.py", "legacy/old.py")
    assert names(find(tmp_path, *explicit)) == ["build/gen.py", "ignored.py", "legacy/old.py"]
    discovery = find(tmp_path, *explicit, force_exclude=True)
    assert names(discovery) == []
    assert dict(discovery.skipped) == {
        "ignored.py": "ignored by .gitignore",
        "build/gen.py": "excluded",
        "legacy/old.py": "excluded",
    }


def test_force_exclude_ignores_excluded_names_above_the_project(tmp_path):
    project = tmp_path / "build" / "project"  # lives in a directory called "build"
    write(project, {"pyproject.toml": "[tool.est2tpu]\n", "m.py": PLAIN})
    assert names(find(project, "m.py", force_exclude=True)) == ["m.py"]


def test_exclude_and_extend_exclude_from_config(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[tool.est2tpu]\nextend-exclude = ["experiments/", "*_old.py"]\n',
        "experiments/x.py": PLAIN,
        "a_old.py": PLAIN,
        "a.py": PLAIN,
        "build/b.py": PLAIN,
    })
    assert names(find(tmp_path)) == ["a.py"]
    # exclude replaces the default list, so build/ is searched again.
    write(tmp_path, {"pyproject.toml": '[tool.est2tpu]\nexclude = ["experiments"]\n'})
    assert names(find(tmp_path)) == ["a.py", "a_old.py", "build/b.py"]


def test_exclude_patterns_are_relative_to_the_config_file(tmp_path):
    write(tmp_path, {
        "proj/pyproject.toml": '[tool.est2tpu]\nextend-exclude = ["/skip"]\n',
        "proj/skip/x.py": PLAIN,
        "proj/pkg/skip/y.py": PLAIN,
    })
    # Searched from the parent directory: the anchored pattern still means proj/skip.
    assert names(find(tmp_path, "proj")) == ["proj/pkg/skip/y.py"]


def test_exclude_flags(tmp_path):
    write(tmp_path, {"a.py": SPEC, "gen/b.py": SPEC, "build/c.py": SPEC})
    result = run_cli("migrate", "--check", "-v", "--extend-exclude", "gen", ".", cwd=tmp_path)
    assert "would migrate a.py" in result.err and "gen/b.py" not in result.err
    result = run_cli("migrate", "--check", "-v", "--exclude", "gen", ".", cwd=tmp_path)
    assert "would migrate build/c.py" in result.err and "would migrate gen" not in result.err


def test_symlink_to_outside_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    write(outside, {"secret.py": SPEC, "pkg/inner.py": SPEC})
    write(root, {"own.py": SPEC})
    (root / "link.py").symlink_to(outside / "secret.py")
    (root / "linkdir").symlink_to(outside / "pkg", target_is_directory=True)
    before = snapshot(outside)
    discovery = find(root)
    assert names(discovery) == ["own.py"]
    assert dict(discovery.skipped)["link.py"] == "symbolic link to outside the paths given"
    result = run_cli("migrate", ".", cwd=root)
    assert result.code == 0
    assert snapshot(outside) == before
    assert (root / "link.py").is_symlink()


def test_symlink_inside_the_root_is_migrated_once_through_its_target(tmp_path):
    write(tmp_path, {"real/m.py": SPEC})
    (tmp_path / "alias.py").symlink_to(tmp_path / "real" / "m.py")
    (tmp_path / "realdir").symlink_to(tmp_path / "real", target_is_directory=True)
    discovery = find(tmp_path)
    assert names(discovery) == ["alias.py"]  # first name in sorted order; realdir/ not entered
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 0 and "1 file migrated" in result.err
    assert (tmp_path / "alias.py").is_symlink()
    assert "TPUEstimatorSpec" in (tmp_path / "real" / "m.py").read_text()


def test_symlink_given_explicitly_is_followed(tmp_path):
    write(tmp_path, {"outside/m.py": SPEC})
    (tmp_path / "ln.py").symlink_to(tmp_path / "outside" / "m.py")
    result = run_cli("migrate", "ln.py", cwd=tmp_path)
    assert result.code == 0
    assert (tmp_path / "ln.py").is_symlink()
    assert "TPUEstimatorSpec" in (tmp_path / "outside" / "m.py").read_text()


def test_broken_symlink_given_explicitly(tmp_path):
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    result = run_cli("migrate", "dangling.py", cwd=tmp_path)
    assert result.code == 2 and "dangling.py: error: broken symbolic link" in result.err


def test_symlink_loop_in_tree_does_not_hang(tmp_path):
    write(tmp_path, {"a/m.py": PLAIN})
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    assert names(find(tmp_path)) == ["a/m.py"]


# --------------------------------------------------------------------------- reading


def test_decode_python_encodings():
    assert decode_python(b"x = 1\n") == ("x = 1\n", "utf-8")
    text, enc = decode_python(b"\xef\xbb\xbfx = 1\n")
    assert text == "x = 1\n" and text.encode(enc) == b"\xef\xbb\xbfx = 1\n"
    data = "# -*- coding: latin-1 -*-\ns = 'caf\xe9'\n".encode("latin-1")
    text, enc = decode_python(data)
    assert "caf\xe9" in text and text.encode(enc) == data
    data = "# vim: set fileencoding=cp1252 :\ns = '\u20ac'\n".encode("cp1252")
    text, enc = decode_python(data)
    assert "\u20ac" in text and text.encode(enc) == data
    crlf = b"x = 1\r\ny = 2\r\n"
    assert decode_python(crlf)[0] == "x = 1\r\ny = 2\r\n"  # never translated


@pytest.mark.parametrize("data", [
    b"x = '\xff'\n",  # not UTF-8
    b"# -*- coding: nope -*-\n",  # unknown codec
    b"\xef\xbb\xbf# -*- coding: latin-1 -*-\n",  # BOM contradicts the cookie
])
def test_decode_python_errors(data):
    with pytest.raises(DecodeError):
        decode_python(data)


@pytest.mark.parametrize("data, line, col", [
    (b"x = 1\ny = '\xe9'\nz = 3\n", 2, 6),  # past the lines that may hold a cookie
    (b"x = '\xff'\n", 1, 6),  # in the first line, where tokenize only says "invalid or missing"
    (b"\xef\xbb\xbfx = '\xff'\n", 1, 9),  # after a BOM: byte columns
])
def test_decode_error_locates_the_byte(data, line, col):
    with pytest.raises(DecodeError) as caught:
        decode_python(data)
    assert (caught.value.line, caught.value.col) == (line, col)
    assert "cannot decode as utf-8" in str(caught.value)


def test_decode_notebook():
    assert decode_notebook(b"{}") == ("{}", "utf-8")
    assert decode_notebook(b"\xef\xbb\xbf{}")[1] == "utf-8-sig"
    with pytest.raises(DecodeError):
        decode_notebook(b"{\xff}")


# --------------------------------------------------------------------------- writing


def test_replace_file_keeps_mode_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f.py"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    replace_file(str(path), b"new", expected=b"old")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["f.py"]


def test_replace_file_refuses_when_changed_on_disk(tmp_path):
    path = tmp_path / "f.py"
    path.write_bytes(b"edited meanwhile")
    with pytest.raises(ChangedOnDisk):
        replace_file(str(path), b"new", expected=b"old")
    assert path.read_bytes() == b"edited meanwhile"
    assert os.listdir(tmp_path) == ["f.py"]


@pytest.mark.parametrize("failing", ["fsync", "rename"])
def test_write_failure_leaves_file_untouched(tmp_path, monkeypatch, failing):
    from est2tpu.cli import replace

    path = tmp_path / "f.py"
    path.write_bytes(b"old")

    def boom(*args):
        raise OSError(5, "Input/output error")

    if failing == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
        monkeypatch.setattr(replace, "_exchange", boom)
    with pytest.raises(OSError):
        replace_file(str(path), b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.py"]


def test_cli_reports_write_failures(tmp_path, monkeypatch):
    import est2tpu.cli.main as cli

    def boom(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "replace_file", boom)
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", "m.py", cwd=tmp_path)
    assert result.code == 2
    assert "m.py: error: cannot write: No space left on device" in result.err
    assert (tmp_path / "m.py").read_text() == SPEC
