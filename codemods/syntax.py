"""Small syntax helpers: find, add and rename call arguments in the file's own style."""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from typing import List, Optional, Sequence, Tuple

import libcst as cst

_LAYOUT_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENDMARKER}
_WORD = re.compile(r"[\w'\"]")  # a token's edge that would join the next word


def parse_module(code: str) -> cst.Module:
    """LibCST's tree of ``code``, without checking its nodes one by one.

    Every LibCST node checks its own fields when built (``CSTNode.__post_init__``), a check
    meant for nodes built by hand that costs a fifth of the parse; the parser's nodes are
    valid by construction.  The nodes the codemods build are still checked.  (The check is
    switched off for the whole process during the parse: not for threads that build nodes.)
    """
    node_class = cst.CSTNode
    check = node_class.__post_init__
    node_class.__post_init__ = _unchecked
    try:
        return _as_written(cst.parse_module(code), code)
    finally:
        node_class.__post_init__ = check


def _unchecked(node: cst.CSTNode) -> None:
    pass


def _as_written(module: cst.Module, code: str) -> cst.Module:
    """``module`` with two things LibCST's parser gets wrong about ``code`` put right: a
    file whose lines end in "\\r" alone keeps its last one, and a form feed (which Python
    does not count as indentation) is not made part of the indentation of every block."""
    if code.endswith("\r") and not module.has_trailing_newline:
        module = module.with_changes(has_trailing_newline=True)
    if "\f" in code:
        module = module.with_changes(default_indent=module.default_indent.replace("\f", "")).visit(_FormFeeds())
    return module


class _FormFeeds(cst.CSTTransformer):
    def leave_IndentedBlock(self, original_node, updated_node):
        if updated_node.indent and "\f" in updated_node.indent:
            return updated_node.with_changes(indent=updated_node.indent.replace("\f", ""))
        return updated_node


def dotted_expr(path: str):
    """``a.b.c`` as a Name/Attribute chain (built directly: parsing it costs as much as a file)."""
    head, *rest = path.split(".")
    node = cst.Name(head)
    for part in rest:
        node = cst.Attribute(node, cst.Name(part))
    return node


def split_comments(lines: Sequence[cst.EmptyLine]) -> Tuple[Tuple[cst.EmptyLine, ...], Tuple[cst.EmptyLine, ...]]:
    """A statement's leading ``lines``: the blank lines before its first comment, and the rest."""
    start = next((i for i, line in enumerate(lines) if line.comment is not None), len(lines))
    return tuple(lines[:start]), tuple(lines[start:])


def fmt_switch(line: cst.EmptyLine) -> Optional[bool]:
    """False for a ``# fmt: off`` line, True for ``# fmt: on``, else None."""
    text = line.comment.value.lstrip("#").strip() if line.comment else ""
    return {"fmt: off": False, "fmt: on": True}.get(text)


def fmt_left_off(lines: Sequence[cst.EmptyLine]) -> bool:
    """Whether ``lines`` switch black's formatting off without switching it on again."""
    switches = [s for s in map(fmt_switch, lines) if s is not None]
    return bool(switches) and not switches[-1]


def params_item(key: str, params: str = "params") -> cst.Subscript:
    """``params["key"]`` (``params``: the name of the dict)."""
    return cst.Subscript(cst.Name(params), [cst.SubscriptElement(cst.Index(cst.SimpleString(f'"{key}"')))])


def one_line(node: cst.CSTNode) -> str:
    """The code of ``node`` on one line, for a message: without its comments and whitespace,
    but a space where two words would run together (``lambda x:f(x)``, ``x[0] is not None``)."""
    code = cst.Module([]).code_for_node(node)
    out: List[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code.strip()).readline):
            if token.type in _LAYOUT_TOKENS:
                continue
            if out and _WORD.match(token.string) and (
                    _WORD.match(out[-1][-1:]) or (keyword.iskeyword(token.string) and out[-1] in ")]}")):
                out.append(" ")
            out.append(token.string)
    except (tokenize.TokenError, SyntaxError):  # not code on its own: as it is, less its whitespace
        return "".join(code.split())
    return "".join(out)


