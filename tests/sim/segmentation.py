"""Synthetic scenes and crowds, encoded exactly as Ground Truth delivers segmentation answers.

Used by the example job in ``events/``, the benchmarks and the tests; also handy to try settings on
crowds whose truth is known. A scene is a list of shapes (ellipses and rectangles, each of one
class) painted in order over background; a simulated worker paints the same list through their own
habits (:class:`WorkerStyle`): looser or tighter outlines, missed small shapes, wrong classes, an
offset, swapped labels, random scribbles. Answers are palette PNGs (what Ground Truth's tool writes:
transparent index 0, low bit depth), RGBA (transparent background) or RGB (black background), each
worker with their own label colours.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from tally.codecs import hex_to_rgb
from tally.gt.answers import Answer
from tally.gt.events import DatasetObject

__all__ = [
    "CROWDS",
    "SIZES",
    "Crowd",
    "Habits",
    "Shape",
    "SimulatedBatch",
    "SimulatedObject",
    "WorkerStyle",
    "answer_content",
    "crowd_batch",
    "crowd_scene",
    "draw",
    "draw_habits",
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
    wobble: tuple[float, ...] = ()  # outward shift of each outline vertex (px); empty: an exact outline

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
    skip_below: float = 0.0  # shapes smaller than this area are left out with probability skip_rate
    skip_rate: float = 0.0
    vertex_jitter: float = 0.0  # > 0: outlines are polygons whose vertices move this much (s.d., px)
    drop_rate: float = 0.0  # chance of leaving out a shape whatever its size (a whole object missed)


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
        if s.wobble:
            _draw_polygon(out, s)
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


def _draw_polygon(out: npt.NDArray[np.uint8], s: Shape) -> None:
    """Paint ``s`` as a polygon whose vertices sit on its outline, each moved outward by its wobble."""
    n = len(s.wobble)
    shift = np.asarray(s.wobble)
    if s.kind == "rect":  # vertices evenly along the perimeter (corners first), pushed out from the centre
        corners = np.array([[s.rx, s.ry], [-s.rx, s.ry], [-s.rx, -s.ry], [s.rx, -s.ry]])
        per_side = max(1, n // 4)
        t = np.arange(per_side)[:, None, None] / per_side
        points = corners[None, :, :] * (1 - t) + np.roll(corners, -1, axis=0)[None, :, :] * t
        points = points.transpose(1, 0, 2).reshape(-1, 2)[:n]
        shift = shift[: len(points)]
        norm = np.sign(points) * np.array([[1.0, 1.0]])
        xs, ys = s.cx + points[:, 0] + shift * norm[:, 0] * 0.7, s.cy + points[:, 1] + shift * norm[:, 1] * 0.7
    else:
        angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
        xs, ys = s.cx + (s.rx + shift) * np.cos(angle), s.cy + (s.ry + shift) * np.sin(angle)
    height, width = out.shape
    x0, x1 = max(0, int(np.floor(xs.min()))), min(width, int(np.ceil(xs.max())) + 1)
    y0, y1 = max(0, int(np.floor(ys.min()))), min(height, int(np.ceil(ys.max())) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    canvas = Image.new("1", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(canvas).polygon([(float(x - x0), float(y - y0)) for x, y in zip(xs, ys, strict=True)], fill=1)
    out[y0:y1, x0:x1][np.asarray(canvas, dtype=bool)] = s.cls


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
        if style.skip_rate and s.area < style.skip_below and rng.random() < style.skip_rate:
            continue
        if style.drop_rate and rng.random() < style.drop_rate:
            continue
        cls = s.cls
        if style.wrong_class and rng.random() < style.wrong_class and n_labels > 1:
            cls = int(rng.choice([c for c in range(1, n_labels + 1) if c != cls]))
        if style.swap and cls in style.swap:
            cls = style.swap[1] if cls == style.swap[0] else style.swap[0]
        wobble: tuple[float, ...] = ()
        if style.vertex_jitter:
            vertices = int(np.clip(np.sqrt(s.area) / 3, 8, 48))
            wobble = tuple(float(v) for v in rng.normal(0, style.vertex_jitter, vertices))
        drawn.append(
            replace(
                s,
                cls=cls,
                cx=s.cx + style.offset[0],
                cy=s.cy + style.offset[1],
                rx=s.rx + style.grow + rng.normal(0, style.jitter),
                ry=s.ry + style.grow + rng.normal(0, style.jitter),
                wobble=wobble,
            )
        )
    return draw(drawn, height, width)


def worker_colours(label_names: Sequence[str], rng: np.random.Generator) -> dict[str, str]:
    """A worker's own colour per label (Ground Truth's tool assigns them per worker)."""
    order = rng.permutation(len(_COLOURS))
    return {name: _COLOURS[int(order[i % len(order)])] for i, name in enumerate(label_names)}


def _png(classes: npt.NDArray[np.uint8], colours: Sequence[str], mode: Literal["P", "RGBA", "RGB"]) -> bytes:
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
        pixels = table[classes] if mode == "RGBA" else np.ascontiguousarray(table[classes][..., :3])
        Image.fromarray(pixels, mode=None).save(buf, format="PNG")
    return buf.getvalue()


def answer_content(
    classes: npt.NDArray[np.uint8],
    label_names: Sequence[str],
    colours: dict[str, str],
    *,
    mode: Literal["P", "RGBA", "RGB"] = "P",
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


# --------------------------------------------------------------------------------------------------
# Crowds whose careful workers differ from each other (issue 8)

Role = Literal["careful", "sloppy", "spammer", "lazy", "swapper", "offset", "copy", "hasty"]
SIZES: tuple[tuple[int, int], ...] = ((533, 800), (600, 800), (768, 1024), (960, 1280))
"""Image sizes (height, width) of :func:`crowd_batch`, one per object in turn."""


def crowd_scene(rng: np.random.Generator, height: int, width: int, n_labels: int) -> list[Shape]:
    """3–5 large shapes, 2–4 medium ones and 2–4 tiny ones of 10–40 px across, classes at random."""
    side = min(height, width)
    shapes = []
    for size, count in (("large", int(rng.integers(3, 6))), ("medium", int(rng.integers(2, 5))),
                        ("tiny", int(rng.integers(2, 5)))):  # fmt: skip
        for _ in range(count):
            if size == "large":
                radius = side * rng.uniform(0.08, 0.22)
            elif size == "medium":
                radius = side * rng.uniform(0.03, 0.06)
            else:
                radius = rng.uniform(5.0, 20.0)
            shapes.append(
                Shape(
                    cls=int(rng.integers(1, n_labels + 1)),
                    cx=float(rng.uniform(0, width)),
                    cy=float(rng.uniform(0, height)),
                    rx=float(radius * rng.uniform(0.7, 1.3)),
                    ry=float(radius * rng.uniform(0.7, 1.3)),
                    kind="rect" if rng.random() < 0.4 else "ellipse",
                )
            )
    return shapes


@dataclass(frozen=True)
class Habits:
    """One worker's habits, drawn once per worker and batch (distances per 600 px of the shorter side)."""

    role: Role
    grow: float = 0.0
    jitter: float = 1.0
    vertex_jitter: float = 1.0
    skip_rate: float = 0.0
    wrong_class: float = 0.0
    offset: tuple[int, int] = (0, 0)  # in pixels, whatever the image size (a misregistered canvas)
    drop_rate: float = 0.0  # chance of missing any shape, large ones included

    def style(self, scale: float) -> WorkerStyle:
        """The habits at an image whose shorter side is ``600 * scale`` px."""
        if self.role == "spammer":
            return WorkerStyle(spam=True)
        if self.role == "lazy":
            return WorkerStyle(lazy=True)
        small = (28 * scale) ** 2 if self.role == "sloppy" else 20.0**2 * np.pi
        return WorkerStyle(
            jitter=self.jitter * scale,
            grow=self.grow * scale,
            skip_below=float(small),
            skip_rate=self.skip_rate,
            wrong_class=self.wrong_class,
            offset=self.offset,
            swap=(1, 2) if self.role == "swapper" else None,
            vertex_jitter=self.vertex_jitter * scale,
            drop_rate=self.drop_rate,
        )


