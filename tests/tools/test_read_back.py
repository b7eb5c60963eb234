"""The readers of labels follow what the response sink moved to S3 (tally.gt.sink): `tally export`
(built-in shapes and COCO), `tally report` and the pre-annotation prior read a batch whose response
was fitted with every step (batch figures in one file, per-object detail trimmed, labels spilled)
exactly as they read the same batch returned whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally import ConsolidationRequest, consolidate_batch
from tally.gt.response import response_size
from tally.gt.sink import FULL_LABEL_REF, WORKER_QUALITY_REF
from tally.pre_annotation import pre_annotate
from tally.storage import LocalStorage
from tally.tools._common import CliStorage
from tally.tools.cli import main
from tally.tools.report import load_review, render_report
from tests.sim.batches import BUILDERS

# pycocotools 2.0.11's mask decoder calls numpy's __array__ the pre-2.0 way (its code, not ours)
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

PAYLOAD = "s3://gt-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
OUTPUT = "s3://gt-bucket/job/annotations"
ATTR = "things"
DETAIL = {"worker-quality", WORKER_QUALITY_REF, "answer-warnings", "rejected-answers"}
TASKS = ["classification", "multi-label", "named entities", "boxes", "keypoints", "instances", "semantic segmentation"]


def _manifest(path: Path, payload: list[dict[str, Any]], response: list[dict[str, Any]]) -> Path:
    """The output manifest Ground Truth writes from a response: each input line plus the label."""
    with path.open("w") as fh:
        for element, entry in zip(payload, response, strict=True):
            data = element["dataObject"]
            line = {"source-ref": data["s3Uri"]} if "s3Uri" in data else {"source": data["content"]}
            fh.write(json.dumps({**line, **entry["consolidatedAnnotation"]["content"]}) + "\n")
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module", params=TASKS)
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One task's 16 x 9 batch consolidated twice: returned whole, and fitted under a limit that takes
    every step and spills some labels (between what trimming every label and spilling every label
    leave; classification's labels, trimmed, are no larger than spilled ones)."""
    task: str = request.param
    root = tmp_path_factory.mktemp(task.replace(" ", "-"))
    payload, labels = BUILDERS[task](np.random.default_rng(7), 16, 9)
    storage = LocalStorage(root / "s3")
    storage.write(PAYLOAD, json.dumps(payload).encode(), "application/json")
    request_ = ConsolidationRequest.parse(
        {"labelAttributeName": ATTR, "labelCategories": labels, "payload": {"s3Uri": PAYLOAD}, "outputConfig": OUTPUT}
    )
    whole = consolidate_batch(request_, storage)
    assert whole.response_steps == []
    probe = {s.number: s for s in consolidate_batch(request_, storage, response_limit=1).response_steps}
    # a classification label trimmed is as small as its summary: nothing to spill
    limit = (probe[3].after + probe[4].after) // 2 if 4 in probe else probe[3].after
    fitted = consolidate_batch(request_, storage, response_limit=limit)
    assert [s.number for s in fitted.response_steps] == list(probe) and response_size(fitted.response) <= limit
    pairs = [(e["consolidatedAnnotation"]["content"][ATTR], w["consolidatedAnnotation"]["content"][ATTR])
             for e, w in zip(fitted.response, whole.response, strict=True)]  # fmt: skip
    assert all(FULL_LABEL_REF in label for label, _ in pairs)  # every label trimmed (step 3) ...
    spilled = [i for i, (label, original) in enumerate(pairs) if not set(original) - DETAIL <= set(label)]
    assert 0 < len(spilled) < len(pairs) if 4 in probe else not spilled  # ... and some spilled (step 4)
    return {
        "task": task,
        "root": root,
        "whole": _manifest(root / "whole.manifest", payload, whole.response),
        "fitted": _manifest(root / "fitted.manifest", payload, fitted.response),
        "storage": storage,
        "spilled": spilled,
    }


