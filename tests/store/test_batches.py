"""A job sent as many small batches through consolidate_batch with a worker store (issue 14)."""

from __future__ import annotations

import contextlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from tally.aggregation.base import ObjectItems, WorkerItems
from tally.aggregation.box_consolidation import BoxConsolidation
from tally.aggregation.span_vote import SpanVote
from tally.consolidate import BatchReport
from tally.storage import MemoryStorage
from tally.stores.dynamodb import DynamoWorkerStore
from tally.worker_store import InMemoryWorkerStore, Loaded, WorkerStatistics, WorkerStoreError, normalise
from tests.helpers import annotation, data_object, read_mask, seg_content
from tests.sim.classification import ClassWorker, classification_crowd
from tests.sim.geometry import Crowd, GeometryWorker, box_batch
from tests.sim.jobs import JOB_ARN, accuracy, classification_objects, job_crowd, run_batch, split
from tests.store.dynamo import TABLE, OneCallAtATime, moto_table

TUNING_SEEDS = (0, 1, 2)  # looked at while writing this test; bench/store.py reports other seeds


def response_bytes(report: BatchReport) -> bytes:
    return json.dumps(report.response, sort_keys=True).encode()


def stream(seed: int, store: Any, sizes: tuple[int, ...] = (1, 2)) -> tuple[dict[str, bool], dict[str, int]]:
    """The job's objects in batches of ``sizes``; per object whether it came out right, and its position."""
    crowd = job_crowd(seed)
    objects = classification_objects(crowd)
    right: dict[str, bool] = {}
    position: dict[str, int] = {}
    for b, part in enumerate(split(len(objects), sizes)):
        report = run_batch([objects[i] for i in part], store, uri=f"s3://bucket/job/{seed}/{b}.json")
        right |= accuracy(report, crowd)
        position |= {f"o{i}": i for i in part}
    return right, position


def test_small_batches_reach_the_one_batch_quality_once_earlier_batches_are_seen() -> None:
    gaps = {}
    for lo, hi in ((0, 30), (100, 200)):
        kept, alone, whole = [], [], []
        for seed in TUNING_SEEDS:
            crowd = job_crowd(seed)
            one = accuracy(run_batch(classification_objects(crowd), None, uri=f"s3://bucket/all-{seed}.json"), crowd)
            with_store, position = stream(seed, InMemoryWorkerStore())
            without, _ = stream(seed, None)
            ids = [o for o, p in position.items() if lo <= p < hi]
            kept += [with_store[o] for o in ids]
            alone += [without[o] for o in ids]
            whole += [one[o] for o in ids]
        gaps[(lo, hi)] = (np.mean(whole) - np.mean(kept), np.mean(kept) - np.mean(alone))
    # objects 100-199: within 0.05 of one 200-object batch, and 0.05 above batches on their own
    assert gaps[(100, 200)][0] <= 0.05
    assert gaps[(100, 200)][1] >= 0.05
    # the first 30 objects are far from the one batch (little evidence yet): the gap is larger
    assert gaps[(0, 30)][0] > gaps[(100, 200)][0]


def test_the_first_batch_is_the_same_with_or_without_a_store() -> None:
    objects = classification_objects(job_crowd(0))[:2]
    store = InMemoryWorkerStore()
    first = run_batch(objects, store, uri="s3://bucket/b0.json")
    assert response_bytes(first) == response_bytes(run_batch(objects, None, uri="s3://bucket/b0.json"))
    assert (first.worker_model, store.loads, store.records) == ("job", 1, 1)


def test_a_retried_batch_is_byte_identical_and_counts_nothing_twice(dynamodb: Any) -> None:
    store = DynamoWorkerStore(dynamodb, TABLE)
    objects = classification_objects(job_crowd(1, 12))
    batches = [objects[i : i + 2] for i in range(0, 12, 2)]
    first = {}
    for b, part in enumerate(batches[:3]):
        first[b] = run_batch(part, store, uri=f"s3://bucket/{b}.json")
    counts = dynamodb.scan(TableName=TABLE)["Items"]
    retry = run_batch(batches[1], store, uri="s3://bucket/1.json")
    assert response_bytes(retry) == response_bytes(first[1])
    assert (first[1].worker_model, retry.worker_model) == ("job", "job (retried batch)")
    assert dynamodb.scan(TableName=TABLE)["Items"] == counts
    for b, part in enumerate(batches[3:], start=3):  # the sums move on; a later retry still answers as before
        run_batch(part, store, uri=f"s3://bucket/{b}.json")
    assert response_bytes(run_batch(batches[2], store, uri="s3://bucket/2.json")) == response_bytes(first[2])
    # the same objects under another payload URI are another batch: a new key, a new record
    other = run_batch(batches[2], store, uri="s3://bucket/2-again.json")
    assert other.worker_model == "job"


