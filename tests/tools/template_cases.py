"""Each worker template in templates/ with a manifest line of its task type and what its crowd
element must receive (shared by the rendering tests and the browser tests)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from tests.project import ROOT

TEMPLATES = ROOT / "templates"
LABELS = ["road", 'o\'neil & "x"', "<b>sign</b>"]
IMAGE_URI = "s3://job-bucket/images/scene 1.png"
PRIOR_URI = "s3://job-bucket/masks/scene 1.png"
TEXT = 'Ann & Bob <met> "Carol" in Oslo.'
PRIOR_MAPPINGS = {"road": {"color": "#1f77b4"}, "car": {"color": "#ff7f0e"}}


@dataclass(frozen=True)
class Case:
    template: str  # templates/<template>.liquid.html
    element: str | None  # the crowd element's tag (None: a form whose labels go elsewhere, or nowhere)
    options_attribute: str  # where the labels go: labels or categories ("" for none)
    text: bool = False  # a text task (taskObject is the line's source)
    adjustment: bool = False  # the line carries a prior mask (initialValue)
    form: tuple[tuple[str, str], ...] = ()  # a form's fields as tally reads the rendered page: (name, kind)

    @property
    def element_name(self) -> str | None:
        """The crowd element's ``name``: its tag in the one-element templates, its field's name in a form."""
        return self.form[0][0] if self.form and self.element else self.element

    @property
    def path(self) -> Path:
        return TEMPLATES / f"{self.template}.liquid.html"

    def line(self) -> dict[str, Any]:
        if self.text:
            return {"source": TEXT, "labels": LABELS}
        line: dict[str, Any] = {"source-ref": IMAGE_URI, "labels": LABELS}
        if self.adjustment:
            line["prior"] = {"mask-ref": PRIOR_URI}
            line["prior-metadata"] = {
                "type": "groundtruth/semantic-segmentation",
                "creation-date": "2026-11-01T12:00:00.000000",
                "internal-color-map": {
                    "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
                    "1": {"class-name": "road", "hex-color": "#1f77b4"},
                    "2": {"class-name": "car", "hex-color": "#ff7f0e"},
                },
            }
        return line

    def expected_options(self) -> list[Any]:
        if self.element == "crowd-entity-annotation":
            return [{"label": label} for label in LABELS]
        return LABELS


CASES = [
    Case("semantic-segmentation", "crowd-semantic-segmentation", "labels"),
    Case("semantic-segmentation-adjustment", "crowd-semantic-segmentation", "labels", adjustment=True),
    Case("instance-segmentation", "crowd-instance-segmentation", "labels"),
    Case("bounding-box", "crowd-bounding-box", "labels"),
    Case("keypoint", "crowd-keypoint", "labels"),
    Case("image-classification", "crowd-image-classifier", "categories"),
    Case("image-classification-multi-select", "crowd-image-classifier-multi-select", "categories"),
    Case("text-classification", "crowd-classifier", "categories", text=True),
    Case("named-entity", "crowd-entity-annotation", "labels", text=True),
    Case(
        "form-classification-with-question",
        "crowd-image-classifier",
        "categories",
        form=(("category", "single-choice"), ("clarity", "single-choice"), ("comment", "text")),
    ),
    Case("form-dropdown", None, "", form=(("label", "single-choice"), ("occluded", "boolean"))),
    Case(
        "form-rating",
        None,
        "",
        text=True,
        form=(("fluency", "number"), ("accuracy", "number"), ("verdict", "single-choice"), ("notes", "text")),
    ),
]

PRIOR_FORM = {
    "type": "groundtruth/custom",
    "schema-source": "template",
    "confidence": 0.9,
    "fields": {
        "clarity": {"kind": "single-choice", "consolidated": True, "value": "unclear", "confidence": 0.9},
        "label": {"kind": "single-choice", "consolidated": True, "value": "road", "confidence": 0.95},
        "occluded": {"kind": "boolean", "consolidated": True, "value": True, "confidence": 0.92},
        "fluency": {"kind": "number", "consolidated": False, "reason": "r", "answers": [{"workerId": "w", "value": 4}]},
    },
}
"""A prior form's label (tally's): its consolidated fields become the next job's initialValue."""


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def s3_mirror(root: Path) -> Path:
    """A directory standing in for S3 with the image (40×30) and the prior mask (40×30)."""
    for uri, colour in ((IMAGE_URI, (200, 120, 40)), (PRIOR_URI, (31, 119, 180))):
        path = root / uri.removeprefix("s3://")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png(40, 30, colour))
    return root


CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium, which the browser tests drive (`make -f mk/browser.mk browser`)."""
ARGS = [  # headless, and no request of its own
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
