"""parse_template on small templates written for one behaviour each: Liquid, plain HTML controls,
radio questions, defaults, what scripts do, and what the template leaves open."""

from __future__ import annotations

import json
import subprocess
import sys

from tally.forms import ELEMENTS, Field, FormSchema, parse_template
from tests.project import ROOT


def test_liquid_in_attributes_loops_and_conditions_does_not_break_the_parse() -> None:
    # GIVEN Liquid in attributes (with quotes inside), a loop generating options and an {% if %}
    schema = parse_template(
        """<crowd-form>
        <crowd-classifier name="c" categories="{{ task.input.labels | to_json | escape }}"
            header="{{ "quoted" | upcase }}"></crowd-classifier>
        <select name="animal">
          <option value="">-- pick --</option>
          {% for a in task.input.animals %}<option value="{{ a.id }}">{{ a.name }}</option>{% endfor %}
          <option value="none">None</option>
        </select>
        {% if task.input.askComment %}<crowd-input name="comment"></crowd-input>{% endif %}
        <crowd-slider name="s" min="{{ task.input.min }}" max="10"></crowd-slider>
        </crowd-form>"""
    )
    # THEN options from data are marked as such, the static ones kept, the conditional field said so
    assert schema == FormSchema(
        (
            Field("c", "single-choice", "crowd-classifier", options_from_data=True, task="classification"),
            Field("animal", "single-choice", "select", ("none",), options_from_data=True),
            Field(
                "comment",
                "text",
                "crowd-input",
                reason="inside a Liquid {% if %}: only some tasks show it; "
                "left empty, it is absent from the answer (not a rejected answer)",
            ),
            Field("s", "number", "crowd-slider", maximum=10),
        )
    )


def test_controls_inside_a_liquid_comment_or_an_html_comment_are_never_rendered() -> None:
    schema = parse_template(
        """<crowd-form>{% comment %}<crowd-input name="old"></crowd-input>{% endcomment %}
        <!-- <select name="older"></select> -->
        {%- if x -%}<crowd-input name="kept"></crowd-input>{%- endif -%}</crowd-form>"""
    )
    assert schema.names == ("kept",)


def test_a_control_repeated_by_a_loop_under_one_name_is_one_set_of_options_from_the_data() -> None:
    schema = parse_template(
        """{% for c in task.input.categories %}
        <crowd-checkbox name="tags" value="{{ c }}">{{ c }}</crowd-checkbox>
        <input type="radio" name="best" value="{{ c }}">
        {% endfor %}
        {% for r in task.input.rows %}<crowd-input name="note"></crowd-input>{% endfor %}"""
    )
    assert schema == FormSchema(
        (
            Field("tags", "multi-choice", "crowd-checkbox", options_from_data=True),
            Field("best", "single-choice", "input type=radio", options_from_data=True),
            Field(
                "note",
                "text",
                "crowd-input",
                reason="left empty, it is absent from the answer (not a rejected answer); "
                "inside a Liquid {% for %} loop: repeated under one name",
            ),
        )
    )


def test_options_defaults_and_bounds_of_plain_html_controls() -> None:
    schema = parse_template(
        """<crowd-form>
        <select name="size"><option>Small</option><option selected>Medium &amp; up</option></select>
        <select name="colours" multiple><option value="r" selected>Red</option><option value="g">Green</option></select>
        <input type="number" name="count" min="0" max="20" step="2" value="4">
        <input type="range" name="level">
        <input name="free" value="x">
        <input type="checkbox" name="agree" checked>
        <input type="submit" value="Go">
        <input type="hidden" name="payload" value='{"a": 1}'>
        <textarea name="notes" required></textarea>
        <crowd-input name="age" type="number" max="120"></crowd-input>
        <crowd-toggle-button name="urgent" checked></crowd-toggle-button>
        </crowd-form>"""
    )
    assert schema == FormSchema(
        (
            Field("size", "single-choice", "select", ("Small", "Medium & up"), default="Medium & up"),
            Field("colours", "multi-choice", "select", ("r", "g"), default=("r",)),
            Field("count", "number", "input type=number", minimum=0, maximum=20, step=2, default=4),
            Field("level", "number", "input type=range"),
            Field("free", "text", "input type=text", default="x"),
            Field("agree", "boolean", "input type=checkbox", ("on",), default=True),
            Field("payload", "json", "input type=hidden", default='{"a": 1}'),
            Field("notes", "text", "textarea", required=True),
            Field("age", "number", "crowd-input", maximum=120),
            Field("urgent", "boolean", "crowd-toggle-button", default=True),
        )
    )


