"""The 30 real gallery templates (tests/fixtures/gt-templates, PROVENANCE.txt): each read to its exact
schema; every key of every worker's answer found in its split (nothing dropped); the same answers
read without the template, and where that differs, why."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tally.forms import Field, FormSchema, infer_schema, parse_template, read_form, split

GALLERY = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"

EXCLUSION = "'None of the above' is its exclusion category (choosing it clears the others)"
EMPTY_INPUT = "left empty, it is absent from the answer (not a rejected answer)"
SCRIPT_OPTIONS = "a script sets its options"
DISABLED = "disabled in the template (a script may enable it; a disabled control submits nothing)"


def liquid_name(name: str) -> str:
    return f"its name is written with Liquid ('{name}'): it stands for every key the template generates"


def sliders(*names: str, step: float | None = None) -> tuple[Field, ...]:
    return tuple(Field(n, "number", "crowd-slider", minimum=1, maximum=5, step=step, required=True) for n in names)


FIVE = ("1", "2", "3", "4", "5")
YES_NO = ("Yes", "No", "Not Sure")
SENTIMENTS = (
    "Very Negative",
    "Negative",
    "Slightly Negative",
    "Neutral",
    "Slightly Positive",
    "Positive",
    "Very Positive",
    "Text is empty",
)
QUESTIONS = (
    "relevance_to_prompt",
    "clarity",
    "completeness",
    "correctness",
    "appropriateness",
    "engagement",
    "use_of_language",
    "formatting_presentation",
    "consistency",
    "use_of_resources",
)
TOXIC = ("toxicity", "hate", "identity-attack", "violence", "physical-safety", "sexual-material", "profanity", "other")
SUBCATEGORIES = ("category1", "subcategory1_1", "subcategory1_2", "category2", "subcategory2_1", "subcategory2_2")

EXPECTED: dict[str, FormSchema] = {
    "text/text-classification": FormSchema(
        (
            Field(
                "category",
                "single-choice",
                "crowd-classifier",
                ("Positive", "Negative", "Neutral"),
                task="classification",
            ),
        )
    ),
    "images/image-classification-multiselect": FormSchema(
        (
            Field(
                "animals",
                "multi-choice",
                "crowd-image-classifier-multi-select",
                ("Cat", "Dog", "Horse", "Pig", "Bird", "None of the above"),
                task="multi-label classification",
                reason=EXCLUSION,
            ),
        )
    ),
    "images/bounding-box": FormSchema(
        (Field("annotatedResult", "annotation", "crowd-bounding-box", ("Cat", "Dog"), task="bounding-box"),)
    ),
    "images/keypoint": FormSchema(
        (Field("annotatedResult", "annotation", "crowd-keypoint", ("Cat", "Dog", "Bird"), task="keypoint"),)
    ),
    "images/polygon": FormSchema(
        (Field("annotatedResult", "annotation", "crowd-polygon", ("Cat", "Dog", "Bird"), task="polygon"),)
    ),
    "text/named-entity-recognition": FormSchema(
        (Field("entities", "annotation", "crowd-entity-annotation", options_from_data=True, task="named-entity"),)
    ),
    "images/semantic-segmentation": FormSchema(
        (
            Field(
                "crowd-semantic-segmentation",
                "annotation",
                "crowd-semantic-segmentation",
                ("Cat", "Dog", "Bird"),
                task="semantic-segmentation",
            ),
        )
    ),
    "images/instance-segmentation": FormSchema(
        (
            Field(
                "annotatedResult",
                "annotation",
                "crowd-instance-segmentation",
                ("Cat", "Dog", "Bird"),
                task="instance-segmentation",
            ),
        )
    ),
    "video/video-classification-direct": FormSchema(
        (
            Field(
                "category",
                "single-choice",
                "crowd-classifier",
                ("Music", "Sports", "News", "Politics", "Comedy", "Other"),
                task="classification",
            ),
        )
    ),
    "text/named-entity-recognition-with-additional-classification": FormSchema(
        (
            Field(
                "crowd-entity-annotation",
                "annotation",
                "crowd-entity-annotation",
                ("person", "date", "company"),
                task="named-entity",
            ),
            Field(
                "tech|politics",
                "single-choice",
                "crowd-radio-group",
                ("tech", "politics"),
                buttons=(("tech", "tech"), ("politics", "politics")),
                keys=("tech", "politics"),
            ),
        )
    ),
    "images/ocr": FormSchema(
        (
            Field(
                "transcription",
                "annotation",
                "crowd-polygon",
                ("placeholder",),
                options_from_data=True,
                task="polygon",
                reason=SCRIPT_OPTIONS,
            ),
            Field("receiptDate", "text", "input type=date", required=True),
            Field("_customLabel", "text", "crowd-input", reason=EMPTY_INPUT),
        )
    ),
    "images/semantic-segmentation-bounding-box-validation": FormSchema(
        (
            Field("incorrectSegments", "annotation", "crowd-bounding-box", ("Incorrect segment",), task="bounding-box"),
            Field("segmentationOpacity", "number", "crowd-slider", default=50),
        )
    ),
    "images/image-classification": FormSchema(
        (
            Field(
                "crowd-image-classifier",
                "single-choice",
                "crowd-image-classifier",
                ("Cat", "Dog", "Bird", "Other"),
                task="classification",
            ),
        )
    ),
    "images/bounding-box-hierarchical": FormSchema(
        (
            Field(
                "_",
                "unknown",
                reason="4 elements share the name '_' (crowd-bounding-box, select, select, input type=hidden): "
                "the template does not say whose value is submitted",
                alternatives=(
                    Field(
                        "_",
                        "annotation",
                        "crowd-bounding-box",
                        ("PERSON #1",),
                        options_from_data=True,
                        task="bounding-box",
                        reason=SCRIPT_OPTIONS,
                    ),
                    Field(
                        "_",
                        "single-choice",
                        "select",
                        options_from_data=True,
                        reason="no options in the template: a script or Liquid fills them",
                    ),
                    Field("_", "text", "input type=hidden", default="_"),
                ),
            ),
            Field("instances", "json", "input type=hidden", default="[]", reason="a script fills it with JSON"),
        )
    ),
    "images/image-classification-with-dropdown-select": FormSchema(
        (Field("animal", "single-choice", "select", ("cat", "dog", "snake", "bird", "other", "none"), required=True),)
    ),
    "other/side-by-side-comparison": FormSchema(
        (
            Field(
                "option1|option2",
                "single-choice",
                "crowd-radio-group",
                ("Option 1", "Option 2"),
                buttons=(("option1", "Option 1"), ("option2", "Option 2")),
                keys=("option1", "option2"),
            ),
            Field("explanation", "text", "crowd-text-area"),
        )
    ),
    "gen-ai/content-moderation-ai-model-output": FormSchema(
        (
            Field("toxicity", "single-choice", "input type=radio", ("toxic", "non-toxic"), required=True),
            Field("nature-of-toxicity", "multi-choice", "crowd-checkbox", TOXIC, reason=DISABLED),
            Field("additional-context", "text", "textarea"),
        )
    ),
    "text/translation-review-and-correction": FormSchema(
        (
            Field(
                "translation{{ forloop.index }}",
                "text",
                "crowd-text-area",
                default="{{ pair.translation }}",
                pattern="translation{{ forloop.index }}",
                reason=liquid_name("translation{{ forloop.index }}"),
            ),
            Field(
                "rating{{ forloop.index }}",
                "single-choice",
                "input type=radio",
                ("good", "bad"),
                required=True,
                pattern="rating{{ forloop.index }}",
                reason=liquid_name("rating{{ forloop.index }}"),
            ),
        )
    ),
    "images/image-classification-with-subcategory": FormSchema(
        tuple(Field(name, "boolean", "input type=checkbox", ("on",)) for name in SUBCATEGORIES)
    ),
    "text/translation-quality": FormSchema(sliders("meaning", "fluency")),
    "gen-ai/multi-modal-content-evaluation": FormSchema(
        (*sliders("accuracy", "relevance", "completeness", step=1), Field("additional-context", "text", "textarea"))
    ),
    "other/content-evaluation": FormSchema(
        (
            *(Field(q, "single-choice", "select", YES_NO) for q in QUESTIONS),
            Field("additionalComments", "text", "input type=text"),
        )
    ),
    "gen-ai/text-ranking": FormSchema(
        (
            Field(
                "textRanking",
                "ranking",
                "crowd-text-ranking",
                ("Clarity", "Inclusivity"),
                keys=("textRanking", "ordinalRankingDimensions"),
                reason="crowd-text-ranking has no documented output: it is read under 'textRanking' or, "
                "as AWS's notebook reads it, 'ordinalRankingDimensions'",
                task="ranking",
                ties=(("Clarity", True), ("Inclusivity", False)),
            ),
        )
    ),
    "audio/audio-transcription": FormSchema((Field("transcription", "text", "crowd-text-area"),)),
    "images/image-captioning": FormSchema((Field("comment", "text", "crowd-text-area"),)),
    "images/polyline": FormSchema(
        (Field("crowdPolyline", "annotation", "crowd-polyline", ("car", "pedestrian", "street car"), task="polyline"),)
    ),
    "images/line": FormSchema(
        (Field("lines", "annotation", "crowd-line", ("car", "pedestrian", "street car"), task="line"),)
    ),
    "text/formatted-text-evaluation": FormSchema(
        (
            Field("accuracy", "single-choice", "select", FIVE, required=True),
            Field("clarity", "single-choice", "input type=radio", FIVE, required=True),
            Field("issues", "multi-choice", "input type=checkbox", ("grammar", "factual", "missing", "other")),
        )
    ),
    "images/dynamic-two-tier-image-classification": FormSchema(
        (
            Field(
                "image_category",
                "single-choice",
                "crowd-classifier",
                ("Landscape", "Portrait", "Still Life", "Abstract"),
                options_from_data=True,
                task="classification",
                reason=SCRIPT_OPTIONS,
            ),
        ),
        (
            "a script creates form controls (input): the fields it adds are not in the template and are read from the answers",
        ),
    ),
    "text/sentiment-analysis-multiple-documents": FormSchema(
        (
            Field("sentiment1", "single-choice", "select", SENTIMENTS, required=True),
            Field("sentiment2", "single-choice", "select", SENTIMENTS, required=True),
        )
    ),
}

TEMPLATES = sorted(EXPECTED)


def template(name: str) -> str:
    return (GALLERY / f"{name}.liquid.html").read_text(encoding="utf-8")


def answers(name: str) -> list[list[dict[str, Any]]]:
    """Each object's contents (one per worker), decoded from the committed payload."""
    objects = json.loads((GALLERY / "answers" / f"{name.split('/')[-1]}.json").read_text(encoding="utf-8"))
    return [[json.loads(a["annotationData"]["content"]) for a in o["annotations"]] for o in objects]


