"""The run chart as server-rendered SVG: no script, no chart library, readable without colour.

Changes go up from the baseline, errors go down from it, on a logarithmic scale (a first load of a
million objects and a nightly run of forty changes must both be visible). Runs sit at their moment
on a 90-day axis; held and failed runs get a marker. Each bar has a ``<title>``, which browsers show
as a tooltip and screen readers read. Colours come from the stylesheet (the page's CSP forbids
inline styles), so the classes are the contract: ``bar-changes``, ``bar-errors``, ``mark-held``,
``mark-failed``, ``axis``, ``grid``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from koppel.service.i18n import Translator
from koppel.service.models import ChartPoint

__all__ = ["bar_title", "render_chart"]

LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 22
_TICKS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class _Frame:
    """One drawing of the chart: the wide one for screens, the narrow one (fewer, larger labels) for
    phones. Both are in the page; the stylesheet shows the one that fits (the CSP allows no script)."""

    width: int
    height: int
    label_days: int
    css: str


WIDE = _Frame(760, 200, 15, "chart")
NARROW = _Frame(360, 200, 30, "chart-narrow")
WIDTH, HEIGHT = WIDE.width, WIDE.height


def _log(n: int) -> float:
    return math.log10(1 + n)


def render_chart(points: Sequence[ChartPoint], *, now: dt.datetime, days: int, tr: Translator,
                 when: Callable[[str], str] | None = None, label: str) -> Markup:
    """The SVG for ``points`` over the ``days`` before ``now``, twice: wide and narrow. Times, dates and
    numbers are the page's language's (``tr``); ``when`` is no longer used (``tr.when`` says it with the
    zone)."""
    return Markup(_draw(points, now=now, days=days, tr=tr, label=label, frame=WIDE)
                  + _draw(points, now=now, days=days, tr=tr, label=label, frame=NARROW))


def _draw(points: Sequence[ChartPoint], *, now: dt.datetime, days: int, tr: Translator, label: str,
          frame: _Frame) -> str:
    width, height = frame.width, frame.height
    start = now - dt.timedelta(days=days)
    top = max([_log(p.changes) for p in points] + [_log(p.errors) for p in points] + [_log(10)])
    plot_w = width - LEFT - RIGHT
    up_h = (height - TOP - BOTTOM) * 0.7
    down_h = (height - TOP - BOTTOM) * 0.3
    base = TOP + up_h
    bar_w = max(1.5, min(8.0, plot_w / max(1, len(points)) * 0.8))
    hidden = ' aria-hidden="true"' if frame is NARROW else f' role="img" aria-label="{escape(label)}"'
    parts = [(f'<svg class="{frame.css}" viewBox="0 0 {width} {height}"{hidden} '
             f'xmlns="http://www.w3.org/2000/svg">')]
    for tick in _TICKS:
        if _log(tick) > top:
            break
        y = base - _log(tick) / top * up_h
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{_short(tick)}</text>')
    parts.append(f'<line class="baseline" x1="{LEFT}" x2="{width - RIGHT}" y1="{base:.1f}" y2="{base:.1f}"/>')
    for days_back in range(0, days + 1, frame.label_days):
        moment = now - dt.timedelta(days=days_back)
        x = LEFT + (moment - start).total_seconds() / (days * 86400) * plot_w
        anchor = "end" if days_back == 0 else ("start" if days_back == days else "middle")
        parts.append(f'<text class="axis" x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">'
                     f'{escape(tr.day(moment))}</text>')
    for p in points:
        moment = dt.datetime.fromisoformat(p.started_at)
        x = LEFT + max(0.0, (moment - start).total_seconds()) / (days * 86400) * plot_w - bar_w / 2
        title = escape(bar_title(p, tr))
        parts.append(f'<g><title>{title}</title>')
        if p.changes:
            h = _log(p.changes) / top * up_h
            parts.append(f'<rect class="bar-changes" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}"/>')
        if p.errors:
            h = _log(p.errors) / top * down_h
            parts.append(f'<rect class="bar-errors" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}"/>')
        if p.status in ("held", "failed"):
            cx = x + bar_w / 2
            parts.append(f'<path class="mark-{p.status}" d="M{cx - 4:.1f} {TOP + 2} L{cx + 4:.1f} {TOP + 2} '
                         f'L{cx:.1f} {TOP + 9} Z"/>')
        if not p.changes and not p.errors and p.status not in ("held", "failed"):
            parts.append(f'<rect class="bar-empty" x="{x:.1f}" y="{base - 1:.1f}" width="{bar_w:.1f}" height="2"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


_RESULTS = ("succeeded", "partial", "failed", "held", "running", "stopped")


def bar_title(point: ChartPoint, tr: Translator) -> str:
    """What one bar is, in the page's language: when, the run's result, and what it did —
    ``5 dec 2026 14:02 CET · geslaagd: 1.234 wijzigingen doorgevoerd, 0 fouten``; a held run says that its plan
    awaits approval and nothing was applied, rather than only its status word."""
    key = f"chart.bar.{point.status}" if point.status in _RESULTS else "chart.bar.other"
    return tr(key, at=tr.when(point.started_at), status=tr.word("status", point.status),
              changes=tr.plural("n.changes", point.changes), errors=tr.plural("n.errors", point.errors))


def _short(n: int) -> str:
    if n >= 1_000_000:
        return f"{n // 1_000_000}M"
    if n >= 1_000:
        return f"{n // 1_000}k"
    return str(n)
