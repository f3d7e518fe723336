"""Jupyter notebooks: migrate the code cells, change nothing else in the file.

The notebook's code cells are joined into one module (so an ``import tensorflow
as tf`` in the first cell is known in the others), separated by marker
statements, and migrated at once.  IPython syntax that is not Python -- line
magics (``%time``, or ``ls -la`` that IPython's automagic runs as one), shell
escapes (``!pip``, continued by backslashes or not), help (``obj?``),
``x = !ls`` -- is replaced by a placeholder name before and put
back after, and so is a later cell's ``from __future__`` import; a cell whose first
line is a cell magic runs under another interpreter (``%%bash``, or Datalab's
``%bash`` with a body) and is left
alone, except for the magics that run their body as Python (``%%time`` and a few
more).

The file is never re-serialized as a whole: only the JSON value of each changed
cell's ``source`` is replaced, written in the layout the original used (a list
of lines or one string, the same indentation, the same ``ensure_ascii`` choice,
the same escapes of ASCII characters, like Colab's ``\\u003c``),
so indentation, key order, other cells, outputs and the trailing newline are
kept byte for byte and a diff shows only the changed lines.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import json.decoder
import re
import warnings
from typing import Any, Dict, List, Optional, Tuple

#: Cell magics whose body is Python code.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit"}
#: Cell magics, never line magics, whose body is not Python: written with one ``%`` on a
#: cell's first line (Google Cloud Datalab's notebooks do), they still take the cell.
CELL_ONLY_MAGICS = {
    "bash", "sh", "script", "perl", "ruby", "pypy", "html", "javascript", "js", "latex", "markdown",
    "svg", "writefile", "file",  # IPython's
    "bq", "sql", "storage", "gcs", "chart", "ml", "mlalpha", "monitoring", "datalab", "pymodule",  # Datalab's
}
#: What IPython runs as a magic when written without ``%`` (automagic): its line magics
#: and shell aliases a notebook uses that way (``ls -la data/``, ``cd ..``, ``pip install x``).
AUTOMAGICS = {
    "alias", "bookmark", "cat", "cd", "clear", "conda", "cp", "dhist", "dirs", "env", "history",
    "less", "ll", "load_ext", "ls", "lsmagic", "mamba", "man", "matplotlib", "mkdir", "more", "mv",
    "pip", "popd", "pushd", "pwd", "reset", "rm", "rmdir", "run", "set_env", "sx", "system", "who",
    "whos",
}

_WS = re.compile(r"[ \t\n\r]*")
#: A placeholder line: (indentation, "magic"/"line", its number) or (indentation, None, None, a future's number).
_PLACEHOLDER = re.compile(r"^([ \t]*)(?:_est2tpu_(magic|line)_(\d+)_[ \t]*$|from _est2tpu_future_(\d+)_ import\b)")
#: A printable ASCII character written as an escape, but the quote and backslash JSON escapes anyway.
_ASCII_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u00((?!22|5[cC])[2-7][0-9a-fA-F])")
_FUTURE = re.compile(r"from[ \t]+__future__[ \t]+import\b")
_BOUNDARY = "_est2tpu_cell_boundary_{}_"
_BOUNDARY_RE = re.compile(r"^_est2tpu_cell_boundary_(\d+)_[ \t]*$")
_ASSIGN_MAGIC = re.compile(r"^[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")
#: An automagic's name, then its arguments (not ``=``, a comma or a bracket, as Python's would be).
_AUTOMAGIC = re.compile(r"^([a-z_]+)[ \t]+[^ \t=(\[{,:;)\]}]")


class NotebookError(ValueError):
    """A notebook that cannot be read, or migrated output that cannot be put back."""


# --------------------------------------------------------------------------- JSON with positions


@dataclasses.dataclass
class Cell:
    index: int  # position among all cells, 0-based
    cell_type: str
    source: str
    span: Tuple[int, int]  # of the JSON value of "source" in the file text
    items: Optional[List[Tuple[int, int]]]  # spans of the list items; None for a string


class _Scanner:
    """Decodes JSON text as :func:`json.loads` does (the same values, the same errors),
    recording where each cell's ``source`` (and its items) is."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: Dict[tuple, Tuple[int, int]] = {}
        self._decoder = json.JSONDecoder()

    @staticmethod
    def _wanted(path: tuple) -> bool:
        return len(path) in (3, 4) and path[0] == "cells" and path[2] == "source"

    @staticmethod
    def _on_the_way(path: tuple) -> bool:
        """Whether a value at ``path`` may contain a cell's source (else it is decoded whole)."""
        return (len(path) == 0 or (path[0] == "cells" and (len(path) < 3 or (len(path) == 3 and path[2] == "source"))))

    def document(self) -> Any:
        s = self.text
        if s.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
        result, i = self.value(0, ())
        i = _WS.match(s, i).end()
        if i != len(s):
            raise json.JSONDecodeError("Extra data", s, i)
        return result

    def value(self, i: int, path: tuple) -> Tuple[Any, int]:
        """The value starting at ``i`` (after whitespace), and where it ends."""
        s = self.text
        i = _WS.match(s, i).end()
        start = i
        c = s[i : i + 1]
        result: Any
        if c == "{" and self._on_the_way(path):
            result = {}
            i = _WS.match(s, i + 1).end()
            if s[i : i + 1] == "}":
                i += 1
            else:
                while True:
                    if s[i : i + 1] != '"':
                        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", s, i)
                    key, i = json.decoder.scanstring(s, i + 1)
                    i = _WS.match(s, i).end()
                    if s[i : i + 1] != ":":
                        raise json.JSONDecodeError("Expecting ':' delimiter", s, i)
                    item, i = self.value(i + 1, path + (key,) if len(path) < 3 else path + (None,))
                    result[key] = item
                    i = _WS.match(s, i).end()
                    if s[i : i + 1] == ",":
                        i = _WS.match(s, i + 1).end()
                        continue
                    if s[i : i + 1] == "}":
                        i += 1
                        break
                    raise json.JSONDecodeError("Expecting ',' delimiter", s, i)
        elif c == "[" and self._on_the_way(path):
            result = []
            i = _WS.match(s, i + 1).end()
            if s[i : i + 1] == "]":
                i += 1
            else:
                while True:
                    item, i = self.value(i, path + (len(result),) if len(path) < 4 else path + (None,))
                    result.append(item)
                    i = _WS.match(s, i).end()
                    if s[i : i + 1] == ",":
                        i += 1
                        continue
                    if s[i : i + 1] == "]":
                        i += 1
                        break
                    raise json.JSONDecodeError("Expecting ',' delimiter", s, i)
        else:  # a scalar, or outputs, metadata...: the C decoder is fast
            result, i = self._decoder.raw_decode(s, i)
        if self._wanted(path):
            self.spans[path] = (start, i)
        return result, i


