"""Colours: hex ↔ RGB, and the colour each class of a mask gets. Standard library only, so that the
pre-annotation function, which needs labels but never decodes an image, loads neither numpy nor Pillow.

A class's colour is the one most of the batch's workers painted it with (Ground Truth's worker UI
gives every worker the same colour per label, so this is the same in every batch of a job); a label
nobody painted gets the first colour of d3's category10, then of evenly spaced hues, that no other
class has. White stays background's.
"""

from __future__ import annotations

import colorsys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

__all__ = [
    "ABSTAIN",
    "BACKGROUND_HEX",
    "CATEGORY10",
    "FAR",
    "RGB",
    "assign_colours",
    "hex_to_rgb",
    "normalise_hex",
    "rgb_to_hex",
]

ABSTAIN = 255
"""Class value meaning "this worker casts no vote at this pixel"."""
FAR = 254
"""Class value of a worker's background far from anything they drew (the reliability vote's
:func:`tally.aggregation.weighted_pixel_vote.resolve_far`): no class may have this key."""
RGB = tuple[int, int, int]
BACKGROUND_HEX = "#ffffff"
CATEGORY10 = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def hex_to_rgb(value: str) -> RGB:
    """``"#1f77b4"`` (or ``"1F77B4"``, or ``"#abc"``) → ``(31, 119, 180)``; raises ``ValueError``."""
    text = value.strip().removeprefix("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6:
        raise ValueError("not a hex colour")
    n = int(text, 16)
    return (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF


def rgb_to_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def normalise_hex(value: str) -> str | None:
    """``"#2CA02C"`` → ``"#2ca02c"``; ``None`` for anything that is not a hex colour."""
    try:
        return rgb_to_hex(hex_to_rgb(value))
    except ValueError:
        return None


def _fill_colours() -> Iterator[str]:
    yield from CATEGORY10
    k = 0
    while True:
        k += 1
        r, g, b = colorsys.hsv_to_rgb((k * 0.618033988749895) % 1.0, 0.65, 0.85)
        yield rgb_to_hex((round(r * 255), round(g * 255), round(b * 255)))


def assign_colours(names: Sequence[str], painted: Mapping[str, Counter[str]]) -> tuple[str, ...]:
    """One distinct colour per label, in ``names`` order.

    ``painted[name]`` counts the colours workers used for ``name`` (normalised hex). Each label takes
    its most used colour (ties: the smaller hex), labels with more uses choosing first; a label whose
    colours are all taken, or that nobody painted, gets the first fill colour no class has.

    >>> assign_colours(["Cat", "Bird", "Dog"], {"Bird": Counter({"#2ca02c": 3, "#1f77b4": 1})})
    ('#1f77b4', '#2ca02c', '#ff7f0e')
    """
    taken = {BACKGROUND_HEX}
    chosen: dict[str, str] = {}
    by_use = sorted(
        (name for name in names if painted.get(name)),
        key=lambda n: (-sum(painted[n].values()), names.index(n)),
    )
    for name in by_use:
        ranked = sorted(painted[name].items(), key=lambda item: (-item[1], item[0]))
        colour = next((c for c, _ in ranked if c not in taken), None)
        if colour is not None:
            chosen[name] = colour
            taken.add(colour)
    fill = (c for c in _fill_colours() if c not in taken)
    result = []
    for name in names:
        if name not in chosen:
            chosen[name] = next(fill)
            taken.add(chosen[name])
        result.append(chosen[name])
    return tuple(result)
