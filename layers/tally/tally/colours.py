"""Label colours and the abstain class: standard library only.

Kept apart from :mod:`tally.codecs` (numpy, Pillow) so that the pre-annotation function, which needs
the label table but never decodes an image, imports neither.

Examples:
    >>> hex_to_rgb("#1f77b4")
    (31, 119, 180)
    >>> rgb_to_hex((31, 119, 180))
    '#1f77b4'
"""

from __future__ import annotations

__all__ = ["ABSTAIN", "RGB", "hex_to_rgb", "rgb_to_hex"]

ABSTAIN = 255
"""Class value meaning "this worker casts no vote at this pixel"."""

RGB = tuple[int, int, int]


def hex_to_rgb(value: str) -> RGB:
    """``"#1f77b4"`` (or ``"1F77B4"``, or ``"#abc"``) → ``(31, 119, 180)``; raises ``ValueError``."""
    text = value.strip().removeprefix("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6:
        raise ValueError(f"not a hex colour: {value!r}")
    n = int(text, 16)
    return (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF


def rgb_to_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