@dataclasses.dataclass
class Notebook:
    text: str
    cells: List[Cell]
    python: bool  # False when the kernel's language is known and is not Python
    ensure_ascii: bool
    #: ASCII characters the file writes as \u escapes (Colab: <, > and &), and how.
    escapes: Dict[str, str] = dataclasses.field(default_factory=dict)

    def code_cells(self) -> List[Cell]:
        return [c for c in self.cells if c.cell_type == "code"]

    def dump(self, value: str) -> str:
        """``value`` as a JSON string, escaped the way this file escapes."""
        out = json.dumps(value, ensure_ascii=self.ensure_ascii)
        for char, escape in self.escapes.items():
            out = out.replace(char, escape)
        return out


def parse(text: str) -> Notebook:
    scanner = _Scanner(text)
    try:
        data = scanner.document()
    except ValueError as e:
        raise NotebookError(f"invalid notebook JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no \"cells\" list; nbformat 4 is supported)")
    cells: List[Cell] = []
    for index, raw in enumerate(data["cells"]):
        if not isinstance(raw, dict):
            raise NotebookError(f"cell {index + 1} is not an object")
        source = raw.get("source", "")
        key = ("cells", index, "source")
        if isinstance(source, list):
            if not all(isinstance(line, str) for line in source):
                raise NotebookError(f"cell {index + 1}: source is not a list of strings")
            items = [scanner.spans[key + (j,)] for j in range(len(source))]
            text_source = "".join(source)
        elif isinstance(source, str):
            items, text_source = None, source
        else:
            raise NotebookError(f"cell {index + 1}: source is not text")
        span = scanner.spans.get(key, (0, 0))
        cells.append(Cell(index, str(raw.get("cell_type", "")), text_source, span, items))
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    language = None
    for section, field in (("kernelspec", "language"), ("language_info", "name")):
        table = metadata.get(section)
        if isinstance(table, dict) and isinstance(table.get(field), str):
            language = table[field].lower()
            break
    python = language is None or language.startswith("python")
    if not text.isascii():
        ensure_ascii = False  # Jupyter's own choice, and the file shows it
    else:
        ensure_ascii = bool(re.search(r"\\u(?!00[0-7])[0-9a-fA-F]{4}", text))
    escapes = {}
    for m in _ASCII_ESCAPE.finditer(text):
        escapes.setdefault(chr(int(m.group(1), 16)), m.group(0)[-6:])
    return Notebook(text, cells, python, ensure_ascii, escapes)


