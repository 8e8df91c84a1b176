"""Command-line parsing in the two styles the simulated programs use.

WarpTools (.NET CommandLineParser 2.9.1, default settings): `--name value`, `--name=value`,
`-o value`, switches without a value, list options taking every following value; a value
starting with '-' and a digit stays a value (Tokenizer.cs); values are typed (int, double);
unknown, repeated and missing required options are errors, with the parser's own sentences
(SentenceBuilder.cs). AreTomo and IMOD: `-Tag value...`; AreTomo's tags are case-insensitive,
and AreTomo ignores tags it does not know and values beyond a tag's count (Util/CParseArgs.cpp);
IMOD's batchruntomo is strict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class UsageError(Exception):
    """Bad command line: the message is the parser's error sentence."""


@dataclass(frozen=True)
class Opt:
    name: str
    kind: str = "string"  # "string", "int", "double", "switch", "list", "intlist"
    required: bool = False
    short: str | None = None
    default: object = None


_NUMBER_LIKE = re.compile(r"^-\d")


def _is_option(token: str, by_long: dict, by_short: dict) -> bool:
    if _NUMBER_LIKE.match(token):
        return False
    return token.split("=", 1)[0] in by_long or token in by_short or token.startswith("--")


def parse_dotnet(args: list[str], options: list[Opt]) -> dict[str, object]:
    by_long = {f"--{o.name}": o for o in options}
    by_short = {f"-{o.short}": o for o in options if o.short}
    values: dict[str, object] = {o.name: o.default for o in options}
    values.update({o.name: False for o in options if o.kind == "switch"})
    seen: set[str] = set()
    i = 0
    while i < len(args):
        token = args[i]
        inline = None
        if token.startswith("--") and "=" in token:
            token, inline = token.split("=", 1)
        opt = by_long.get(token) or by_short.get(token)
        if opt is None:
            raise UsageError(f"Option '{token.lstrip('-')}' is unknown.")
        if opt.name in seen:
            raise UsageError(f"Option '{opt.name}' is defined multiple times.")
        seen.add(opt.name)
        i += 1
        if opt.kind == "switch":
            if inline is not None:
                raise UsageError(f"Option '{opt.name}' is defined with a bad format.")
            values[opt.name] = True
            continue
        if opt.kind in ("list", "intlist"):
            items = [inline] if inline is not None else []
            while i < len(args) and not _is_option(args[i], by_long, by_short):
                items.append(args[i])
                i += 1
            if not items:
                raise UsageError(f"Option '{opt.name}' has no value.")
            values[opt.name] = [_typed(opt, "int" if opt.kind == "intlist" else "string", v)
                                for v in items]  # fmt: skip
            continue
        if inline is None:
            if i >= len(args) or _is_option(args[i], by_long, by_short):
                raise UsageError(f"Option '{opt.name}' has no value.")
            inline = args[i]
            i += 1
        values[opt.name] = _typed(opt, opt.kind, inline)
    missing = [o.name for o in options if o.required and o.name not in seen]
    if missing:
        raise UsageError(f"Required option '{missing[0]}' is missing.")
    return values


def _typed(opt: Opt, kind: str, text: str) -> object:
    try:
        if kind == "int":
            return int(text)
        if kind == "double":
            return float(text)
    except ValueError:
        raise UsageError(f"Option '{opt.name}' is defined with a bad format.") from None
    return text


_TAG = re.compile(r"^-[A-Za-z]")


def parse_tags(
    args: list[str], counts: dict[str, int], case_sensitive: bool = False, strict: bool = True
) -> dict[str, list[str]]:
    """AreTomo/IMOD style. counts: tag -> maximum number of values. strict=False is AreTomo's
    way: unknown tags are skipped with their values, extra values are dropped."""
    canon = {(t if case_sensitive else t.lower()): t for t in counts}
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not _TAG.match(token):
            if not strict:
                i += 1
                continue
            raise UsageError(f"unexpected argument {token!r}")
        key = canon.get(token[1:] if case_sensitive else token[1:].lower())
        i += 1
        values = []
        while i < len(args) and not _TAG.match(args[i]):
            values.append(args[i])
            i += 1
        if key is None:
            if strict:
                raise UsageError(f"unknown tag {token}")
            continue
        if not values:
            raise UsageError(f"tag {token} has no value")
        if len(values) > counts[key]:
            if strict:
                raise UsageError(
                    f"tag {token} takes at most {counts[key]} value(s), got {len(values)}"
                )
            values = values[: counts[key]]
        if key in out and strict:
            raise UsageError(f"tag {token} given twice")
        out[key] = values
    return out
