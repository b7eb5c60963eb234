"""A batch of forms through the driver (tally.consolidate.consolidate_batch): every field consolidated by
the task for its kind or kept as given, with its own model and worker statistics; the form's shape in
content[<attr>]; misfits as reasons; the template read, or the form inferred and said so."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tally.consolidate import BatchReport, consolidate_batch
from tally.forms.consolidate import JobTemplate
from tally.gt.events import ConsolidationRequest
from tally.settings import Settings
from tally.storage import MemoryStorage
from tally.worker_store import InMemoryWorkerStore
from tests.helpers import annotation, data_object

PAYLOAD = "s3://bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/b.json"
TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier name="animal" src="{{ task.input.taskObject | grant_read_access }}"
      categories="['Cat', 'Dog']" header="Which animal?"></crowd-image-classifier>
  <crowd-radio-group>
    <crowd-radio-button name="indoor" value="indoor">Indoor</crowd-radio-button>
    <crowd-radio-button name="outdoor" value="outdoor">Outdoor</crowd-radio-button>
  </crowd-radio-group>
  <crowd-slider name="quality" min="1" max="5" step="1"></crowd-slider>
  <crowd-input name="comment"></crowd-input>
</crowd-form>"""


def answer(animal: str, place: str | None, quality: Any = 3, comment: str | None = None, **more: Any) -> str:
    content: dict[str, Any] = {"animal": {"label": animal}, "quality": quality}
    if place is not None:
        content["indoor"] = {"indoor": place in ("indoor", "both")}
        content["outdoor"] = {"outdoor": place in ("outdoor", "both")}
    if comment is not None:
        content["comment"] = comment
    content.update(more)
    return json.dumps(content)


def run(objects: list[Any], template: str | None = TEMPLATE, **kwargs: Any) -> BatchReport:
    storage = MemoryStorage({PAYLOAD: json.dumps(objects).encode()})
    request = ConsolidationRequest.parse(
        {"labelAttributeName": "pets", "payload": {"s3Uri": PAYLOAD},
         "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets"}
    )  # fmt: skip
    found = JobTemplate(template) if template is not None else JobTemplate(note="no template (test)")
    return consolidate_batch(request, storage, form_template=lambda: found, **kwargs)


