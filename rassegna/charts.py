"""Small SVG charts drawn on the server for the status page, and unicode sparklines for
the terminal.

Every chart is an inline `<svg role="img">` with a `<title>` that says what it shows and
its values, so a screen reader reads the numbers; colours come from CSS classes of the
page (`c-new`, `c-same`, `c-error`, `c-bar`, `c-line`), so one chart suits light and dark
schemes. The plotted values are repeated in `data-values` for scripts and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def _trusted(svg: str) -> Markup:
    """Mark drawn SVG as safe HTML: every text put in it went through `escape`, the rest
    is numbers and fixed markup."""
    return Markup(svg)  # noqa: S704


def _values_attr(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def sparkline(values: Sequence[int], title: str, *, width: int = 120, height: int = 28) -> Markup:
    """A line of `values` (left oldest) with a dot on the last one."""
    top = max(values, default=0) or 1
    n = max(len(values) - 1, 1)
    x_step, y_scale, base = (width - 4) / n, (height - 6) / top, height - 3
    listed = ",".join(map(str, values))
    path = " ".join(
        f"{int(i * x_step) + 2},{int(base - v * y_scale)}" for i, v in enumerate(values)
    )
    last = path.rsplit(" ", 1)[-1].split(",") if values else ("2", str(base))
    return _trusted(
        f'<svg class="chart spark" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-values="{listed}">'
        f"<title>{escape(title)}</title>"
        f'<polyline class="c-line" fill="none" stroke-width="1.5" points="{path}"/>'
        f'<circle class="c-dot" cx="{last[0]}" cy="{last[1]}" r="2"/></svg>'
    )


def outcome_bars(
    outcomes: Sequence[tuple[int, int, int]], title: str, *, width: int = 120, height: int = 28
) -> Markup:
    """Stacked bars of fetch outcomes per hour: (new content, 304, error), left oldest.

    Each bar segment is a vertical stroke as wide as the bar (`M x y v -h`), one path per
    outcome: with a thousand sources on the page, the shortest drawing that stays exact
    to the pixel."""
    top = max(map(sum, outcomes), default=0) or 1
    step = max(width // max(len(outcomes), 1), 1)
    bar = max(step - 1, 1)
    scale = (height - 2) / top
    new: list[str] = []
    same: list[str] = []
    error: list[str] = []
    x: float = bar // 2 if bar % 2 == 0 else bar / 2  # the stroke's middle
    for a, b, c in outcomes:
        y = height
        if a:
            h = max(round(a * scale), 1)
            new.append(f"M{x} {y}v-{h}")
            y -= h
        if b:
            h = max(round(b * scale), 1)
            same.append(f"M{x} {y}v-{h}")
            y -= h
        if c:
            h = max(round(c * scale), 1)
            error.append(f"M{x} {y}v-{h}")
        x += step
    flat = ",".join([f"{a}/{b}/{c}" for a, b, c in outcomes])
    drawn = "".join(
        f'<path class="{cls}" d="{"".join(d)}"/>'
        for cls, d in (("c-new", new), ("c-same", same), ("c-error", error))
        if d
    )
    return _trusted(
        f'<svg class="chart outcomes" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-values="{flat}">'
        f"<title>{escape(title)}</title>"
        f'<line class="c-axis" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>'
        f'<g stroke-width="{bar}">{drawn}</g></svg>'
    )


def bar_chart(
    values: Sequence[int],
    title: str,
    labels: Sequence[tuple[int, str]] = (),
    *,
    width: int = 672,
    height: int = 140,
) -> Markup:
    """Bars of `values` (left oldest) with a few x-axis `labels` (index, text) below and
    the highest value marked on the left."""
    plot = height - 18
    top = max(values, default=0) or 1
    step = width / max(len(values), 1)
    bar = max(step - 0.5, 0.5)
    parts = [
        f'<rect class="c-bar" x="{i * step:.2f}" y="{plot - v * (plot - 12) / top:.1f}" '
        f'width="{bar:.2f}" height="{v * (plot - 12) / top:.1f}"/>'
        for i, v in enumerate(values)
        if v
    ]
    ticks = [
        f'<text class="c-text" x="{i * step:.1f}" y="{height - 4}">{escape(text)}</text>'
        for i, text in labels
    ]
    return _trusted(
        f'<svg class="chart bars" role="img" viewBox="0 0 {width} {height}" '
        f'data-values="{_values_attr(values)}">'
        f"<title>{escape(title)}</title>"
        f'<text class="c-text" x="0" y="10">max {top}</text>'
        f'<line class="c-axis" x1="0" y1="{plot + 0.5}" x2="{width}" y2="{plot + 0.5}"/>'
        + "".join(parts)
        + "".join(ticks)
        + "</svg>"
    )


def text_sparkline(values: Sequence[int]) -> str:
    """`values` as unicode blocks, one character each, scaled to the highest."""
    top = max(values, default=0)
    if top <= 0:
        return SPARK_BLOCKS[0] * len(values)
    last = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[min(last, round(v * last / top))] for v in values)
