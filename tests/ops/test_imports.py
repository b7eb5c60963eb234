"""What each handler loads at import, and what a batch loads for its task (a fresh interpreter per
case, as a cold start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tally
import tally.colours
import tally.tasks
from tally import Settings, codecs
from tally.aggregation import vote_table
from tally.tasks import ENTRIES, LazyTask, learner, make_tasks
from tally.tasks.base import LearnsAcrossBatches
from tests.helpers import annotation, seg_content

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["numpy", "PIL", "tally.codecs", "tally.consolidate", "boto3", "tally.tasks.figures"]
"""boto3: only the worker store imports it; figures: only the views, when the tools call them."""
TASK_MODULES = [
    "numpy",
    "PIL",
    "tally.tasks.semantic_segmentation.adapter",
    "tally.tasks.classification.adapter",
    "tally.tasks.entities.adapter",
    "tally.tasks.geometry",
    "tally.tasks.boxes.adapter",
    "tally.tasks.keypoints.adapter",
    "tally.tasks.instances.adapter",
    "tally.tasks.polygons.adapter",
    "tally.aggregation.weighted_pixel_vote",
    "tally.aggregation.dawid_skene",
    "tally.aggregation.span_vote",
    "tally.aggregation.geometric",
]
LIGHT = sorted({f"tally.tasks.{e.package}" for e in ENTRIES} | {"tally.tasks.figures"})
"""Each kind's light package (and the views' figures): a batch imports only its own kind's (and
those of the kinds no element key marks, when an answer reaches them in the recognition order)."""


def child_env(function: str = "consolidation") -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions" / function), str(ROOT / "layers" / "tally")]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "tally",
        "POWERTOOLS_METRICS_NAMESPACE": "tally",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def loaded_after_import(function: str) -> dict[str, bool]:
    """Import functions/<function>/app.py in a new interpreter; report which heavy modules it loaded."""
    watched = HEAVY + TASK_MODULES[2:] + LIGHT
    code = f"import json, sys, app; print(json.dumps({{m: m in sys.modules for m in {watched!r}}}))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=child_env(function), capture_output=True, text=True, check=True
    )
    result: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_pre_annotation_loads_neither_numpy_nor_pillow() -> None:
    assert loaded_after_import("pre_annotation") == dict.fromkeys(HEAVY + TASK_MODULES[2:] + LIGHT, False)


def test_consolidation_loads_the_driver_but_no_task_module() -> None:
    loaded = loaded_after_import("consolidation")
    assert loaded == {**dict.fromkeys(HEAVY + TASK_MODULES[2:] + LIGHT, False), "tally.consolidate": True}


BATCH = r"""
import json, sys
from tally import ConsolidationRequest, Settings, consolidate_batch
from tally.storage import MemoryStorage
payload, labels, watched = json.loads(sys.stdin.read())
storage = MemoryStorage({"s3://bucket/payload.json": payload.encode()})
request = ConsolidationRequest.parse({"labelAttributeName": "label", "labelCategories": labels,
                                      "payload": {"s3Uri": "s3://bucket/payload.json"}})
