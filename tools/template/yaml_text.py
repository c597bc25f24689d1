"""A small, deterministic YAML writer for the part of template.yaml that is rendered.

It writes what a person would: CloudFormation short tags (!Ref, !Sub, !GetAtt, !If...), flow
lists when they fit on one line, folded descriptions, comments above the entries they explain,
keys in the order given. It knows only the shapes a SAM template needs (mappings, lists,
strings, numbers, booleans, intrinsics); `tools/template` parses what it wrote and compares it
with the data, so a quoting mistake fails `make template` instead of reaching a deploy.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WIDTH = 100
_TAGS = {"Ref", "Fn::Sub", "Fn::GetAtt", "Fn::If", "Fn::Join", "Fn::Not", "Fn::Equals"}
_AMBIGUOUS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", ""}


@dataclass(frozen=True)
class Commented:
    """A value with the comment written above its key or list item."""

    value: Any
    comment: str


def strip_comments(node: Any) -> Any:
    """The data without its comments: what a YAML parser reads back."""
    if isinstance(node, Commented):
        return strip_comments(node.value)
    if isinstance(node, Mapping):
        return {key: strip_comments(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [strip_comments(item) for item in node]
    return node


def entry(key: str, value: Any, indent: int) -> list[str]:
    """The lines of `key: value` at `indent`, with its comment above."""
    lines, value = _comment(value, indent)
    return lines + _value(f"{' ' * indent}{_scalar(key, True)}:", value, indent)


def mapping(node: Mapping[str, Any], indent: int) -> list[str]:
    return [line for key, value in node.items() for line in entry(key, value, indent)]


def _comment(value: Any, indent: int) -> tuple[list[str], Any]:
    if not isinstance(value, Commented):
        return [], value
    return _wrap(value.comment, indent, "# "), value.value


def _value(prefix: str, value: Any, indent: int) -> list[str]:
    """`prefix` is "<indent>key:" or "<indent>-"; nested blocks go two columns further in."""
    inline = _flow(value)
    fits = inline is not None and len(prefix) + 1 + len(inline) <= WIDTH
    scalar = isinstance(value, str) or (  # a string that cannot fold, a long !Sub or !Ref
        isinstance(value, Mapping) and set(value) <= {"Ref", "Fn::GetAtt", "Fn::Sub"}
    )
    if inline is not None and (fits or scalar):
        return [f"{prefix} {inline}"]
    if isinstance(value, str):  # long prose (_scalar said so): folded
        return [f"{prefix} >-", *_wrap(value, indent + 2, "")]
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _TAGS:
        ((function, args),) = value.items()
        tag = "!" + function.removeprefix("Fn::")
        if isinstance(args, list):
            return [f"{prefix} {tag}", *_items(args, indent + 2)]
    if isinstance(value, Mapping):
        if not value:
            return [f"{prefix} {{}}"]
        return [prefix, *mapping(value, indent + 2)]
    if isinstance(value, (list, tuple)):
        if not value:
            return [f"{prefix} []"]
        return [prefix, *_items(list(value), indent + 2)]
    raise TypeError(f"cannot write {value!r} at {prefix.strip()}")


def _items(items: list[Any], indent: int) -> list[str]:
    lines: list[str] = []
    for item in items:
        comments, item = _comment(item, indent)
        lines += comments
        inline = _flow(item)
        if isinstance(item, Mapping) and item and next(iter(item)) not in _TAGS:
            if any(isinstance(v, Commented) for v in list(item.values())[:1]):
                raise ValueError("a comment on the first key of a list item has no place")
            body = mapping(item, indent + 2)
            lines += [f"{' ' * indent}- {body[0][indent + 2 :]}", *body[1:]]
        elif inline is not None and indent + 2 + len(inline) <= WIDTH:
            lines.append(f"{' ' * indent}- {inline}")
        else:
            lines += _value(f"{' ' * indent}-", item, indent)
    return lines


def _flow(value: Any, in_flow: bool = False) -> str | None:
    """`value` written on one line, or None when it needs a block."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _scalar(value, in_flow)
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _TAGS:
        ((function, args),) = value.items()
        if function == "Ref":
            return f"!Ref {_scalar(args, True)}"
        if function == "Fn::GetAtt":
            return f"!GetAtt {args[0]}.{args[1]}"
        if function == "Fn::Sub" and isinstance(args, str):
            text = _scalar(args, in_flow)
            return None if text is None else f"!Sub {text}"
        if function in ("Fn::Join", "Fn::Not", "Fn::Equals"):
            inner = _flow_list(args)
            return None if inner is None else f"!{function.removeprefix('Fn::')} {inner}"
        return None
    if isinstance(value, Mapping) and in_flow:  # e.g. [{exists: false}]; else a block
        parts = [(k, _flow(v, True)) for k, v in value.items()]
        if not value or any(p is None or isinstance(v, Mapping) for (_, p), v in
                            zip(parts, value.values(), strict=True)):  # fmt: skip
            return None
        return "{" + ", ".join(f"{_scalar(k, True)}: {p}" for k, p in parts) + "}"
    if isinstance(value, (list, tuple)) and value:
        return _flow_list(list(value))
    return None


def _flow_list(items: list[Any]) -> str | None:
    parts = [_flow(item, True) for item in items]
    if any(p is None for p in parts):
        return None
    return "[" + ", ".join(str(p) for p in parts) + "]"


_PLAIN = re.compile(r"[A-Za-z0-9_/$(][A-Za-z0-9 _./:$@()=+<>*,{}'-]*")
_PLAIN_IN_FLOW = re.compile(r"[A-Za-z0-9_/$(][A-Za-z0-9 _./:$@()=+<>*'-]*")


def _scalar(text: str, in_flow: bool) -> str | None:
    """A plain scalar when YAML surely reads it back as this same string (a conservative set of
    characters), else double-quoted; None for long prose, which is folded."""
    if len(text) > 60 and " " in text and not in_flow and _foldable(text):
        return None
    plain = (
        (_PLAIN_IN_FLOW if in_flow else _PLAIN).fullmatch(text) is not None
        and text == text.strip()
        and text.lower() not in _AMBIGUOUS
        and not re.match(r"[0-9]", text)  # numbers, dates, times
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
    )
    return text if plain else _quoted(text)


def _quoted(text: str) -> str:
    """Double-quoted, every character outside printable ASCII escaped (YAML's \\x, \\u, \\U)."""
    out = []
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _foldable(text: str) -> bool:
    """Folding reads each line break back as one space: only for printable ASCII prose with
    single spaces (descriptions)."""
    return (
        text == text.strip()
        and "  " not in text
        and all(0x20 <= ord(char) < 0x7F for char in text)
        and not text.startswith(("#", "-", "?", ":", "'", '"'))
    )


def _wrap(text: str, indent: int, lead: str) -> list[str]:
    """Lines of at most WIDTH columns, broken only at spaces (a folded scalar reads each line
    break back as one space, so words and hyphenated names must stay whole)."""
    width = WIDTH - indent - len(lead)
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return [f"{' ' * indent}{lead}{line}" for line in lines]
