"""Charts drawn on the server as inline SVG: no chart library, nothing fetched from a CDN,
readable without JavaScript. The numbers always stand in a table beside them too."""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from rheo.formatting import grouped

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 36


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str


def nice_ceiling(value: float) -> float:
    """The axis top: the value rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return grouped(round(value))


def stacked_columns(
    columns: list[tuple[str, dict[str, Decimal]]], series: list[Series], *, title: str
) -> SafeString:
    """One column per label (a month), its segments stacked by series (a platform)."""
    totals = [sum(float(values.get(s.key, 0)) for s in series) for _, values in columns]
    top = max(nice_ceiling(max(totals, default=0)), 4)  # whole numbers on the grid lines
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(columns), 1)
    # Without any sales a scale would be made up: only the baseline, and a message below.
    parts = [_grid(top, plot_w, plot_h) if any(totals) else _baseline(plot_w, plot_h)]
    for index, (label, values) in enumerate(columns):
        x = LEFT + index * slot + slot * 0.15
        y: float = TOP + plot_h
        for s in series:
            amount = float(values.get(s.key, 0))
            if amount <= 0:
                continue
            height = plot_h * amount / top
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
                f'fill="{s.colour}"><title>{escape(label)} {escape(s.label)}: '
                f"{_number(amount)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    if not any(totals):
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
            'font-size="13" fill="#5f6b76">No sales in these months</text>'
        )
    legend = "".join(
        f'<rect x="{LEFT + i * 110}" y="{HEIGHT - 12}" width="10" height="10" fill="{s.colour}"/>'
        f'<text x="{LEFT + i * 110 + 14}" y="{HEIGHT - 3}" font-size="11">{escape(s.label)}</text>'
        for i, s in enumerate(series)
    )
    return _svg(title, "".join(parts) + legend)


def horizontal_bars(rows: list[tuple[str, float]], *, title: str, colour: str) -> SafeString:
    """One bar per label, longest first as given."""
    row_h = 24
    height = TOP + row_h * max(len(rows), 1) + 8
    top = nice_ceiling(max((float(v) for _, v in rows), default=0))
    label_w, plot_w = 150, WIDTH - 150 - RIGHT - 50
    parts = []
    for index, (label, value) in enumerate(rows):
        y = TOP + index * row_h
        width = plot_w * float(value) / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="11">'
            f"{escape(_shorten(label))}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}" '
            f'fill="{colour}"><title>{escape(label)}: {_number(float(value))}</title></rect>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 15}" font-size="11">'
            f"{_number(float(value))}</text>"
        )
    if not rows:
        parts.append(f'<text x="{LEFT}" y="{TOP + 12}" font-size="12">No data yet</text>')
    return _svg(title, "".join(parts), height=height)


def _grid(top: float, plot_w: float, plot_h: float) -> str:
    lines = []
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        lines.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dde3e8"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="10">{_number(value)}</text>'
        )
    return "".join(lines)


def _baseline(plot_w: float, plot_h: float) -> str:
    y = TOP + plot_h
    return f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y}" y2="{y}" stroke="#dde3e8"/>'


def _shorten(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _svg(title: str, body: str, *, height: int = HEIGHT) -> SafeString:
    return mark_safe(  # noqa: S308 - every text in it went through escape()
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" '
        f'fill="#1d2329"><title>{escape(title)}</title>{body}</svg>'
    )
