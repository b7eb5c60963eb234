"""The report's figures (:data:`tally.tasks.figures.Figure`) as HTML: what a kind whose consensus is no
image shows (a number's answers on its scale, a text's words the vote overruled, rankings side by
side). Everything a worker typed, and every name, is escaped.

Examples:
    >>> from tally.tasks.figures import WordVote
    >>> render(WordVote("a cat", (("w1", ("a", "<cat>"), frozenset({1})),)))
    '<div class="fig-text"><p class="verdict">a cat</p><ol><li data-worker="w1"><b>w1</b> a <mark>&lt;cat&gt;</mark></li></ol></div>'
"""

from __future__ import annotations

import html
from typing import Any

from ..tasks.figures import Distribution, Figure, RankTable, WordVote

__all__ = ["STYLE", "render"]

STYLE = """
.fig-text ol{margin:2px 0;padding-left:20px} .fig-text mark{background:#fdd0a2}
.fig-rank{display:flex;gap:12px;flex-wrap:wrap} .fig-rank table{margin:0}
.fig-number line.axis{stroke:#999} .fig-number rect{fill:#9ecae1} .fig-number circle{fill:#3182bd;fill-opacity:.6}
.fig-number line.value{stroke:#de2d26;stroke-width:2} .fig-number text{font-size:10px;fill:#555}
"""
"""The figures' CSS, added to the page's."""

_WIDTH, _LEFT, _SPAN = 300, 10, 280


def esc(value: Any) -> str:
    """``value`` as HTML text or attribute value (the report's too)."""
    return html.escape(str(value), quote=True)


def pct(value: float | None) -> str:
    """A share as a whole percentage, ``–`` for none (the report's too)."""
    return "–" if value is None else f"{100 * value:.0f}%"


def _distribution(figure: Distribution) -> str:
    span = (figure.high - figure.low) or 1.0

    def x(v: float) -> float:
        return round(_LEFT + _SPAN * (v - figure.low) / span, 1)

    parts = [
        f'<svg class="fig-number" width="{_WIDTH}" height="48" viewBox="0 0 {_WIDTH} 48">',
        f'<line class="axis" x1="{_LEFT}" y1="20" x2="{_LEFT + _SPAN}" y2="20"/>',
    ]
    if figure.interval is not None:
        low, high = (x(v) for v in figure.interval)
        parts.append(f'<rect x="{low}" y="15" width="{max(high - low, 1)}" height="10"><title>interval</title></rect>')
    for worker, value, weight in figure.answers:
        radius = round(2 + 4 * max(0.0, min(1.0, weight)), 1)
        parts.append(f'<circle cx="{x(value)}" cy="20" r="{radius}"><title>{esc(worker)}: {value:g}</title></circle>')
    if figure.value is not None:
        at = x(figure.value)
        parts.append(f'<line class="value" x1="{at}" y1="8" x2="{at}" y2="32"><title>{figure.value:g}</title></line>')
    parts.append(f'<text x="{_LEFT}" y="44">{figure.low:g}</text>')
    parts.append(f'<text x="{_LEFT + _SPAN}" y="44" text-anchor="end">{figure.high:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _words(figure: WordVote) -> str:
    parts = [f'<div class="fig-text"><p class="verdict">{esc(figure.text)}</p><ol>']
    for worker, words, differing in figure.answers:
        shown = " ".join(f"<mark>{esc(w)}</mark>" if i in differing else esc(w) for i, w in enumerate(words))
        parts.append(f'<li data-worker="{esc(worker)}"><b>{esc(worker)}</b> {shown}</li>')
    parts.append("</ol></div>")
    return "".join(parts)


def _ranks(figure: RankTable) -> str:
    head = "".join(f"<th>{esc(w)}</th>" for w in figure.workers)
    parts = ['<div class="fig-rank">']
    for name, rows in figure.dimensions:
        parts.append(
            f"<table><caption>{esc(name)}</caption><tr><th>response</th><th>rank</th><th>confidence</th>{head}</tr>"
        )
        for i, (rank, confidence, given) in enumerate(rows):
            cells = "".join(f"<td>{'–' if r is None else esc(r)}</td>" for r in given)
            shown = pct(confidence)
            parts.append(f"<tr><td>{i + 1}</td><td><b>{esc(rank)}</b></td><td>{shown}</td>{cells}</tr>")
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)


def render(figure: Figure) -> str:
    """``figure`` as an HTML fragment."""
    if isinstance(figure, Distribution):
        return _distribution(figure)
    if isinstance(figure, WordVote):
        return _words(figure)
    return _ranks(figure)