report = consolidate_batch(request, storage, settings=Settings(algorithm="majority"))
labels = [e["consolidatedAnnotation"]["content"]["label"] for e in report.response]
print(json.dumps([{m: m in sys.modules for m in watched}, labels]))
"""


def run_batch(objects: list[dict[str, Any]], labels: list[str]) -> tuple[dict[str, bool], list[dict[str, Any]]]:
    """Consolidate one batch in a new interpreter; which task modules it loaded, and its labels."""
    stdin = json.dumps([json.dumps(objects), labels, TASK_MODULES + LIGHT])
    out = subprocess.run(
        [sys.executable, "-c", BATCH], input=stdin, env=child_env(), capture_output=True, text=True, check=True
    )
    loaded, result = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded, result


def batch_of(*answers: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://bucket/0.jpg"},
            "annotations": [annotation(f"w{i}", json.dumps({"answer": a})) for i, a in enumerate(answers)],
        }
    ]


def test_a_classification_batch_loads_numpy_and_dawid_skene_only() -> None:
    loaded, labels = run_batch(batch_of({"label": "Cat"}, {"label": "Cat"}, {"label": "Dog"}), ["Dog", "Cat"])
    assert [(label["class-id"], label["class-name"]) for label in labels] == [(1, "Cat")]
    # recognising the answers imports no other kind's package: their keys are the registry's lines
    expected = {"numpy", "tally.tasks.classification", "tally.tasks.classification.adapter"}
    assert {m for m, is_loaded in loaded.items() if is_loaded} == expected | {"tally.aggregation.dawid_skene"}


def test_a_multi_label_batch_loads_the_classification_package_only() -> None:
    answers: tuple[dict[str, Any], ...] = ({"labels": ["Cat"]}, {"labels": ["Cat", "Dog"]}, {"labels": []})
    loaded, labels = run_batch(batch_of(*answers), ["Dog", "Cat"])
    assert [label["class-names"] for label in labels] == [["Cat"]]
    expected = {"numpy", "tally.tasks.classification", "tally.tasks.classification.adapter"}
    assert {m for m, is_loaded in loaded.items() if is_loaded} == expected | {"tally.aggregation.dawid_skene"}


def test_a_segmentation_batch_never_loads_the_geometric_or_dawid_skene_code() -> None:
    legend = {"r": "road"}
    masks = [seg_content(rows, legend, element="answer") for rows in (["rr", ".."], ["rr", ".."], ["r.", ".."])]
    objects = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://bucket/0.jpg"},
            "annotations": [annotation(f"w{i}", mask) for i, mask in enumerate(masks)],
        }
    ]
    loaded, labels = run_batch(objects, ["road"])
    assert labels[0]["internal-color-map"]["1"]["class-name"] == "road"
    expected = {"numpy", "PIL", "tally.tasks.semantic_segmentation.adapter", "tally.aggregation.weighted_pixel_vote"}
    assert {m for m, is_loaded in loaded.items() if is_loaded} == expected | {"tally.tasks.semantic_segmentation"}


def test_a_boxes_batch_loads_the_geometric_code_only() -> None:
    box: dict[str, Any] = {"boundingBoxes": [{"label": "car", "left": 1, "top": 1, "width": 4, "height": 4}]}
    box["inputImageProperties"] = {"width": 10, "height": 10}
    loaded, labels = run_batch(batch_of(box, box), ["car"])
    assert labels[0]["annotations"] == [{"class_id": 0, "left": 1, "top": 1, "width": 4, "height": 4}]
    expected = {"numpy", "PIL", "tally.tasks.geometry", "tally.tasks.boxes.adapter", "tally.aggregation.geometric"}
    # the kinds before boxes in the recognition order are passed by their keys, not imported
    assert {m for m, is_loaded in loaded.items() if is_loaded} == expected | {"tally.tasks.boxes"}


def test_an_unknown_shape_is_passed_through_without_numpy() -> None:
    loaded, labels = run_batch(batch_of({"rating": 3}), ["a"])
    assert labels[0]["note"].startswith("no consolidation")
    # every kind was asked; only those no element key marks had to import their package to answer
    assert {m for m, is_loaded in loaded.items() if is_loaded} == {"tally.tasks.number", "tally.tasks.free_text"}


def test_lazy_tasks_recognise_by_shape_and_load_their_class_on_first_use() -> None:
    settings = Settings(algorithm="majority")
    tasks = [t for t in make_tasks(settings) if isinstance(t, LazyTask)]
    assert [t.name for t in tasks] == [e.kind.shape.name for e in ENTRIES]
    for task, entry in zip(tasks, ENTRIES, strict=True):
        assert not task.is_loaded
        real = task.loaded
        assert type(real).__name__ == entry.cls
        assert isinstance(real, type(entry.kind.shape))  # the class inherits its shape: they cannot disagree
        assert (real.name, real.type) == (task.name, task.type)
        assert id(learner(task)) == id(real) and isinstance(real, LearnsAcrossBatches)
    assert tasks[0].uses_batch_model is False  # majority: segmentation's batch model is off
    assert make_tasks(Settings())[0].uses_batch_model is True
    again = make_tasks(settings)[1]
    assert isinstance(again, LazyTask) and again.loaded is not tasks[1].loaded  # fresh tasks per batch
    assert learner(tally.tasks.Passthrough()) is None
    assert tally.tasks.SemanticSegmentation is type(tasks[0].loaded)
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _ = tally.tasks.Nothing


@pytest.mark.parametrize(
    ("element", "owner"),
    [
        ({"labeledImage": {}, "labelMappings": {}}, "semantic-segmentation"),
        ({"labeledImage": {}, "instances": []}, "instance-segmentation"),
        ({"label": "Dog"}, "classification"),
        ({"label": "Dog", "labels": ["Dog"]}, "multi-label classification"),
        ({"labels": ["Dog"]}, "multi-label classification"),
        ({"label": "x", "boundingBoxes": []}, "bounding-box"),
        ({"entities": []}, "named-entity"),
        ({"keypoints": []}, "keypoint"),
        ({"polygons": []}, "polygon"),
        ({"rating": 3}, None),
    ],
)
def test_recognition_order_without_loading_anything(element: dict[str, Any], owner: str | None) -> None:
    tasks = make_tasks(Settings())
    found = next((t for t in tasks if t.recognises(element)), None)
    assert (found.name if found else None) == owner
    assert not any(t.is_loaded for t in tasks if isinstance(t, LazyTask))


PRIOR = r"""
import json, sys
from tally import Settings
from tally.pre_annotation import pre_annotate
line, watched = json.loads(sys.stdin.read())
out = pre_annotate({"version": "2018-10-16", "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/j",
                    "dataObject": line}, settings=Settings(labels=("car", "bus")))