def _lines(source: str) -> List[str]:
    """nbformat's list form: lines keeping their "\\n", the last one maybe without."""
    parts = source.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _render(nb: Notebook, cell: Cell, source: str) -> str:
    dump = nb.dump
    if cell.items is None:
        return dump(source)
    lines = _lines(source)
    if not lines:
        return "[]"
    text = nb.text
    start, end = cell.span
    if cell.items:
        first, last = cell.items[0], cell.items[-1]
        opening = text[start + 1 : first[0]]
        closing = text[last[1] : end - 1]
        separator = text[first[1] : cell.items[1][0]] if len(cell.items) > 1 else "," + opening
    else:  # was "[]": take the layout Jupyter would
        opening, closing, separator = "", "", ", "
    return "[" + opening + separator.join(dump(line) for line in lines) + closing + "]"


def splice(nb: Notebook, new_sources: Dict[int, str]) -> str:
    """The notebook text with the sources of some cells (by index) replaced."""
    text = nb.text
    for index in sorted(new_sources, reverse=True):
        cell = nb.cells[index]
        start, end = cell.span
        if end <= start:
            raise NotebookError(f"cell {index + 1}: cannot locate its source")
        text = text[:start] + _render(nb, cell, new_sources[index]) + text[end:]
    check = json.loads(text)
    for index, source in new_sources.items():
        got = check["cells"][index].get("source", "")
        if ("".join(got) if isinstance(got, list) else got) != source:
            raise NotebookError(f"cell {index + 1}: source was not written back intact")
    return text


def file_position(nb: Notebook, cell: Cell, line: int, col: int) -> Tuple[int, int]:
    """1-based (line, column) in the notebook file of a 1-based position in a cell."""
    text = nb.text
    lines = cell.source.split("\n")
    offset = sum(len(l) + 1 for l in lines[: max(line - 1, 0)]) + max(col - 1, 0)
    if cell.items is None:
        chunks = [(cell.span[0], cell.source)]
    else:
        chunks = [(start, json.loads(text[start:end])) for start, end in cell.items]
    if not chunks:
        return text.count("\n", 0, cell.span[0]) + 1, 1
    for n, (start, chunk) in enumerate(chunks):
        if offset < len(chunk) or n == len(chunks) - 1:
            escaped = nb.dump(chunk[:offset])[1:-1]
            line_start = text.rfind("\n", 0, start) + 1
            # +1 for 1-based, +1 for the opening quote
            return text.count("\n", 0, start) + 1, start - line_start + 2 + len(escaped)
        offset -= len(chunk)
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- IPython syntax


def _looks_magic(line: str) -> bool:
    s = line.strip()
    if not s or s.startswith("#"):
        return False
    if s[0] in "%!?":
        return True
    if s.endswith("?"):
        return True
    return bool(_ASSIGN_MAGIC.match(s)) or _automagic(s)


