"""`crboost driver T ... --print-commands`: the tool calls a step would make, writing nothing.

The calls come from the driver's `planned` functions, which build them from the job's files and
never run a step: {"item": f(ctx, ts), "job": f(ctx), "prepare": f(ctx)}, each returning the
step's ToolCalls. A finished job stays exactly as it is (tests/test_read_only.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ..tools.runner import ToolCall
from .jobcontext import JobContext

Planned = dict[str, Callable[..., list[ToolCall]]]


def print_commands(ctx: JobContext, args, planned: Planned, per_item: bool, prepare) -> None:
    """The tool calls the asked step(s) would make, as the runner would start them. Only reads:
    the calls are built by the driver's `planned` functions, never by running its steps."""
    steps: list[tuple[str, Callable[[], list[ToolCall]]]] = []
    if args.ts is not None:
        steps.append((f"tilt series {args.ts}", lambda: _planned(planned, "item")(ctx, args.ts)))
    elif args.prepare:
        steps.append(("prepare", lambda: _planned(planned, "prepare")(ctx)))
    else:
        if prepare is not None and not args.gather:
            steps.append(("prepare", lambda: _planned(planned, "prepare")(ctx)))
        if per_item and not args.gather:
            for ts in ctx.items():
                steps.append((f"tilt series {ts}",
                              lambda ts=ts: _planned(planned, "item")(ctx, ts)))  # fmt: skip
        steps.append(("job", lambda: _planned(planned, "job")(ctx)))
    for label, calls_of in steps:
        calls = calls_of()
        print(f"# {ctx.dir} {label}: " + (f"{len(calls)} tool call(s)" if calls else
                                          "no tool call (crboost's own Python)"), flush=True)  # fmt: skip
        for call in calls:
            print(ctx.runner.describe(call), flush=True)


def _planned(planned: Planned, step: str) -> Callable[..., list[ToolCall]]:
    return planned.get(step) or (lambda *_: [])