def draw_habits(role: Role, rng: np.random.Generator) -> Habits:
    """A worker of this role with their own outline bias, jitter and carelessness."""
    if role in ("spammer", "lazy", "copy"):
        return Habits(role)
    if role == "sloppy":
        return Habits(role, grow=rng.uniform(4, 8) * rng.choice([-1, 1]), jitter=rng.uniform(3, 5),
                      vertex_jitter=rng.uniform(2.5, 4), skip_rate=rng.uniform(0.5, 0.9),
                      wrong_class=rng.uniform(0.1, 0.2))  # fmt: skip
    if role == "hasty":  # a careful hand, but whole objects missed and classes confused now and then
        return Habits(role, grow=rng.uniform(-2.5, 2.5), jitter=rng.uniform(0.5, 2.0),
                      vertex_jitter=rng.uniform(0.5, 2.0), skip_rate=rng.uniform(0.1, 0.4),
                      wrong_class=rng.uniform(0.08, 0.16), drop_rate=rng.uniform(0.08, 0.16))  # fmt: skip
    offset: tuple[int, int] = (0, 0)
    if role == "offset":
        angle = rng.uniform(0, 2 * np.pi)
        offset = (round(10 * np.cos(angle)), round(10 * np.sin(angle)))
    return Habits(role, grow=rng.uniform(-2.5, 2.5), jitter=rng.uniform(0.5, 2.0),
                  vertex_jitter=rng.uniform(0.5, 2.0), skip_rate=rng.uniform(0.1, 0.4),
                  wrong_class=rng.uniform(0.01, 0.05), offset=offset)  # fmt: skip


@dataclass(frozen=True)
class Crowd:
    """A simulated crowd: each member's role; a ``copy`` submits the mask of the member ``copies`` names."""

    key: str
    title: str
    roles: tuple[Role, ...]
    copies: tuple[tuple[int, int], ...] = ()  # (copier, copied) member indices
    answers: tuple[int, int] | None = None  # (min, max) answers per object, else every member answers