class Recording:
    """A store that keeps what each batch recorded."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.recorded: list[WorkerStatistics] = []

    def load(self, *args: Any) -> Loaded:
        loaded: Loaded = self.store.load(*args)
        return loaded

    def record(self, job: str, task: str, batch: str, contribution: WorkerStatistics, prior: WorkerStatistics) -> Any:
        self.recorded.append(normalise(contribution))
        return self.store.record(job, task, batch, contribution, prior)


@pytest.mark.parametrize("backend", ["memory", "plain", "resource"])
def test_concurrent_batches_sum_to_every_batch_contribution(backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "memory":
        inner: Any = InMemoryWorkerStore()
    else:
        request.getfixturevalue("aws_env")
        stack = contextlib.ExitStack()
        request.addfinalizer(stack.close)
        inner = DynamoWorkerStore(OneCallAtATime(stack.enter_context(moto_table(backend))), TABLE)
    store = Recording(inner)
    objects = classification_objects(job_crowd(2, 40))
    parts = [objects[i : i + 2] for i in range(0, 40, 2)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        reports = list(pool.map(lambda b: run_batch(parts[b], store, uri=f"s3://bucket/c{b}.json"), range(len(parts))))
    assert all(r.worker_model == "job" for r in reports) and len(store.recorded) == len(parts)
    expected: dict[str, np.ndarray] = {}
    for contribution in store.recorded:
        for worker, values in contribution.items():
            expected[worker] = expected.get(worker, np.zeros(len(values))) + np.asarray(values)
    workers = sorted(expected)
    task = "classification/3x3"
    loaded = inner.load(JOB_ARN, task, "after", workers).prior
    assert sorted(loaded) == workers
    for worker in workers:
        np.testing.assert_allclose(loaded[worker], expected[worker], rtol=0, atol=1e-8)


class Broken:
    """A store that fails on ``load`` or on ``record``."""

    def __init__(self, fail_on: str) -> None:
        self.fail_on = fail_on
        self.inner = InMemoryWorkerStore()

    def load(self, *args: Any) -> Loaded:
        if self.fail_on == "load":
            raise WorkerStoreError("worker table BatchGetItem: ProvisionedThroughputExceededException")
        loaded: Loaded = self.inner.load(*args)
        return loaded

    def record(self, *args: Any) -> Any:
        raise RuntimeError("connection reset")


def test_an_unreachable_table_degrades_to_the_batch_alone(dynamodb: Any, caplog: pytest.LogCaptureFixture) -> None:
    objects = classification_objects(job_crowd(0, 6))
    alone = run_batch(objects, None, uri="s3://bucket/b.json")
    missing = DynamoWorkerStore(dynamodb, "no-such-table")
    with caplog.at_level(logging.WARNING, logger="tally.consolidate"):
        report = run_batch(objects, missing, uri="s3://bucket/b.json")
    assert response_bytes(report) == response_bytes(alone)
    assert report.worker_model == "batch (store failed)" and report.failed == 0
    warned = [r.getMessage() for r in caplog.records if "worker store" in r.getMessage()]
    assert warned == ["worker store not read, the worker model is this batch's alone: "
                      "worker table batch_get_item: ResourceNotFoundException"]  # fmt: skip


def test_a_throttled_load_or_a_failed_record_never_fails_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    objects = classification_objects(job_crowd(0, 6))
    alone = response_bytes(run_batch(objects, None, uri="s3://bucket/b.json"))
    throttled = run_batch(objects, Broken("load"), uri="s3://bucket/b.json")
    assert response_bytes(throttled) == alone and throttled.worker_model == "batch (store failed)"
    with caplog.at_level(logging.WARNING, logger="tally.consolidate"):
        unwritten = run_batch(objects, Broken("record"), uri="s3://bucket/b.json")
    assert response_bytes(unwritten) == alone  # an empty store: the prior is nothing
    assert unwritten.worker_model == "job" and unwritten.failed == 0
    assert any(r.getMessage().endswith("not kept: RuntimeError") for r in caplog.records)


def test_a_store_is_not_used_when_class_keys_come_from_the_batch() -> None:
    objects = classification_objects(job_crowd(0, 4))
    store = InMemoryWorkerStore()
    report = run_batch(objects, store, uri="s3://bucket/b.json", labels=[])
    assert report.label_source == "batch" and report.worker_model == "batch"
    assert (store.loads, store.records) == (0, 0)


# -- boxes and named entities: the store carries each task's own statistics -----------------------


def boxes(worker: str, *ltwh: tuple[int, int, int, int]) -> dict[str, Any]:
    element = {
        "boundingBoxes": [{"label": "car", "left": x, "top": t, "width": w, "height": h} for x, t, w, h in ltwh],
        "inputImageProperties": {"width": 100, "height": 100},
    }
    return {"workerId": worker, "annotationData": {"content": json.dumps({"annotatedResult": element})}}


def image(object_id: str, *answers: dict[str, Any]) -> dict[str, Any]:
    return {
        "datasetObjectId": object_id,
        "dataObject": {"s3Uri": f"s3://b/{object_id}.jpg"},
        "annotations": list(answers),
    }


def test_boxes_fit_the_next_batch_with_the_evidence_of_the_earlier_ones() -> None:
    car, ghost = (10, 10, 30, 30), (60, 60, 20, 20)
    first = [image(f"i{k}", boxes("a", car), boxes("b", car), boxes("c", car, ghost)) for k in range(3)]
    second = [image("j", boxes("a", car), boxes("c", car))]
    store = InMemoryWorkerStore()
    run_batch(first, store, uri="s3://b/1.json", labels=["car"])
    items = [
        ObjectItems(
            tuple(
                WorkerItems(w, ("car",) * len(bs), np.array([[x, t, x + wd, t + h] for x, t, wd, h in bs], dtype=float))
                for w, bs in (("a", [car]), ("b", [car]), ("c", [car, ghost]))
            ),
            100,
            100,
        )
    ] * 3
    evidence = normalise(BoxConsolidation().fit(items).worker_statistics_)
    assert store.totals(JOB_ARN, "bounding-box/8") == evidence
    # six boxes, three confirmed: the ghosts are not, and no one drew anything there (invented)
    assert evidence["c"] == [6.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.0]
    quality = {}
    for kept in (store, None):
        report = run_batch(second, kept, uri="s3://b/2.json", labels=["car"])
        quality[kept is store] = {
            q["workerId"]: q for q in report.response[0]["consolidatedAnnotation"]["content"]["label"]["worker-quality"]
        }
    # alone, "a" and "c" each have one box confirmed of one; with the job's evidence, "c" four of seven
    assert quality[False]["c"]["precision"] == quality[False]["a"]["precision"]
    assert quality[True]["c"]["precision"] < quality[True]["a"]["precision"]


def entities(worker: str, *spans: tuple[str, int, int]) -> dict[str, Any]:
    element = {"entities": [{"label": name, "startOffset": s, "endOffset": e} for name, s, e in spans]}
    return {"workerId": worker, "annotationData": {"content": json.dumps({"crowd-entity-annotation": element})}}


def text(object_id: str, *answers: dict[str, Any]) -> dict[str, Any]:
    return {
        "datasetObjectId": object_id,
        "dataObject": {"content": "Sift 3 cups of flour"},
        "annotations": list(answers),
    }


def test_named_entities_carry_agreement_sums_to_later_batches() -> None:
    good = [("verb", 0, 4), ("number", 5, 6)]
    first = [
        text(f"t{k}", entities("a", *good), entities("b", *good), entities("c", ("number", 0, 4))) for k in range(4)
    ]
    store = InMemoryWorkerStore()
    run_batch(first, store, uri="s3://b/1.json", labels=["verb", "number"])
    answers = [[(0, [(0, 0, 4), (1, 5, 6)]), (1, [(0, 0, 4), (1, 5, 6)]), (2, [(1, 0, 4)])]] * 4
    own = SpanVote().fit(answers).worker_statistics_
    assert store.totals(JOB_ARN, "named-entities/3") == normalise({w: own[i].tolist() for i, w in enumerate("abc")})
    # next batch: "a" and "c" disagree on one word's label. Alone, they weigh the same and the tie goes
    # to the lower label index (c's "verb"); the job's record says "a" is the one to follow.
    second = [text("u", entities("a", ("number", 0, 4)), entities("c", ("verb", 0, 4)))]
    labels = {}
    for kept in (store, None):
        label = run_batch(second, kept, uri="s3://b/2.json", labels=["verb", "number"]).response[0]
        labels[kept is store] = [
            e["label"] for e in label["consolidatedAnnotation"]["content"]["label"]["annotations"]["entities"]
        ]
    assert labels == {True: ["number"], False: ["verb"]}


def test_multi_label_classification_keeps_per_label_confusion_counts() -> None:
    def pick(worker: str, *names: str) -> dict[str, Any]:
        content = json.dumps({"crowd-image-classifier-multi-select": {"labels": list(names)}})
        return {"workerId": worker, "annotationData": {"content": content}}

    def photo(object_id: str, *answers: dict[str, Any]) -> dict[str, Any]:
        return {
            "datasetObjectId": object_id,
            "dataObject": {"s3Uri": f"s3://b/{object_id}.jpg"},
            "annotations": list(answers),
        }

    store = InMemoryWorkerStore()
    first = [photo(f"p{k}", pick("a", "Dog"), pick("b", "Dog"), pick("c", "Dog", "Cat")) for k in range(10)]
    report = run_batch(first, store, uri="s3://b/1.json")
    assert report.worker_model == "job"
    totals = store.totals(JOB_ARN, "multi-label-classification/3x2x2")
    assert sorted(totals) == ["a", "b", "c"] and all(len(v) == 12 for v in totals.values())
    # per label (Dog, Cat, Bird) a 2x2 block [[absent→absent, absent→present], [present→absent, present→present]]:
    # ten objects, Dog present and ticked by all; Cat absent (by the vote) and ticked by c only
    c = np.asarray(totals["c"]).reshape(3, 2, 2)
    assert c.sum() == pytest.approx(30.0)
    assert c[1, :, 1].sum() == pytest.approx(10.0) and c[1, :, 0].sum() == pytest.approx(0.0)
    assert c[1, 0, 1] > 9.5  # ticked where the vote says absent
    second = run_batch([photo("q", pick("c", "Dog", "Cat"))], store, uri="s3://b/2.json")
    alone = run_batch([photo("q", pick("c", "Dog", "Cat"))], None, uri="s3://b/2.json")
    names = [r.response[0]["consolidatedAnnotation"]["content"]["label"]["class-names"] for r in (second, alone)]
    # alone, c's lone answer stands; the job's record says c ticks Cat when there is none
    assert names == [["Dog"], ["Dog", "Cat"]]


def test_the_segmentation_vote_knows_a_sloppy_worker_from_the_jobs_earlier_batches() -> None:
    """Two workers disagree on one object: alone, the object cannot tell them apart (agreement is
    symmetric); with the job's record (the sloppy worker outvoted on earlier objects by two careful
    ones), the careful worker's mask wins."""
    legend = {"r": "road"}
    careful, sloppy = ["rrrr....", "rrrr...."], ["rr......", "rr....rr"]

    def objects(ids: range, who: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
        return [data_object(str(i), *(annotation(w, seg_content(rows, legend)) for w, rows in who)) for i in ids]

    earlier = objects(range(6), [("careful-1", careful), ("careful-2", careful), ("sloppy", sloppy)])
    disputed = objects(range(100, 101), [("careful-1", careful), ("sloppy", sloppy)])
    store = InMemoryWorkerStore()
    storage = None
    for uri, batch, kept in (("s3://b/1.json", earlier, store), ("s3://b/2.json", disputed, store)):
        storage = MemoryStorage()
        report = run_batch(batch, kept, uri=uri, storage=storage, labels=["road"])
    assert report.worker_model == "job"
    assert storage is not None
    label = report.response[0]["consolidatedAnnotation"]["content"]["label"]
    mask = read_mask(storage.read(label["mask-ref"]))
    assert mask.tolist() == [[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0]]  # the careful worker's
    quality = {q["workerId"]: q for q in label["worker-quality"]}
    assert quality["careful-1"]["weight"] == 1.0 > quality["sloppy"]["weight"]
    recorded = store.load(JOB_ARN, "semantic-segmentation/leave-one-out/2", "", ["sloppy"]).prior
    retry = run_batch(disputed, store, uri="s3://b/2.json", storage=MemoryStorage(), labels=["road"])
    assert response_bytes(retry) == response_bytes(report) and retry.worker_model == "job (retried batch)"
    assert store.load(JOB_ARN, "semantic-segmentation/leave-one-out/2", "", ["sloppy"]).prior == recorded
    alone_storage = MemoryStorage()
    alone = run_batch(disputed, None, uri="s3://b/2.json", storage=alone_storage, labels=["road"])
    alone_label = alone.response[0]["consolidatedAnnotation"]["content"]["label"]
    # alone, the disputed band is split down its middle between two equally weighted workers
    assert read_mask(alone_storage.read(alone_label["mask-ref"])).tolist() == [[1, 1, 1, 0, 0, 0, 0, 0]] * 2
    alone_quality = {
        q["workerId"]: q for q in alone.response[0]["consolidatedAnnotation"]["content"]["label"]["worker-quality"]
    }
    assert alone_quality["careful-1"]["weight"] == alone_quality["sloppy"]["weight"]  # the object alone cannot tell


# -- real crowd sizes under moto: every write lands -------------------------------------------------


def varied_pool(rng: np.random.Generator, n: int) -> tuple[ClassWorker, ...]:
    """``n`` workers who differ: accuracies spread from weak to excellent, a few spammers and swappers."""
    pool = []
    for _ in range(n):
        draw = rng.random()
        if draw < 0.08:
            pool.append(ClassWorker(kind="spammer"))
        elif draw < 0.14:
            pool.append(ClassWorker(float(rng.uniform(0.8, 0.95)), kind="swapper", swap=(0, 1)))
        else:
            pool.append(ClassWorker(float(rng.uniform(0.6, 0.98))))
    return tuple(pool)


def box_objects(sims: list[Any], first: int) -> list[dict[str, Any]]:
    out = []
    for k, sim in enumerate(sims):
        answers = []
        for a in sim.items.answers:
            element = {
                "boundingBoxes": [
                    {"label": name, "left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0}
                    for name, (x0, y0, x1, y1) in zip(
                        a.labels, np.asarray(a.geometry, dtype=float).round(1).tolist(), strict=True
                    )
                ],
                "inputImageProperties": {"width": sim.items.width, "height": sim.items.height},
            }
            answers.append({"workerId": a.worker, "annotationData": {"content": json.dumps({"box": element})}})
        out.append(image(f"i{first + k}", *answers))
    return out


def test_crowds_of_over_a_hundred_workers_keep_every_batch_in_the_table_under_moto(
    aws_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a classification job of 110 workers (1,000 objects, 3 answers each) and a boxes job of 120
    # workers, both sent as Ground Truth sends them, in batches of 50, to a table under moto
    rng = np.random.default_rng(18)
    crowd = classification_crowd(rng, 1000, varied_pool(rng, 110), n_classes=3, answers=(3, 3))
    objects = classification_objects(crowd)
    box_crowd = Crowd(tuple(GeometryWorker(jitter=float(j)) for j in rng.uniform(0.02, 0.1, 120)), (3, 5))
    scenes = box_objects(box_batch(rng, box_crowd, 200, per_image=(2, 9)), 0)
    memory = InMemoryWorkerStore()
    with moto_table("plain") as client, caplog.at_level(logging.WARNING, logger="tally"):
        table = DynamoWorkerStore(client, TABLE)
        kept: dict[str, bool] = {}
        models = []
        for b in range(0, len(objects), 50):
            report = run_batch(objects[b : b + 50], table, uri=f"s3://bucket/c{b}.json")
            run_batch(objects[b : b + 50], memory, uri=f"s3://bucket/c{b}.json")
            kept |= accuracy(report, crowd)
            models.append(report.worker_model)
        for b in range(0, len(scenes), 50):
            report = run_batch(
                scenes[b : b + 50], table, uri=f"s3://bucket/i{b}.json", labels=["car", "person", "sign"]
            )
            run_batch(scenes[b : b + 50], memory, uri=f"s3://bucket/i{b}.json", labels=["car", "person", "sign"])
            models.append(report.worker_model)
        workers = [f"w{w}" for w in range(120)]
        sums = {
            name: table.load(JOB_ARN, name, "next", workers).prior for name in ("classification/3x3", "bounding-box/8")
        }
    # THEN no table call failed: no warning at all, every batch fitted with the job's model
    assert [r.getMessage() for r in caplog.records] == []
    assert set(models) == {"job"}
    # and the table holds exactly what the in-memory store summed: nothing was lost
    assert sums["classification/3x3"] == memory.totals(JOB_ARN, "classification/3x3")
    assert sums["bounding-box/8"] == memory.totals(JOB_ARN, "bounding-box/8")
    # and later batches improve: the last 400 objects beat the same batches judged on their own
    alone: dict[str, bool] = {}
    for b in range(600, 1000, 50):
        alone |= accuracy(run_batch(objects[b : b + 50], None, uri=f"s3://bucket/c{b}.json"), crowd)
    late = [f"o{i}" for i in range(600, 1000)]
    assert np.mean([kept[o] for o in late]) >= np.mean([alone[o] for o in late]) + 0.02