def contents(name: str) -> list[dict[str, Any]]:
    return [content for obj in answers(name) for content in obj]


def test_the_fixtures_are_the_thirty_templates_provenance_lists() -> None:
    on_disk = sorted(
        p.relative_to(GALLERY).as_posix().removesuffix(".liquid.html") for p in GALLERY.rglob("*.liquid.html")
    )
    provenance = (GALLERY / "PROVENANCE.txt").read_text(encoding="utf-8")
    assert on_disk == TEMPLATES and len(on_disk) == 30
    assert all(name in provenance for name in on_disk)
    assert "5c3ce0eef12943a7c7065f55e17dad9129b4faa5" in provenance and "MIT-0" in provenance


def test_the_committed_answers_are_what_make_answers_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_answers", GALLERY / "make_answers.py")
    assert spec is not None and spec.loader is not None
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    assert sorted(maker.TEMPLATES) == TEMPLATES
    for name in TEMPLATES:
        path = GALLERY / "answers" / f"{name.split('/')[-1]}.json"
        assert path.read_text(encoding="utf-8") == maker.rendered(name), name
        shape = answers(name)
        assert [len(workers) for workers in shape] == [3, 3, 3]  # 3 objects x 3 workers


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_reads_to_its_exact_schema(name: str) -> None:
    assert parse_template(template(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", TEMPLATES)
def test_nothing_is_dropped_every_key_of_every_answer_is_in_exactly_one_field_or_the_leftovers(name: str) -> None:
    # GIVEN each template's schema alone, and the schema completed from its batch's answers
    batch = contents(name)
    for schema in (parse_template(template(name)), read_form(template(name), batch)):
        for content in batch:
            # WHEN one worker's answer is split
            parts = split(content, schema)
            # THEN every top-level key is in exactly one place, with its value as given (the same object)
            places: dict[str, list[Any]] = {}
            for value in parts.fields.values():
                for key, given in value.raw.items():
                    places.setdefault(key, []).append(given)
            for key, given in parts.leftovers.items():
                places.setdefault(key, []).append(given)
            assert sorted(places) == sorted(content), name
            assert all(len(found) == 1 and found[0] is content[key] for key, found in places.items()), name


@pytest.mark.parametrize("name", TEMPLATES)
def test_with_the_answers_every_key_has_a_field_and_every_value_fits(name: str) -> None:
    batch = contents(name)
    schema = read_form(template(name), batch)
    splits = [split(content, schema) for content in batch]
    assert [s.leftovers for s in splits] == [{}] * len(batch)
    assert [s.misfits for s in splits] == [{}] * len(batch)


def test_the_script_made_checkboxes_are_leftovers_of_the_template_alone_and_a_field_with_the_answers() -> None:
    name = "images/dynamic-two-tier-image-classification"
    first = contents(name)[0]
    alone = split(first, parse_template(template(name)))
    assert (
        list(alone.leftovers) == ["classification-reasoning"]
        and alone.leftovers["classification-reasoning"] is (first["classification-reasoning"])
    )
    completed = read_form(template(name), contents(name))
    assert completed.source == "template+inferred"
    assert [(f.name, f.kind, f.found) for f in completed] == [
        ("image_category", "single-choice", "template"),
        ("classification-reasoning", "multi-choice", "inferred"),
    ]
    assert split(first, completed).fields["classification-reasoning"].value == ("Rural scene", "Seascape")


def test_a_liquid_named_field_takes_every_key_its_loop_generated() -> None:
    name = "text/translation-review-and-correction"
    first = contents(name)[0]
    parts = split(first, parse_template(template(name)))
    assert [(k, v.value) for k, v in parts.fields.items()] == [
        ("translation1", "the cat sleeps"),
        ("translation2", "the weather is nice today"),
        ("translation3", "we meet at this station"),
        ("rating1", "good"),
        ("rating2", "good"),
        ("rating3", "good"),
    ]
    assert parts.fields["rating2"].field.name == "rating2" and parts.fields["rating2"].field.options == ("good", "bad")
    completed = read_form(template(name), contents(name))
    assert completed.names == (
        "translation1",
        "translation2",
        "translation3",
        "translation{{ forloop.index }}",
        "rating1",
        "rating2",
        "rating3",
        "rating{{ forloop.index }}",
    )


def test_the_forms_values_read_as_each_kind_says() -> None:
    # a few answers of the gallery read by hand (the first object's careful worker unless said)
    def first(name: str, worker: int = 0) -> dict[str, Any]:
        batch = contents(name)
        parts = split(batch[worker], read_form(template(name), batch))
        return {k: (v.value, dict(v.extra)) if v.extra else v.value for k, v in parts.fields.items()}

    assert first("text/named-entity-recognition-with-additional-classification")["tech|politics"] == "politics"
    assert first("images/image-classification") == {
        "crowd-image-classifier": ("Cat", {"workerComment": "looks right to me"})
    }
    assert first("images/semantic-segmentation-bounding-box-validation")["segmentationOpacity"] == 50
    assert first("other/side-by-side-comparison") == {
        "option1|option2": "Option 2",
        "explanation": "Option 2 is better argued",
    }
    assert first("gen-ai/content-moderation-ai-model-output") == {
        "toxicity": "toxic",
        "nature-of-toxicity": ("toxicity", "hate", "physical-safety"),
        "additional-context": "clear enough",
    }
    assert first("text/formatted-text-evaluation") == {
        "accuracy": "2",
        "clarity": "5",
        "issues": (),
    }
    assert first("gen-ai/text-ranking") == {"textRanking": {"Clarity": (3, 1, 2), "Inclusivity": (2, 1, 3)}}
    hierarchy = first("images/bounding-box-hierarchical")
    assert hierarchy["_"] == "_"
    assert [(b["label"], "parent" in b) for b in hierarchy["instances"]] == [
        ("PERSON", False),
        ("HAND", True),
        ("FINGER", True),
        ("FOOT", True),
    ]
    assert first("images/ocr", worker=1)["_customLabel"] is None  # left empty: absent


# Where reading the answers without the template gives other fields or kinds than the template does,
# and why. Every other template infers the same fields with the same kinds (options: only those seen).
DIFFERS = {
    "images/bounding-box-hierarchical": "the shared name '_' always sends '_': a one-option choice, where the "
    "template cannot say which of its 4 elements sends it",
    "text/formatted-text-evaluation": "the accuracy <select>'s options are 1-5: numbers sent as text read as a number",
    "images/ocr": "the typed receipt dates repeat across the workers of an object: a choice of 3 dates, not text",
    "text/translation-review-and-correction": "workers mostly keep the given translation, so the texts repeat: "
    "choices; and the loop's keys are fields of their own",
    "gen-ai/text-ranking": "the answer names the ranking 'ordinalRankingDimensions', not the element's name",
    "text/named-entity-recognition-with-additional-classification": "the radio question is named by its buttons "
    "in sorted order (politics|tech): the answers do not give the template's order",
}


def kinds(schema: FormSchema) -> set[tuple[str, str]]:
    return {(f.name, f.kind) for f in schema if f.pattern is None}


def test_inference_without_the_template_matches_it_except_where_the_answers_cannot_tell() -> None:
    differing = {
        name
        for name in TEMPLATES
        if kinds(infer_schema(contents(name))) != kinds(read_form(template(name), contents(name)))
    }
    assert differing == set(DIFFERS)
    assert kinds(infer_schema(contents("images/bounding-box-hierarchical"))) == {
        ("_", "single-choice"),
        ("instances", "json"),
    }
    assert infer_schema(contents("images/bounding-box-hierarchical")).field("instances").shape == "bounding-box"
    assert kinds(infer_schema(contents("text/formatted-text-evaluation"))) == {
        ("accuracy", "number"),
        ("clarity", "single-choice"),
        ("issues", "multi-choice"),
    }
    assert infer_schema(contents("images/ocr")).field("receiptDate").kind == "single-choice"
    assert {(f.name, f.kind) for f in infer_schema(contents("text/translation-review-and-correction"))} == {
        *((f"translation{i}", "single-choice") for i in (1, 2, 3)),
        *((f"rating{i}", "single-choice") for i in (1, 2, 3)),
    }


def test_inferred_options_are_the_values_seen_sorted_and_never_closed() -> None:
    inferred = infer_schema(contents("other/content-evaluation"))
    assert inferred.field("use_of_resources").options == ("Not Sure", "Yes")  # nobody answered "No"
    assert all(f.options_from_data for f in inferred if f.kind == "single-choice")
    assert infer_schema(contents("text/text-classification")).field("category").options == ("Negative", "Neutral")


def describe(schema: FormSchema) -> str:
    """A schema's kinds as docs/forms.md's gallery table writes them."""
    parts: list[str] = []
    for f in schema:
        if f.kind == "annotation":
            parts.append(f"annotation ({(f.element or '').removeprefix('crowd-')})")
        elif f.element and f.kind in ("single-choice", "multi-choice", "number", "text", "boolean"):
            parts.append(f"{f.kind} ({f.element})")
        else:
            parts.append(f.kind)
    counted = dict.fromkeys(parts, 0)
    for part in parts:
        counted[part] += 1
    return ", ".join(f"{n} × {part}" if n > 1 else part for part, n in counted.items())


DOCS = GALLERY.parents[2] / "docs" / "forms.md"


def test_the_docs_gallery_table_and_example_are_what_the_code_reads() -> None:
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("<!-- forms-gallery-table -->")[1].strip().splitlines()[2:32]
    rows = {}
    for row in table:
        name, kinds_read, without = (cell.strip() for cell in row.strip("|").split(" | "))
        rows[name.strip("`")] = (
            kinds_read.removesuffix(" (both named with Liquid)"),
            without.split(":")[0].split(" ")[0],
        )
    assert rows == {
        name: (describe(parse_template(template(name))), "differs" if name in DIFFERS else "same") for name in TEMPLATES
    }
    example = text.split("<!-- forms-example-schema -->")[1].split("```json")[1].split("```")[0]
    ner = parse_template(template("text/named-entity-recognition-with-additional-classification"))
    assert json.loads(example) == ner.as_json()
    answer = {
        "crowd-entity-annotation": {"entities": [{"startOffset": 0, "endOffset": 6, "label": "company"}]},
        "politics": {"politics": False},
        "tech": {"tech": True},
    }
    parts = split(answer, ner)
    assert parts.fields["tech|politics"].value == "tech" and parts.leftovers == {}
    assert list(parts.fields["tech|politics"].raw) == ["politics", "tech"]
    odd = split({"politics": {"politics": True}, "tech": {"tech": True}, "comment": "?"}, ner)
    assert odd.misfits == {"tech|politics": "2 options of one radio question chosen: politics, tech"}
    assert odd.fields["crowd-entity-annotation"].absent and odd.leftovers == {"comment": "?"}
