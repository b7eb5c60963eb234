"""Nothing dropped, ever: every field of every worker's answer in every gallery example
(tests/fixtures/gt-templates/answers) goes through ``tally consolidate --template`` and is found in the
output: in a consolidated field that counted or named the worker, in a field kept as given with the
worker's value as submitted, under the task a lone element went to, or passed through verbatim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tally.tools.cli import main

GALLERY = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"
NAMES = sorted(p.stem for p in (GALLERY / "answers").glob("*.json"))
ATTR = "label"


def template_of(name: str) -> Path:
    found = [p for p in GALLERY.glob("*/*.html") if p.name.split(".")[0] == name]
    assert len(found) == 1, (name, found)
    return found[0]


def _workers_named(label: dict[str, Any], name: str, entry: dict[str, Any]) -> set[str]:
    """Every worker a consolidated field names: who counted (the form's worker-quality rows with figures
    for the field), who was left out with a reason, who chose nothing."""
    named = {row["workerId"] for row in label.get("worker-quality", []) if name in row}
    named |= {row["workerId"] for row in entry.get("rejected-answers", [])}
    named |= {row["workerId"] for row in entry.get("answer-warnings", [])}
    named |= set(entry.get("no-answer", []))
    return named


def _found(
    label: dict[str, Any], meta: dict[str, Any], worker: str, key: str, content: dict[str, Any], raw: str
) -> str:
    """Where the worker's ``key`` is in the object's label (raises when nowhere)."""
    if "annotationsFromAllWorkers" in label:  # passed through: the worker's JSON byte for byte
        given = [a["annotationData"]["content"] for a in label["annotationsFromAllWorkers"] if a["workerId"] == worker]
        assert given == [raw], (worker, key)
        return "verbatim"
    if "fields" not in label:  # one element consolidated by its task: the worker counted or was refused
        workers = {row["workerId"] for row in label.get("worker-quality", [])}
        workers |= {row["workerId"] for row in meta.get("rejected-answers", [])}
        assert worker in workers, (worker, key)
        return "task"
    for name, entry in label["fields"].items():
        if key not in entry.get("keys", [name]):
            continue
        if entry["consolidated"]:
            assert worker in _workers_named(label, name, entry), (worker, key, name)
            return "consolidated"
        given = [a["value"] for a in entry["answers"] if a["workerId"] == worker]
        keys = entry.get("keys", [name])
        expected = content[key] if keys == [name] else {k: content[k] for k in keys if k in content}
        assert given == [expected], (worker, key, name)
        return "kept"
    leftovers = [row["content"] for row in label.get("leftovers", []) if row["workerId"] == worker]
    assert leftovers and leftovers[0][key] == content[key], (worker, key)
    return "leftover"


@pytest.mark.parametrize("name", NAMES)
def test_every_field_of_every_answer_is_in_the_output(name: str, tmp_path: Path) -> None:
    payload = GALLERY / "answers" / f"{name}.json"
    out = tmp_path / "out"
    code = main(["consolidate", str(payload), "--template", str(template_of(name)), "--out", str(out), "--no-progress"])
    assert code == 0
    lines = (out / "results.jsonl").read_text().splitlines()
    entries = {json.loads(line)["datasetObjectId"]: json.loads(line) for line in lines}
    objects = json.loads(payload.read_text())
    assert set(entries) == {o["datasetObjectId"] for o in objects}
    where: set[str] = set()
    for obj in objects:
        content_of = entries[obj["datasetObjectId"]]["consolidatedAnnotation"]["content"]
        label, meta = content_of[ATTR], content_of[f"{ATTR}-metadata"]
        for annotation in obj["annotations"]:
            raw = annotation["annotationData"]["content"]
            content = json.loads(raw)
            assert content, name
            for key in content:
                where.add(_found(label, meta, annotation["workerId"], key, content, raw))
    assert where  # every key was found somewhere (the assertions above say where it was not)


def test_the_gallery_forms_consolidate_their_questions_and_keep_the_rest_visibly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What each multi-field gallery form comes back as: per field, consolidated or kept as given."""
    kinds: dict[str, dict[str, tuple[str, bool]]] = {}
    for name in NAMES:
        out = tmp_path / name
        main(["consolidate", str(GALLERY / "answers" / f"{name}.json"), "--template", str(template_of(name)),
              "--out", str(out), "--no-progress"])  # fmt: skip
        first = json.loads((out / "results.jsonl").read_text().splitlines()[0])
        label = first["consolidatedAnnotation"]["content"][ATTR]
        if "fields" in label:
            kinds[name] = {f: (e["kind"], e["consolidated"]) for f, e in label["fields"].items()}
    capsys.readouterr()
    assert kinds["named-entity-recognition-with-additional-classification"] == {
        "crowd-entity-annotation": ("annotation", True),
        "tech|politics": ("single-choice", True),
    }
    assert kinds["ocr"] == {"transcription": ("annotation", True), "receiptDate": ("text", False)}
    assert kinds["semantic-segmentation-bounding-box-validation"] == {
        "incorrectSegments": ("annotation", True),
        "segmentationOpacity": ("number", False),
    }
    assert kinds["bounding-box-hierarchical"] == {"_": ("unknown", False), "instances": ("json", True)}
    assert kinds["image-classification-with-dropdown-select"] == {"animal": ("single-choice", True)}
    assert kinds["content-moderation-ai-model-output"] == {
        "toxicity": ("single-choice", True),
        "nature-of-toxicity": ("multi-choice", True),
        "additional-context": ("text", False),
    }
    assert set(kinds) == {
        "bounding-box-hierarchical",
        "content-evaluation",
        "content-moderation-ai-model-output",
        "dynamic-two-tier-image-classification",
        "formatted-text-evaluation",
        "image-classification-with-dropdown-select",
        "image-classification-with-subcategory",
        "multi-modal-content-evaluation",
        "named-entity-recognition-with-additional-classification",
        "ocr",
        "semantic-segmentation-bounding-box-validation",
        "sentiment-analysis-multiple-documents",
        "side-by-side-comparison",
        "translation-quality",
        "translation-review-and-correction",
    }
