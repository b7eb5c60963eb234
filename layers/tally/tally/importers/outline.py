"""Polygons from a mask: the outline of its pixel squares, for writing a consolidated polygon back.

:func:`outline` walks the boundary of a boolean mask on the pixel-corner grid (corner ``(x, y)`` is the
top-left corner of pixel ``(x, y)``): one closed path per boundary, with the inside on the right of the
walk, collinear corners merged. Pixels that touch only at a corner are kept apart (**4-connected**
parts, one polygon each): written in tally's reading frame (below), the outline of two pixels joined
at a corner encloses background that the reader paints (of 3,000 random masks up to 11x11, one polygon
per 8-connected part painted 1,398 back exactly, one per 4-connected part 2,561; the other 439 have
holes). The background is then 8-connected: a hole is background that no path of
background, diagonal steps allowed, leads out of.

:func:`polygons` returns the outer paths in the frame tally *reads* polygons in
(:func:`tally.aggregation.instance_fusion.rasterise_polygons`: Pillow floors each vertex and paints the
polygon's boundary as well as its inside, so pixel ``(x, y)`` is the lattice point ``(x, y)``): a left
or top pixel edge at corner ``c`` is written at ``c``, a right or bottom one at ``c - 1`` (the line
through the pixels along it). Painting them gives back the mask exactly when it has no hole (tested on
random masks). The writers add half a pixel to every vertex: in the tools' own frame (pixel ``x`` spans
``[x, x + 1]``) the polygon then passes through the centres of the mask's boundary pixels, half a pixel
inside its pixel edges on every side, and a reader that floors still gets ``x`` back when a percentage
rounded to six decimals lands a hair below it (``100 * 10 / 30`` is written ``33.333333``, which is
``9.9999999`` pixels). Label Studio and CVAT polygons have no holes: a hole is reported (its pixel
count) and the caller decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

__all__ = ["MAX_RUNS", "Traced", "outline", "polygons"]

Point = tuple[int, int]


def outline(mask: npt.NDArray[np.bool_]) -> list[list[Point]]:
    """Every boundary of ``mask`` as a closed path of pixel corners (the first not repeated), the inside
    on the right of the walk (y down: outer paths clockwise on screen, holes anticlockwise), collinear
    corners merged; outer paths and holes in the order their first corner is met row by row."""
    grid = np.pad(np.asarray(mask, dtype=bool), 1)
    inside = grid[1:-1, 1:-1]
    # the boundary's straight runs of pixel edges, each keyed by its start corner with its direction and
    # length: top edges go +x, right +y, bottom -x, left -y (a corner inside a run is never where two
    # pixels touch diagonally, so the walk need only choose at a run's end)
    starts: dict[Point, list[Run]] = {}
    for (dy, dx), side in (((-1, 0), "top"), ((0, 1), "right"), ((1, 0), "bottom"), ((0, -1), "left")):
        edges = inside & ~grid[1 + dy : grid.shape[0] - 1 + dy, 1 + dx : grid.shape[1] - 1 + dx]
        along = edges if side in ("top", "bottom") else edges.T  # runs along rows, or along columns
        padded = np.pad(along, ((0, 0), (1, 1)))
        first_rows, first_cols = np.nonzero(padded[:, 1:-1] & ~padded[:, :-2])
        _, last_cols = np.nonzero(padded[:, 1:-1] & ~padded[:, 2:])
        for line, a, b in zip(first_rows.tolist(), first_cols.tolist(), last_cols.tolist(), strict=True):
            length = b + 1 - a
            if side == "top":
                starts.setdefault((a, line), []).append(((1, 0), length))
            elif side == "bottom":
                starts.setdefault((b + 1, line + 1), []).append(((-1, 0), length))
            elif side == "right":
                starts.setdefault((line + 1, a), []).append(((0, 1), length))
            else:
                starts.setdefault((line, b + 1), []).append(((0, -1), length))
    paths: list[list[Point]] = []
    for first in sorted(starts, key=lambda p: (p[1], p[0])):
        while starts.get(first):
            paths.append(_walk(first, starts))
    return paths


Run = tuple[Point, int]
"""A straight run of pixel edges: its direction (a unit step) and its length."""


def _walk(first: Point, starts: dict[Point, list[Run]]) -> list[Point]:
    """The closed path from ``first``, taking its runs out of ``starts``; at a corner where two pixels
    touch only diagonally (two runs leave it) the walk turns inwards, round the pixel it went along, so
    that the two stay apart (4-connected parts). The walk ends back at ``first`` when the run it would
    take next is the one it began with (a path may pass its first corner twice)."""
    path: list[Point] = []
    corner, initial = first, starts[first][0]
    heading: Point | None = None
    while True:
        options = starts.get(corner, [])
        step = initial
        if heading is not None:
            inward = (-heading[1], heading[0])  # a right turn on screen (y down): the inside's side
            turned = [run for run in options if run[0] == inward]
            if corner == first and not turned and (not options or inward == initial[0]):
                break  # the turn the walk would take here is the run it began with
            step = turned[0] if turned else options[0]
        options.remove(step)
        if not options:
            del starts[corner]
        path.append(corner)
        (ux, uy), length = step
        corner, heading = (corner[0] + ux * length, corner[1] + uy * length), (ux, uy)
    return _merged(path)


def _merged(path: list[Point]) -> list[Point]:
    """The path without the corners that lie on a straight run between their neighbours."""
    n = len(path)
    kept = []
    for i, (x, y) in enumerate(path):
        px, py = path[i - 1]
        nx, ny = path[(i + 1) % n]
        if (x - px) * (ny - y) - (y - py) * (nx - x) != 0:
            kept.append((x, y))
    return kept


def _area(path: list[Point]) -> int:
    """Twice the signed area (shoelace); positive for a path that goes clockwise on screen (y down)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(path, path[1:] + path[:1], strict=True))


