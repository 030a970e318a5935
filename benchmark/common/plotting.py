"""Figure helpers shared by the reports and the audits: matplotlib set up headless, PNG bytes out, and
the few plot shapes the reports draw (rows with intervals, a forest plot, a confusion matrix).

Sizes are chosen for the HTML report, whose body is at most 1400 px wide: a figure of ``WIDTH`` inches
at ``DPI`` is shown at its natural size, so a 9-point label prints at about 14 px.
"""
from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DPI = 110
WIDTH = 11.0                  # inches: 1210 px at DPI, inside the report's 1400 px body
LABEL_SIZE = 9
MAX_NAMED = 25                # a confusion matrix of more classes shows class numbers, no names or cell text
# One colour per method family, the same in every figure (tab10, in the order the families are shown).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_png(fig, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, cropped to what is drawn (no label cut off); the figure is closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    plt.close(fig)
    return buffer.getvalue()


def colours(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def nice_log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks spanning [low, high] for a log axis, at most about seven (labels never collide)."""
    if not (low > 0 and high > 0):
        return []
    ticks = [m * 10.0 ** e for e in range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)
             for m in (1, 2, 5)]
    inside = [t for t in ticks if low / 1.5 <= t <= high * 1.5]
    while len(inside) > 7:
        inside = inside[::2]
    return inside


def plain_number(value: float) -> str:
    """200, 1k, 2.5M: tick labels without exponents."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def place_labels(ax, xs, ys, texts, fontsize: float = 8, colours=None) -> None:
    """Annotate points, moving each label around its point until it overlaps no label placed before it."""
    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    offsets = [(5, 3, "left"), (5, -11, "left"), (-5, 3, "right"), (-5, -11, "right"), (5, 12, "left"),
               (5, -20, "left"), (-5, 12, "right"), (-5, -20, "right"), (5, 21, "left"), (5, -29, "left")]
    fig.canvas.draw()   # the points' own markers are obstacles too
    size = fontsize * 0.6 * fig.dpi / 72
    placed = [Bbox.from_bounds(px - size / 2, py - size / 2, size, size)
              for px, py in ax.transData.transform(np.column_stack([xs, ys]))]
    for k, (x, y, text) in enumerate(zip(xs, ys, texts)):
        colour = colours[k] if colours is not None else "black"
        for dx, dy, ha in offsets:
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                                ha=ha, color=colour)
            box = label.get_window_extent(renderer).expanded(1.02, 1.1)
            if not any(box.overlaps(other) for other in placed):
                break
            label.remove()
        else:   # crowded everywhere: the first position, on top of another label rather than nowhere
            dx, dy, ha = offsets[0]
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                                ha=ha, color=colour)
            box = label.get_window_extent(renderer)
        placed.append(box)


@dataclass(frozen=True)
class Row:
    """One row of an interval plot: a point estimate and its interval (NaN: no interval)."""

    label: str
    estimate: float
    low: float = float("nan")
    high: float = float("nan")


def interval_rows(groups: dict[str, list[Row]], xlabel: str, reference: float | None = None,
                  reference_label: str = "", xlim: tuple[float, float] | None = None,
                  palette: dict[str, str] | None = None):
    """Horizontal dot-and-interval plot, one row per entry, rows grouped (and coloured) by ``groups``' keys."""
    plt = pyplot()
    n_rows = sum(len(rows) for rows in groups.values()) + len(groups)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 0.6 + 0.26 * n_rows))
    palette = palette or colours(list(groups))
    y, ticks, labels, headers = 0, [], [], {}
    for group, rows in groups.items():
        headers[y] = group   # the group's name is a bold row label above its rows
        ax.axhline(y, color=palette[group], lw=0.4, alpha=0.4)
        ticks.append(y)
        labels.append(group)
        y += 1
        for row in rows:
            has_interval = np.isfinite(row.low) and np.isfinite(row.high)
            if has_interval:
                ax.plot([row.low, row.high], [y, y], color=palette[group], lw=2, solid_capstyle="butt")
            ax.plot(row.estimate, y, "o", color=palette[group], ms=5, mfc=palette[group] if has_interval else "white")
            ticks.append(y)
            labels.append(row.label)
            y += 1
    if reference is not None:
        ax.axvline(reference, color="grey", ls=":", lw=1)
        ax.annotate(reference_label, (reference, 1), xycoords=("data", "axes fraction"), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=LABEL_SIZE - 1, color="grey")
    ax.set_yticks(ticks, labels, fontsize=LABEL_SIZE)
    for tick, label in zip(ticks, ax.get_yticklabels()):
        if tick in headers:
            label.set_fontweight("bold")
            label.set_color(palette[headers[tick]])
    ax.set_ylim(y - 0.5, -0.7)
    if xlim:
        ax.set_xlim(*xlim)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE + 1)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="x", labelsize=LABEL_SIZE)
    return fig