def _automagic(line: str) -> bool:
    """``line`` (stripped) is an automagic call that is not also Python: ``ls -la data/``,
    not ``cd = 1`` or ``ls`` alone, which IPython runs as Python when the name is defined."""
    m = _AUTOMAGIC.match(line)
    if m is None or m.group(1) not in AUTOMAGICS:
        return False
    try:
        with warnings.catch_warnings():  # ls in "\d": Python, whatever -W says of its escape
            warnings.simplefilter("ignore")
            compile(line, "<line>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError:
        return True
    return False


def _ipython_lines(lines: List[str], futures: bool) -> List[Optional[str]]:
    """What each line is: "magic" for IPython syntax, "continued" for the lines a magic
    continues onto (its line ends with a backslash), "future" for a ``from __future__``
    import at the top of the cell when ``futures`` (the cell is not the first: IPython
    takes them at the top of any cell, Python only at the top of the module), else
    None.  Only lines that start a logical line count, so ``%`` continuing an expression
    or a ``!`` inside a string is left alone."""
    out: List[Optional[str]] = []
    depth = 0
    quote: Optional[str] = None  # an open triple-quoted string
    continued = False
    magic_continues = False
    top = futures  # no statement but __future__ imports yet
    for line in lines:
        if magic_continues:
            out.append("continued")
            magic_continues = line.endswith("\\")
            continue
        kind = None
        if depth == 0 and quote is None and not continued and line.strip()[:1] not in ("", "#"):
            if _looks_magic(line):
                out.append("magic")
                magic_continues = line.endswith("\\")
                top = False
                continue
            top = top and bool(_FUTURE.match(line.lstrip(" \t")))
            kind = "future" if top else None  # scanned on: `from __future__ import (a,` goes on
        out.append(kind)
        continued = False
        i, n = 0, len(line)
        while i < n:
            if quote is not None:
                if line.startswith(quote, i):
                    i += 3
                    quote = None
                elif line[i] == "\\":
                    i += 2
                else:
                    i += 1
                continue
            c = line[i]
            if c == "#":
                break
            if c in "'\"":
                if line.startswith(c * 3, i):
                    quote = c * 3
                    i += 3
                    continue
                j = i + 1
                while j < n and line[j] != c:
                    j += 2 if line[j] == "\\" else 1
                i = j + 1
                continue
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth = max(depth - 1, 0)
            elif c == "\\" and i == n - 1:
                continued = True
            i += 1
    return out


@dataclasses.dataclass
class Masked:
    code: str  # the cell as Python
    originals: Dict[int, str]  # placeholder number -> the line (without its indentation, but a continued line)
    had_newline: bool
    indent: str = ""  # taken off every line, as IPython does when the cell's first line is indented


def mask(source: str, counter: List[int], later: bool = False) -> Optional[Masked]:
    """The cell as Python with IPython lines replaced, or None for a non-Python cell magic.
    ``later``: the cell comes after the first one joined.

    A magic line becomes ``_est2tpu_magic_N_``; each line a backslash continues it onto
    becomes ``_est2tpu_line_N_``, indented as the magic (the line is put back whole); a
    ``from __future__`` import of a later cell imports from ``_est2tpu_future_N_``.
    """
    lines = source.split("\n")
    indent = _indentation(next((line for line in lines if line.strip()), ""))
    lines = _dedented(lines, indent)
    originals: Dict[int, str] = {}
    start = 0
    first = lines[0].strip() if lines else ""
    name = (first.lstrip("%").split(None, 1) or [""])[0]
    if first.startswith("%%"):
        if name not in PYTHON_CELL_MAGICS:
            return None
        start = 1
    elif first.startswith("%") and name in CELL_ONLY_MAGICS and any(line.strip() for line in lines[1:]):
        return None  # Datalab's ``%bash`` + body
    kinds = ["magic"] * start + _ipython_lines(lines[start:], later)
    own = ""  # the indentation of the magic line a continued line belongs to
    for i, kind in enumerate(kinds):
        if kind is None:
            continue
        line = lines[i]
        number = counter[0]
        counter[0] += 1
        if kind == "continued":
            originals[number] = line
            lines[i] = f"{own}_est2tpu_line_{number}_"
            continue
        own = _indentation(line)
        originals[number] = line[len(own):]
        if kind == "magic":
            lines[i] = f"{own}_est2tpu_magic_{number}_"
        else:
            lines[i] = own + _FUTURE.sub(f"from _est2tpu_future_{number}_ import", line[len(own):], 1)
    code = "\n".join(lines)
    had_newline = code.endswith("\n")
    return Masked(code, originals, had_newline, indent)


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _dedented(lines: List[str], indent: str) -> List[str]:
    """``lines`` with ``indent`` taken off each that starts with it, as IPython runs a cell
    whose first line that is not blank is so indented (``leading_indent``)."""
    return [line[len(indent):] if indent and line.startswith(indent) else line for line in lines]


def indented(source: str, original: str, indent: str) -> str:
    """The migrated ``source`` of a cell dedented by ``indent`` (:func:`_dedented`), as the
    cell writes it: the lines kept from ``original`` as they were there, the new ones indented."""
    if not indent:
        return source
    old = original.split("\n")
    new = source.split("\n")
    out: List[str] = []
    matcher = difflib.SequenceMatcher(None, _dedented(old, indent), new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        out.extend(old[i1:i2] if tag == "equal" else (indent + line if line.strip() else line for line in new[j1:j2]))
    return "\n".join(out)


def unmask(code: str, originals: Dict[int, str]) -> str:
    lines = code.split("\n")
    found = set()
    for i, line in enumerate(lines):
        m = _PLACEHOLDER.match(line)
        if m:
            number = int(m.group(3) or m.group(4))
            if number not in originals or number in found:
                raise NotebookError("an IPython line could not be put back after migration")
            found.add(number)
            lines[i] = originals[number] if m.group(2) == "line" else m.group(1) + originals[number]
    if found != set(originals):
        raise NotebookError("an IPython line was lost in migration")
    return "\n".join(lines)


# --------------------------------------------------------------------------- joining cells


@dataclasses.dataclass
class Joined:
    """Code cells as one module, and the way back."""

    code: str
    cells: List[Cell]  # the code cells that were joined, in order
    masks: List[Masked]
    starts: List[int]  # 1-based line of each cell's first line in ``code``

    def column(self, cell: Cell, col: Optional[int]) -> Optional[int]:
        """A column of the joined module, in ``cell``'s own source."""
        masked = self.masks[self.cells.index(cell)]
        return col + len(masked.indent) if col is not None and masked.indent else col

    def locate(self, line: int) -> Tuple[Optional[Cell], int]:
        """(cell, line in that cell) for a line of the joined module."""
        found: Optional[Cell] = None
        rel = line
        for cell, start in zip(self.cells, self.starts):
            if line >= start:
                found, rel = cell, line - start + 1
        return found, rel


def join(nb: Notebook) -> Joined:
    counter = [0]
    cells: List[Cell] = []
    masks: List[Masked] = []
    starts: List[int] = []
    parts: List[str] = []
    line = 1
    for cell in nb.code_cells():
        if not cell.source.strip():
            continue
        masked = mask(cell.source, counter, later=bool(cells))
        if masked is None:
            continue
        code = masked.code if masked.had_newline else masked.code + "\n"
        starts.append(line)
        cells.append(cell)
        masks.append(masked)
        parts.append(code)
        parts.append(_BOUNDARY.format(len(cells) - 1) + "\n")
        line += code.count("\n") + 1
    return Joined("".join(parts), cells, masks, starts)


def split(joined: Joined, code: str) -> Dict[int, str]:
    """New sources, by cell index, of the cells that changed in the migrated ``code``."""
    lines = code.splitlines(keepends=True)
    pieces: List[str] = []
    current: List[str] = []
    for line in lines:
        m = _BOUNDARY_RE.match(line.rstrip("\r\n"))
        if m:
            if int(m.group(1)) != len(pieces):
                raise NotebookError("cell boundaries were reordered in migration")
            pieces.append("".join(current))
            current = []
        else:
            current.append(line)
    if len(pieces) != len(joined.cells) or "".join(current).strip():
        raise NotebookError("cell boundaries were lost in migration")
    changed: Dict[int, str] = {}
    for cell, masked, piece in zip(joined.cells, joined.masks, pieces):
        if not masked.had_newline and piece.endswith("\n"):
            piece = piece[:-1]
        source = indented(unmask(piece, masked.originals), cell.source, masked.indent)
        if source != cell.source:
            changed[cell.index] = source
    return changed
