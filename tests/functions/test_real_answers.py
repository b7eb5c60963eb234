"""Real jobs' answers through the consolidation Lambda (moto S3): nothing silently lost, pass-through
byte for byte, facts that survive Ground Truth's own metadata, the workers' colours, the response
size limit, clear reasons for bad label lists, and S3's passing faults."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.awsrequest import AWSResponse

from tests.functions.s3 import get, put
from tests.helpers import annotation, data_object, read_mask, seg_content
from tests.project import SHARED, FakeContext

REAL = SHARED / "data" / "real" / "dg-lambda-requirements"
PAYLOAD = "s3://gt-job-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
OUTPUT = "s3://gt-job-bucket/job/annotations"
ATTR = "scene"


def run(s3: Any, handler: Any, objects: list[Any], capsys: Any = None, **extra: Any) -> list[dict[str, Any]]:
    put(s3, PAYLOAD, json.dumps(objects).encode())
    event = {"labelAttributeName": ATTR, "payload": {"s3Uri": PAYLOAD}, "outputConfig": OUTPUT, **extra}
    response: list[dict[str, Any]] = handler.lambda_handler(event, FakeContext())
    return response


def parts(entry: dict[str, Any], attr: str = ATTR) -> tuple[Any, dict[str, Any]]:
    content = entry["consolidatedAnnotation"]["content"]
    return content[attr], content[f"{attr}-metadata"]


def metrics_of(capsys: Any) -> dict[str, Any]:
    """The EMF metrics line Powertools printed for the invocation."""
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' in line:
            document: dict[str, Any] = json.loads(line)
            return document
    raise AssertionError("no metrics printed")


def test_the_documented_event_with_a_worker_who_painted_a_label_the_job_lacks(
    s3: Any, handler: Any, capsys: Any
) -> None:
    # AWS's documented request (labelCategories "Ex Category1..3") with its segmentation payload, whose
    # worker painted "Bird": that answer must not turn into an empty mask reported as a success
    event = json.loads((REAL / "event.json").read_text())
    objects = json.loads((REAL / "semseg_synth_png.json").read_text())
    response = run(s3, handler, objects, labelCategories=event["labelCategories"], labelAttributeName=ATTR)
    label, meta = parts(response[0])
    reason = {
        "workerId": "private.us-west-2.ab1234c5678a919d0",
        "reason": "painted only in labels the job does not have: Bird",
    }
    assert label == {
        "type": "groundtruth/semantic-segmentation",
        "failure-reason": "no usable answer (1 received, all rejected)",
        "rejected-answers": [reason],
    }
    assert meta["failure-reason"] == label["failure-reason"]
    assert not list(
        s3.list_objects_v2(Bucket="gt-job-bucket", Prefix="job/annotations/consolidated-annotation/output").get(
            "Contents", []
        )
    )
    metrics = metrics_of(capsys)
    assert metrics["ObjectsFailed"] == [1.0] or metrics["ObjectsFailed"] == 1.0
    assert metrics["AnswersRejected"] in (1.0, [1.0])
    assert "MeanConfidence" not in metrics


@pytest.mark.parametrize(
    ("payload", "shown", "kind"),
    [
        ("bbox.json", "items only in labels the job does not have: Bird", "groundtruth/object-detection"),
        (
            "ner.json",
            "entities only in labels the job does not have: number, object, verb",
            "groundtruth/named-entity-recognition",
        ),
    ],
)
def test_the_documented_box_and_entity_answers_in_labels_the_job_lacks_are_refused_not_read_as_empty(
    s3: Any, handler: Any, payload: str, shown: str, kind: str
) -> None:
    # the documented event's labelCategories are "Ex Category1..3"; its box payload's worker drew a Bird
    # and its entity payload's worker marked verb/number/object: no answer drew nothing
    event = json.loads((REAL / "event.json").read_text())
    objects = json.loads((REAL / payload).read_text())
    response = run(s3, handler, objects, labelCategories=event["labelCategories"])
    label, _ = parts(response[0])
    assert label == {
        "type": kind,
        "failure-reason": "no usable answer (1 received, all rejected)",
        "rejected-answers": [{"workerId": objects[0]["annotations"][0]["workerId"], "reason": shown}],
    }


def test_the_workers_colours_are_kept_for_their_labels(s3: Any, handler: Any) -> None:
    # the worker UI painted Bird #2ca02c; the job's first label must keep that colour, not category10's first
    objects = json.loads((REAL / "semseg_synth_png.json").read_text())
    response = run(s3, handler, objects, labelCategories=["Bird", "Cat"])
    label, _ = parts(response[0])
    cmap = label["internal-color-map"]
    assert {k: (v["class-name"], v["hex-color"]) for k, v in cmap.items()} == {
        "0": ("BACKGROUND", "#ffffff"),
        "1": ("Bird", "#2ca02c"),
        "2": ("Cat", "#1f77b4"),  # nobody painted it: the first free category10 colour
    }
    mask = read_mask(get(s3, label["mask-ref"]))
    assert set(mask.ravel().tolist()) == {0, 1}


# a hand-made template's answer, as a browser wrote it: curly quotes, Japanese, spaces and key order kept
CUSTOM = '{"review": {"comment": "the \u201cunderwriter\u201d clause \u2014 \u5951\u7d04\u66f8", "stars" : 4}}'


def test_pass_through_answers_come_back_byte_for_byte_without_a_confidence(s3: Any, handler: Any, capsys: Any) -> None:
    objects = [
        data_object("0", annotation("w1", CUSTOM), {"workerId": "w2", "annotationData": {"content": CUSTOM + " "}}),
        {
            "datasetObjectId": "1",
            "annotations": [{"workerId": "w3", "annotationData": {"content": "[" + CUSTOM + "]"}}],
        },
    ]
    response = run(s3, handler, objects)
    label, meta = parts(response[0])
    assert label["annotationsFromAllWorkers"] == [
        {"workerId": "w1", "annotationData": {"content": CUSTOM}},
        {"workerId": "w2", "annotationData": {"content": CUSTOM + " "}},
    ]
    assert label["type"] == meta["type"] == "groundtruth/custom"
    assert "confidence" not in label and "confidence" not in meta
    assert parts(response[1])[0]["annotationsFromAllWorkers"][0]["annotationData"]["content"] == "[" + CUSTOM + "]"
    metrics = metrics_of(capsys)
    assert "MeanConfidence" not in metrics
    assert (metrics["ObjectsConsolidated"], metrics["ObjectsPassedThrough"]) == ([0.0], [2.0])


def test_a_pass_through_batch_over_six_megabytes_spills_whole_labels_to_s3(s3: Any, handler: Any) -> None:
    text = "\u5951\u7d04" * 6_000  # 12,000 CJK characters: 72 kB each as the runtime's ASCII JSON
    answer = json.dumps({"notes": {"text": text}}, ensure_ascii=False)
    objects = [data_object(f"doc-{i:02d}", *(annotation(f"w{k}", answer) for k in range(3))) for i in range(40)]
    assert len(json.dumps(objects)) > 8_000_000
    kms = boto3.client("kms", region_name="us-east-1")
    key_id = kms.create_key()["KeyMetadata"]["Arn"]
    response = run(s3, handler, objects, kmsKeyId=key_id)
    size = len(json.dumps(response))
    assert 1_000_000 < size <= 5_500_000, size
    moved = [parts(e)[0] for e in response if "full-label-ref" in parts(e)[0]]
    kept = [parts(e)[0] for e in response if "annotationsFromAllWorkers" in parts(e)[0]]
    assert len(moved) + len(kept) == 40 and moved and kept
    first = moved[0]
    assert set(first) == {"type", "full-label-ref"}  # the note is longer than a spilled label keeps
    assert first["full-label-ref"].startswith(OUTPUT + "/consolidated-annotation/output/doc-")
    assert first["full-label-ref"].endswith("-label.json")
    stored = json.loads(get(s3, first["full-label-ref"]).decode("utf-8"))
    assert stored == {
        "type": "groundtruth/custom",
        "annotationsFromAllWorkers": [{"workerId": f"w{k}", "annotationData": {"content": answer}} for k in range(3)],
        "note": "no consolidation for this answer shape; every answer is passed through",
    }
    for label in moved:  # written with the job's KMS key, as masks are
        head = s3.head_object(Bucket="gt-job-bucket", Key=label["full-label-ref"].removeprefix("s3://gt-job-bucket/"))
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id)
    # pass-through metadata has nothing to cut: left as it is
    assert set(parts(response[0])[1]) == {"type", "job-name", "human-annotated", "creation-date"}
    # a retry gives the same response and the same keys
    event = {"labelAttributeName": ATTR, "payload": {"s3Uri": PAYLOAD}, "outputConfig": OUTPUT, "kmsKeyId": key_id}
    assert handler.lambda_handler(event, FakeContext()) == response


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        (["road", "car", "road"], "the job's labels (event) repeat road: label names must be unique"),
        ([f"label {i}" for i in range(300)], "the job has 300 labels; a palette mask holds at most 253"),
    ],
)
def test_a_label_list_that_cannot_work_fails_every_object_with_its_reason(
    s3: Any, handler: Any, labels: list[str], reason: str
) -> None:
    good = seg_content(["rc"], {"r": "road", "c": "car"})
    objects = [data_object(str(i), annotation("w1", good)) for i in range(3)]
    response = run(s3, handler, objects, labelCategories=labels)
    assert [parts(e)[0]["failure-reason"] for e in response] == [reason] * 3


def test_without_output_config_artefacts_go_beside_a_payload_at_the_bucket_root(s3: Any, handler: Any) -> None:
    root_payload = "s3://gt-job-bucket/batch.json"
    put(s3, root_payload, json.dumps([data_object("0", annotation("w1", seg_content(["r"], {"r": "road"})))]).encode())
    event = {"labelAttributeName": ATTR, "labelCategories": ["road"], "payload": {"s3Uri": root_payload}}
    label, _ = parts(handler.lambda_handler(event, FakeContext())[0])
    assert label["mask-ref"].startswith("s3://gt-job-bucket/batch-output/0_")


def test_a_workers_second_answer_counts_when_the_first_was_unusable(s3: Any, handler: Any) -> None:
    good = seg_content(["rr"], {"r": "road"})
    objects = [data_object("0", annotation("w1", "not json"), annotation("w1", good), annotation("w1", good))]
    label, meta = parts(run(s3, handler, objects, labelCategories=["road"])[0])
    assert read_mask(get(s3, label["mask-ref"])).tolist() == [[1, 1]]
    assert meta["rejected-answers"] == [
        {"workerId": "w1", "reason": "content is not JSON"},
        {"workerId": "w1", "reason": "a second answer from the same worker; the first one is used"},
    ]


class _Faults:
    """Answers the first ``count`` S3 calls of ``operation`` with ``status`` and ``code``, as S3 does
    when it throttles or fails (registered before moto on botocore's before-send event)."""

    def __init__(self, operation: str, status: int, code: str, count: int, key: str = "") -> None:
        self.operation, self.status, self.code, self.left, self.calls = operation, status, code, count, 0
        self.key = key

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if kwargs.get("event_name", "").endswith(self.operation) and self.key in request.url:
            self.calls += 1
            if self.left > 0:
                self.left -= 1
                body = f"<Error><Code>{self.code}</Code><Message>injected</Message></Error>".encode()
                return AWSResponse(request.url, self.status, {}, _Raw(body))
        return None


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self.body

    def read(self, *args: Any) -> bytes:
        return self.body


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Any:
    from tally import aws

    # no real waiting in tests: neither the back-off between tries nor adaptive mode's rate limiter
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    installed: list[_Faults] = []

    def install(operation: str, status: int, code: str, count: int, key: str = "") -> _Faults:
        fault = _Faults(operation, status, code, count, key)
        client = aws.s3_storage(aws.own_session())._s3
        client.meta.events.register_first(f"before-send.s3.{operation}", fault)
        installed.append(fault)
        return fault

    yield install
    from tally import aws as aws_module

    client = aws_module.s3_storage(aws_module.own_session())._s3
    for fault in installed:
        client.meta.events.unregister(f"before-send.s3.{fault.operation}", fault)


def test_throttling_and_5xx_are_retried_and_the_batch_goes_through(s3: Any, handler: Any, faults: Any) -> None:
    objects = [data_object(str(i), annotation("w1", seg_content(["rc"], {"r": "road", "c": "car"}))) for i in range(2)]
    put(s3, PAYLOAD, json.dumps(objects).encode())
    slow = faults("GetObject", 503, "SlowDown", 2)
    failing = faults("PutObject", 500, "InternalError", 3)
    response = handler.lambda_handler(
        {
            "labelAttributeName": ATTR,
            "labelCategories": ["road", "car"],
            "payload": {"s3Uri": PAYLOAD},
            "outputConfig": OUTPUT,
        },
        FakeContext(),
    )
    assert all("mask-ref" in parts(e)[0] for e in response)
    assert slow.calls == 3  # two throttled tries, then the payload
    assert failing.calls >= 4  # three 500s, then the writes


def test_s3_faults_that_outlast_the_retries_fail_the_objects_as_transient(s3: Any, handler: Any, faults: Any) -> None:
    objects = [data_object(str(i), annotation("w1", seg_content(["rc"], {"r": "road", "c": "car"}))) for i in range(2)]
    put(s3, PAYLOAD, json.dumps(objects).encode())
    failing = faults("PutObject", 503, "SlowDown", 1_000)
    response = handler.lambda_handler(
        {
            "labelAttributeName": ATTR,
            "labelCategories": ["road", "car"],
            "payload": {"s3Uri": PAYLOAD},
            "outputConfig": OUTPUT,
        },
        FakeContext(),
    )
    reasons = [parts(e)[0]["failure-reason"] for e in response]
    assert len(reasons) == 2
    for reason in reasons:
        assert reason.startswith("cannot write s3://gt-job-bucket/job/annotations/consolidated-annotation/output/")
        assert reason.endswith(
            ": SlowDown after retries (transient: consolidate it again later (tally reconsolidate); nothing was lost)"
        )
    assert failing.calls >= 12  # at least 6 tries for each of the two masks


def test_a_missing_object_is_a_permanent_failure_not_a_transient_one(s3: Any, handler: Any) -> None:
    objects = [
        {
            "datasetObjectId": "0",
            "annotations": [{"workerId": "w1", "annotationData": {"s3Uri": "s3://gt-job-bucket/missing.json"}}],
        }
    ]
    label, meta = parts(run(s3, handler, objects, labelCategories=["road"])[0])
    assert label["failure-reason"] == "no usable answer (1 received, all rejected)"
    assert meta["rejected-answers"] == [
        {
            "workerId": "w1",
            "reason": "annotationData.s3Uri unreadable: cannot read s3://gt-job-bucket/missing.json: NoSuchKey",
        }
    ]


def test_an_answer_s3_keeps_throttling_is_rejected_as_transient(s3: Any, handler: Any, faults: Any) -> None:
    put(s3, "s3://gt-job-bucket/answers/w1.json", seg_content(["r"], {"r": "road"}).encode())
    objects = [
        {
            "datasetObjectId": "0",
            "annotations": [{"workerId": "w1", "annotationData": {"s3Uri": "s3://gt-job-bucket/answers/w1.json"}}],
        }
    ]
    faults("GetObject", 503, "SlowDown", 1_000, key="answers/w1.json")
    label, meta = parts(run(s3, handler, objects, labelCategories=["road"])[0])
    assert label["failure-reason"] == (
        "no usable answer (1 received, all rejected); "
        "transient: consolidate it again later (tally reconsolidate); nothing was lost"
    )
    assert meta["rejected-answers"] == [
        {
            "workerId": "w1",
            "reason": "annotationData.s3Uri not read for now: cannot read s3://gt-job-bucket/answers/w1.json: SlowDown after retries",
        }
    ]