def test_radio_questions_by_group_by_shared_name_and_with_ambiguous_buttons() -> None:
    schema = parse_template(
        """<crowd-radio-group id="mood">
             <crowd-radio-button name="happy" value="yes" checked>Happy</crowd-radio-button>
             <crowd-radio-button name="sad" value="yes">Sad</crowd-radio-button>
           </crowd-radio-group>
           <crowd-radio-group>
             <crowd-radio-button name="size" value="S">S</crowd-radio-button>
             <crowd-radio-button name="size" value="L" required>L</crowd-radio-button>
           </crowd-radio-group>
           <crowd-radio-group>
             <crowd-radio-button name="a">A</crowd-radio-button>
             <crowd-radio-button name="a">B</crowd-radio-button>
             <crowd-radio-button name="b">C</crowd-radio-button>
           </crowd-radio-group>
           <crowd-radio-button name="lone" value="v1"></crowd-radio-button>
           <crowd-radio-button name="lone" value="v2"></crowd-radio-button>"""
    )
    assert schema == FormSchema(
        (
            Field(
                "mood",
                "single-choice",
                "crowd-radio-group",
                ("happy", "sad"),
                buttons=(("happy", "yes"), ("sad", "yes")),
                default="happy",
                reason="its buttons share values: each option is its button's name",
                keys=("happy", "sad"),
            ),
            Field("size", "single-choice", "crowd-radio-group", ("S", "L"), required=True),
            Field(
                "a|b",
                "single-choice",
                "crowd-radio-group",
                ("a=on", "a=on", "b=on"),
                buttons=(("a", "on"), ("a", "on"), ("b", "on")),
                reason="its buttons share names and values: each option is written name=value",
                keys=("a", "b"),
            ),
            Field("lone", "single-choice", "crowd-radio-button", ("v1", "v2")),
        )
    )


def test_elements_nested_in_an_annotation_element_and_outside_any_crowd_form_are_fields() -> None:
    schema = parse_template(
        """<crowd-entity-annotation name="ner" labels="[{'label': 'person'}, {'label': 'place'}]" text="x">
             <short-instructions><crowd-checkbox name="unsure">Unsure</crowd-checkbox></short-instructions>
           </crowd-entity-annotation>"""
    )
    assert schema.names == ("ner", "unsure")
    assert schema.field("ner").options == ("person", "place")
    assert schema.field("unsure") == Field("unsure", "boolean", "crowd-checkbox", ("on",))


def test_what_tally_cannot_read_is_said() -> None:
    schema = parse_template(
        """<crowd-form>
        <crowd-question-answer-generation name="qa"></crowd-question-answer-generation>
        <crowd-bounding-box name="boxes" labels="['a', oops]"></crowd-bounding-box>
        <crowd-keypoint name="points" labels="{'a': 1}"></crowd-keypoint>
        <crowd-polygon name="shapes"></crowd-polygon>
        <crowd-button name="go">Go</crowd-button>
        </crowd-form>"""
    )
    assert [(f.name, f.kind, f.reason) for f in schema] == [
        ("qa", "unknown", "tally does not know what <crowd-question-answer-generation> submits"),
        ("boxes", "annotation", "its 'labels' attribute cannot be read: \"['a', oops]\""),
        ("points", "annotation", "its 'labels' attribute is not a list"),
        ("shapes", "annotation", "no 'labels' attribute: a script sets them"),
        ("go", "unknown", "tally does not know what <crowd-button> submits"),
    ]
    assert all(f.options_from_data for f in schema if f.kind == "annotation")


