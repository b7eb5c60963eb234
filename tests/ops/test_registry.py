"""The task registry: one package and one line per type, and no branch on a type string outside it.

The check reads every module of the package as a syntax tree: a comparison (``==``, ``!=``, ``in``,
``not in``), a ``match`` case, a dict key, or an ``endswith``/``startswith`` call that uses a task
type's string (``"groundtruth/..."``, ``"tally/..."``, a piece of one such as ``"-multilabel"``) or a ``TaskType``
member, is a branch on the type, and is allowed only inside the package of the kind that owns it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from tally.gt.answers import BareValue
from tally.gt.response import TaskType
from tally.tasks.kind import TaskKind, Views
from tally.tasks.registry import ENTRIES, FALLBACK, element_keys, kind_of

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "tally" / "tally"
TYPES = [t.value for t in TaskType]
TASK_PACKAGES = {e.package for e in (*ENTRIES, FALLBACK)}


def _is_type_string(value: object) -> bool:
    if not isinstance(value, str) or len(value) < 4:
        return False
    return any(value in t for t in TYPES) and value.startswith(("groundtruth/", "tally/", "-"))


def _is_type_node(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return _is_type_string(node.value)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "TaskType":
        return True
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_type_node(e) for e in node.elts)
    return False


def branches(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, enclosing function)`` of each branch on a type string in ``tree``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        hit = False
        if isinstance(node, ast.Compare):
            hit = any(_is_type_node(n) for n in (node.left, *node.comparators))
        elif isinstance(node, ast.match_case):
            hit = any(_is_type_node(n) for n in ast.walk(node.pattern))
        elif isinstance(node, ast.Dict):
            hit = any(k is not None and _is_type_node(k) for k in node.keys)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            hit = node.func.attr in ("endswith", "startswith") and any(_is_type_node(a) for a in node.args)
        if hit:
            found.append((getattr(node, "lineno", 0), function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def _outside_task_packages() -> dict[str, list[tuple[int, str]]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        parts = relative.split("/")
        if parts[0] == "tasks" and len(parts) > 2 and parts[1] in TASK_PACKAGES:
            continue  # a kind's own package
        if relative == "gt/response.py":
            continue  # where TaskType is defined
        found = branches(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            out[relative] = found
    return out


def test_no_branch_on_a_type_string_outside_its_package() -> None:
    found = _outside_task_packages()
    assert {f"{path}:{line} ({function})" for path, hits in found.items() for line, function in hits} == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('if kind == "groundtruth/keypoint":\n    pass', 1),
        ('x = kind.endswith("-multilabel")', 1),
        ('x = {"groundtruth/object-detection": 1}', 1),
        ("x = kind in (TaskType.KEYPOINTS, TaskType.CUSTOM)", 1),
        ('match kind:\n    case "groundtruth/custom":\n        pass', 1),
        ('if label["type"] == "tally/ranking":\n    pass', 1),
        ('x = "groundtruth/keypoint"', 0),  # a value, not a branch
        ('x = name == "label"', 0),
    ],
)
def test_the_check_finds_branches(source: str, expected: int) -> None:
    assert len(branches(ast.parse(source))) == expected


def test_every_entry_is_a_kind_and_every_type_has_one_reader() -> None:
    kinds = [e.kind for e in (*ENTRIES, FALLBACK)]
    assert all(isinstance(k, TaskKind) for k in kinds)
    owned = [str(t) for e in (*ENTRIES, FALLBACK) for t in e.types]
    assert len(owned) == len(set(owned))
    assert set(owned) == set(TYPES)  # every Ground Truth type tally writes is read back by one kind
    assert kind_of("groundtruth/image-classification") is kind_of("groundtruth/text-classification")
    assert kind_of("groundtruth/video-object-tracking") is None
    assert element_keys("classification") == {
        "labeledImage",
        "boundingBoxes",
        "keypoints",
        "polygons",
        "instances",
        "entities",
        "ordinalRankingDimensions",
        "polylines",
        "lines",
    }


def test_a_view_a_kind_does_not_have_answers_nothing() -> None:
    views = Views()
    assert views.prior({"x": 1}, {}) is None
    assert views.builtin({}, "a", lambda t: {}) is None
    assert views.labels({}, None) == []  # type: ignore[arg-type]
    assert (views.visual, views.shaded_items) == (False, False)


ELEMENTS: list[dict[str, Any]] = [
    {"labeledImage": {"pngImageData": ""}, "labelMappings": {}},
    {"labeledImage": {"pngImageData": ""}, "instances": []},
    {"label": "Dog"},
    {"label": 3},
    {"labels": ["Dog"]},
    {"label": "Dog", "labels": ["Dog"]},
    {"label": "x", "boundingBoxes": []},
    {"boundingBoxes": [], "inputImageProperties": {"width": 4, "height": 4}},
    {"boundingBoxes": {}},
    {"entities": []},
    {"keypoints": [{"label": "eye", "x": 1, "y": 2}]},
    {"polygons": []},
    {"instances": []},
    {"ordinalRankingDimensions": []},
    {"polylines": []},
    {"lines": []},
    {"label": "Dog", "lines": []},
    BareValue(value=4),
    BareValue(value=True),
    BareValue(value="a cat"),
    BareValue(value='{"a": 1}'),
    {"value": 4},
    {"rating": 3},
    {},
]


def test_the_registry_lines_keys_decide_recognition_as_the_shapes_do() -> None:
    # an element without any of a line's keys is never the kind's: the registry answers without the package
    for entry in ENTRIES:
        recognised = [entry.kind.shape.recognises(e) for e in ELEMENTS]
        assert [entry.recognises(e) for e in ELEMENTS] == recognised, entry.name
        assert any(recognised), entry.name  # every kind recognises one of the elements: the check has teeth
        for element, is_recognised in zip(ELEMENTS, recognised, strict=True):
            assert not is_recognised or not entry.keys or any(k in element for k in entry.keys), entry.name
    owners = [next((e.kind.shape.name for e in ENTRIES if e.recognises(x)), None) for x in ELEMENTS]
    assert owners == [
        "semantic-segmentation",
        "instance-segmentation",
        "classification",
        None,
        "multi-label classification",
        "multi-label classification",
        "bounding-box",
        "bounding-box",
        None,
        "named-entity",
        "keypoint",
        "polygon",
        None,
        "ranking",
        "polyline",
        "line",
        "line",
        "number",
        None,
        "free-text",
        None,
        None,
        None,
        None,
    ]
