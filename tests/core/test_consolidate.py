"""consolidate_batch end to end on local storage, with hand-drawn answers and exact expected masks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tally import Settings
from tally.storage import LocalStorage
from tests.core.batch import LABELS, LEGEND, OTHER_COLOURS, content, mask_rows, run
from tests.helpers import annotation, data_object, read_mask, seg_content


def test_three_workers_with_their_own_colours_and_formats(tmp_path: Path) -> None:
    objects = [
        data_object(
            "0",
            annotation("w1", seg_content(["rrc.", "pp.."], LEGEND)),
            annotation("w2", seg_content(["rr..", "ppss"], LEGEND, OTHER_COLOURS, mode="RGBA")),
            annotation("w3", seg_content(["r.c.", "p.s."], LEGEND, OTHER_COLOURS, mode="RGB")),
        )
    ]
    response, report, storage = run(tmp_path, objects)
    assert len(response) == 1
    label, meta = content(response[0])
    assert mask_rows(storage, label) == ["rrc.", "pps."]
    assert label["mask-ref"].startswith("s3://job-bucket/job/annotations/consolidated-annotation/output/0_")
    assert meta["type"] == "groundtruth/semantic-segmentation"
    assert meta["job-name"] == "labeling-job/job"
    assert meta["human-annotated"] == "yes"
    assert meta["internal-color-map"] == label["internal-color-map"]
    cmap = label["internal-color-map"]
    assert [cmap[k]["class-name"] for k in sorted(cmap)] == ["BACKGROUND", *LABELS]
    # each class in the colour most of the batch's workers painted it with: w2 and w3's, not w1's
    assert [cmap[k]["hex-color"] for k in sorted(cmap)] == ["#ffffff", *(OTHER_COLOURS[n] for n in LABELS)]
    # road: pixels (0,0) 3/3 and (0,1) 2/3; the object: every pixel someone labelled, which adds
    # (1,3) where w2's sign lost 1:2 to background
    assert cmap["1"]["confidence"] == pytest.approx(round((1 + 2 / 3) / 2, 4))
    expected = round((1 + 2 / 3 + 2 / 3 + 1 + 2 / 3 + 2 / 3 + 2 / 3) / 7, 4)
    assert label["confidence"] == meta["confidence"] == pytest.approx(expected)
    assert report.consolidated == 1 and report.failed == 0 and report.answers_rejected == 0


def test_without_confidence_maps_the_reliability_vote_gives_the_same_mask_and_figures(tmp_path: Path) -> None:
    objects = [
        data_object(
            "0",
            annotation("w1", seg_content(["rrc.", "pp.."], LEGEND)),
            annotation("w2", seg_content(["rr..", "ppss"], LEGEND, OTHER_COLOURS, mode="RGBA")),
            annotation("w3", seg_content(["r.c.", "p.s."], LEGEND, OTHER_COLOURS, mode="RGB")),
        )
    ]
    with_maps, _, storage = run(tmp_path / "with", objects, settings=Settings(confidence_maps=True))
    without, report, bare = run(tmp_path / "without", objects, settings=Settings())  # the default: no map
    (label, meta), (bare_label, bare_meta) = content(with_maps[0]), content(without[0])
    assert storage.path_of(label.pop("confidence-map-ref")).is_file()
    assert "confidence-map-ref" not in bare_label
    assert sorted(p.name for p in bare.path_of(bare_label["mask-ref"]).parent.iterdir()) == [
        bare.path_of(bare_label["mask-ref"]).name
    ]
    del meta["creation-date"], bare_meta["creation-date"]
    assert bare_label == label and bare_meta == meta  # the same mask, confidences and worker figures
    assert mask_rows(bare, bare_label) == mask_rows(storage, label) == ["rrc.", "pp.."]
    assert report.consolidated == 1


def test_single_answer_keeps_its_mask_with_confidence_zero(tmp_path: Path) -> None:
    objects = [data_object("solo", annotation("w1", seg_content(["rc", "p."], LEGEND)))]
    response, _, storage = run(tmp_path, objects)
    label, meta = content(response[0])
    assert mask_rows(storage, label) == ["rc", "p."]
    assert label["confidence"] == meta["confidence"] == 0.0
    assert {v["confidence"] for v in label["internal-color-map"].values()} == {0.0}


def test_two_workers_tie_toward_background(tmp_path: Path) -> None:
    objects = [
        data_object(
            "t",
            annotation("w1", seg_content(["rrcc"], LEGEND)),
            annotation("w2", seg_content(["r.c."], LEGEND, OTHER_COLOURS)),
        )
    ]
    response, _, storage = run(tmp_path, objects)
    assert mask_rows(storage, content(response[0])[0]) == ["r.c."]


def test_corrupt_answers_are_rejected_and_the_rest_consolidated(tmp_path: Path) -> None:
    good = seg_content(["rr", "cc"], LEGEND)
    truncated_png = base64.b64encode(
        base64.b64decode(json.loads(good)["crowd-semantic-segmentation"]["labeledImage"]["pngImageData"])[:30]
    ).decode()
    objects = [
        data_object(
            "x",
            annotation("w1", good),
            annotation("w2", seg_content(["rr", "cc"], LEGEND, png="@@not-base64@@")),
            annotation("w3", seg_content(["rr", "cc"], LEGEND, png=truncated_png)),
            annotation("w4", "{not json"),
            annotation("w5", ""),
            annotation("w6", seg_content(["rr", "cc"], LEGEND, size=(3, 3))),
            annotation("w1", seg_content(["..", ".."], LEGEND)),
        ),
        data_object("y", annotation("w1", seg_content(["r"], LEGEND))),
    ]
    response, report, storage = run(tmp_path, objects)
    assert [e["datasetObjectId"] for e in response] == ["x", "y"]
    label, meta = content(response[0])
    assert mask_rows(storage, label) == ["rr", "cc"]
    reasons = {r["workerId"]: r["reason"] for r in meta["rejected-answers"]}
    assert reasons == {
        "w2": "pngImageData is not valid base64",
        "w3": reasons["w3"],
        "w4": "content is not JSON",
        "w5": "content is empty",
        "w6": "mask is 2x2 but inputImageProperties says 3x3",
        "w1": "a second answer from the same worker; the first one is used",
    }
    assert reasons["w3"].startswith("PNG")
    assert report.answers_rejected == 6
    assert report.consolidated == 2


def test_object_with_no_usable_answer_is_returned_with_a_reason(tmp_path: Path) -> None:
    objects = [
        data_object("bad", annotation("w1", seg_content(["r"], LEGEND, png="AAAA"))),
        data_object("none"),
        data_object("ok", annotation("w1", seg_content(["r"], LEGEND))),
    ]
    response, report, _ = run(tmp_path, objects)
    assert [e["datasetObjectId"] for e in response] == ["bad", "none", "ok"]
    label, meta = content(response[0])
    rejected = [{"workerId": "w1", "reason": "pngImageData is not a PNG"}]
    assert label == {
        "type": "groundtruth/semantic-segmentation",
        "failure-reason": "no usable answer (1 received, all rejected)",
        "rejected-answers": rejected,
    }
    assert meta["failure-reason"] == label["failure-reason"]
    assert meta["rejected-answers"] == rejected
    assert content(response[1])[0] == {
        "type": "groundtruth/semantic-segmentation",
        "failure-reason": "no annotations: no worker answered",
    }
    assert report.failed == 2 and report.consolidated == 1


def test_masks_of_a_different_size_than_the_others_are_rejected(tmp_path: Path) -> None:
    objects = [
        data_object(
            "s",
            annotation("w1", seg_content(["rr", "cc"], LEGEND)),
            annotation("w2", seg_content(["rr", "cc"], LEGEND)),
            annotation("w3", seg_content(["rrr", "ccc"], LEGEND)),
        )
    ]
    response, _, _ = run(tmp_path, objects)
    _, meta = content(response[0])
    assert meta["rejected-answers"] == [{"workerId": "w3", "reason": "mask is 3x2, the other answers' are 2x2"}]


def test_pixels_in_labels_outside_the_job_cast_no_vote_and_are_reported(tmp_path: Path) -> None:
    zebra = {"road": "#1f77b4", "zebra": "#000080"}
    objects = [
        data_object(
            "u",
            annotation("w1", seg_content(["rzz."], {"r": "road", "z": "zebra"}, zebra)),
            annotation("w2", seg_content(["rc.."], LEGEND)),
        )
    ]
    response, report, storage = run(tmp_path, objects)
    label, meta = content(response[0])
    # w1's zebra pixels abstain (they are not background): w2 decides pixel 1, pixel 2 stays empty
    assert mask_rows(storage, label) == ["rc.."]
    warning = {
        "workerId": "w1",
        "reason": "67% of the painted pixels are in labels the job does not have (zebra); they cast no vote",
    }
    assert meta["answer-warnings"] == label["answer-warnings"] == [warning]
    assert report.consolidated == 1


def test_an_answer_painted_only_in_labels_outside_the_job_is_rejected_not_read_as_background(tmp_path: Path) -> None:
    bird = seg_content(["bb.", ".b."], {"b": "Bird"}, {"Bird": "#2ca02c"})
    objects = [
        data_object("only-bird", annotation("w1", bird)),
        data_object("bird-and-road", annotation("w1", bird), annotation("w2", seg_content(["rr.", "..."], LEGEND))),
    ]
    response, report, storage = run(tmp_path, objects)
    label, meta = content(response[0])
    reason = {"workerId": "w1", "reason": "painted only in labels the job does not have: Bird"}
    assert label["failure-reason"] == "no usable answer (1 received, all rejected)"
    assert meta["rejected-answers"] == label["rejected-answers"] == [reason]
    label, meta = content(response[1])
    assert mask_rows(storage, label) == ["rr.", "..."]  # from w2 alone: w1 did not vote background
    assert meta["rejected-answers"] == [reason]
    assert report.failed == 1 and report.consolidated == 1 and report.answers_rejected == 2


@pytest.mark.parametrize(
    ("labels", "settings", "job", "expected", "source"),
    [
        (None, Settings(labels=("sign", "road", "car")), None, ["sign", "road", "car"], "configured"),
        (None, Settings(), ["car", "road"], ["car", "road"], "label-category-file"),
        (None, Settings(), None, ["car", "road"], "batch"),
        ([], Settings(algorithm="majority"), None, ["car", "road"], "batch"),
    ],
)
def test_class_keys_without_label_categories(
    tmp_path: Path, labels: Any, settings: Settings, job: Any, expected: list[str], source: str
) -> None:
    objects = [data_object("0", annotation("w1", seg_content(["rc"], {"r": "road", "c": "car"})))]
    response, report, storage = run(tmp_path, objects, labels=labels, settings=settings, job_labels=lambda: job)
    label, meta = content(response[0])
    names = {int(k): v["class-name"] for k, v in label["internal-color-map"].items()}
    assert names == {0: "BACKGROUND", **{i + 1: n for i, n in enumerate(expected)}}
    key = {n: i + 1 for i, n in enumerate(expected)}
    assert read_mask(storage.read(label["mask-ref"])).tolist() == [[key["road"], key["car"]]]
    assert report.label_source == source
    assert ("label-source" in meta) == (source == "batch")


def test_the_same_request_twice_gives_the_same_response_and_bytes(tmp_path: Path) -> None:
    objects = [
        data_object(
            f"id {i}",
            annotation("w1", seg_content(["rc", "p."], LEGEND)),
            annotation("w2", seg_content(["r.", "ps"], LEGEND, OTHER_COLOURS)),
        )
        for i in range(3)
    ]
    first, _, _ = run(tmp_path, objects, settings=Settings(confidence_maps=True))
    files = {p: p.read_bytes() for p in (tmp_path / "s3").rglob("*.png")}
    second, _, _ = run(tmp_path, objects, settings=Settings(confidence_maps=True))
    assert first == second
    assert {p: p.read_bytes() for p in (tmp_path / "s3").rglob("*.png")} == files
    assert len(files) == 6  # a mask and a confidence map per object


def test_distinct_awkward_ids_get_distinct_safe_keys(tmp_path: Path) -> None:
    ids = ["a/b", "a b", "a-b", "../../etc", "ünïcode", "a_b"]
    objects = [data_object(i, annotation("w1", seg_content(["r"], LEGEND))) for i in ids]
    response, _, _ = run(tmp_path, objects)
    refs = [content(e)[0]["mask-ref"] for e in response]
    assert len(set(refs)) == len(ids)
    for ref in refs:
        name = ref.rsplit("/", 1)[1]
        assert ref == f"s3://job-bucket/job/annotations/consolidated-annotation/output/{name}"
        assert "/" not in name and ".." not in name and name.isascii()


def test_duplicate_dataset_object_ids_give_one_entry_with_all_answers(tmp_path: Path) -> None:
    objects = [
        data_object("d", annotation("w1", seg_content(["rc"], LEGEND))),
        data_object("d", annotation("w2", seg_content(["rc"], LEGEND))),
    ]
    response, _, _ = run(tmp_path, objects)
    assert len(response) == 1
    assert content(response[0])[0]["confidence"] == 1.0


def test_objects_not_reached_before_the_deadline_come_back_with_a_reason(tmp_path: Path) -> None:
    objects = [data_object(str(i), annotation("w1", seg_content(["r"], LEGEND))) for i in range(3)]
    response, report, _ = run(tmp_path, objects, remaining_ms=lambda: 5_000, settings=Settings(threads=1))
    assert len(response) == 3
    assert all(
        content(e)[0]["failure-reason"].startswith("not reached before the Lambda's time limit") for e in response
    )
    assert report.failed == 3
    assert {content(e)[1]["type"] for e in response} == {"groundtruth/semantic-segmentation"}  # nothing read


CUSTOM_ANSWER = json.dumps({"review": {"comment": "two cars", "stars": 4}})


def test_objects_not_reached_are_typed_like_the_rest_of_their_batch(tmp_path: Path) -> None:
    answer = CUSTOM_ANSWER
    objects = [data_object(str(i), annotation("w1", answer)) for i in range(3)]
    calls = iter(range(100))
    # the deadline checks: 3 in phase 1, then one per object in phase 2: the last two are too late
    response, report, _ = run(
        tmp_path, objects, remaining_ms=lambda: 60_000 if next(calls) < 4 else 5_000, settings=Settings(threads=1)
    )
    assert "annotationsFromAllWorkers" in content(response[0])[0]
    assert [content(e)[1]["type"] for e in response] == ["groundtruth/custom"] * 3
    assert report.failed == 2


def test_a_failed_object_of_a_pass_through_batch_is_typed_like_the_rest(tmp_path: Path) -> None:
    objects = [data_object("a", annotation("w1", CUSTOM_ANSWER)), data_object("b", annotation("w1", "{not json"))]
    response, report, _ = run(tmp_path, objects)
    assert [content(e)[1]["type"] for e in response] == ["groundtruth/custom"] * 2
    assert report.failed == 1


def test_unrecognised_answers_pass_through_unchanged(tmp_path: Path) -> None:
    answer = CUSTOM_ANSWER
    response, _, _ = run(tmp_path, [data_object("b", annotation("w1", answer))])
    label, meta = content(response[0])
    assert label["annotationsFromAllWorkers"] == [{"workerId": "w1", "annotationData": {"content": answer}}]
    assert meta["type"] == "groundtruth/custom"


def test_answer_from_s3_uri_inside_and_outside_the_job_bucket(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "s3")
    storage.write("s3://job-bucket/answers/w1.json", seg_content(["rc"], LEGEND).encode(), "application/json")
    storage.write("s3://elsewhere/w2.json", seg_content(["cc"], LEGEND).encode(), "application/json")
    objects = [
        {
            "datasetObjectId": "0",
            "annotations": [
                {"workerId": "w1", "annotationData": {"s3Uri": "s3://job-bucket/answers/w1.json"}},
                {"workerId": "w2", "annotationData": {"s3Uri": "s3://elsewhere/w2.json"}},
                {"workerId": "w3", "annotationData": {"s3Uri": "s3://job-bucket/answers/missing.json"}},
            ],
        }
    ]
    response, _, storage = run(tmp_path, objects)
    label, meta = content(response[0])
    assert mask_rows(storage, label) == ["rc"]
    reasons = {r["workerId"]: r["reason"] for r in meta["rejected-answers"]}
    assert reasons["w2"] == "annotationData.s3Uri points outside the job's buckets; not read"
    assert reasons["w3"].startswith("annotationData.s3Uri unreadable: cannot read")


def test_an_unforeseen_error_fails_only_its_object_and_logs_no_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tally.tasks.semantic_segmentation import adapter as segmentation

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("secret worker data")

    monkeypatch.setattr(segmentation, "encode_palette_png", explode)
    objects = [data_object("0", annotation("w1", seg_content(["r"], LEGEND)))]
    response, report, _ = run(tmp_path, objects)
    assert content(response[0])[0] == {
        "type": "groundtruth/semantic-segmentation",
        "failure-reason": "internal error (ValueError)",
    }
    assert report.failed == 1
    assert "secret worker data" not in caplog.text
    assert "object not consolidated: ValueError" in caplog.text