def spelled_call(call: cst.Call, api: str) -> str:
    """The called function as the file spells it (on one line), with its canonical name
    ``api`` when the spelling does not end in it (an alias)."""
    spelled = one_line(call.func)
    return spelled if spelled.endswith(api.partition(".")[2]) else f"{spelled} ({api})"


def is_name(node, name: str) -> bool:
    """The bare name ``name`` (``None``, ``False``, ``params``...)."""
    return isinstance(node, cst.Name) and node.value == name


def is_method_call(node, name: str) -> bool:
    """``<anything>.name()`` without arguments."""
    return (isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == name)


def cpu_branch(switch: cst.If) -> Optional[cst.CSTNode]:
    """What runs on the CPU of ``if use_tpu: ... else: ...`` (``if not use_tpu:``'s body), or
    None when ``switch`` does not test use_tpu."""
    test = switch.test
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return switch.body if tests_use_tpu(test.expression) else None
    return switch.orelse if tests_use_tpu(test) else None


def tests_use_tpu(test: cst.BaseExpression) -> bool:
    """``use_tpu``, ``FLAGS.use_tpu``, ``params["use_tpu"]``, ``params.get("use_tpu")``."""
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) and test.func.attr.value == "get":
        return bool(test.args) and isinstance(test.args[0].value, cst.SimpleString) \
            and test.args[0].value.evaluated_value == "use_tpu"
    if isinstance(test, cst.Subscript) and len(test.slice) == 1 and isinstance(test.slice[0].slice, cst.Index):
        key = test.slice[0].slice.value
        return isinstance(key, cst.SimpleString) and key.evaluated_value == "use_tpu"
    return is_name(test, "use_tpu") or isinstance(test, cst.Attribute) and test.attr.value == "use_tpu"


