"""Settings: ``[tool.est2tpu]`` in ``pyproject.toml``, overridden by command-line flags.

Each file is governed by the nearest ``pyproject.toml`` with a ``[tool.est2tpu]``
table in its directory or one above it (``--config PATH`` replaces the search with
one file for every path).  A ``pyproject.toml`` without the table is passed over.
Exclude patterns are relative to the directory of the file that set them (the
current directory for flags and when no configuration file is found).

Everything here is standard library only: the CLI reads its configuration before
it knows whether any file needs the (much heavier) migration engine.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
from typing import Any, Dict, Mapping, Optional, Tuple

from est2tpu.cli import replay

TARGETS = ("tf2", "tf1")
FORMATS = ("auto", "black", "none")

#: Directory and file names never searched, unless ``exclude`` replaces this list.
DEFAULT_EXCLUDE: Tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".eggs",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".est2tpu_cache",  # its own cache (see est2tpu.cli.cache)
    ".ipynb_checkpoints",
    "__pycache__",
    "__pypackages__",
    "_build",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)

#: Keys of ``[tool.est2tpu]``, with the Python type and check of each.
_KEYS = {
    "target": "one of: tf2, tf1",
    "select": "a list of rule code prefixes",
    "ignore": "a list of rule code prefixes",
    "exclude": "a list of glob patterns",
    "extend-exclude": "a list of glob patterns",
    "iterations-per-loop": "a positive integer",
    "max-file-size": "a positive integer (KiB)",
    "format": "one of: auto, black, none",
}


#: Every rule code (``est2tpu rules`` explains each).  The registry itself is in the codemods,
#: whose import costs LibCST's; tests/test_cli_findings.py keeps the two equal.
CODES: Tuple[str, ...] = tuple(f"E2T{n}" for n in (*range(101, 114), *range(201, 236), *range(237, 259),
                                                  *range(301, 316)))


class ConfigError(Exception):
    """A configuration file or value that cannot be used (exit code 2)."""


def selector(value: str) -> str:
    """A ``select``/``ignore`` entry upper-cased (codes are case-insensitive): ``ALL``, a
    rule code or a prefix of one.  Anything else would silently match nothing: a
    ValueError naming it and the closest code."""
    code = value.strip().upper()
    if code == "ALL" or any(known.startswith(code) for known in CODES):
        return code
    # A mistyped character (O for 0) first; difflib alone prefers codes sharing more digits.
    typos = [known for known in CODES if len(known) == len(code) and sum(a != b for a, b in zip(known, code)) == 1]
    close = typos or difflib.get_close_matches(code, CODES, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValueError(f"unknown rule code or prefix {value.strip()!r}{hint}; `est2tpu rules` lists them")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that decides how one file is found and migrated."""

    target: str = "tf2"
    iterations_per_loop: int = 100
    #: KiB; a larger file that uses the Estimator API fails instead of being parsed (LibCST
    #: needs about 15 s and 700 MB per MB).
    max_file_size: int = 1024
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    #: (pattern, directory the pattern is relative to), in order: exclude, extend-exclude.
    excludes: Tuple[Tuple[str, str], ...] = ()
    format: str = "auto"
    #: The file these settings came from, or None for defaults and flags only.
    source: Optional[str] = None
    #: ``[tool.black]`` of the nearest pyproject.toml that has one (line-length and friends).
    black: Tuple[Tuple[str, Any], ...] = ()