def test_scripts_that_set_options_fill_hidden_inputs_or_create_controls_are_noted() -> None:
    schema = parse_template(
        """<crowd-form>
        <crowd-bounding-box id="annotator" name="boxes" labels="['x']"></crowd-bounding-box>
        <crowd-classifier name="c" categories="['a']"></crowd-classifier>
        <input type="hidden" id="out" name="result">
        <input type="hidden" id="raw" name="raw">
        </crowd-form>
        <script>
          annotator.labels = ['y', 'z'];
          const classifier = document.querySelector('crowd-classifier');
          classifier.categories = ['b'];
          document.getElementById("out").value = JSON.stringify({a: 1});
          raw.value = something;
          const box = document.createElement('input'); box.type = 'checkbox';
          if (annotator.labels == null) {}
        </script>"""
    )
    assert [(f.name, f.kind, f.options_from_data, f.reason) for f in schema] == [
        ("boxes", "annotation", True, "a script sets its options"),
        ("c", "single-choice", True, "a script sets its options"),
        ("result", "json", False, "a script fills it with JSON"),
        ("raw", "text", False, "a script sets its value (JSON or not: the answers tell)"),
    ]
    assert schema.notes == (
        "a script creates form controls (input): the fields it adds are not in the template and are read from the answers",
    )


def test_a_key_two_fields_claim_goes_to_the_first_and_is_noted() -> None:
    schema = parse_template(
        """<crowd-radio-group><crowd-radio-button name="x" value="1"></crowd-radio-button>
           <crowd-radio-button name="y" value="2"></crowd-radio-button></crowd-radio-group>
           <crowd-input name="x"></crowd-input>"""
    )
    assert schema.notes == ("the key 'x' is claimed by several fields (x|y, x): the first one takes it",)
    assert schema.by_key["x"].name == "x|y"


def test_a_template_without_controls_is_an_empty_schema_and_broken_html_still_parses() -> None:
    assert parse_template("<p>Hello {{ task.input.name }}</p>") == FormSchema()
    assert parse_template("") == FormSchema()
    broken = parse_template('<crowd-form><select name="s"><option value="a">A<option value="b">B</crowd-form')
    assert broken.field("s").options == ("a", "b")
    assert FormSchema().source == "empty"


def test_the_schema_as_json_leaves_empty_parts_out() -> None:
    schema = parse_template(
        '<crowd-radio-group><crowd-radio-button name="a" value="1"></crowd-radio-button>'
        '<crowd-radio-button name="b" value="2"></crowd-radio-button></crowd-radio-group>'
        '<crowd-slider name="s" min="1" max="5" required></crowd-slider>'
    )
    assert json.loads(json.dumps(schema.as_json())) == {
        "source": "template",
        "fields": [
            {
                "name": "a|b",
                "kind": "single-choice",
                "found": "template",
                "element": "crowd-radio-group",
                "options": ["1", "2"],
                "buttons": [["a", "1"], ["b", "2"]],
                "keys": ["a", "b"],
            },
            {
                "name": "s",
                "kind": "number",
                "found": "template",
                "element": "crowd-slider",
                "minimum": 1,
                "maximum": 5,
                "required": True,
            },
        ],
    }


def test_every_task_named_by_an_element_is_a_task_tally_has() -> None:
    from tally.tasks import ENTRIES

    names = {entry.kind.shape.name for entry in ENTRIES}
    assert {e.task for e in ELEMENTS.values() if e.task is not None} <= names
    assert names == {e.task for e in ELEMENTS.values() if e.task is not None}


def test_the_package_is_light_no_numpy_pillow_tasks_or_command_line() -> None:
    code = (
        "import json, sys, tally.forms as f; "
        "f.split({'a': '1'}, f.read_form('<crowd-input name=\"a\"></crowd-input>', [{'a': '1'}])); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'PIL', 'click', 'rich', 'liquid', 'pydantic') "
        "or m.startswith(('tally.tasks', 'tally.tools', 'tally.consolidate')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT / "layers" / "tally")},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == []
