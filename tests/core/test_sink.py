"""The response sink on hand-made results: what each step does, in which order, what a failed write
leaves, and how the reader follows (or refuses) the refs. The sink at Ground Truth's largest batches,
through the real consolidation, is tested in tests/functions/test_response_limit.py."""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import pytest

from tally.errors import StorageError
from tally.gt import sink
from tally.gt.answers import AnswerIssue
from tally.gt.response import ObjectResult, response_size
from tally.gt.sink import FULL_LABEL_REF, WORKER_QUALITY_REF, LabelReader, LabelRefError, respond
from tally.storage import MemoryStorage

ATTR = "pets"
PREFIX = "s3://bucket/job/annotations/consolidated-annotation/output"
WORKERS = [f"private.us-east-1.{k:017x}" for k in range(7)]
ACCURACY = {w: round(0.6 + 0.07 * k, 4) for k, w in enumerate(WORKERS)}
INFORMATIVENESS = {w: round(0.3 + 0.11 * k, 4) for k, w in enumerate(WORKERS)}


def result(i: int, *, warnings: int = 0, rejections: int = 0, mask: bool = False) -> ObjectResult:
    """A classified object whose label carries every fact tally adds, with per-object and batch figures."""
    quality = [{"workerId": w, "agreement": round(0.5 + 0.01 * ((i + k) % 7), 4), "accuracy": ACCURACY[w],
                "informativeness": INFORMATIVENESS[w]} for k, w in enumerate(WORKERS)]  # fmt: skip
    label: dict[str, Any] = {"class-id": i % 3, "class-name": ["cat", "dog", "bird"][i % 3], "confidence": 0.9}
    if mask:
        label["mask-ref"] = f"{PREFIX}/{i}_0123456789abcdef0123.png"
    label["class-map"] = {str(k): f"a rather long class name number {k}" for k in range(3)}
    label["worker-quality"] = quality
    issues = [AnswerIssue(WORKERS[k], f"the answer took {k} tries", rejected=False) for k in range(warnings)]
    issues += [AnswerIssue(WORKERS[k], f"label not among the job's labels: Dgo{k}") for k in range(rejections)]
    metadata = {"class-name": label["class-name"], "confidence": 0.9, "worker-quality": quality}
    return ObjectResult(
        str(i),
        "groundtruth/image-classification",
        label,
        metadata,
        0.9,
        issues,
        batch_figures=("accuracy", "informativeness"),
    )


def fit(results: list[ObjectResult], limit: int, storage: Any = None) -> tuple[sink.Response, Any]:
    storage = storage if storage is not None else MemoryStorage()
    response = respond(
        results, ATTR, job_name="labeling-job/pets", created="2026-01-01T00:00:00.000000",
        storage=storage, prefix=PREFIX, limit=limit, threads=3,
    )  # fmt: skip
    return response, storage


def built(results: list[ObjectResult]) -> list[dict[str, Any]]:
    return fit(results, 10**9)[0].entries


def labels(entries: list[dict[str, Any]]) -> list[Any]:
    return [e["consolidatedAnnotation"]["content"][ATTR] for e in entries]


def batch() -> list[ObjectResult]:
    return [result(i, warnings=i % 3, rejections=(i + 1) % 2, mask=i % 4 == 0) for i in range(40)]


def test_a_response_that_fits_is_the_entries_as_built_and_writes_nothing() -> None:
    results = batch()
    entries = [r.to_gt(ATTR, job_name="labeling-job/pets", created="2026-01-01T00:00:00.000000") for r in results]
    response, storage = fit(results, response_size(entries))
    assert response.entries == entries
    assert (response.steps, response.offloaded, response.size, storage.objects) == ([], 0, response_size(entries), {})


def test_step_two_moves_the_batch_figures_and_keeps_who_answered_and_the_per_object_ones() -> None:
    results = batch()
    as_built = built(results)
    [_, step_two, *_] = fit(results, 1)[0].steps
    response, storage = fit(results, step_two.after)  # fits once the figures moved
    assert [s.number for s in response.steps] == [1, 2] and response.fits
    [uri] = storage.objects
    assert uri.startswith(PREFIX + "/batch_") and uri.endswith("-worker-quality.json")
    assert json.loads(storage.objects[uri]) == {
        w: {"accuracy": ACCURACY[w], "informativeness": INFORMATIVENESS[w]} for w in WORKERS
    }
    for label, original in zip(labels(response.entries), labels(as_built), strict=True):
        assert label[WORKER_QUALITY_REF] == uri
        assert label["worker-quality"] == [
            {"workerId": row["workerId"], "agreement": row["agreement"]} for row in original["worker-quality"]
        ]
        assert {k: v for k, v in label.items() if k not in ("worker-quality", WORKER_QUALITY_REF)} == {
            k: v for k, v in original.items() if k != "worker-quality"
        }
    meta = response.entries[1]["consolidatedAnnotation"]["content"][f"{ATTR}-metadata"]
    assert meta == {
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/pets",
        "human-annotated": "yes",
        "creation-date": "2026-01-01T00:00:00.000000",
        "confidence": 0.9,
        "details": "in the label (the full metadata would pass Lambda's response size limit)",
    }


