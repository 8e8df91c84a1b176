"""Strict command-line parsing in the two styles the simulated programs use.

WarpTools (.NET CommandLineParser): `--name value`, `--name=value`, `-o value`, switches without
a value, list options taking every following value. AreTomo and IMOD: `-Tag value...`, tags
case-insensitive for AreTomo, a value being anything that is not `-<letter>...`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class UsageError(Exception):
    """Bad command line: the message is what the program prints."""


@dataclass(frozen=True)
class Opt:
    name: str
    kind: str = "value"  # "value", "switch" or "list"
    required: bool = False
    short: str | None = None
    default: object = None


def parse_dotnet(args: list[str], options: list[Opt]) -> dict[str, object]:
    by_long = {f"--{o.name}": o for o in options}
    by_short = {f"-{o.short}": o for o in options if o.short}
    values: dict[str, object] = {o.name: o.default for o in options}
    if any(o.kind == "switch" for o in options):
        values.update({o.name: False for o in options if o.kind == "switch"})
    seen = set()
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
                raise UsageError(f"Option '{opt.name}' is a switch and takes no value.")
            values[opt.name] = True
        elif opt.kind == "value":
            if inline is None:
                if i >= len(args) or (args[i].startswith("--") and args[i] in by_long):
                    raise UsageError(f"Option '{opt.name}' has no value.")
                inline = args[i]
                i += 1
            values[opt.name] = inline
        else:
            items = [inline] if inline is not None else []
            while i < len(args) and not (args[i] in by_long or args[i] in by_short):
                items.append(args[i])
                i += 1
            if not items:
                raise UsageError(f"Option '{opt.name}' has no value.")
            values[opt.name] = items
    missing = [o.name for o in options if o.required and o.name not in seen]
    if missing:
        raise UsageError(f"Required option '{missing[0]}' is missing.")
    return values


_TAG = re.compile(r"^-[A-Za-z]")


def parse_tags(
    args: list[str], counts: dict[str, int], case_sensitive: bool = False
) -> dict[str, list[str]]:
    """AreTomo/IMOD style. counts: tag -> maximum number of values."""
    canon = {(t if case_sensitive else t.lower()): t for t in counts}
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not _TAG.match(token):
            raise UsageError(f"unexpected argument {token!r}")
        key = canon.get(token[1:] if case_sensitive else token[1:].lower())
        if key is None:
            raise UsageError(f"unknown tag {token}")
        i += 1
        values = []
        while i < len(args) and not _TAG.match(args[i]):
            values.append(args[i])
            i += 1
        if not values:
            raise UsageError(f"tag {token} has no value")
        if len(values) > counts[key]:
            raise UsageError(f"tag {token} takes at most {counts[key]} value(s), got {len(values)}")
        if key in out:
            raise UsageError(f"tag {token} given twice")
        out[key] = values
    return out
