"""Hostile and broken input through the consolidation Lambda (moto S3): in every case the handler
returns normally, the good object beside the bad input is consolidated as usual, and the affected
answer or object carries a clear reason that is also counted in the metrics."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.functions.s3 import get, put
from tests.helpers import annotation, data_object, png_b64, seg_content
from tests.project import FakeContext

PAYLOAD = "s3://gt-job-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
ATTR = "scene"
LEGEND = {"r": "road", "c": "car"}
DRAWING = ["rr..", "rcc.", "..c."]
GOOD = seg_content(DRAWING, LEGEND)


def event(**extra: Any) -> dict[str, Any]:
    return {
        "labelAttributeName": ATTR,
        "labelCategories": ["road", "car"],
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/job",
        "payload": {"s3Uri": PAYLOAD},
        "outputConfig": "s3://gt-job-bucket/job/annotations",
        **extra,
    }


def consolidate(s3: Any, handler: Any, objects: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    put(s3, PAYLOAD, json.dumps(objects).encode())
    response: list[dict[str, Any]] = handler.lambda_handler(event(**extra), FakeContext())
    return response


def parts(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    content = entry["consolidatedAnnotation"]["content"]
    return content[ATTR], content[f"{ATTR}-metadata"]


def png_header_only(width: int, height: int) -> str:
    """A PNG whose IHDR claims width x height but whose data is a few bytes: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    raw = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"PLTE", b"\0\0\0")
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )
    return base64.b64encode(raw + chunk(b"IEND", b"")).decode()


def image_b64(fmt: str) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (31, 119, 180)).save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


_FULL = base64.b64decode(png_b64(DRAWING, LEGEND, {"road": "#1f77b4", "car": "#ff7f0e"}))
TRUNCATED = base64.b64encode(_FULL[: _FULL.index(b"IDAT") + 6]).decode()  # cut inside the pixel data