def _trimmed(label: dict[str, Any], original: dict[str, Any], key: str) -> bool:
    return key in original and key not in label


@pytest.mark.parametrize("share", [0.55, 0.5, 0.45, 0.42, 0.4, 0.38, 0.36, 0.35, 0.34])
def test_each_step_only_while_over_the_limit_in_order_and_nothing_lost(share: float) -> None:
    results = batch()
    as_built = built(results)
    limit = int(response_size(as_built) * share)
    response, storage = fit(results, limit)
    assert response.fits and response.size == response_size(response.entries) <= limit
    numbers = [s.number for s in response.steps]
    assert numbers == sorted(set(numbers)) and numbers[:2] == [1, 2]
    assert all(s.before > limit for s in response.steps)  # a step is taken only while over
    assert [s.before for s in response.steps[1:]] == [s.after for s in response.steps[:-1]]
    assert response.steps[0].before == response_size(as_built) and response.steps[-1].after == response.size
    fitted, originals = labels(response.entries), labels(as_built)
    # step 3's order: a key is trimmed from a label only when the keys before it are gone from every label
    order = ["worker-quality", "answer-warnings", "rejected-answers"]
    for earlier, later in itertools.pairwise(order):
        if any(_trimmed(f, o, later) for f, o in zip(fitted, originals, strict=True)):
            assert not any(earlier in f for f in fitted)
    spilled = [f for f in fitted if "class-map" not in f]
    if spilled:  # step 4 only once step 3 has nothing left to trim
        assert numbers[-1] == 4 and not any(k in f for f in fitted for k in order)
        for f in spilled:
            assert set(f) <= {"type", "class-id", "class-name", "confidence", "mask-ref", FULL_LABEL_REF}
    assert response.offloaded == sum(FULL_LABEL_REF in f for f in fitted)
    # nothing lost: every label read back equals the label as built; each file is named by its content
    reader = LabelReader(storage.read)
    assert [reader.resolve(f) for f in fitted] == originals
    refs = {f[FULL_LABEL_REF] for f in fitted if FULL_LABEL_REF in f} | {
        f[WORKER_QUALITY_REF] for f in fitted if WORKER_QUALITY_REF in f
    }
    [figures] = [k for k in storage.objects if k.endswith("-worker-quality.json")]
    assert set(storage.objects) - refs <= {figures}  # no label needs the figures once step 3 trimmed them all
    assert figures in refs or not any("worker-quality" in f for f in fitted)
    # a retry returns the same response and writes the same keys with the same bytes
    again, again_storage = fit(batch(), limit)
    assert again.entries == response.entries and again_storage.objects == storage.objects


def test_below_what_every_label_spilled_takes_the_response_is_returned_whole_with_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    results = batch()
    response, storage = fit(results, 1000)
    assert [s.number for s in response.steps] == [1, 2, 3, 4] and not response.fits
    assert response.offloaded == len(results)
    assert f"the response is {response.size} bytes, over the 1000-byte limit: Lambda will refuse it" in caplog.text
    reader = LabelReader(storage.read)
    assert [reader.resolve(f) for f in labels(response.entries)] == labels(built(results))


def test_a_spilled_label_keeps_type_confidence_failure_artefacts_and_small_values() -> None:
    failed = ObjectResult.failed("9", "groundtruth/image-classification", "no usable answer (3 received, all rejected)",
                                 [AnswerIssue(w, "label not among the job's labels: Dgo") for w in WORKERS])  # fmt: skip
    results = [result(0, mask=True), failed]
    response, _ = fit(results, 600)
    spilled, spilled_failure = labels(response.entries)
    assert set(spilled) == {"type", "class-id", "class-name", "confidence", "mask-ref", FULL_LABEL_REF}
    assert spilled_failure == {
        "type": "groundtruth/image-classification",
        "failure-reason": "no usable answer (3 received, all rejected)",
        FULL_LABEL_REF: spilled_failure[FULL_LABEL_REF],
    }
    assert spilled_failure[FULL_LABEL_REF].startswith(PREFIX + "/9_") and spilled_failure[FULL_LABEL_REF].endswith(
        "-label.json"
    )


def test_batch_figures_that_differ_between_objects_stay_in_each_label(caplog: pytest.LogCaptureFixture) -> None:
    results = batch()
    for row in results[3].label["worker-quality"]:  # type: ignore[index]
        row["accuracy"] = 0.5  # not a batch figure after all
    as_built = built(results)
    [_, step_two, *_] = fit(results, 1)[0].steps
    response, storage = fit(results, step_two.after)
    assert "worker figures ['accuracy'] differ between objects of the batch: kept in each label" in caplog.text
    assert [s.number for s in response.steps] == [1, 2]
    [uri] = storage.objects
    assert json.loads(storage.objects[uri]) == {w: {"informativeness": INFORMATIVENESS[w]} for w in WORKERS}
    for label, original in zip(labels(response.entries), labels(as_built), strict=True):
        assert label["worker-quality"] == [
            {k: v for k, v in row.items() if k != "informativeness"} for row in original["worker-quality"]
        ]
    reader = LabelReader(storage.read)
    assert [reader.resolve(f) for f in labels(response.entries)] == labels(as_built)


