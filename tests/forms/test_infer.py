"""infer_schema's rules and thresholds, complete_schema and read_form (template first, answers second)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tally.forms import (
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
    MIN_ANSWERS,
    MIN_REPEATS,
    Field,
    FormSchema,
    complete_schema,
    infer_schema,
    parse_template,
    read_form,
    recognise,
)


def radio(chosen: str, keys: tuple[str, ...] = ("yes", "no", "maybe")) -> dict[str, Any]:
    """Buttons under sibling names, each sending {its value: checked} (its value is its name here)."""
    return {k: {k: k == chosen} for k in keys}


def test_the_thresholds_are_the_documented_ones() -> None:
    assert (MIN_ANSWERS, MAX_OPTIONS, MAX_OPTION_LENGTH, MIN_REPEATS) == (3, 20, 60, 2.0)


def test_mutually_exclusive_booleans_under_sibling_names_are_one_radio_question() -> None:
    schema = infer_schema([radio("yes"), radio("no"), radio("maybe"), radio("no")])
    assert schema == FormSchema(
        (
            Field(
                "maybe|no|yes",
                "single-choice",
                "crowd-radio-group",
                ("maybe", "no", "yes"),
                options_from_data=True,
                buttons=(("maybe", "maybe"), ("no", "no"), ("yes", "yes")),
                found="inferred",
                keys=("maybe", "no", "yes"),
            ),
        )
    )


def test_too_few_answers_or_two_ticked_together_keep_them_checkboxes() -> None:
    few = infer_schema([radio("yes"), radio("no")])  # MIN_ANSWERS - 1 answers
    assert [(f.name, f.kind) for f in few] == [("yes", "boolean"), ("no", "boolean"), ("maybe", "boolean")]
    ticked = [radio("yes"), radio("no"), {**radio("no"), "yes": {"yes": True}}, radio("maybe")]
    # yes and no were ticked together once; yes and maybe never were, but the second answer ticks
    # neither of them: no group has exactly one true everywhere, so all three stay checkboxes
    together = infer_schema(ticked)
    assert [(f.name, f.kind) for f in together] == [("yes", "boolean"), ("no", "boolean"), ("maybe", "boolean")]


def test_a_group_must_have_exactly_one_true_in_every_answer() -> None:
    none_chosen = {"a": {"a": False}, "b": {"b": False}}
    schema = infer_schema([{"a": {"a": True}, "b": {"b": False}}, {"a": {"a": False}, "b": {"b": True}}, none_chosen])
    assert [(f.name, f.kind) for f in schema] == [("a", "boolean"), ("b", "boolean")]


def test_one_key_of_several_booleans_is_a_checkbox_set_or_buttons_sharing_a_name() -> None:
    one_each = [{"c": {"x": True, "y": False}}, {"c": {"x": False, "y": True}}, {"c": {"y": True, "x": False}}]
    assert infer_schema(one_each).field("c") == Field(
        "c", "single-choice", options=("x", "y"), options_from_data=True, found="inferred"
    )
    several = [*one_each[:2], {"c": {"x": True, "y": True}}]
    assert infer_schema(several).field("c").kind == "multi-choice"
    assert infer_schema(one_each[:2]).field("c") == Field(
        "c",
        "multi-choice",
        options=("x", "y"),
        options_from_data=True,
        found="inferred",
        reason="exactly one value was true in each answer, but 2 answers are too few to call it one radio question",
    )


def test_strings_are_choices_when_few_short_and_repeated_else_text() -> None:
    repeated = [{"s": v} for v in ["a", "b", "a", "b", ""]]
    assert infer_schema(repeated).field("s").options == ("a", "b")  # "" is no answer, not an option
    assert infer_schema([{"s": v} for v in ["a", "b", "c", "a"]]).field("s").kind == "text"  # 4/3 < MIN_REPEATS
    long = "x" * (MAX_OPTION_LENGTH + 1)
    assert infer_schema([{"s": long}, {"s": long}, {"s": "y"}, {"s": "y"}]).field("s").kind == "text"
    many = [{"s": str(i)} for i in range(MAX_OPTIONS + 1)] * 2
    assert infer_schema([{"s": f"v{c['s']}"} for c in many]).field("s").kind == "text"
    assert infer_schema([{"s": ""}, {"s": ""}]).field("s") == Field(
        "s", "text", found="inferred", reason="only empty strings"
    )


def test_numbers_and_numbers_sent_as_text_are_a_scale_without_guessed_bounds() -> None:
    assert infer_schema([{"n": 1}, {"n": 5}]).field("n") == Field("n", "number", step=1, found="inferred")
    assert infer_schema([{"n": 1.5}, {"n": 5}]).field("n").step is None
    assert infer_schema([{"n": "2"}, {"n": "4"}, {"n": ""}]).field("n") == Field(
        "n", "number", step=1, found="inferred", reason="numbers sent as text"
    )
    assert infer_schema([{"b": True}, {"b": False}]).field("b").kind == "boolean"


def test_json_strings_and_their_shape() -> None:
    boxes = json.dumps([{"left": 1, "top": 2, "width": 3, "height": 4, "label": "a", "id": "1"}])
    children = json.dumps([{"left": 1, "top": 2, "width": 3, "height": 4, "label": "b", "parent": "1"}])
    assert infer_schema([{"j": boxes}, {"j": children}, {"j": "[]"}]).field("j") == Field(
        "j", "json", found="inferred", shape="bounding-box"
    )
    spans = json.dumps([{"startOffset": 0, "endOffset": 3, "label": "x"}])
    assert infer_schema([{"j": boxes}, {"j": spans}]).field("j") == Field(
        "j", "json", found="inferred", reason="its JSON values have different shapes (bounding-box, named-entity)"
    )
    element = json.dumps({"boundingBoxes": [], "inputImageProperties": {}})
    assert infer_schema([{"j": element}]).field("j").shape == "bounding-box"
    assert infer_schema([{"j": '{"free": 1}'}]).field("j").shape is None


def test_annotation_elements_by_their_shape() -> None:
    answers = [
        {
            "boxes": {"boundingBoxes": [{"label": "car"}], "inputImageProperties": {}},
            "lines": {"polylines": [{"label": "lane"}]},
            "pick": [{"label": "Dog", "workerComment": "maybe"}],  # a one-element list around it
            "many": {"labels": ["a", "b"]},
            "odd": {"foo": 1},
            "mixed": {"label": "x"},
            "rank": {"ordinalRankingDimensions": [{"name": "Clarity", "responseRankings": [1, 2]}]},
        },
        {"boxes": {"boundingBoxes": [{"label": "bus"}]}, "mixed": {"keypoints": []}, "pick": {"label": "Cat"}},
    ]
    schema = infer_schema(answers)
    assert [(f.name, f.kind, f.element, f.task, f.options) for f in schema] == [
        ("boxes", "annotation", "crowd-bounding-box", "bounding-box", ("bus", "car")),
        ("lines", "annotation", "crowd-polyline", "polyline", ("lane",)),
        ("pick", "single-choice", "crowd-image-classifier", "classification", ("Cat", "Dog")),
        ("many", "multi-choice", "crowd-classifier-multi-select", "multi-label classification", ("a", "b")),
        ("odd", "unknown", None, None, ()),
        ("mixed", "unknown", None, None, ()),
        ("rank", "ranking", "crowd-text-ranking", None, ("Clarity",)),
    ]
    assert (
        schema.field("odd").reason
        == "an object of no shape tally knows; absent from 1 of 2 answers (a crowd-input left empty is absent)"
    )
    assert schema.field("mixed").reason == "its objects have different shapes (classification, keypoint)"


def test_values_of_several_types_or_only_nulls_are_unknown() -> None:
    schema = infer_schema([{"x": 1, "n": None}, {"x": "one", "n": None}])
    assert schema.field("x") == Field("x", "unknown", found="inferred", reason="values of several types (int, str)")
    assert schema.field("n") == Field("n", "unknown", found="inferred", reason="only empty values (null)")
    assert infer_schema([{"l": ["a"]}, {"l": ["b", "a"]}]).field("l").options == ("a", "b")
    assert infer_schema([]) == FormSchema()
    assert infer_schema([{"c": {"on": True}}, {"c": None}]).field("c").kind == "boolean"  # null: no answer


def test_recognise_reuses_tallys_tasks() -> None:
    assert recognise({"labeledImage": {}, "instances": []}) == "instance-segmentation"
    assert recognise({"label": "x"}) == "classification"
    assert recognise({"polylines": []}) == "polyline"  # issue 21's line tasks
    assert recognise({"free": []}) is None


def test_complete_schema_adds_unclaimed_keys_generated_keys_and_json_shapes() -> None:
    template = parse_template(
        """<crowd-form><crowd-input name="note"></crowd-input>
        <input type="hidden" id="h" name="h">
        {% for x in task.input.xs %}<crowd-slider name="score{{ forloop.index }}"></crowd-slider>{% endfor %}
        </crowd-form><script>h.value = serialise(boxes);</script>"""
    )
    boxes = json.dumps([{"left": 0, "top": 0, "width": 1, "height": 1, "label": "a"}])
    answers = [{"note": "x", "h": boxes, "score2": 3, "score1": 4, "new": "a"}, {"h": "", "new": "a", "score1": 5}]
    completed = complete_schema(template, answers)
    assert [(f.name, f.kind, f.found) for f in completed] == [
        ("note", "text", "template"),
        ("h", "json", "template"),
        ("score2", "number", "template"),
        ("score1", "number", "template"),
        ("score{{ forloop.index }}", "number", "template"),
        ("new", "single-choice", "inferred"),
    ]
    assert completed.field("h").shape == "bounding-box"
    assert completed.field("h").reason == (
        "a script sets its value (JSON or not: the answers tell); its values are JSON (read from the answers)"
    )
    assert completed.source == "template+inferred"


def test_read_form_takes_the_template_first_and_the_answers_second() -> None:
    answers = [{"a": "x"}, {"a": "x"}]
    assert read_form(None, answers).source == "inferred"
    assert read_form('<crowd-input name="a"></crowd-input>', answers).source == "template"
    empty = read_form("<p>no controls</p>", answers)
    assert empty.source == "inferred"
    assert empty.notes == ("the template names no form control: every field is inferred from the answers",)


@pytest.mark.parametrize("answers", [[{"q": {"q": True}}] * 5, [{"q": {"on": False}}, {"q": {"on": True}}]])
def test_a_lone_checkbox_is_a_boolean_with_its_value(answers: list[dict[str, Any]]) -> None:
    field = infer_schema(answers).field("q")
    assert field.kind == "boolean" and field.options == tuple(answers[0]["q"])
