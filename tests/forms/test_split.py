"""split and split_value: each kind's value, each misfit's reason, and what is kept as given."""

from __future__ import annotations

from typing import Any

import pytest

from tally.forms import Field, FieldValue, FormSchema, parse_template, split, split_value

RADIO = Field(
    "tech|politics",
    "single-choice",
    "crowd-radio-group",
    ("tech", "politics"),
    buttons=(("tech", "tech"), ("politics", "politics")),
    keys=("tech", "politics"),
)
SLIDER = Field("q", "number", "crowd-slider", minimum=1, maximum=5, step=1)
SELECT = Field("animal", "single-choice", "select", ("cat", "dog"))
CHECKBOXES = Field("tags", "multi-choice", "crowd-checkbox", ("red", "green", "blue"))
LONE = Field("agree", "boolean", "crowd-checkbox", ("on",))
CLASSIFIER = Field("c", "single-choice", "crowd-image-classifier", ("Cat", "Dog"), task="classification")
MULTI = Field("m", "multi-choice", "crowd-classifier-multi-select", ("Cat", "Dog"), task="multi-label classification")
BOXES = Field("b", "annotation", "crowd-bounding-box", ("car",), task="bounding-box")
RANKING = Field("r", "ranking", "crowd-text-ranking", ("Clarity",), keys=("r", "ordinalRankingDimensions"))
JSON = Field("j", "json", "input type=hidden")
TEXT = Field("t", "text", "crowd-input")


def read(f: Field, value: Any, key: str | None = None) -> tuple[Any, str | None]:
    got = split_value(f, {key or f.name: value})
    return got.value, got.reason


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        (RADIO, {"tech": {"tech": True}, "politics": {"politics": False}}, ("tech", None)),
        (RADIO, {"tech": {"tech": False}, "politics": {"politics": False}}, (None, None)),
        (RADIO, {"politics": {"politics": True}}, ("politics", None)),
        (
            RADIO,
            {"tech": {"tech": True}, "politics": {"politics": True}},
            (None, "2 options of one radio question chosen: tech, politics"),
        ),
        (
            RADIO,
            {"tech": {"on": True}},
            (None, "the button 'tech' sent the value 'on', which the template does not give it"),
        ),
        (RADIO, {"tech": "tech"}, (None, "the button 'tech' sent a string, not {value: true|false}")),
    ],
)
def test_a_radio_question_of_buttons_is_one_choice(
    field: Field, raw: dict[str, Any], expected: tuple[Any, str | None]
) -> None:
    got = split_value(field, raw)
    assert (got.value, got.reason) == expected
    assert got.raw == raw


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cat", ("cat", None)),
        ("", (None, None)),  # the placeholder option: nothing chosen
        ({"cat": False, "dog": True}, ("dog", None)),  # radio inputs sent the crowd-checkbox way
        ({"cat": True, "dog": True}, (None, "2 options of one radio question chosen: cat, dog")),
        ("snake", (None, "'snake' is not among the options")),
        (["cat"], (None, "a list is not a choice")),
        (3, (None, "'3' is not among the options")),
    ],
)
def test_a_single_choice_from_a_select_or_radio_inputs(value: Any, expected: tuple[Any, str | None]) -> None:
    assert read(SELECT, value) == expected


def test_a_classifier_is_a_choice_and_keeps_the_rest_of_its_object() -> None:
    got = split_value(CLASSIFIER, {"c": {"label": "Cat", "workerComment": "a kitten"}})
    assert (got.value, got.extra, got.reason) == ("Cat", {"workerComment": "a kitten"}, None)
    assert read(CLASSIFIER, {"label": 3}) == (None, "its 'label' is not a string")
    assert read(CLASSIFIER, {"label": "Horse"}) == (None, "'Horse' is not among the options")
    open_options = Field("c", "single-choice", "crowd-classifier", options_from_data=True)
    assert read(open_options, {"label": "Horse"}) == ("Horse", None)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (CHECKBOXES, {"blue": True, "red": True, "green": False}, (("red", "blue"), None)),
        (CHECKBOXES, {"red": False}, ((), None)),
        (CHECKBOXES, ["green"], (("green",), None)),
        (CHECKBOXES, "red", (("red",), None)),
        (CHECKBOXES, {"red": True, "pink": True}, (None, "not among the options: pink")),
        (CHECKBOXES, 7, (None, "a number is not a set of choices")),
        (CHECKBOXES, [1], (None, "its choices are not all strings")),
        (MULTI, {"labels": ["Dog", "Cat"]}, (("Cat", "Dog"), None)),
    ],
)
def test_a_multiple_choice_is_the_chosen_options_in_option_order(
    field: Field, value: Any, expected: tuple[Any, str | None]
) -> None:
    assert read(field, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"on": True}, (True, None)),
        ({"on": False}, (False, None)),
        (True, (True, None)),
        ("on", (True, None)),
        ("false", (False, None)),
        ({"yes": True}, (None, "sent the value 'yes' where the template gives 'on'")),
        ("perhaps", (None, "a string is not a yes or no")),
    ],
)
def test_a_boolean(value: Any, expected: tuple[Any, str | None]) -> None:
    assert read(LONE, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, (3, None)),
        ("4", (4, None)),
        (" ", (None, None)),
        (0, (None, "0 is below the minimum 1")),
        (6, (None, "6 is above the maximum 5")),
        (2.5, (None, "2.5 is not on a step of 1")),
        ("lots", (None, "'lots' is not a number")),
        (True, (None, "a boolean is not a number")),
        (float("inf"), (None, "inf is not a finite number")),
    ],
)
def test_a_number_within_its_bounds_and_on_its_step(value: Any, expected: tuple[Any, str | None]) -> None:
    assert read(SLIDER, value) == expected