def test_batch_figures_shorter_than_their_ref_are_not_moved() -> None:
    results = [result(i) for i in range(10)]
    for r in results:
        assert r.label is not None
        r.label["worker-quality"] = r.label["worker-quality"][:1]  # one worker's figures: shorter than a ref
    response, storage = fit(results, response_size(built(results)) // 2)
    assert 2 not in [s.number for s in response.steps]
    assert not any(k.endswith("-worker-quality.json") for k in storage.objects)


class FailingStorage(MemoryStorage):
    """Refuses every write after the first ``allowed``."""

    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed, self.tries = allowed, 0

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        self.tries += 1
        if self.tries > self.allowed:
            raise StorageError(f"cannot write {uri}: SlowDown after retries")
        super().write(uri, data, content_type)


@pytest.mark.parametrize("allowed", [0, 1, 4])
def test_a_failed_write_stops_fitting_and_leaves_every_label_whole(
    allowed: int, caplog: pytest.LogCaptureFixture
) -> None:
    results = batch()
    as_built = built(results)
    storage = FailingStorage(allowed)
    limit = response_size(as_built) // 5
    with caplog.at_level(logging.ERROR):
        response, _ = fit(results, limit, storage)
    assert not response.fits
    what = "batch figures" if allowed == 0 else "labels"
    assert f"{what} not moved to S3, the response stays over the limit: cannot write s3://" in caplog.text
    assert f"the response is {response.size} bytes, over the {limit}-byte limit: Lambda will refuse it" in caplog.text
    assert storage.tries <= allowed + 3  # one round of `threads` writes at most after the first refusal
    reader = LabelReader(storage.read)
    assert [reader.resolve(f) for f in labels(response.entries)] == labels(as_built)
    assert response.offloaded == len([k for k in storage.objects if k.endswith("-label.json")])


def test_the_reader_refuses_refs_it_cannot_follow() -> None:
    storage = MemoryStorage(
        {
            f"{PREFIX}/batch_x-worker-quality.json": b'{"w1": {"accuracy": 0.9}}',
            f"{PREFIX}/0_x-label.json": b'{"type": "groundtruth/object-detection", "annotations": []}',
            f"{PREFIX}/1_x-label.json": b"not json",
        }
    )
    reader = LabelReader(storage.read)
    kind = "groundtruth/image-classification"
    with pytest.raises(StorageError, match="no such object"):
        reader.resolve({"type": kind, FULL_LABEL_REF: f"{PREFIX}/missing-label.json"})
    with pytest.raises(LabelRefError, match="is not the full label of a groundtruth/image-classification label"):
        reader.resolve({"type": kind, FULL_LABEL_REF: f"{PREFIX}/0_x-label.json"})
    with pytest.raises(LabelRefError, match="is not a JSON file"):
        reader.resolve({"type": kind, FULL_LABEL_REF: f"{PREFIX}/1_x-label.json"})
    with pytest.raises(LabelRefError, match="has no figures for a worker of this label"):
        reader.resolve(
            {"worker-quality": [{"workerId": "w2"}], WORKER_QUALITY_REF: f"{PREFIX}/batch_x-worker-quality.json"}
        )
    label = {"type": kind, "class-id": 0}
    assert reader.resolve(label) is label  # nothing to follow: the label itself


def test_a_reader_without_use_for_worker_figures_never_reads_the_batch_file() -> None:
    whole = {"type": "groundtruth/image-classification", "class-id": 1, "worker-quality": [{"workerId": "w1"}]}
    storage = MemoryStorage({f"{PREFIX}/3_x-label.json": json.dumps(whole).encode()})
    reader = LabelReader(storage.read, worker_figures=False)
    trimmed = {"type": "groundtruth/image-classification", "class-id": 1, FULL_LABEL_REF: f"{PREFIX}/3_x-label.json"}
    assert reader.resolve(trimmed) == whole
    moved = {**whole, WORKER_QUALITY_REF: f"{PREFIX}/batch_missing-worker-quality.json"}
    assert reader.resolve(moved) is moved  # not read: the file is not even there
    with pytest.raises(StorageError, match="no such object"):
        LabelReader(storage.read).resolve(moved)


def test_the_reader_follows_pass_through_answers_moved_by_earlier_versions() -> None:
    answers = [{"workerId": "w1", "annotationData": {"content": '{"review": {"stars": 4}}'}}]
    storage = MemoryStorage({f"{PREFIX}/0_x-answers.json": json.dumps(answers).encode()})
    label = {"annotationsFromAllWorkers-ref": f"{PREFIX}/0_x-answers.json", "type": "groundtruth/custom"}
    assert LabelReader(storage.read).resolve(label) == {
        "type": "groundtruth/custom",
        "annotationsFromAllWorkers": answers,
    }