def in_cpu_branch(node: cst.CSTNode, parents) -> bool:
    """Whether ``node`` is in what an ``if use_tpu:`` runs on the CPU (``parents``: the
    module's parent of each node)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, cst.If) and child is cpu_branch(parent):
            return True
        child, parent = parent, parents.get(parent)
    return False


def constant_key(node: cst.Subscript) -> Optional[str]:
    """``"key"`` in ``x["key"]``, else None."""
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        value = node.slice[0].slice.value
        if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
            return value.evaluated_value
    return None


def find_arg(call: cst.Call, keyword: str, position: Optional[int] = None) -> Optional[cst.Arg]:
    """The argument bound to ``keyword``, given by name or at ``position`` (by name first:
    ``f(x, input_fn=g)`` binds g, whatever ``position``)."""
    at = None
    for index, arg in enumerate(call.args):
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg
        elif arg.star:
            position = None  # *args: the positions after it are not known
        elif position is not None and index == position:
            at = arg
    return at


def replace_arg(call: cst.Call, keyword: str, position: Optional[int], value: cst.BaseExpression) -> cst.Call:
    """``call`` with the value of the argument bound to ``keyword`` replaced."""
    target = find_arg(call, keyword, position)
    return call.with_changes(args=[a.with_changes(value=value) if a is target else a for a in call.args])


def keywordize(call: cst.Call, names: Sequence[str], start: int) -> cst.Call:
    """Turn positional arguments from index ``start`` on into keywords named by ``names``."""
    args = list(call.args)
    for index in range(start, min(len(args), len(names))):
        arg = args[index]
        if arg.keyword is not None or arg.star:
            break
        args[index] = arg.with_changes(
            keyword=cst.Name(names[index]),
            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
        )
    return call.with_changes(args=args)


def kwarg(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )


def add_args(call: cst.Call, new: Sequence[cst.Arg]) -> cst.Call:
    """Append arguments, laid out like the existing ones.

    One argument per line stays one per line (same indentation, trailing comma kept
    if there was one); arguments on one line stay on one line.
    """
    args = list(call.args)
    if not new:
        return call
    separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    trailing = cst.MaybeSentinel.DEFAULT
    if args:
        last = args[-1]
        if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
            separator = _without_comments(args[-2].comma)
        elif isinstance(last.comma, cst.Comma) and isinstance(
            call.whitespace_before_args, cst.ParenthesizedWhitespace
        ):
            separator = _without_comments(cst.Comma(whitespace_after=call.whitespace_before_args))
        trailing = last.comma
        args[-1] = last.with_changes(comma=separator)
        closing = last.whitespace_after_arg
        if isinstance(closing, cst.ParenthesizedWhitespace):  # `last  # note\n)`: the line break stays last...
            args[-1] = args[-1].with_changes(whitespace_after_arg=cst.SimpleWhitespace(""))
            after = separator.whitespace_after
            if isinstance(after, cst.ParenthesizedWhitespace):  # ...and the note stays on last's line
                args[-1] = args[-1].with_changes(comma=separator.with_changes(
                    whitespace_after=after.with_changes(first_line=closing.first_line)))
                closing = closing.with_changes(first_line=cst.TrailingWhitespace(newline=closing.first_line.newline))
            new = [*new[:-1], new[-1].with_changes(whitespace_after_arg=closing)]
    added = [arg.with_changes(comma=separator) for arg in new[:-1]]
    added.append(new[-1].with_changes(comma=trailing))
    return call.with_changes(args=args + added)


def _without_comments(comma: cst.Comma) -> cst.Comma:
    """``comma`` with the line break and indentation after it, but not its comments: a
    separator copied between new arguments."""
    after = comma.whitespace_after
    if not isinstance(after, cst.ParenthesizedWhitespace):
        return comma
    return comma.with_changes(whitespace_after=after.with_changes(
        first_line=cst.TrailingWhitespace(newline=after.first_line.newline),
        empty_lines=[line for line in after.empty_lines if line.comment is None]))


def rename_kwarg(call: cst.Call, old: str, new: str, value: Optional[cst.BaseExpression] = None) -> cst.Call:
    args = []
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == old:
            arg = arg.with_changes(keyword=cst.Name(new), value=value if value is not None else arg.value)
        args.append(arg)
    return call.with_changes(args=args)


def remove_kwarg(call: cst.Call, name: str) -> cst.Call:
    args = [a for a in call.args if not (a.keyword is not None and a.keyword.value == name)]
    if args and len(args) < len(call.args):
        last_old = call.args[-1]
        if args[-1] is not last_old:
            args[-1] = args[-1].with_changes(comma=last_old.comma)
    return call.with_changes(args=args)


def param_names(fn: cst.FunctionDef | cst.Lambda) -> list:
    p = fn.params
    names = [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]
    for star in (p.star_arg, p.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return names


def add_param(params: cst.Parameters, name: str, default: bool = False) -> cst.Parameters:
    """Add a parameter ``name`` after the last plain positional parameter.

    ``name=None`` is used with ``default``, or when a later parameter has a default, so the
    signature stays valid.
    """
    plain = list(params.params)
    has_default = default or any(p.default is not None for p in plain)
    new = cst.Param(
        cst.Name(name),
        default=cst.Name("None") if has_default else None,
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")) if has_default else cst.MaybeSentinel.DEFAULT,
    )
    if not plain:
        return params.with_changes(params=[new])
    last = plain[-1]
    comma = last.comma if isinstance(last.comma, cst.Comma) else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    trailing = last.comma if isinstance(last.comma, cst.Comma) and not _more_after(params) else cst.MaybeSentinel.DEFAULT
    if isinstance(comma.whitespace_after, cst.SimpleWhitespace) and comma.whitespace_after.value == "" and not _more_after(params):
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    plain[-1] = last.with_changes(comma=comma)
    if _more_after(params):
        new = new.with_changes(comma=comma)
    else:
        new = new.with_changes(comma=trailing)
    return params.with_changes(params=plain + [new])


def _more_after(params: cst.Parameters) -> bool:
    return bool(params.kwonly_params) or isinstance(params.star_arg, (cst.Param, cst.ParamStar)) or params.star_kwarg is not None