BAD_ANSWERS = {
    "bomb header, honest size claim": (
        seg_content(DRAWING, LEGEND, png=png_header_only(40_000, 40_000), size=(40_000, 40_000)),
        "PNG header claims 40000x40000 pixels, over the 100000000 limit",
    ),
    "bomb header, small size claim": (
        seg_content(DRAWING, LEGEND, png=png_header_only(40_000, 40_000)),
        "mask is 40000x40000 but inputImageProperties says 4x3",
    ),
    "truncated png": (seg_content(DRAWING, LEGEND, png=TRUNCATED), "PNG"),
    "not base64": (seg_content(DRAWING, LEGEND, png="%%%not base64%%%"), "pngImageData is not valid base64"),
    "jpeg": (seg_content(DRAWING, LEGEND, png=image_b64("JPEG")), "pngImageData is a JPEG, not a PNG"),
    "gif": (seg_content(DRAWING, LEGEND, png=image_b64("GIF")), "pngImageData is a GIF, not a PNG"),
    "empty content": ("", "content is empty"),
    "not json": ("{'single': 'quotes'}", "content is not JSON"),
    "json but not an object": ("[1, 2]", "content is not a JSON object"),
    # a mask that differs from the other workers' (its own inputImageProperties agree with it)
    "wrong size": (seg_content(["rr", "cc"], LEGEND), "mask is 2x2, the other answers' are 4x3"),
    "no labelMappings": (
        json.dumps(
            {"crowd-semantic-segmentation": {**json.loads(GOOD)["crowd-semantic-segmentation"], "labelMappings": {}}}
        ),
        "the mask has coloured pixels but no labelMappings to read them by",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_bad_answer_is_rejected_with_its_reason_and_the_batch_goes_on(
    case: str, s3: Any, handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    content, reason = BAD_ANSWERS[case]
    objects = [
        data_object(
            "hit",
            annotation("w1", GOOD),
            annotation("w2", seg_content(DRAWING, LEGEND, mode="RGBA")),
            annotation("bad", content),
        ),
        data_object("clean", annotation("w1", GOOD), annotation("w2", GOOD)),
    ]
    response = consolidate(s3, handler, objects)
    assert [e["datasetObjectId"] for e in response] == ["hit", "clean"]
    _label, meta = parts(response[0])
    assert [r["workerId"] for r in meta["rejected-answers"]] == ["bad"]
    assert meta["rejected-answers"][0]["reason"].startswith(reason)
    for entry in response:
        mask = np.asarray(Image.open(io.BytesIO(get(s3, parts(entry)[0]["mask-ref"]))))
        assert mask.tolist() == [[1, 1, 0, 0], [1, 2, 2, 0], [0, 0, 2, 0]]
    out = capsys.readouterr().out
    metrics = next(json.loads(line) for line in out.splitlines() if '"AnswersRejected"' in line)
    assert metrics["AnswersRejected"] == [1.0]


def test_unexpected_element_name_is_read_by_shape_unless_the_name_is_configured(
    s3: Any, handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed = seg_content(DRAWING, LEGEND, element="mySegmentation")
    objects = [data_object("0", annotation("w1", GOOD), annotation("w2", renamed))]
    label, meta = parts(consolidate(s3, handler, objects)[0])
    assert "rejected-answers" not in meta
    assert label["mask-ref"].endswith(".png")
    monkeypatch.setattr(handler, "SETTINGS", handler.SETTINGS.__class__(element_name="crowd-semantic-segmentation"))
    _label, meta = parts(consolidate(s3, handler, objects)[0])
    assert meta["rejected-answers"] == [
        {"workerId": "w2", "reason": "content has no 'crowd-semantic-segmentation' element (keys: mySegmentation)"}
    ]


def test_answers_in_s3_are_read_only_from_the_jobs_bucket(s3: Any, handler: Any) -> None:
    put(s3, "s3://gt-job-bucket/job/answers/w1.json", GOOD.encode())
    put(s3, "s3://someone-elses-bucket/w2.json", GOOD.encode())
    objects = [
        {
            "datasetObjectId": "0",
            "annotations": [
                {"workerId": "w1", "annotationData": {"s3Uri": "s3://gt-job-bucket/job/answers/w1.json"}},
                {"workerId": "w2", "annotationData": {"s3Uri": "s3://someone-elses-bucket/w2.json"}},
                {"workerId": "w3", "annotationData": {"s3Uri": "s3://gt-job-bucket/job/answers/missing.json"}},
                {"workerId": "w4", "annotationData": {}},
            ],
        }
    ]
    label, meta = parts(consolidate(s3, handler, objects)[0])
    assert {r["workerId"]: r["reason"] for r in meta["rejected-answers"]} == {
        "w2": "annotationData.s3Uri points outside the job's buckets; not read",
        "w3": "annotationData.s3Uri unreadable: cannot read s3://gt-job-bucket/job/answers/missing.json: NoSuchKey",
        "w4": "annotationData has neither content nor s3Uri",
    }
    assert label["mask-ref"]


def test_broken_objects_are_returned_with_reasons(s3: Any, handler: Any) -> None:
    objects = [
        data_object("no answers"),
        {"datasetObjectId": "garbled", "annotations": "not a list"},
        data_object("dup", annotation("w1", GOOD)),
        data_object("dup", annotation("w2", GOOD), annotation("w1", GOOD)),
        {"no id": True},
        data_object("../../etc/passwd ü", annotation("w1", GOOD)),
    ]
    response = consolidate(s3, handler, objects)
    ids = [e["datasetObjectId"] for e in response]
    assert ids == ["no answers", "dup", "../../etc/passwd ü"]  # elements without a usable id cannot be answered
    assert parts(response[0])[0] == {
        "type": "groundtruth/semantic-segmentation",
        "failure-reason": "no annotations: no worker answered",
    }
    _, dup_meta = parts(response[1])
    assert dup_meta["rejected-answers"] == [
        {"workerId": "w1", "reason": "a second answer from the same worker; the first one is used"}
    ]
    ref = parts(response[2])[0]["mask-ref"]
    assert ref.startswith("s3://gt-job-bucket/job/annotations/consolidated-annotation/output/etc-passwd")


def test_a_100_megabyte_payload(s3: Any, handler: Any) -> None:
    rng = np.random.default_rng(0)
    colours = {"road": "#1f77b4", "car": "#ff7f0e"}
    noise = []
    for _ in range(4):  # incompressible masks: 1024x768 pixels of random road/car/background
        classes = rng.integers(0, 3, size=(768, 1024), dtype=np.uint8)
        image = Image.frombytes("P", (1024, 768), classes.tobytes())
        image.putpalette(bytes([0, 0, 0, 31, 119, 180, 255, 127, 14]), rawmode="RGB")
        buf = io.BytesIO()
        image.save(buf, format="PNG", transparency=0)
        noise.append(base64.b64encode(buf.getvalue()).decode())
    answer_size = len(noise[0])
    n_objects = 100_000_000 // (2 * answer_size) + 1
    objects = [
        data_object(
            str(i),
            *(
                annotation(f"w{k}", seg_content(["r"], LEGEND, colours, png=noise[(i + k) % 4], size=(768, 1024)))
                for k in range(2)
            ),
        )
        for i in range(n_objects)
    ]
    payload = json.dumps(objects).encode()
    assert len(payload) > 100_000_000
    response = consolidate(s3, handler, objects)
    assert len(response) == n_objects
    assert all("mask-ref" in parts(e)[0] for e in response)
