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

__all__ = ["Traced", "outline", "polygons"]

Point = tuple[int, int]


def outline(mask: npt.NDArray[np.bool_]) -> list[list[Point]]:
    """Every boundary of ``mask`` as a closed path of pixel corners (the first not repeated), the inside
    on the right of the walk (y down: outer paths clockwise on screen, holes anticlockwise), collinear
    corners merged; outer paths and holes in the order their first corner is met row by row."""
    grid = np.pad(np.asarray(mask, dtype=bool), 1)
    inside = grid[1:-1, 1:-1]
    # directed unit edges, each keyed by its start corner: top edges go +x, right +y, bottom -x, left -y
    starts: dict[Point, list[Point]] = {}
    for (dy, dx), (ox, oy), step in (
        ((-1, 0), (0, 0), (1, 0)),  # top: from the pixel's top-left corner, rightwards
        ((0, 1), (1, 0), (0, 1)),  # right: from its top-right corner, downwards
        ((1, 0), (1, 1), (-1, 0)),  # bottom: from its bottom-right corner, leftwards
        ((0, -1), (0, 1), (0, -1)),  # left: from its bottom-left corner, upwards
    ):
        neighbour = grid[1 + dy : grid.shape[0] - 1 + dy, 1 + dx : grid.shape[1] - 1 + dx]
        ys, xs = np.nonzero(inside & ~neighbour)
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            starts.setdefault((x + ox, y + oy), []).append(step)
    paths: list[list[Point]] = []
    for first in sorted(starts, key=lambda p: (p[1], p[0])):
        while starts.get(first):
            paths.append(_walk(first, starts))
    return paths


def _walk(first: Point, starts: dict[Point, list[Point]]) -> list[Point]:
    """The closed path from ``first``, taking its edges out of ``starts``; at a corner where two pixels
    touch only diagonally (two edges leave it) the walk turns inwards, round the pixel it went along,
    so that the two stay apart (4-connected parts). The walk ends back at ``first`` when the edge it would take next is
    the one it began with (a path may pass its first corner twice)."""
    path: list[Point] = []
    corner, initial = first, starts[first][0]
    while True:
        options = starts.get(corner, [])
        if path:
            came = path[-1]
            heading = (corner[0] - came[0], corner[1] - came[1])
            inward = (-heading[1], heading[0])  # a right turn on screen (y down): the inside's side
            if corner == first:
                candidates = [*options, initial]
                if (inward if inward in candidates else initial if len(candidates) == 1 else options[0]) == initial:
                    break
            step = inward if inward in options else options[0]
        else:
            step = initial
        options.remove(step)
        if not options:
            del starts[corner]
        path.append(corner)
        corner = (corner[0] + step[0], corner[1] + step[1])
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


@dataclass
class Traced:
    """A mask's outer paths as polygons in tally's reading frame (module docstring), and its holes."""

    polygons: list[list[Point]]
    hole_pixels: int  # background pixels the polygons enclose (Label Studio and CVAT polygons have no holes)


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
    n = len(path)
    moved: list[Point] = []
    for i, (x, y) in enumerate(path):
        before, after = path[i - 1], path[(i + 1) % n]
        edges = ((before, (x, y)), ((x, y), after))
        down = any(a[0] == b[0] and b[1] > a[1] for a, b in edges)
        leftwards = any(a[1] == b[1] and b[0] < a[0] for a, b in edges)
        moved.append((x - int(down), y - int(leftwards)))
    while True:
        merged = _pass(moved)
        half = len(merged) // 2
        merged = merged[half:] + merged[:half]  # the seam's points to the middle, for the next pass
        if len(merged) == len(moved):
            break
        moved = merged
    if len(merged) < 3:
        return (merged * 3)[:3]
    first = min(range(len(merged)), key=lambda i: (merged[i][1], merged[i][0]))
    return merged[first:] + merged[:first]  # from its top-left point


def _pass(points: list[Point]) -> list[Point]:
    """One pass of :func:`_reading_frame`'s merging, along the list (not round its seam)."""
    out: list[Point] = []
    for x, y in points:
        if out and out[-1] == (x, y):
            continue
        while len(out) >= 2:
            (px, py), (mx, my) = out[-2], out[-1]
            straight = (mx - px) * (y - my) - (my - py) * (x - mx) == 0
            between = (mx - px) * (x - mx) + (my - py) * (y - my) > 0
            if not (straight and between):
                break
            out.pop()
        out.append((x, y))
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out