def label_of(report: BatchReport, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    content = report.response[i]["consolidatedAnnotation"]["content"]
    return content["pets"], content["pets-metadata"]


OBJECTS = [
    data_object(
        "0",
        annotation("w1", answer("Cat", "indoor", 4, comment="a kitten")),
        annotation("w2", answer("Cat", "indoor", 5)),
        annotation("w3", answer("Dog", "outdoor", 4)),
    ),
    data_object(
        "1",
        annotation("w1", answer("Dog", "outdoor", 2)),
        annotation("w2", answer("Dog", "both", 2)),  # two buttons of one question: a misfit for that field only
        annotation("w3", answer("Dog", "outdoor", 9)),  # above the slider's maximum
    ),
]


def test_every_field_is_consolidated_by_its_kind_or_kept_as_given() -> None:
    report = run(OBJECTS)
    label, meta = label_of(report, 0)
    assert label["type"] == meta["type"] == "groundtruth/custom"
    assert label["schema-source"] == meta["schema-source"] == "template"
    fields = label["fields"]
    assert list(fields) == ["animal", "indoor|outdoor", "quality", "comment"]
    animal = fields["animal"]
    assert (animal["kind"], animal["consolidated"], animal["value"], animal["answers-used"]) == (
        "single-choice",
        True,
        "Cat",
        3,
    )
    rows = label["worker-quality"]  # per worker who answered, their figures per field
    assert [row["workerId"] for row in rows] == ["w1", "w2", "w3"]
    assert [sorted(row) for row in rows] == [
        ["animal", "comment", "indoor|outdoor", "quality", "workerId"],
        ["animal", "indoor|outdoor", "quality", "workerId"],  # no comment: absent from their answers
        ["animal", "indoor|outdoor", "quality", "workerId"],
    ]
    assert set(rows[0]["animal"]) == {"accuracy", "informativeness"}
    assert set(rows[0]["quality"]) == {"offset", "noise", "random-share"}  # the number's figures, its own
    assert rows[0]["comment"] == {"accuracy": None, "weight": None}  # compared with nobody: no evidence
    place = fields["indoor|outdoor"]
    assert (place["kind"], place["keys"], place["value"]) == ("single-choice", ["indoor", "outdoor"], "indoor")
    assert fields["quality"] == {  # the slider by its kind, on its template's scale
        "kind": "number",
        "consolidated": True,
        "value": 4,
        "interval": [3, 5],
        "scale": {"min": 1, "max": 5, "step": 1, "from": "template"},
        "answers": [
            {"workerId": "w1", "value": 4, "weight": 0.402},
            {"workerId": "w2", "value": 5, "weight": 0.2192},
            {"workerId": "w3", "value": 4, "weight": 0.3788},
        ],
        "confidence": 0.5,
        "answers-used": 3,
    }
    assert fields["comment"] == {  # one answer (absent for w2, w3): it is the consensus
        "kind": "text",
        "consolidated": True,
        "value": "a kitten",
        "method": "medoid",
        "answers": [{"workerId": "w1", "text": "a kitten", "agreement": 1.0}],
        "confidence": 1.0,
        "answers-used": 1,
    }
    assert label["confidence"] == meta["confidence"] == 0.5  # the least sure field's: the slider's
    assert meta["fields-consolidated"] == ["animal", "comment", "indoor|outdoor", "quality"]
    assert meta["fields-kept-as-given"] == []
    assert report.consolidated == 2 and report.passed_through == 0 and report.failed == 0
    assert {n: (t.consolidated, t.kept) for n, t in report.fields.items()} == {
        "animal": (2, 0),
        "indoor|outdoor": (2, 0),
        "quality": (2, 0),
        "comment": (1, 0),
    }


def test_a_value_that_does_not_fit_leaves_only_that_field_with_a_reason() -> None:
    report = run(OBJECTS)
    label, meta = label_of(report, 1)
    place = label["fields"]["indoor|outdoor"]
    assert place["value"] == "outdoor"
    assert place["rejected-answers"] == [
        {"workerId": "w2", "reason": "2 options of one radio question chosen: indoor, outdoor"}
    ]
    rated = {row["workerId"]: sorted(row) for row in label["worker-quality"]}
    assert rated == {
        "w1": ["animal", "indoor|outdoor", "quality", "workerId"],
        "w2": ["animal", "quality", "workerId"],  # left out of the radio question's vote
        "w3": ["animal", "indoor|outdoor", "workerId"],  # left out of the slider's
    }
    quality = label["fields"]["quality"]
    assert (quality["value"], quality["answers-used"]) == (2, 2)
    assert quality["rejected-answers"] == [{"workerId": "w3", "reason": "9 is above the maximum 5"}]
    assert meta["answer-warnings"] == [
        {"workerId": "w2", "reason": "field 'indoor|outdoor': 2 options of one radio question chosen: indoor, outdoor"},
        {"workerId": "w3", "reason": "field 'quality': 9 is above the maximum 5"},
    ]
    assert "rejected-answers" not in meta  # the answers counted for the form's other fields
    assert report.answers_rejected == 0


def test_each_field_keeps_its_own_worker_statistics_in_the_worker_store() -> None:
    store = InMemoryWorkerStore()
    report = run(OBJECTS, worker_store=store)
    assert report.worker_model.value == "job"
    job = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets"
    for name in ("form-field/animal/classification/2x2", "form-field/indoor%7Coutdoor/classification/2x2"):
        assert set(store.load(job, name, "a later batch", ["w1", "w2", "w3"]).prior) == {"w1", "w2", "w3"}
    assert store.load(job, "classification/2x2", "a later batch", ["w1"]).prior == {}  # nothing unscoped


def test_without_a_template_the_form_is_inferred_and_the_label_says_so() -> None:
    objects = [
        data_object(str(i), *(annotation(f"w{k}", answer(a, p)) for k, (a, p) in enumerate(votes)))
        for i, votes in enumerate([[("Cat", "indoor")] * 3, [("Dog", "outdoor")] * 2 + [("Cat", "outdoor")]])
    ]
    report = run(objects, template=None)
    label, meta = label_of(report, 1)
    assert label["schema-source"] == meta["schema-source"] == "inferred"
    assert label["schema-note"] == "no template (test)"
    assert label["fields"]["animal"]["value"] == "Dog"
    assert label["fields"]["indoor|outdoor"]["value"] == "outdoor"  # the buttons' keys sorted
    assert label["fields"]["animal"]["options-from"] == "answers"


def test_a_single_annotation_element_keeps_the_task_path() -> None:
    objects = [data_object("0", *(annotation(f"w{k}", json.dumps({"animal": {"label": "Cat"}})) for k in range(3)))]
    label, _ = label_of(run(objects), 0)
    assert "fields" not in label and label["class-name"] == "Cat"
    assert label["type"] == "groundtruth/image-classification"


def test_a_select_alone_is_a_question_not_a_pass_through() -> None:
    template = '<crowd-form><select name="animal"><option>Cat</option><option>Dog</option></select></crowd-form>'
    objects = [
        data_object("0", *(annotation(f"w{k}", json.dumps({"animal": v})) for k, v in enumerate(["Cat", "Cat", "Dog"])))
    ]
    report = run(objects, template=template)
    label, _ = label_of(report, 0)
    assert label["fields"]["animal"]["value"] == "Cat"
    assert report.consolidated == 1 and report.passed_through == 0


def test_a_form_with_nothing_to_consolidate_is_counted_as_passed_through() -> None:
    template = '<crowd-form><crowd-dial name="q"></crowd-dial><crowd-dial name="c"></crowd-dial></crowd-form>'
    objects = [data_object("0", annotation("w1", json.dumps({"q": 3, "c": "ok"})), annotation("w2", '{"q": 4}'))]
    report = run(objects, template=template)
    label, meta = label_of(report, 0)
    assert "confidence" not in label and "confidence" not in meta
    assert report.consolidated == 0 and report.passed_through == 1
    assert report.mean_confidence is None


def test_keys_no_field_claims_are_kept_as_given_too() -> None:
    objects = [
        data_object(
            str(i),
            annotation("w1", answer("Cat", "indoor", extra={"nested": [1, 2]})),
            annotation("w2", answer("Cat", "indoor")),
            annotation("w3", answer("Cat", "indoor")),
        )
        for i in range(2)
    ]
    label, _ = label_of(run(objects), 0)
    extra = label["fields"]["extra"]
    assert (extra["kind"], extra["consolidated"]) == ("unknown", False)
    assert extra["answers"] == [{"workerId": "w1", "value": {"nested": [1, 2]}}]


def test_an_object_without_readable_answers_fails_with_its_reason_and_the_others_go_on() -> None:
    objects = [OBJECTS[0], data_object("bad", annotation("w1", "not json"))]
    report = run(objects)
    label, meta = label_of(report, 1)
    assert label["failure-reason"] == "no usable answer (1 received, all rejected)"
    assert meta["rejected-answers"] == [{"workerId": "w1", "reason": "content is not JSON"}]
    assert label_of(report, 0)[0]["fields"]["animal"]["value"] == "Cat"
    assert report.failed == 1 and report.consolidated == 1


def test_video_classification_comes_back_typed_as_video() -> None:
    """The gallery's video-classification template is a lone crowd-classifier over a video (.mp4)."""
    objects = [
        {
            "datasetObjectId": str(i),
            "dataObject": {"s3Uri": f"s3://bucket/clips/{i}.mp4"},
            "annotations": [annotation(f"w{k}", json.dumps({"category": {"label": v}})) for k, v in enumerate(votes)],
        }
        for i, votes in enumerate([["News", "News", "Sports"], ["Music", "Music", "Music"]])
    ]
    report = run(objects, template=None)
    labels = [label_of(report, i) for i in range(2)]
    assert [(label["type"], meta["type"], label["class-name"]) for label, meta in labels] == [
        ("groundtruth/video-classification", "groundtruth/video-classification", "News"),
        ("groundtruth/video-classification", "groundtruth/video-classification", "Music"),
    ]
    multi = [{**objects[0], "annotations": [annotation("w1", json.dumps({"c": {"labels": ["News"]}}))]}]
    assert label_of(run(multi, template=None), 0)[0]["type"] == "groundtruth/video-classification-multilabel"


def test_hierarchical_boxes_keep_their_parent_links_remapped_to_the_consolidated_boxes() -> None:
    """The gallery's bounding-box-hierarchical: boxes with ids and parent ids as a JSON string in a hidden input."""
    from pathlib import Path

    gallery = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"
    objects = json.loads((gallery / "answers" / "bounding-box-hierarchical.json").read_text())
    template = (gallery / "images" / "bounding-box-hierarchical.liquid.html").read_text()
    label, _ = label_of(run(objects, template=template), 0)
    boxes = label["fields"]["instances"]["value"]
    names = boxes["class-map"]
    # careful: FINGER in HAND in PERSON, FOOT in PERSON; hasty: no HAND, FINGER a root; sloppy: no FINGER
    assert [(names[str(b["class_id"])], b["id"], b["parent"]) for b in boxes["annotations"]] == [
        ("FINGER", "0", None),  # one worker says in the hand, one says a root: no parent agreed
        ("FOOT", "1", "3"),
        ("HAND", "2", "3"),
        ("PERSON", "3", None),
    ]


def test_the_documented_form_label_is_what_tally_returns(tmp_path: Any) -> None:
    """docs/output-format.md's example: the gallery's content-moderation form, its first object."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    gallery = root / "tests" / "fixtures" / "gt-templates"
    name = "content-moderation-ai-model-output"
    objects = json.loads((gallery / "answers" / f"{name}.json").read_text())
    label, _ = label_of(run(objects, template=(gallery / "gen-ai" / f"{name}.liquid.html").read_text()), 0)
    text = (root / "docs" / "output-format.md").read_text()
    documented = json.loads(text.split("<!-- form-label-example -->")[1].split("```json")[1].split("```")[0])
    assert label == documented
    assert list(label["fields"]) == list(documented["fields"])  # the template's order


def test_ocr_workers_whose_items_no_instance_kept_are_named_with_a_reason() -> None:
    """The gallery's OCR form: polygons labelled with the transcribed text, so a misspelling is a label of
    its own; such an item in no kept instance is counted per worker, never silently gone."""
    from pathlib import Path

    gallery = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"
    objects = json.loads((gallery / "answers" / "ocr.json").read_text())
    label, _ = label_of(run(objects, template=(gallery / "images" / "ocr.liquid.html").read_text()), 0)
    transcription = label["fields"]["transcription"]
    reason = "in no kept instance: too few other workers drew them there with the same label"
    # careful wrote 'EGGS 12 3.15' (hasty 'EGG 112 3.15', sloppy 'EGGS21  3.1155'); sloppy 'MILK 2L   111.9'
    assert transcription["unkept-items"] == [
        {"workerId": "private.us-east-1.careful", "items": 1, "reason": reason},
        {"workerId": "private.us-east-1.sloppy", "items": 1, "reason": reason},
    ]
    recall = {row["workerId"]: row["transcription"]["recall"] for row in label["worker-quality"]}
    assert recall["private.us-east-1.careful"] is None  # no item two others drew: no evidence, not 0.0


def test_a_form_response_over_the_limit_loses_nothing() -> None:
    """The response sink on forms: the per-field worker figures are the batch's (moved once per batch),
    then labels trimmed or spilled; read back through their refs, every label is as built."""
    from tally.gt.sink import LabelReader

    objects = [
        data_object(
            str(i),
            *(
                annotation(
                    f"w{k}",
                    answer(["Cat", "Dog"][(i + (k == 2)) % 2], ["indoor", "outdoor"][i % 2], 3, comment=f"c{i}"),
                )
                for k in range(3)
            ),
        )
        for i in range(40)
    ]
    whole = run(objects)
    storage = MemoryStorage({PAYLOAD: json.dumps(objects).encode()})
    request = ConsolidationRequest.parse({"labelAttributeName": "pets", "payload": {"s3Uri": PAYLOAD}})
    fitted = consolidate_batch(request, storage, form_template=lambda: JobTemplate(TEMPLATE), response_limit=40_000)
    assert [step.number for step in fitted.response_steps][:2] == [1, 2]  # metadata cut, batch figures moved
    assert len(json.dumps(fitted.response)) <= 40_000
    reader = LabelReader(storage.read)
    for built, returned in zip(whole.response, fitted.response, strict=True):
        label = returned["consolidatedAnnotation"]["content"]["pets"]
        assert reader.resolve(label) == built["consolidatedAnnotation"]["content"]["pets"]


def test_a_template_reader_that_fails_leaves_the_form_inferred() -> None:
    storage = MemoryStorage({PAYLOAD: json.dumps(OBJECTS).encode()})
    request = ConsolidationRequest.parse({"labelAttributeName": "pets", "payload": {"s3Uri": PAYLOAD}})

    def broken() -> JobTemplate:
        raise ConnectionError("no route")

    report = consolidate_batch(request, storage, form_template=broken)
    label = report.response[0]["consolidatedAnnotation"]["content"]["pets"]
    assert (label["schema-source"], label["schema-note"]) == (
        "inferred",
        "the job's worker template was not read (ConnectionError)",
    )
    assert label["fields"]["animal"]["value"] == "Cat"


def test_naming_the_crowd_element_never_drops_the_forms_other_fields() -> None:
    report = run(OBJECTS, settings=Settings(element_name="animal"))
    label, _ = label_of(report, 0)
    assert list(label["fields"]) == ["animal", "indoor|outdoor", "quality", "comment"]
    assert label["fields"]["animal"]["value"] == "Cat"
    assert label["fields"]["comment"]["answers"] == [{"workerId": "w1", "text": "a kitten", "agreement": 1.0}]
    # an answer without the named element is still rejected with the reason, as before forms
    missing = [data_object("0", annotation("w1", json.dumps({"quality": 3})), annotation("w2", answer("Cat", None)))]
    label, _ = label_of(run(missing, settings=Settings(element_name="animal")), 0)
    assert label["rejected-answers"] == [
        {"workerId": "w1", "reason": "content has no 'animal' element (keys: quality)"}
    ]


def test_a_field_without_a_job_model_keeps_its_answers_reasons_and_says_why() -> None:
    """Under a whole-job plan with no model for a field, its values are kept as given with the answers'
    own reasons (two radio buttons on, a slider above its maximum); a task's field the plan has no
    labels for says so (fit_form fits no model for it), not that a model could not be fitted."""
    from tally.consolidate import BatchJob, JobPlan, run_batch
    from tally.forms._infer import read_form
    from tally.forms.consolidate import FormPlan
    from tally.gt.events import DatasetObject

    contents = [json.loads(a["annotationData"]["content"]) for o in OBJECTS for a in o["annotations"]]
    plan = JobPlan(None, None, form=FormPlan(read_form(TEMPLATE, contents), JobTemplate(TEMPLATE)))  # nothing fitted
    job = BatchJob(Settings(), "s3://bucket/out", form_template=lambda: JobTemplate(TEMPLATE))
    objects = [DatasetObject.model_validate(o) for o in OBJECTS]
    result = run_batch(objects, job, MemoryStorage({}), plan=plan)[1]
    assert result.label is not None
    label, meta = result.label, result.metadata
    fields = label["fields"]
    assert fields["indoor|outdoor"] == {
        "kind": "single-choice",
        "keys": ["indoor", "outdoor"],
        "consolidated": False,
        "reason": "not consolidated: the job's plan has no labels for this field, so no model of the job was "
        "fitted for it",
        "answers": [
            {"workerId": "w1", "value": {"indoor": {"indoor": False}, "outdoor": {"outdoor": True}}},
            {"workerId": "w2", "value": {"indoor": {"indoor": True}, "outdoor": {"outdoor": True}}},
            {"workerId": "w3", "value": {"indoor": {"indoor": False}, "outdoor": {"outdoor": True}}},
        ],
        "rejected-answers": [{"workerId": "w2", "reason": "2 options of one radio question chosen: indoor, outdoor"}],
    }
    assert fields["quality"] == {
        "kind": "number",
        "consolidated": False,
        "reason": "not consolidated: the job's model could not be fitted",  # a number's plan needs no labels
        "answers": [{"workerId": "w1", "value": 2}, {"workerId": "w2", "value": 2}, {"workerId": "w3", "value": 9}],
        "rejected-answers": [{"workerId": "w3", "reason": "9 is above the maximum 5"}],
    }
    assert meta["fields-kept-as-given"] == ["animal", "indoor|outdoor", "quality"]


BOXES_FORM = """<crowd-form><crowd-bounding-box name="boxes" src="x" labels="['car']"></crowd-bounding-box>
<crowd-radio-group><crowd-radio-button name="day" value="day">Day</crowd-radio-button>
<crowd-radio-button name="night" value="night">Night</crowd-radio-button></crowd-radio-group></crowd-form>"""


def test_a_boxes_field_without_a_job_model_keeps_what_reading_it_warned_of_as_warnings() -> None:
    """An item left out of an answer (a label the job lacks) is a warning on the kept field, not a
    rejected answer: the answer was read."""
    from tally.consolidate import BatchJob, JobPlan, run_batch
    from tally.forms._infer import read_form
    from tally.forms.consolidate import FormPlan
    from tally.gt.events import DatasetObject

    def boxes(*items: tuple[str, int]) -> str:
        drawn = [{"label": name, "left": x, "top": 1, "width": 5, "height": 5} for name, x in items]
        element = {"boundingBoxes": drawn, "inputImageProperties": {"width": 50, "height": 40}}
        return json.dumps({"boxes": element, "day": {"day": True}, "night": {"night": False}})

    objects = [
        data_object(
            "0",
            annotation("w1", boxes(("car", 1), ("bus", 20))),
            annotation("w2", boxes(("car", 2))),
            annotation("w3", boxes(("car", 1))),
        )
    ]
    contents = [json.loads(a["annotationData"]["content"]) for o in objects for a in o["annotations"]]
    plan = JobPlan(None, None, form=FormPlan(read_form(BOXES_FORM, contents), JobTemplate(BOXES_FORM)))
    job = BatchJob(Settings(), "s3://bucket/out", form_template=lambda: JobTemplate(BOXES_FORM))
    [result] = run_batch([DatasetObject.model_validate(o) for o in objects], job, MemoryStorage({}), plan=plan)
    assert result.label is not None
    kept = result.label["fields"]["boxes"]
    assert (kept["consolidated"], kept["reason"]) == (
        False,
        "not consolidated: the job's plan has no labels for this field, so no model of the job was fitted for it",
    )
    assert kept["answer-warnings"] == [
        {"workerId": "w1", "reason": "items with labels not among the job's were left out: bus"}
    ]
    assert "rejected-answers" not in kept


def _ocr(polygons: list[dict[str, Any]] | str) -> str:
    element = {"inputImageProperties": {"width": 640, "height": 480}, "polygons": polygons}
    return json.dumps({"receiptDate": "2019-05-16", "transcription": element})


_EGGS = {"label": "EGGS 12 3.15", "vertices": [{"x": 50, "y": 58}, {"x": 304, "y": 63}, {"x": 302, "y": 91}]}


def _ocr_template() -> str:
    from pathlib import Path

    gallery = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"
    return (gallery / "images" / "ocr.liquid.html").read_text()


def test_a_polygon_field_that_keeps_nothing_names_its_unkept_items_once() -> None:
    """The gallery's OCR form, one worker of three drew one polygon: the field's ``unkept-items`` says
    so; its value holds no ``no-instances`` (the same rows again)."""
    objects = [data_object("0", annotation("a", _ocr([_EGGS])), annotation("b", _ocr([])), annotation("c", _ocr([])))]
    label, _ = label_of(run(objects, template=_ocr_template()), 0)
    transcription = label["fields"]["transcription"]
    assert transcription["value"]["instances"] == []
    assert "no-instances" not in transcription["value"]
    assert transcription["unkept-items"] == [
        {
            "workerId": "a",
            "items": 1,
            "reason": "in no kept instance: too few other workers drew them there with the same label",
        }
    ]
    assert transcription["consolidated"] is True


@pytest.mark.parametrize("where", ["as it finishes", "on one object"])
def test_a_field_that_fails_keeps_its_answers_with_the_workers_found_at_fault(monkeypatch: Any, where: str) -> None:
    """The internal-error fallbacks (the field's whole tail as it finishes, or one object's consolidation)
    keep the values as given with each object's answer issues, as the other kept-as-given paths do."""
    import tally.forms.consolidate as forms_consolidate
    from tally.tasks.geometry import Geometric

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken")

    if where == "as it finishes":
        monkeypatch.setattr(forms_consolidate, "_unkept_items", broken)
    else:
        monkeypatch.setattr(Geometric, "consolidate", broken)
    objects = [
        data_object("0", annotation("a", _ocr([_EGGS])), annotation("b", _ocr([_EGGS])), annotation("c", _ocr("none")))
    ]
    label, _ = label_of(run(objects, template=_ocr_template()), 0)
    transcription = label["fields"]["transcription"]
    assert transcription["consolidated"] is False
    assert transcription["reason"] == "not consolidated: internal error (RuntimeError)"
    assert transcription["rejected-answers"] == [{"workerId": "c", "reason": "not what a polygon answer looks like"}]
