"""Classification and named entities through the batch driver: hand-made crowds with known truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tally import Settings
from tests.core.batch import content, run
from tests.helpers import annotation
from tests.project import SHARED

ANIMALS = ["Dog", "Cat", "Bird"]


def answer(label: str, name: str = "crowd-image-classifier") -> str:
    return json.dumps({name: {"label": label}})


def obj(object_id: str, *votes: tuple[str, str], text: str | None = None) -> dict[str, Any]:
    data = {"content": text} if text is not None else {"s3Uri": f"s3://bucket/images/{object_id}.jpg"}
    return {
        "datasetObjectId": object_id,
        "dataObject": data,
        "annotations": [annotation(worker, answer(label)) for worker, label in votes],
    }


def swap(label: str) -> str:
    return {"Dog": "Cat", "Cat": "Dog"}.get(label, label)


def test_a_worker_who_swaps_two_classes_is_corrected_and_a_lone_answer_gets_their_record(tmp_path: Path) -> None:
    truth = ["Dog", "Cat", "Dog", "Cat", "Bird", "Dog", "Cat", "Bird"]
    objects = [obj(str(i), ("careful-1", t), ("careful-2", t), ("swapper", swap(t))) for i, t in enumerate(truth)]
    objects.append(obj("lone", ("swapper", "Cat")))  # only the swapper answered: their "Cat" is a Dog
    response, report, _ = run(tmp_path, objects, labels=ANIMALS)
    labels = {e["datasetObjectId"]: content(e)[0] for e in response}
    assert [labels[str(i)]["class-name"] for i in range(len(truth))] == truth
    lone = labels["lone"]
    assert (lone["class-id"], lone["class-name"]) == (0, "Dog")
    assert 0.5 < lone["confidence"] < 1.0
    quality = {q["workerId"]: q for q in labels["0"]["worker-quality"]}
    # nine objects: the prior (a new worker is presumed 70 % accurate) still pulls both toward it
    assert quality["careful-1"]["accuracy"] > 0.8 > 0.55 > quality["swapper"]["accuracy"]
    assert quality["swapper"]["informativeness"] > 0.2  # swapped answers are telling once decoded
    meta = content(response[0])[1]
    assert meta["type"] == "groundtruth/image-classification"
    assert meta["class-name"] == "Dog" and meta["confidence"] == labels["0"]["confidence"]
    assert report.consolidated == 9 and report.failed == 0


def test_a_spammer_weighs_nothing(tmp_path: Path) -> None:
    truth = ["Dog", "Cat", "Bird", "Cat", "Dog", "Bird", "Cat", "Dog", "Bird", "Cat"]
    objects = [obj(str(i), ("good-1", t), ("good-2", t), ("spammer", "Dog")) for i, t in enumerate(truth)]
    objects.append(obj("dispute", ("good-1", "Bird"), ("spammer", "Dog")))
    response, _, _ = run(tmp_path, objects, labels=ANIMALS)
    labels = {e["datasetObjectId"]: content(e)[0] for e in response}
    assert labels["dispute"]["class-name"] == "Bird"
    quality = {q["workerId"]: q for q in labels["dispute"]["worker-quality"]}
    assert quality["spammer"]["informativeness"] < 0.1 < 0.4 < quality["good-1"]["informativeness"]


def test_a_worker_who_only_answered_alone_has_no_figures(tmp_path: Path) -> None:
    # GIVEN two careful workers on six objects, and a newcomer who answered one object nobody else did
    truth = ["Dog", "Cat", "Bird", "Dog", "Cat", "Bird"]
    objects = [obj(str(i), ("good-1", t), ("good-2", t)) for i, t in enumerate(truth)]
    objects.append(obj("alone", ("newcomer", "Cat")))
    response, _, _ = run(tmp_path, objects, labels=ANIMALS)
    labels = {e["datasetObjectId"]: content(e)[0] for e in response}
    # THEN the newcomer's confusion matrix is the prior's presumption: no accuracy, no informativeness
    # (before: 0.7 and 0.32, a score nobody measured); their answer still stands
    assert labels["alone"]["worker-quality"] == [{"workerId": "newcomer", "accuracy": None, "informativeness": None}]
    assert labels["alone"]["class-name"] == "Cat"
    # the careful workers agreed on six objects (two per class): measured, and pulled toward the 70 %
    # presumption by its 4 pseudo-answers per class
    assert labels["0"]["worker-quality"] == [
        {"workerId": "good-1", "accuracy": 0.7884, "informativeness": 0.3968},
        {"workerId": "good-2", "accuracy": 0.7884, "informativeness": 0.3968},
    ]
    multi_objects = [
        {"datasetObjectId": "m", "annotations": [annotation("newcomer", multi("Dog"))]},
        {"datasetObjectId": "n", "annotations": [annotation("a", multi("Dog")), annotation("b", multi("Dog"))]},
    ]
    multi_response, _, _ = run(tmp_path / "multi", multi_objects, labels=ANIMALS)
    assert content(multi_response[0])[0]["worker-quality"] == [
        {"workerId": "newcomer", "accuracy": None, "informativeness": None}
    ]


def test_text_objects_are_text_classification_and_unknown_labels_are_rejected(tmp_path: Path) -> None:
    objects = [
        obj("t", ("w1", "Dog"), ("w2", "Dog"), ("w3", "Wolf"), text="A dog barks."),
        obj("i", ("w1", "Cat"), ("w2", "Cat")),
    ]
    response, report, _ = run(tmp_path, objects, labels=ANIMALS)
    label, meta = content(response[0])
    assert meta["type"] == label["type"] == "groundtruth/text-classification"
    assert label["class-name"] == "Dog"
    assert meta["rejected-answers"] == [{"workerId": "w3", "reason": "label not among the job's labels: Wolf"}]
    assert content(response[1])[1]["type"] == "groundtruth/image-classification"
    assert report.answers_rejected == 1


def multi(*labels: str) -> str:
    return json.dumps({"crowd-image-classifier-multi-select": {"labels": list(labels)}})


def test_multi_label_answers_are_decided_per_label(tmp_path: Path) -> None:
    rows = [
        ("0", [("w1", ["Dog", "Cat"]), ("w2", ["Dog", "Cat"]), ("w3", ["Dog"])]),
        ("1", [("w1", ["Bird"]), ("w2", ["Bird"]), ("w3", ["Bird", "Cat"])]),
        ("2", [("w1", []), ("w2", []), ("w3", ["Dog"])]),
        ("3", [("w1", ["Dog", "Bird"]), ("w2", ["Dog", "Bird"]), ("w3", ["Dog", "Bird"])]),
    ]
    objects = [
        {"datasetObjectId": i, "annotations": [annotation(w, multi(*ls)) for w, ls in votes]} for i, votes in rows
    ]
    response, _, _ = run(tmp_path, objects, labels=ANIMALS)
    labels = [content(e)[0] for e in response]
    assert [lab["class-names"] for lab in labels] == [["Dog", "Cat"], ["Bird"], [], ["Dog", "Bird"]]
    assert labels[0]["class-ids"] == [0, 1] and labels[0]["class-map"] == {"0": "Dog", "1": "Cat"}
    assert set(labels[3]["confidence-map"]) == {"0", "2"}
    meta = content(response[0])[1]
    assert meta["type"] == "groundtruth/image-classification-multilabel"
    assert meta["class-map"] == labels[0]["class-map"] and meta["confidence-map"] == labels[0]["confidence-map"]


def entities(*spans: tuple[str, int, int]) -> str:
    return json.dumps(
        {
            "crowd-entity-annotation": {
                "entities": [{"label": lab, "startOffset": s, "endOffset": e} for lab, s, e in spans]
            }
        }
    )


def test_named_entities_are_voted_with_a_confidence_each(tmp_path: Path) -> None:
    text = "Sift 3 cups of flour into the bowl."
    objects = [
        {
            "datasetObjectId": "0",
            "dataObject": {"content": text},
            "annotations": [
                annotation("w1", entities(("verb", 0, 4), ("number", 5, 6), ("object", 15, 20))),
                annotation("w2", entities(("verb", 0, 4), ("object", 15, 20), ("object", 30, 34))),
                annotation("w3", entities(("verb", 0, 4), ("number", 5, 6), ("object", 14, 20))),
                annotation("w4", entities(("verb", 0, 4), ("verb", 30, 40))),  # past the text's end
            ],
        }
    ]
    response, report, _ = run(tmp_path, objects, labels=["verb", "number", "object"])
    label, meta = content(response[0])
    found = [(e["label"], e["startOffset"], e["endOffset"]) for e in label["annotations"]["entities"]]
    # "object" 15-20: w1 and w2 exactly, w3 one character early; "bowl" (30-34) by one worker of three
    assert found == [("verb", 0, 4), ("number", 5, 6), ("object", 15, 20)]
    assert label["annotations"]["labels"] == [{"label": "verb"}, {"label": "number"}, {"label": "object"}]
    assert label["annotations"]["entities"][0]["confidence"] == 1.0
    assert meta["type"] == "groundtruth/named-entity-recognition"
    assert meta["rejected-answers"] == [
        {"workerId": "w4", "reason": "an entity's offsets lie outside the text or run backwards"}
    ]
    assert report.consolidated == 1


def test_a_worker_whose_every_text_nobody_else_marked_has_no_weight_or_agreement(tmp_path: Path) -> None:
    text = "Sift 3 cups of flour into the bowl."
    answer = entities(("verb", 0, 4), ("number", 5, 6))
    objects = [
        {
            "datasetObjectId": "0",
            "dataObject": {"content": text},
            "annotations": [annotation("w1", answer), annotation("w2", answer)],
        },
        {
            "datasetObjectId": "1",
            "dataObject": {"content": text},
            "annotations": [annotation("alone", entities(("verb", 0, 4)))],
        },
    ]
    response, _, _ = run(tmp_path, objects, labels=["verb", "number", "object"])
    # the lone worker was never compared with anyone: no agreement, and its weight (the crowd's mean)
    # is no figure of theirs; w1 and w2 agreed fully (the mean of 1 shrunk with 3 pseudo-objects: 1)
    assert content(response[1])[0]["worker-quality"] == [{"workerId": "alone", "weight": None, "agreement": None}]
    assert content(response[0])[0]["worker-quality"] == [
        {"workerId": "w1", "weight": 1.0, "agreement": 1.0},
        {"workerId": "w2", "weight": 1.0, "agreement": 1.0},
    ]


def test_the_documented_named_entity_payload_comes_back_as_its_one_workers_entities(tmp_path: Path) -> None:
    objects = json.loads((SHARED / "data" / "real" / "dg-lambda-requirements" / "ner.json").read_text())
    response, _, _ = run(tmp_path, objects, labels=["verb", "number", "object"])
    label, _ = content(response[0])
    assert [(e["label"], e["startOffset"], e["endOffset"]) for e in label["annotations"]["entities"]] == [
        ("verb", 0, 4),
        ("number", 5, 6),
        ("object", 15, 20),
        ("object", 30, 34),
    ]


def test_the_real_text_classification_job_gives_its_authors_labels(tmp_path: Path) -> None:
    real = SHARED / "data" / "real" / "ppi-crowd-classifier"
    objects = json.loads((real / "payload.json").read_text())
    expected = {
        e["datasetObjectId"]: e["consolidatedAnnotation"]["content"]
        for e in json.loads((real / "expected_by_author.json").read_text())
    }
    response, report, _ = run(tmp_path, objects, labels=None, settings=Settings())
    for entry in response:
        label, meta = content(entry)
        want = next(iter(expected[entry["datasetObjectId"]].values()))["result"]
        assert label["class-name"] == want
        assert meta["type"] == "groundtruth/text-classification"
    assert report.label_source == "batch"


@pytest.mark.parametrize("shape", [{"label": 3}, {"labels": "Dog"}, {"entities": "none"}])
def test_answers_of_a_broken_shape_are_not_mistaken_for_a_task(tmp_path: Path, shape: dict[str, Any]) -> None:
    objects = [{"datasetObjectId": "0", "annotations": [annotation("w1", json.dumps({"x": shape}))]}]
    response, _, _ = run(tmp_path, objects, labels=ANIMALS)
    label, meta = content(response[0])
    assert meta["type"] == "groundtruth/custom" and "annotationsFromAllWorkers" in label
