"""Which files to migrate, and reading and writing them without surprises.

Discovery
    Directories are searched recursively for ``*.py`` and ``*.ipynb``, in sorted
    order.  A directory or file is skipped when an ``exclude``/``extend-exclude``
    pattern of its settings matches it, when a ``.gitignore`` ignores it (inside a
    git work tree only: the ``.gitignore`` files from the top of the work tree down,
    plus ``.git/info/exclude``; read here, without running git), or when it is a
    virtual environment (a directory holding ``pyvenv.cfg``).  Files named on the
    command line are taken as they are unless ``force_exclude`` is set.  Symbolic
    links are not followed out of the paths given: a symlinked file is taken only
    when its target lies inside one of them (and then once, under its first name),
    and symlinked directories are never entered.

Patterns
    ``exclude`` patterns and ``.gitignore`` lines share the ``.gitignore`` syntax:
    ``*``, ``?``, ``[...]``, ``**``, a leading ``!`` to re-include, a trailing
    ``/`` for directories only, and a pattern with a ``/`` (other than a trailing
    one) anchored at its base directory, while one without matches a name at any
    depth.  The last pattern that matches decides; a deeper ``.gitignore`` wins over
    a shallower one; nothing inside an excluded directory is re-included.

Reading
    Python files are decoded the way Python does (PEP 263 coding cookie, UTF-8 BOM,
    else UTF-8) and encoded back the same way; line endings are never translated.
    Writing is :mod:`est2tpu.cli.replace`'s.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import stat
import tokenize
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from est2tpu.cli import replay
from est2tpu.cli.config import Resolver, Settings

SUFFIXES = (".py", ".ipynb")


# --------------------------------------------------------------------------- patterns


@dataclasses.dataclass(frozen=True)
class Pattern:
    """One ``.gitignore``-syntax pattern, relative to ``base``."""

    text: str
    base: str
    negated: bool
    dir_only: bool
    anchored: bool
    regex: "re.Pattern[str]"
    #: For a plain name without wildcards: the name, compared without a regex.
    literal: Optional[str]

    def matches(self, rel: Optional[str], name: str, is_dir: bool) -> bool:
        """``rel``: the path relative to ``base`` ("/"-separated), or None when outside it."""
        if self.dir_only and not is_dir:
            return False
        if rel is None:  # outside base: only name patterns apply
            if self.anchored:
                return False
            return name == self.literal if self.literal is not None else bool(self.regex.fullmatch(name))
        if self.literal is not None:
            return name == self.literal
        return bool(self.regex.fullmatch(rel))


_GLOB_CHARS = re.compile(r"[*?\[\\]")


def _translate(glob: str) -> str:
    """Regex source for a gitignore glob (no leading or trailing slash)."""
    out: List[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                start_ok = i == 0 or glob[i - 1] == "/"
                end = i + 2
                if start_ok and end == n:
                    out.append(".*")
                    i = end
                    continue
                if start_ok and glob[end] == "/":
                    out.append("(?:.*/)?")
                    i = end + 1
                    continue
                while i < n and glob[i] == "*":
                    i += 1
                out.append("[^/]*")
                continue
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = i + 1
            if j < n and glob[j] in "!^":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal "["
                out.append(re.escape(c))
                i += 1
                continue
            body = glob[i + 1 : j]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = j + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def compile_pattern(line: str, base: str) -> Optional[Pattern]:
    """A pattern from one ``.gitignore`` line or exclude entry; None for blanks and comments."""
    original = line
    line = line.rstrip("\r\n")
    # Trailing spaces are dropped unless escaped with a backslash.
    while line.endswith(" ") and not line.endswith("\\ "):
        line = line[:-1]
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    dir_only = line.endswith("/") and not line.endswith("\\/")
    line = line.rstrip("/") if dir_only else line
    anchored = "/" in line
    line = line.lstrip("/")
    if not line:
        return None
    source = _translate(line)
    literal = None
    if not anchored and not _GLOB_CHARS.search(line):
        literal = line
    regex = re.compile(source if anchored else f"(?:.*/)?{source}", re.DOTALL)
    return Pattern(original.strip(), base, negated, dir_only, anchored, regex, literal)


class PatternSet:
    """Patterns with bases, in priority order (last match wins)."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = tuple(patterns)
        # Without "!" patterns the order does not matter: plain names become a set lookup.
        simple = not any(p.negated for p in self.patterns)
        self._names = {p.literal: p.dir_only for p in self.patterns if simple and p.literal is not None and not p.anchored}
        rest = [p for p in self.patterns if not (simple and p.literal is not None and not p.anchored)]
        self._dir_patterns = tuple(rest)
        self._file_patterns = tuple(p for p in rest if not p.dir_only)
        self._dir_screen = self._screen(self._dir_patterns)
        self._file_screen = self._screen(self._file_patterns)

    @staticmethod
    def _screen(patterns: Sequence[Pattern]) -> Tuple[Tuple[str, "re.Pattern[str]", "re.Pattern[str]"], ...]:
        """Per base: one regex matching what any of its patterns matches below the base,
        and one for names outside it, so that most paths need a single match per base."""
        by_base: Dict[str, List[Pattern]] = {}
        for p in patterns:
            by_base.setdefault(p.base, []).append(p)

        def union(sources: List[str]) -> "re.Pattern[str]":
            return re.compile("|".join(f"(?:{s})" for s in sources) or "(?!)", re.DOTALL)

        return tuple((base, union([p.regex.pattern for p in group]),
                      union([p.regex.pattern for p in group if not p.anchored]))
                     for base, group in by_base.items())

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def decide(self, path: str, is_dir: bool, name: Optional[str] = None) -> Optional[bool]:
        """True: excluded, False: re-included by a ``!`` pattern, None: no pattern matches.
        ``name``: the path's last part, when the caller has it."""
        name = name or os.path.basename(path)
        dir_only = self._names.get(name)
        if dir_only is not None and (is_dir or not dir_only):
            return True
        for base, below, outside in self._dir_screen if is_dir else self._file_screen:
            rel = _relative(path, base)
            if (below.fullmatch(rel) if rel is not None else outside.fullmatch(name)):
                break
        else:
            return None
        rels: Dict[str, Optional[str]] = {}
        for pattern in reversed(self._dir_patterns if is_dir else self._file_patterns):
            rel = rels.get(pattern.base, "")
            if rel == "":
                rel = _relative(path, pattern.base)
                rels[pattern.base] = rel
            if pattern.matches(rel, name, is_dir):
                return not pattern.negated
        return None


def _relative(path: str, base: str) -> Optional[str]:
    """``path`` relative to ``base`` with "/" separators, or None if it is not below it."""
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix):]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def read_patterns(path: str, base: str) -> List[Pattern]:
    replay.read(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [p for p in (compile_pattern(line, base) for line in lines) if p is not None]


# --------------------------------------------------------------------------- discovery


@dataclasses.dataclass
class Candidate:
    """A file to migrate."""

    path: str  # absolute path that is read and written (a symlink's target)
    display: str  # how the user sees it: relative to the current directory, "/"-separated
    kind: str  # "python" or "notebook"
    settings: Settings


@dataclasses.dataclass
class Problem:
    """A path that could not be processed."""

    display: str
    message: str
    line: Optional[int] = None
    col: Optional[int] = None
    cell: Optional[int] = None

    def format(self) -> str:
        where = self.display
        if self.cell is not None:
            where += f":cell {self.cell}"
        if self.line is not None:
            where += f":{self.line}:{self.col or 0}"
        return f"{where}: error: {self.message}"


@dataclasses.dataclass
class Discovery:
    files: List[Candidate]
    problems: List[Problem]
    #: (display path, reason) of what was left out, for --verbose.
    skipped: List[Tuple[str, str]]


def display_path(path: str, cwd: str) -> str:
    """``path`` relative to ``cwd`` when it is below it, else absolute; "/"-separated."""
    rel = _relative(path, cwd)
    shown = rel if rel is not None else path
    return shown.replace(os.sep, "/")


def kind_of(path: str) -> str:
    return "notebook" if path.endswith(".ipynb") else "python"


class Finder:
    """Discovers the files to migrate under the paths given on the command line."""

    def __init__(self, resolver: Resolver, *, force_exclude: bool = False,
                 respect_gitignore: bool = True, cwd: Optional[str] = None) -> None:
        self.resolver = resolver
        self.force_exclude = force_exclude
        self.respect_gitignore = respect_gitignore
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self._excludes: Dict[Settings, PatternSet] = {}
        self._gitignores: Dict[str, PatternSet] = {}
        self._git_roots: Dict[str, Optional[str]] = {}
        self._roots: List[str] = []
        self._seen: Dict[str, str] = {}
        self._dir_sets: Dict[Tuple[str, bool], Tuple[PatternSet, Optional[PatternSet]]] = {}

    # -- exclusion
    def _exclude_set(self, settings: Settings) -> PatternSet:
        found = self._excludes.get(settings)
        if found is None:
            patterns = [compile_pattern(p, os.path.abspath(base)) for p, base in settings.excludes]
            found = PatternSet([p for p in patterns if p is not None])
            self._excludes[settings] = found
        return found

    def _git_root(self, directory: str) -> Optional[str]:
        if directory in self._git_roots:
            return self._git_roots[directory]
        replay.probed(os.path.join(directory, ".git"))
        if os.path.lexists(os.path.join(directory, ".git")):
            root: Optional[str] = directory
        else:
            parent = os.path.dirname(directory)
            root = None if parent == directory else self._git_root(parent)
        self._git_roots[directory] = root
        return root

    def _gitignore_set(self, directory: str) -> PatternSet:
        """The .gitignore patterns that apply to entries of ``directory``."""
        found = self._gitignores.get(directory)
        if found is not None:
            return found
        root = self._git_root(directory)
        if root is None:
            found = PatternSet(())
        else:
            if directory == root:  # whose .git _git_root looked at
                inherited: Tuple[Pattern, ...] = tuple(
                    read_patterns(os.path.join(root, ".git", "info", "exclude"), root)
                ) if os.path.isdir(os.path.join(root, ".git")) else ()
            else:
                inherited = self._gitignore_set(os.path.dirname(directory)).patterns
            own = read_patterns(os.path.join(directory, ".gitignore"), directory)
            found = PatternSet(inherited + tuple(own))
        self._gitignores[directory] = found
        return found

    def _sets_for(self, directory: str, given: bool) -> Tuple[PatternSet, Optional[PatternSet]]:
        """The exclude and .gitignore patterns for entries of ``directory`` (cached per directory;
        ``given``: see :meth:`excluded`)."""
        found = self._dir_sets.get((directory, given))
        if found is None:
            excludes = self._exclude_set(self.resolver.for_dir(directory))
            if given:  # a base that holds the directory contains its entries
                excludes = PatternSet([p for p in excludes.patterns
                                       if directory == p.base or _relative(directory, p.base) is not None])
            found = (excludes, self._gitignore_set(directory) if self.respect_gitignore else None)
            self._dir_sets[(directory, given)] = found
        return found

    def excluded(self, path: str, is_dir: bool, given: bool = False) -> Optional[str]:
        """Why ``path`` is left out, or None.  For a path ``given`` on the command line (or a
        directory above it) only exclude patterns whose base contains it count, so a "build"
        pattern does not exclude a project that happens to live in ~/build."""
        return self._excluded_in(self._sets_for(os.path.dirname(path), given), path, os.path.basename(path), is_dir)

    @staticmethod
    def _excluded_in(sets: Tuple[PatternSet, Optional[PatternSet]], path: str, name: str,
                     is_dir: bool) -> Optional[str]:
        """:meth:`excluded`, given the patterns for the path's directory."""
        excludes, gitignore = sets
        if excludes.decide(path, is_dir, name):
            return "excluded"
        if gitignore is not None and gitignore.decide(path, is_dir, name):
            return "ignored by .gitignore"
        if is_dir:
            marker = os.path.join(path, "pyvenv.cfg")
            replay.probed(marker)
            if os.path.isfile(marker):
                return "virtual environment"
        return None

    def excluded_with_parents(self, path: str, is_dir: bool) -> Optional[str]:
        """Like :meth:`excluded` for a path given on the command line: any excluded
        directory above it (below the filesystem root) excludes it too."""
        parts = []
        current = path
        while True:
            parent = os.path.dirname(current)
            if parent == current:
                break
            parts.append(current)
            current = parent
        for i, p in enumerate(reversed(parts)):
            last = i == len(parts) - 1
            reason = self.excluded(p, is_dir if last else True, given=True)
            if reason:
                return reason
        return None

    # -- search
    def _inside_roots(self, real: str) -> bool:
        return any(real == r or _relative(real, r) is not None for r in self._roots)

    def find(self, paths: Iterable[str]) -> Discovery:
        files: List[Candidate] = []
        problems: List[Problem] = []
        skipped: List[Tuple[str, str]] = []
        given = [os.path.abspath(p) for p in paths]
        reals = [os.path.realpath(p) for p in given]
        for path, real in zip(given, reals):
            replay.probed(path)
            replay.resolved(path, real)
        self._roots = [real for path, real in zip(given, reals) if os.path.exists(path)]
        for raw, path in zip(paths, given):
            shown = display_path(path, self.cwd)
            try:
                mode = os.stat(path).st_mode
            except OSError as e:
                broken = isinstance(e, FileNotFoundError) and os.path.islink(path)
                problems.append(Problem(shown, "broken symbolic link" if broken else e.strerror or str(e)))
                continue
            if stat.S_ISDIR(mode):
                if self.force_exclude:
                    reason = self.excluded_with_parents(path, True)
                    if reason:
                        skipped.append((shown, reason))
                        continue
                self._walk(path, files, problems, skipped)
            elif not stat.S_ISREG(mode):  # a pipe or a device would block the run or never end
                problems.append(Problem(shown, "not a regular file"))
            else:
                if self.force_exclude:
                    reason = self.excluded_with_parents(path, False)
                    if reason:
                        skipped.append((shown, reason))
                        continue
                self._add(path, files, skipped)
        files.sort(key=lambda c: c.display)
        return Discovery(files, problems, skipped)

    def _add(self, path: str, files: List[Candidate], skipped: List[Tuple[str, str]],
             real: Optional[str] = None, shown: Optional[str] = None, settings: Optional[Settings] = None) -> None:
        """Add the file at ``path``; ``real`` (its resolved path), ``shown`` and ``settings``
        when the caller has them."""
        real = real or os.path.realpath(path)
        shown = shown or display_path(path, self.cwd)
        if real in self._seen:
            if self._seen[real] != shown:
                skipped.append((shown, f"same file as {self._seen[real]}"))
            return
        self._seen[real] = shown
        files.append(Candidate(real, shown, kind_of(path), settings or self.resolver.for_dir(os.path.dirname(real))))

    def _walk(self, directory: str, files: List[Candidate], problems: List[Problem],
              skipped: List[Tuple[str, str]], real_dir: Optional[str] = None) -> None:
        """Add the files below ``directory`` (``real_dir``: its resolved path, when known)."""
        real_dir = real_dir or os.path.realpath(directory)
        replay.resolved(directory, real_dir)
        replay.listed(directory)
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            problems.append(Problem(display_path(directory, self.cwd),
                                    f"cannot list directory: {e.strerror or e}"))
            return
        # What all entries share, found once: their patterns, settings and displayed prefix.
        sets = self._sets_for(directory, False)
        settings = self.resolver.for_dir(real_dir)
        prefix = "" if directory == self.cwd else display_path(directory, self.cwd).rstrip("/") + "/"
        for entry in entries:
            path, name = entry.path, entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if not is_dir and not is_link:
                if not name.endswith(SUFFIXES):
                    continue
                if not entry.is_file(follow_symlinks=False):  # a pipe would block the run
                    skipped.append((prefix + name, "not a regular file"))
                    continue
            if is_link:
                real = os.path.realpath(path)
                if not self._inside_roots(real):
                    skipped.append((prefix + name, "symbolic link to outside the paths given"))
                    continue
                if os.path.isdir(real):
                    skipped.append((prefix + name, "symbolic link to a directory"))
                    continue
                if not name.endswith(SUFFIXES) or not os.path.isfile(real):
                    continue
            reason = self._excluded_in(sets, path, name, is_dir)
            if reason:
                skipped.append((prefix + name, reason))
                continue
            if is_dir:
                self._walk(path, files, problems, skipped, os.path.join(real_dir, name))
            elif is_link:
                self._add(path, files, skipped, real, prefix + name)
            else:
                self._add(path, files, skipped, os.path.join(real_dir, name), prefix + name, settings)


# --------------------------------------------------------------------------- reading


class DecodeError(Exception):
    """A file whose bytes are not text in the encoding it declares; located (1-based line,
    byte column) when a byte is to blame."""

    def __init__(self, message: str, data: bytes = b"", offset: Optional[int] = None) -> None:
        super().__init__(message)
        self.line = self.col = None
        if offset is not None:
            self.line = data.count(b"\n", 0, offset) + 1
            self.col = offset - data.rfind(b"\n", 0, offset)


def _undecodable(data: bytes, encoding: str, e: UnicodeDecodeError) -> DecodeError:
    return DecodeError(f"cannot decode as {encoding}: byte {data[e.start]:#04x}", data, e.start)


def decode_python(data: bytes) -> Tuple[str, str]:
    """(text, encoding) the way Python reads source: BOM, coding cookie, else UTF-8.

    ``encoding`` re-encodes ``text`` to exactly ``data`` (``utf-8-sig`` keeps a BOM).
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as e:
        if "invalid or missing encoding declaration" in str(e):  # a bad UTF-8 byte in line 1 or 2
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise _undecodable(data, "utf-8", bad) from None
        raise DecodeError(f"cannot decode: {getattr(e, 'msg', None) or e}") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise _undecodable(data, encoding, e) from None
    except LookupError:  # pragma: no cover - detect_encoding only returns known codecs
        raise DecodeError(f"unknown encoding {encoding!r}") from None
    if text.encode(encoding) != data:
        raise DecodeError(f"{encoding} does not round-trip this file's bytes")
    return text, encoding


def decode_notebook(data: bytes) -> Tuple[str, str]:
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as e:
        raise _undecodable(data, "UTF-8", e) from None


def read_bytes(path: str) -> bytes:
    with open(path, "rb", buffering=0) as f:  # read whole: a buffer would only be in the way
        data = f.read()
    replay.read(path, data)
    return data