def test_text_json_ranking_and_annotation_values() -> None:
    assert read(TEXT, "héllo\nworld") == ("héllo\nworld", None)
    assert read(TEXT, 5) == (None, "a number is not text")
    assert read(JSON, '[{"id": "a", "parent": null}]') == ([{"id": "a", "parent": None}], None)
    assert read(JSON, {"already": "parsed"}) == ({"already": "parsed"}, None)
    assert read(JSON, "[1, 2") == (None, "not JSON (Expecting ',' delimiter)")
    ranking = [{"name": "Clarity", "responseRankings": [2, 1, 2]}]
    assert read(RANKING, {"ordinalRankingDimensions": ranking}) == ({"Clarity": (2, 1, 2)}, None)
    assert read(RANKING, ranking, key="ordinalRankingDimensions") == ({"Clarity": (2, 1, 2)}, None)
    assert read(RANKING, [{"name": "Bias", "responseRankings": [1]}]) == (None, "dimensions not in the template: Bias")
    assert read(RANKING, [{"name": "Clarity", "responseRankings": ["1"]}]) == (
        None,
        "the dimension 'Clarity' has no list of integer responseRankings",
    )
    assert read(RANKING, "1,2") == (None, "no 'ordinalRankingDimensions' list")
    element = {"boundingBoxes": [], "inputImageProperties": {"width": 1, "height": 1}}
    assert read(BOXES, [element]) == (element, None)  # a one-element list around it is accepted
    assert read(BOXES, {"keypoints": []}) == (None, "not what <crowd-bounding-box> submits (no 'boundingBoxes')")
    assert read(BOXES, "boxes") == (None, "a string is not an annotation element's object")


def test_a_null_value_is_no_answer_not_a_misfit() -> None:
    got = split_value(SLIDER, {"q": None})
    assert (got.value, got.reason, got.absent, dict(got.raw)) == (None, None, False, {"q": None})


def test_split_keeps_unclaimed_keys_and_marks_absent_fields() -> None:
    schema = FormSchema((RADIO, SLIDER, TEXT))
    content = {"extra": [1, 2], "q": 4, "politics": {"politics": True}, "tech": {"tech": False}}
    parts = split(content, schema)
    assert list(parts.fields) == ["tech|politics", "q", "t"]
    assert parts.fields["tech|politics"].value == "politics"
    assert parts.fields["t"] == FieldValue(TEXT)
    assert parts.fields["t"].absent and not parts.fields["q"].absent
    assert parts.leftovers == {"extra": [1, 2]} and parts.leftovers["extra"] is content["extra"]
    assert parts.misfits == {}


def test_an_ambiguous_field_is_read_as_the_alternative_its_value_fits() -> None:
    schema = parse_template(
        """<crowd-form><crowd-bounding-box name="_" labels="['a']"></crowd-bounding-box>
        <select name="_"><option>one</option><option>two</option></select>
        <input type="hidden" name="_" value="_"></crowd-form>"""
    )
    ambiguous = schema.field("_")
    assert [a.element for a in ambiguous.alternatives] == ["crowd-bounding-box", "select", "input type=hidden"]

    def read_as(value: Any) -> tuple[str | None, Any, str | None]:
        got = split({"_": value}, schema).fields["_"]
        return got.field.element, got.value, got.reason

    boxes: dict[str, Any] = {"boundingBoxes": [], "inputImageProperties": {}}
    assert read_as(boxes) == ("crowd-bounding-box", boxes, None)
    assert read_as("_") == ("input type=hidden", "_", None)  # the hidden input's fixed value
    assert read_as("two") == ("select", "two", None)
    assert read_as("three") == ("input type=hidden", "three", None)  # text takes any string
    assert read_as(5) == (None, 5, "fits none of the elements named '_'")
    got = split({"_": "two"}, schema).fields["_"]
    assert got.field.reason is not None and got.field.reason.endswith("; read as its select")


def test_a_liquid_named_field_matches_loop_counters_only_where_the_loop_counts() -> None:
    schema = parse_template(
        """{% for p in task.input.pairs %}
        <input type="radio" name="rating{{ forloop.index }}" value="good">
        <input type="radio" name="rating{{ forloop.index }}" value="bad">
        <crowd-input name="note-{{ p.id }}"></crowd-input>
        {% endfor %}"""
    )
    parts = split({"rating1": "good", "rating12": "bad", "ratingX": "good", "note-a7": "fine"}, schema)
    assert {k: v.value for k, v in parts.fields.items()} == {"rating1": "good", "rating12": "bad", "note-a7": "fine"}
    assert parts.leftovers == {"ratingX": "good"}
    assert parts.fields["rating12"].field.pattern is None and parts.fields["rating12"].field.keys == ("rating12",)