CROWDS: tuple[Crowd, ...] = (
    Crowd("careful3", "three careful workers", ("careful", "careful", "careful")),
    Crowd("sloppy3", "three, one sloppy", ("careful", "sloppy", "careful")),
    Crowd("spammer5", "five, one spammer", ("careful", "careful", "spammer", "careful", "careful")),
    Crowd("swaplazy5", "five, a label swapper and a lazy worker",
          ("careful", "swapper", "careful", "lazy", "careful")),
    Crowd("careful2", "two careful workers", ("careful", "careful")),
    Crowd("copy7", "seven, two copying one sloppy answer",
          ("careful", "sloppy", "careful", "copy", "careful", "copy", "careful"), copies=((3, 1), (5, 1))),
    Crowd("offset4", "four, one misregistered by ~10 px", ("careful", "offset", "careful", "careful")),
    Crowd("mixed1to5", "1 to 5 answers per object", ("careful", "careful", "sloppy", "careful", "careful"),
          answers=(1, 5)),
    # issue 18: two workers give one object different classes while the third missed it (or there is none)
    Crowd("hasty3", "three hasty workers (objects missed, classes confused)", ("hasty", "hasty", "hasty")),
    Crowd("hasty2", "two hasty workers", ("hasty", "hasty")),
    Crowd("hasty1to3", "1 to 3 answers, hasty workers and a sloppy one", ("hasty", "hasty", "sloppy", "hasty"),
          answers=(1, 3)),
)  # fmt: skip


@dataclass
class SimulatedObject:
    object_id: str
    truth: npt.NDArray[np.uint8]
    worker_ids: list[str]
    maps: list[npt.NDArray[np.uint8]]  # what each answering worker submitted, in answer order
    contents: list[dict[str, Any]]  # each answer's form output, as Ground Truth delivers it

    def answers(self) -> tuple[DatasetObject, list[Answer]]:
        """The object and its answers as the consolidation driver hands them to a task."""
        answers = [
            Answer(w, c["crowd-semantic-segmentation"], c, {})
            for w, c in zip(self.worker_ids, self.contents, strict=True)
        ]
        return DatasetObject.model_validate({"datasetObjectId": self.object_id}), answers


@dataclass
class SimulatedBatch:
    crowd: Crowd
    labels: list[str]
    habits: list[Habits]
    objects: list[SimulatedObject]


LABEL_POOL = ("road", "car", "person", "sign", "tree", "building")


def crowd_batch(
    crowd: Crowd, objects: int, seed: int, sizes: Sequence[tuple[int, int]] = SIZES, scale: float = 1.0
) -> SimulatedBatch:
    """One batch of ``objects`` objects answered by ``crowd``: every worker with their own habits and
    colours; a third of them (by position) answer in RGBA. ``scale`` shrinks every image size (and
    the habits with it) for quick runs."""
    rng = np.random.default_rng([seed, CROWDS.index(crowd) if crowd in CROWDS else 99])
    n_labels = int(rng.integers(3, 7))
    labels = list(LABEL_POOL[:n_labels])
    habits = [draw_habits(role, rng) for role in crowd.roles]
    ids = [f"private.us-east-1.{int(rng.integers(1 << 62)):016x}" for _ in crowd.roles]
    colours = [worker_colours(labels, rng) for _ in crowd.roles]
    modes: list[Literal["P", "RGBA"]] = ["RGBA" if k % 3 == 1 else "P" for k in range(len(crowd.roles))]
    lo, hi = crowd.answers or (len(crowd.roles), len(crowd.roles))
    counts = [int(c) for c in rng.permutation([lo + i % (hi - lo + 1) for i in range(objects)])]
    copied = dict(crowd.copies)
    out = []
    for i in range(objects):
        height, width = (max(8, round(d * scale)) for d in sizes[i % len(sizes)])
        unit = min(height, width) / 600
        scene = crowd_scene(rng, height, width, n_labels)
        drawn: list[npt.NDArray[np.uint8]] = []
        for k, h in enumerate(habits):
            if k in copied:
                drawn.append(np.zeros((height, width), np.uint8))  # filled in below
                continue
            drawn.append(worker_view(scene, h.style(unit), rng, height, width, n_labels))
        for k, source in copied.items():
            drawn[k] = drawn[source].copy()
        chosen = [int(k) for k in rng.permutation(len(crowd.roles))[: counts[i]]]
        out.append(
            SimulatedObject(
                object_id=f"{crowd.key}-{seed}-{i:02d}",
                truth=draw(scene, height, width),
                worker_ids=[ids[k] for k in chosen],
                maps=[drawn[k] for k in chosen],
                contents=[
                    answer_content(drawn[k], labels, colours[k], mode=modes[k], list_all_labels=k % 2 == 0)
                    for k in chosen
                ],
            )
        )
    return SimulatedBatch(crowd, labels, habits, out)
