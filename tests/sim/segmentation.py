"""Synthetic scenes and crowds, encoded exactly as Ground Truth delivers segmentation answers.

Used by the example job in ``events/``, the benchmarks and the tests; also handy to try settings on
crowds whose truth is known. A scene is a list of shapes (ellipses and rectangles, each of one
class) painted in order over background; a simulated worker paints the same list through their own
habits (:class:`WorkerStyle`): looser or tighter outlines, missed small shapes, wrong classes, an
offset, swapped labels, random scribbles. Answers are palette PNGs (what Ground Truth's tool writes:
transparent index 0, low bit depth) or RGBA, each worker with their own label colours.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from tally.codecs import hex_to_rgb

__all__ = [
    "Shape",
    "WorkerStyle",
    "answer_content",
    "draw",
    "payload_entry",
    "random_scene",
    "worker_colours",
    "worker_view",
]

_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


@dataclass(frozen=True)
class Shape:
    cls: int
    cx: float
    cy: float
    rx: float
    ry: float
    kind: Literal["ellipse", "rect"] = "ellipse"

    @property
    def area(self) -> float:
        return (np.pi if self.kind == "ellipse" else 4.0) * self.rx * self.ry


@dataclass(frozen=True)
class WorkerStyle:
    """How one simulated worker draws. Distances are in pixels."""

    jitter: float = 1.0  # random change of every outline's radii
    grow: float = 0.0  # systematic outline growth (negative: tight)
    miss_below: float = 0.0  # shapes smaller than this area are left out
    wrong_class: float = 0.0  # chance of giving a shape another class
    offset: tuple[int, int] = (0, 0)  # (dx, dy) shift of everything
    swap: tuple[int, int] | None = None  # two classes always exchanged
    spam: bool = False  # random shapes instead of the scene
    lazy: bool = False  # one box around the largest shape, nothing else


def random_scene(rng: np.random.Generator, height: int, width: int, n_labels: int, n_shapes: int = 8) -> list[Shape]:
    """Large and small shapes of classes ``1..n_labels`` at random places."""
    shapes = []
    for i in range(n_shapes):
        small = i % 3 == 2
        scale = min(height, width) * (rng.uniform(0.02, 0.06) if small else rng.uniform(0.08, 0.25))
        shapes.append(
            Shape(
                cls=int(rng.integers(1, n_labels + 1)),
                cx=float(rng.uniform(0, width)),
                cy=float(rng.uniform(0, height)),
                rx=float(scale * rng.uniform(0.6, 1.4)),
                ry=float(scale * rng.uniform(0.6, 1.4)),
                kind="rect" if rng.random() < 0.4 else "ellipse",
            )
        )
    return shapes


def draw(shapes: Sequence[Shape], height: int, width: int) -> npt.NDArray[np.uint8]:
    """Paint shapes in order over background 0."""
    out = np.zeros((height, width), dtype=np.uint8)
    for s in shapes:
        if s.rx <= 0 or s.ry <= 0:
            continue
        y0, y1 = max(0, int(s.cy - s.ry)), min(height, int(s.cy + s.ry) + 1)
        x0, x1 = max(0, int(s.cx - s.rx)), min(width, int(s.cx + s.rx) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        if s.kind == "rect":
            out[y0:y1, x0:x1] = s.cls
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        inside = ((xx - s.cx) / s.rx) ** 2 + ((yy - s.cy) / s.ry) ** 2 <= 1.0
        out[y0:y1, x0:x1][inside] = s.cls
    return out


def worker_view(
    shapes: Sequence[Shape], style: WorkerStyle, rng: np.random.Generator, height: int, width: int, n_labels: int
) -> npt.NDArray[np.uint8]:
    """The class map this worker would submit for the scene."""
    if style.spam:
        return draw(random_scene(rng, height, width, n_labels, n_shapes=6), height, width)
    if style.lazy:
        big = max(shapes, key=lambda s: s.area)
        return draw([replace(big, kind="rect")], height, width)
    drawn = []
    for s in shapes:
        if s.area < style.miss_below:
            continue
        cls = s.cls
        if style.wrong_class and rng.random() < style.wrong_class and n_labels > 1:
            cls = int(rng.choice([c for c in range(1, n_labels + 1) if c != cls]))
        if style.swap and cls in style.swap:
            cls = style.swap[1] if cls == style.swap[0] else style.swap[0]
        drawn.append(
            replace(
                s,
                cls=cls,
                cx=s.cx + style.offset[0],
                cy=s.cy + style.offset[1],
                rx=s.rx + style.grow + rng.normal(0, style.jitter),
                ry=s.ry + style.grow + rng.normal(0, style.jitter),
            )
        )
    return draw(drawn, height, width)


def worker_colours(label_names: Sequence[str], rng: np.random.Generator) -> dict[str, str]:
    """A worker's own colour per label (Ground Truth's tool assigns them per worker)."""
    order = rng.permutation(len(_COLOURS))
    return {name: _COLOURS[int(order[i % len(order)])] for i, name in enumerate(label_names)}


def _png(classes: npt.NDArray[np.uint8], colours: Sequence[str], mode: Literal["P", "RGBA"]) -> bytes:
    height, width = classes.shape
    rgb = [(0, 0, 0), *[hex_to_rgb(c) for c in colours]]
    buf = io.BytesIO()
    if mode == "P":
        image = Image.frombytes("P", (width, height), np.ascontiguousarray(classes).tobytes())
        entries = next(n for n in (2, 4, 16, 256) if n >= len(rgb))
        flat = bytearray(3 * entries)
        for i, c in enumerate(rgb):
            flat[3 * i : 3 * i + 3] = bytes(c)
        image.putpalette(bytes(flat), rawmode="RGB")
        image.save(buf, format="PNG", transparency=0)
    else:
        table = np.zeros((len(rgb), 4), dtype=np.uint8)
        table[1:, :3] = rgb[1:]
        table[1:, 3] = 255
        Image.fromarray(table[classes], mode=None).save(buf, format="PNG")
    return buf.getvalue()


def answer_content(
    classes: npt.NDArray[np.uint8],
    label_names: Sequence[str],
    colours: dict[str, str],
    *,
    mode: Literal["P", "RGBA"] = "P",
    element_name: str = "crowd-semantic-segmentation",
    list_all_labels: bool = True,
) -> dict[str, Any]:
    """A ``<crowd-semantic-segmentation>`` form output for a class map (classes ``1..n`` =
    ``label_names``); only the labels used are listed unless ``list_all_labels``."""
    used = set(np.unique(classes).tolist())
    names = [n for i, n in enumerate(label_names, start=1) if list_all_labels or i in used]
    height, width = classes.shape
    return {
        element_name: {
            "inputImageProperties": {"height": int(height), "width": int(width)},
            "labelMappings": {n: {"color": colours[n]} for n in names},
            "labeledImage": {
                "pngImageData": base64.b64encode(_png(classes, [colours[n] for n in label_names], mode)).decode()
            },
        }
    }


def payload_entry(object_id: str, source_uri: str, answers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """One element of a consolidation payload as Ground Truth writes it: the object's ID and source,
    and each ``(workerId, content)`` answer, ``content`` being the form output as JSON text."""
    return {
        "datasetObjectId": object_id,
        "dataObject": {"s3Uri": source_uri},
        "annotations": [{"workerId": worker, "annotationData": {"content": content}} for worker, content in answers],
    }
