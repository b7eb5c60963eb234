"""The default (``reliability``) vote's weighting, kept importable from here.

The algorithm lives in :mod:`tally.aggregation.weighted_pixel_vote` (leave-one-out log-odds weights,
copies counted once, the tie rule, expected IoU); this module re-exports it for the task adapter and
holds the spatial step's tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

from .aggregation.weighted_pixel_vote import (
    COPY_MIN_FRACTION,
    COPY_MIN_PIXELS,
    TIE_TOLERANCE,
    LeaveOneOutWeights,
    ObjectVotes,
    Weighing,
    decide,
    expected_iou,
    leave_one_out,
    weigh,
)

__all__ = [
    "COPY_MIN_FRACTION",
    "COPY_MIN_PIXELS",
    "TIE_TOLERANCE",
    "LeaveOneOutWeights",
    "ObjectVotes",
    "Params",
    "Weighing",
    "decide",
    "expected_iou",
    "leave_one_out",
    "weigh",
]


@dataclass(frozen=True)
class Params:
    """Tuning of the spatial step of the weighted vote.

    Attributes:
        radius: half-width of the square neighbourhood whose shares decide a boundary pixel.
    """

    radius: int = 2