print(json.dumps([{m: m in sys.modules for m in watched}, out["taskInput"].get("initialValue")]))
"""


def test_a_prior_label_imports_the_package_of_its_kind_only() -> None:
    """Pre-annotation finds a prior label's kind by its type; the registry lines declare the types, so
    only that kind's light package is imported (no numpy)."""
    boxes = {"annotations": [{"class_id": 1, "left": 1, "top": 2, "width": 3, "height": 4}]}
    meta = {"type": "groundtruth/object-detection", "class-map": {"0": "car", "1": "bus"}, "human-annotated": "yes"}
    line = {"source-ref": "s3://bucket/0.jpg", "old": boxes, "old-metadata": meta}
    stdin = json.dumps([line, ["numpy", "PIL", *LIGHT]])
    out = subprocess.run(
        [sys.executable, "-c", PRIOR],
        input=stdin,
        env=child_env("pre_annotation"),
        capture_output=True,
        text=True,
        check=True,
    )
    loaded, initial = json.loads(out.stdout.strip().splitlines()[-1])
    assert initial == {"boundingBoxes": [{"label": "bus", "left": 1, "top": 2, "width": 3, "height": 4}]}
    assert {m for m, is_loaded in loaded.items() if is_loaded} == {"tally.tasks.boxes"}


@pytest.mark.parametrize("function", ["pre_annotation", "consolidation"])
def test_the_tracer_patches_botocore_only(function: str) -> None:
    # tracing on, as in Lambda: the Tracer patches botocore at import, not patch_all's dozen libraries
    env = child_env(function) | {
        "AWS_LAMBDA_FUNCTION_NAME": "tally-test",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1",
    }
    del env["POWERTOOLS_TRACE_DISABLED"]
    code = (
        "import json, sys, app, botocore.client; "
        "print(json.dumps([app.tracer.disabled, getattr(botocore.client, '_xray_enabled', False), "
        "sorted(m for m in sys.modules if m.startswith('aws_xray_sdk.ext.') and m.endswith('.patch'))]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, True, ["aws_xray_sdk.ext.botocore.patch"]]


def test_lazy_names_resolve_to_the_defining_modules() -> None:
    from tally.consolidate import consolidate_batch
    from tally.settings import Settings

    assert tally.consolidate_batch is consolidate_batch
    assert tally.Settings is Settings
    assert set(tally.__all__) <= set(dir(tally))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = tally.nothing


def test_codecs_and_the_vote_table_share_the_light_colour_helpers() -> None:
    assert codecs.hex_to_rgb is tally.colours.hex_to_rgb
    assert vote_table.ABSTAIN == codecs.ABSTAIN == tally.colours.ABSTAIN == 255
    assert tally.colours.hex_to_rgb("#ABC") == (170, 187, 204)
    with pytest.raises(ValueError, match="not a hex colour"):
        tally.colours.hex_to_rgb("#12345")


def test_only_the_aws_adapters_import_botocore_or_boto3() -> None:
    """The core's AWS adapters are tally/aws.py and tally/stores/dynamodb.py; the command line
    (tally/tools) may import boto3 where S3 is really needed."""
    import ast

    package = ROOT / "layers" / "tally" / "tally"
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(name.split(".")[0] in ("botocore", "boto3") for name in names):
                importers.add(path.relative_to(package).as_posix())
    assert {p for p in importers if not p.startswith("tools/")} == {"aws.py", "stores/dynamodb.py"}