def _export(batch: dict[str, Any], which: str, fmt: str) -> tuple[int, Path]:
    out = batch["root"] / f"{which}.{fmt}"
    argv = ["export", str(batch[which]), "--label-attribute", ATTR, "--format", fmt, "--out", str(out)]
    return main([*argv, "--s3-root", str(batch["root"] / "s3"), "--no-progress"]), out


def test_export_builtin_reads_a_fitted_batch_as_the_whole_one(batch: dict[str, Any]) -> None:
    code, whole = _export(batch, "whole", "builtin")
    assert code == 0
    code, fitted = _export(batch, "fitted", "builtin")
    assert code == 0
    if batch["task"] in ("keypoints", "instances"):  # no built-in shape: each line as it was read
        assert _lines(fitted) == _lines(batch["fitted"])
    else:
        assert fitted.read_text() == whole.read_text()


def test_export_coco_reads_a_fitted_batch_as_the_whole_one(batch: dict[str, Any]) -> None:
    code, whole = _export(batch, "whole", "coco")
    assert code == 0
    code, fitted = _export(batch, "fitted", "coco")
    assert code == 0
    document = json.loads(fitted.read_text())
    assert document == json.loads(whole.read_text())
    if batch["task"] in ("boxes", "keypoints", "instances", "semantic segmentation"):
        assert document["annotations"]


def test_report_reads_a_fitted_batch_as_the_whole_one(batch: dict[str, Any]) -> None:
    storage = CliStorage(str(batch["root"] / "s3"))
    attr, whole, problems = load_review(batch["whole"], None, ATTR, storage)
    assert problems == []
    _, fitted, problems = load_review(batch["fitted"], None, ATTR, storage)
    assert problems == []
    assert [o.label for o in fitted] == [o.label for o in whole]
    assert all(WORKER_QUALITY_REF not in o.label and FULL_LABEL_REF not in o.label for o in fitted)
    assert all(len(o.label["worker-quality"]) == 9 for o in fitted)
    assert render_report(fitted, attr) == render_report(whole, attr)


def test_the_pre_annotation_prior_of_a_fitted_batch_is_the_whole_ones(batch: dict[str, Any]) -> None:
    storage: LocalStorage = batch["storage"]
    priors = []
    for whole, fitted in zip(_lines(batch["whole"]), _lines(batch["fitted"]), strict=True):
        expected = pre_annotate({"dataObject": whole})["taskInput"]
        got = pre_annotate({"dataObject": fitted}, read=storage.read)["taskInput"]
        assert got == {**expected, "manifestLine": fitted}  # the line itself is passed on as received
        priors.append(got.get("initialValue"))
    if batch["task"] != "named entities":  # every other kind here has a prior
        assert all(priors)
    # without a way to read S3, a spilled label gives the prior its summary holds (a class) or none, never a wrong one
    fitted_lines = _lines(batch["fitted"])
    for i in batch["spilled"]:
        unread = pre_annotate({"dataObject": fitted_lines[i]})["taskInput"].get("initialValue")
        assert unread == (priors[i] if batch["task"] in ("classification", "multi-label") else None)


def test_a_ref_that_cannot_be_followed_is_reported_not_hidden(
    batch: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(batch["fitted"])
    lines[3][ATTR][FULL_LABEL_REF] = OUTPUT + "/consolidated-annotation/output/gone-label.json"
    broken = tmp_path / "broken.manifest"
    broken.write_text("".join(json.dumps(line) + "\n" for line in lines))
    _, objects, problems = load_review(broken, None, ATTR, CliStorage(str(batch["root"] / "s3")))
    assert len(problems) == 1 and problems[0].startswith("line 4: label not read back in full: cannot read s3://")
    assert objects[3].label == lines[3][ATTR]  # the page shows what the response held
    out = tmp_path / "out.manifest"
    argv = ["export", str(broken), "--label-attribute", ATTR, "--format", "builtin", "--out", str(out)]
    assert main([*argv, "--s3-root", str(batch["root"] / "s3"), "--no-progress"]) == 3
    assert f"{broken} line 4: cannot export" in capsys.readouterr().err and not out.exists()