MAX_RUNS = 4096
"""The most straight runs of top pixel edges a mask may have to be traced (an ellipse has two a row it
spans; a noisy or fragmented instance tens of thousands, and tracing it would take seconds to minutes
for polygons no one can use): over it, :func:`polygons` gives up (:attr:`Traced.ragged`)."""


@dataclass
class Traced:
    """A mask's outer paths as polygons in tally's reading frame (module docstring), and its holes."""

    polygons: list[list[Point]]
    hole_pixels: int  # background pixels the polygons enclose (Label Studio and CVAT polygons have no holes)
    ragged: int = 0  # over MAX_RUNS: its runs of top edges, and nothing traced (the caller writes a mask)


def polygons(mask: npt.NDArray[np.bool_]) -> Traced:
    """One polygon per 4-connected part of ``mask`` (module docstring), each of at least three points (a
    one-pixel part is its pixel three times, as a reader refuses fewer), and how many background pixels
    painting them adds (a hole's; 0: painting them gives back ``mask`` exactly)."""
    mask = np.asarray(mask, dtype=bool)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return Traced([], 0)
    top, left = int(rows[0]), int(columns[0])
    crop = mask[top : int(rows[-1]) + 1, left : int(columns[-1]) + 1]  # its box: the walk's grid
    above = np.pad(crop, ((1, 0), (0, 0)))[:-1]
    edges = np.pad(crop & ~above, ((0, 0), (1, 0)))  # the pixels with a top edge, a column of none before
    runs = int(np.count_nonzero(edges[:, 1:] & ~edges[:, :-1]))
    if runs > MAX_RUNS:
        return Traced([], 0, ragged=runs)
    found = [_reading_frame(path) for path in outline(crop) if _area(path) > 0]
    canvas = Image.new("1", (crop.shape[1], crop.shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for points in found:
        draw.polygon(points, fill=1, outline=1)
    painted = np.asarray(canvas, dtype=bool)
    return Traced([[(x + left, y + top) for x, y in points] for points in found], int((painted & ~crop).sum()))


def _reading_frame(path: list[Point]) -> list[Point]:
    """The corners of a path moved onto the pixel centres along its right and bottom edges: a corner
    whose vertical edge goes down (a right edge) moves one left, one whose horizontal edge goes left (a
    bottom edge) one up; then equal neighbours merged, and points on a straight run between their
    neighbours (not where the path turns back on itself: a part one pixel wide); from its topmost point
    (the leftmost of them)."""
    at = np.asarray(path, dtype=np.int64).reshape(-1, 2)
    before, after = np.roll(at, 1, axis=0), np.roll(at, -1, axis=0)
    into, out = at - before, after - at  # the edges in and out of each corner: one vertical, one horizontal
    down = (into[:, 1] > 0) | (out[:, 1] > 0)
    leftwards = (into[:, 0] < 0) | (out[:, 0] < 0)
    moved = at - np.column_stack((down, leftwards)).astype(np.int64)
    while len(moved) > 1:
        prev, nxt = np.roll(moved, 1, axis=0), np.roll(moved, -1, axis=0)
        a, b = moved - prev, nxt - moved
        same = (a == 0).all(axis=1)
        straight = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] == 0) & ((a * b).sum(axis=1) > 0)
        drop = same | straight
        if not drop.any():
            break
        if drop.all():  # every point equal to the one before: one point
            moved = moved[:1]
            break
        moved = moved[~drop]
    merged: list[Point] = [(int(x), int(y)) for x, y in moved.tolist()]
    if len(merged) < 3:
        return (merged * 3)[:3]
    first = min(range(len(merged)), key=lambda i: (merged[i][1], merged[i][0]))
    return merged[first:] + merged[:first]  # from its top-left point
