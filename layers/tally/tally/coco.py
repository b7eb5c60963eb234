"""COCO's mask encodings: a binary mask as compressed RLE, and its bounding box (numpy only).

Used by the task kinds' COCO views (``tally export --format coco``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["mask_bbox", "rle_encode"]


def rle_encode(mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """A binary mask as COCO's compressed RLE ``{"size": [h, w], "counts": str}``.

    Runs are counted in column-major order starting with a run of zeros; each count (minus the count
    two runs earlier, from the fourth on) is written as 5-bit groups, least significant first, with
    ``0x20`` marking that another group follows, offset by 48 into printable ASCII (the format of the
    COCO API's ``maskApi``).

    >>> rle_encode(np.array([[0, 1], [1, 1]], dtype=bool))
    {'size': [2, 2], 'counts': '13'}
    """
    height, width = mask.shape
    flat = np.asarray(mask, dtype=bool).flatten(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    chars: list[str] = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return {"size": [int(height), int(width)], "counts": "".join(chars)}


def mask_bbox(mask: npt.NDArray[np.bool_]) -> list[float]:
    """``[x, y, width, height]`` of a mask's pixels (pixel edges), ``[0, 0, 0, 0]`` when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