@dataclass(frozen=True)
class Claim:
    """One row of a forest plot: the effect with its interval, the claim's threshold and side, the verdict."""

    text: str
    estimate: float              # NaN: not tested
    low: float
    high: float
    threshold: float
    direction: str               # ">", "<" or "within": the claim is effect > threshold, < it, or |effect| < it
    verdict: str


VERDICT_COLOURS = {"supported": "#2ca02c", "contradicted": "#d62728", "inconclusive": "#7f7f7f",
                   "not tested": "#bbbbbb"}


def verdict_key(verdict: str) -> str:
    return next((k for k in VERDICT_COLOURS if str(verdict).startswith(k)), "not tested")


def forest(claims: Sequence[Claim], xlabel: str, wrap: int = 58):
    """Forest plot: each claim's effect and interval; the shaded side of its threshold is what it claims."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 0.7 + 0.62 * len(claims)))
    tested = [c for c in claims if np.isfinite(c.estimate)]
    values = [v for c in tested for v in (c.low, c.high, c.threshold, -c.threshold)] + [0.0]
    span = (min(values) - 8, max(values) + 8) if tested else (-50, 50)
    for y, claim in enumerate(claims):
        key = verdict_key(claim.verdict)
        colour = VERDICT_COLOURS[key]
        side = {">": (claim.threshold, span[1]), "<": (span[0], claim.threshold),
                "within": (-claim.threshold, claim.threshold)}[claim.direction]
        ax.fill_between(side, y - 0.38, y + 0.38, color="#2ca02c", alpha=0.08, lw=0)
        for edge in ((-claim.threshold, claim.threshold) if claim.direction == "within" else (claim.threshold,)):
            ax.plot([edge] * 2, [y - 0.38, y + 0.38], color="#555555", lw=1)
        if np.isfinite(claim.estimate):
            ax.plot([claim.low, claim.high], [y, y], color=colour, lw=2.5, solid_capstyle="butt")
            ax.plot(claim.estimate, y, "D", color=colour, ms=6)
        ax.annotate(key, (1, y), xycoords=("axes fraction", "data"), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=LABEL_SIZE, color=colour, fontweight="bold")
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(range(len(claims)), [textwrap.fill(c.text, wrap) for c in claims], fontsize=LABEL_SIZE - 0.5)
    ax.set_ylim(len(claims) - 0.5, -0.5)
    ax.set_xlim(*span)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE + 1)
    ax.tick_params(axis="x", labelsize=LABEL_SIZE)
    ax.grid(axis="x", alpha=0.3)
    return fig


def confusion_panel(ax, matrix: np.ndarray, names: Sequence[str], title: str) -> None:
    """A row-normalised confusion matrix with its percentages written in the cells (blank below 5%); past
    ``MAX_NAMED`` classes (UCF101's 101) the cells are too small for text: colour and class numbers only."""
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    if len(matrix) > MAX_NAMED:
        ax.set_xticks(range(0, len(matrix), 10), [str(i) for i in range(0, len(matrix), 10)], fontsize=8)
        ax.set_yticks(range(0, len(matrix), 10), [str(i) for i in range(0, len(matrix), 10)], fontsize=8)
    else:
        for (i, j), value in np.ndenumerate(share):
            if value >= 0.05:
                ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.55 else "black")
        ticks = range(len(matrix))
        ax.set_xticks(ticks, names, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_yticks(ticks, names, fontsize=8)
    ax.set_xlabel("predicted class", fontsize=LABEL_SIZE)
    ax.set_ylabel("true class", fontsize=LABEL_SIZE)
    ax.set_title(title, fontsize=LABEL_SIZE + 1)
