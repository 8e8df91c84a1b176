"""Per-tilt plots against the tilt angle (matplotlib, Agg canvas: no display, no global
pyplot state), written as PNG."""

from __future__ import annotations

import os
from pathlib import Path

WIDTH, ROW_HEIGHT, DPI = 6.4, 1.9, 100


def plot_rows(path: str | Path, angles: list[float], rows: list[dict], title: str) -> None:
    """One panel per row, sharing the tilt-angle axis. A row: {"label": y-axis label,
    "series": {legend: values}} (values None where a tilt has none)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in rows if any(_has_values(v) for v in r["series"].values())]
    if not rows:
        raise ValueError(f"{title}: nothing to plot")
    fig = Figure(figsize=(WIDTH, 0.6 + ROW_HEIGHT * len(rows)), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
    order = sorted(range(len(angles)), key=lambda i: angles[i])
    xs = [angles[i] for i in order]
    for ax, row in zip(axes, rows, strict=True):
        for name, values in row["series"].items():
            ys = [values[i] for i in order]
            if _has_values(ys):
                ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o",
                        markersize=3, linewidth=1, label=name)  # fmt: skip
        ax.set_ylabel(row["label"], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(row["series"]) > 1:
            ax.legend(fontsize=7, loc="best", frameon=False)
    axes[-1].set_xlabel("tilt angle (degrees)", fontsize=8)
    axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)


def _has_values(values) -> bool:
    return any(v is not None for v in values)