def load_toml(path: str) -> Dict[str, Any]:
    try:  # imported only when a configuration file exists
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
        raise ConfigError(
            f"{path}: reading configuration needs Python 3.11 or newer (tomllib); "
            f"this is Python {sys.version_info.major}.{sys.version_info.minor}"
        ) from None
    replay.read(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def _str_list(path: str, key: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise ConfigError(f"{path}: [tool.est2tpu] {key} must be {_KEYS[key]}, got {value!r}")
    return tuple(v.strip() for v in value)


def validate(table: Mapping[str, Any], path: str) -> Dict[str, Any]:
    """Check a ``[tool.est2tpu]`` table; return it keyed by :class:`Settings` field names."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: [tool.est2tpu] must be a table")
    out: Dict[str, Any] = {}
    for key, value in table.items():
        if key not in _KEYS:
            close = difflib.get_close_matches(key.replace("_", "-"), list(_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(_KEYS)
            raise ConfigError(
                f"{path}: unknown key {key!r} in [tool.est2tpu]{hint}; known keys: {known}"
            )
        if key == "target":
            if value not in TARGETS:
                raise ConfigError(f"{path}: [tool.est2tpu] target must be {_KEYS[key]}, got {value!r}")
        elif key == "format":
            if value not in FORMATS:
                raise ConfigError(f"{path}: [tool.est2tpu] format must be {_KEYS[key]}, got {value!r}")
        elif key in ("iterations-per-loop", "max-file-size"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{path}: [tool.est2tpu] {key} must be {_KEYS[key]}, got {value!r}")
        else:
            value = _str_list(path, key, value)
            if key in ("select", "ignore"):
                try:
                    value = tuple(selector(v) for v in value)
                except ValueError as e:
                    raise ConfigError(f"{path}: [tool.est2tpu] {key}: {e}") from None
        out[key.replace("-", "_")] = value
    return out


@dataclasses.dataclass
class _Pyproject:
    path: str
    est2tpu: Optional[Dict[str, Any]]  # validated, or None when the table is absent
    black: Optional[Tuple[Tuple[str, Any], ...]]


class Resolver:
    """Finds the :class:`Settings` for any directory, reading each pyproject.toml once.

    ``overrides`` are the values given by flags (Settings field names); they win over
    every file.  ``config`` is the ``--config`` path, which replaces discovery.
    """

    def __init__(self, overrides: Optional[Dict[str, Any]] = None, config: Optional[str] = None,
                 cwd: Optional[str] = None) -> None:
        self.overrides = dict(overrides or {})
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self._files: Dict[str, Optional[_Pyproject]] = {}
        self._dirs: Dict[str, Settings] = {}
        self._fixed: Optional[Settings] = None
        self._made: Dict[Any, Settings] = {}
        if config is not None:
            config = os.path.abspath(config)
            replay.probed(config)
            if not os.path.isfile(config):
                raise ConfigError(f"{config}: configuration file not found")
            data = load_toml(config)
            tool = data.get("tool", {}) if isinstance(data.get("tool", {}), dict) else {}
            if os.path.basename(config) == "pyproject.toml" or "est2tpu" in tool:
                table = tool.get("est2tpu", {})
            else:  # a dedicated file (e.g. est2tpu.toml) holds the keys at top level
                table = data
            values = validate(table, config)
            black = _black_table(tool.get("black"))
            self._fixed = self._settings(values, os.path.dirname(config), config, black)

    def _settings(self, values: Dict[str, Any], root: str, source: Optional[str],
                  black: Optional[Tuple[Tuple[str, Any], ...]]) -> Settings:
        """Settings from a validated table; flags win, patterns keep their own base."""
        key = (source, root, black)
        if key in self._made:
            return self._made[key]
        merged = {k: v for k, v in values.items() if k not in ("exclude", "extend_exclude")}
        merged.update((k, v) for k, v in self.overrides.items() if k not in ("exclude", "extend_exclude"))
        excludes = []
        if "exclude" in self.overrides:  # --exclude replaces the file's (and the default) list
            excludes += [(p, self.cwd) for p in self.overrides["exclude"]]
        else:
            excludes += [(p, root) for p in values.get("exclude", DEFAULT_EXCLUDE)]
        excludes += [(p, root) for p in values.get("extend_exclude", ())]
        # --extend-exclude adds to whatever the file says.
        excludes += [(p, self.cwd) for p in self.overrides.get("extend_exclude", ())]
        made = Settings(source=source, black=black or (), excludes=tuple(excludes), **merged)
        self._made[key] = made
        return made

    def _pyproject(self, directory: str) -> Optional[_Pyproject]:
        if directory in self._files:
            return self._files[directory]
        path = os.path.join(directory, "pyproject.toml")
        found = None
        replay.probed(path)
        if os.path.isfile(path):
            data = load_toml(path)
            tool = data.get("tool")
            tool = tool if isinstance(tool, dict) else {}
            table = tool.get("est2tpu")
            found = _Pyproject(
                path,
                validate(table, path) if table is not None else None,
                _black_table(tool.get("black")),
            )
        self._files[directory] = found
        return found

    def for_dir(self, directory: str) -> Settings:
        """Settings governing files directly inside ``directory``."""
        if self._fixed is not None:
            return self._fixed
        directory = os.path.abspath(directory)
        cached = self._dirs.get(directory)
        if cached is not None:
            return cached
        # Walk up to the nearest [tool.est2tpu], noting the nearest [tool.black] on the way.
        current = directory
        black = None
        while True:
            project = self._pyproject(current)
            if project is not None:
                if black is None and project.black is not None:
                    black = project.black
                if project.est2tpu is not None:
                    settings = self._settings(project.est2tpu, current, project.path, black)
                    break
            parent = os.path.dirname(current)
            if parent == current:
                settings = self._settings({}, self.cwd, None, black)
                break
            current = parent
        self._dirs[directory] = settings
        return settings


def _black_table(table: Any) -> Optional[Tuple[Tuple[str, Any], ...]]:
    """The subset of ``[tool.black]`` that decides formatting, as hashable pairs."""
    if not isinstance(table, dict):
        return None
    keep = {}
    for key, value in table.items():
        key = key.replace("-", "_")
        if key in ("line_length", "skip_string_normalization", "skip_magic_trailing_comma",
                   "preview", "target_version", "skip_source_first_line"):
            keep[key] = tuple(value) if isinstance(value, list) else value
    return tuple(sorted(keep.items()))
