"""Forms benchmark (issue 20): `make bench-forms`. Prints Markdown tables for docs/benchmarks.md.

**Accuracy.** A simulated crowd answers a form of ten fields as AWS's element reference says each
element submits them: four single-choice questions (a radio group of ``crowd-radio-button``s with names
of their own, a ``<select>``, a ``crowd-classifier`` and plain radio inputs; 3, 5, 4 and 2 options), two
checkbox sets (multiple choice, 4 and 3 options), a lone ``crowd-checkbox`` and a
``crowd-toggle-button`` (booleans), a ``crowd-slider`` and a ``crowd-input`` (kept as given). The same
answers to each categorical question are then asked **alone**: one ``crowd-classifier`` (or
``-multi-select``) batch per question, the question's options as the event's ``labelCategories``. Both
go through :func:`tally.consolidate.consolidate_batch` (the form with its template), so the crowd, the
answers and the model are the same; the table compares each field's accuracy (share of objects whose
consolidated value is the truth; multi-choice: the exact set) with the question alone's, and with a
plain majority (ties at random, seeded). Nothing was tuned for forms: the fields use classification's
defaults, so there are no tuning seeds; the seeds below are the only ones run.

The crowd: a pool of 15 workers, varied: careful ones of accuracy 0.65–0.95 (each their own, and a
little different per question), a spammer (uniform answers), a swapper (exchanges two options), a worker
biased to the first option half of the time, a lazy multi-select worker (ticks at most one box); each
object gets 3–5 of them, drawn by activity (some workers answer far more than others). Options' true
values are imbalanced (the first more frequent). Each seed draws 300 objects.

**Speed.** The same form, 1,000 objects x 5 workers, through the consolidation Lambda's handler in a
fresh child process under moto's S3 (the template read as the Lambda reads it, from the job's bucket),
against a lone ``crowd-classifier`` question of the same size; best of ``--repeats``, interleaved.
Target: under 3 s. The child's CPU time is printed beside the wall time: on a shared machine the wall
time grows with the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.sim.classification import ClassWorker, LabelWorker  # noqa: E402

SEEDS = (101, 102, 103, 104, 105)
TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <p>Which season?</p>
  <crowd-radio-group>
    <crowd-radio-button name="spring" value="spring">Spring</crowd-radio-button>
    <crowd-radio-button name="summer" value="summer">Summer</crowd-radio-button>
    <crowd-radio-button name="winter" value="winter">Winter</crowd-radio-button>
  </crowd-radio-group>
  <select name="weather">
    <option value="sun">Sun</option><option value="cloud">Cloud</option><option value="rain">Rain</option>
    <option value="snow">Snow</option><option value="fog">Fog</option>
  </select>
  <crowd-classifier name="scene" categories="['city', 'forest', 'beach', 'mountain']" header="Scene?">
    <classification-target><img src="{{ task.input.taskObject | grant_read_access }}"></classification-target>
  </crowd-classifier>
  <input type="radio" name="people" value="none"> none <input type="radio" name="people" value="some"> some
  <crowd-checkbox name="objects" value="car">car</crowd-checkbox>
  <crowd-checkbox name="objects" value="tree">tree</crowd-checkbox>
  <crowd-checkbox name="objects" value="sign">sign</crowd-checkbox>
  <crowd-checkbox name="objects" value="animal">animal</crowd-checkbox>
  <crowd-checkbox name="light" value="day">day</crowd-checkbox>
  <crowd-checkbox name="light" value="dusk">dusk</crowd-checkbox>
  <crowd-checkbox name="light" value="night">night</crowd-checkbox>
  <crowd-checkbox name="blurry" value="yes">blurry</crowd-checkbox>
  <crowd-toggle-button name="usable"></crowd-toggle-button>
  <crowd-slider name="quality" min="1" max="5" step="1"></crowd-slider>
  <crowd-input name="comment"></crowd-input>
</crowd-form>"""


@dataclass(frozen=True)
class Question:
    name: str
    kind: str  # single, multi, boolean
    options: tuple[str, ...]
    encoding: str  # buttons, select, classifier, radio, checkboxes, checkbox, toggle


QUESTIONS = (
    Question("spring|summer|winter", "single", ("spring", "summer", "winter"), "buttons"),
    Question("weather", "single", ("sun", "cloud", "rain", "snow", "fog"), "select"),
    Question("scene", "single", ("city", "forest", "beach", "mountain"), "classifier"),
    Question("people", "single", ("none", "some"), "radio"),
    Question("objects", "multi", ("car", "tree", "sign", "animal"), "checkboxes"),
    Question("light", "multi", ("day", "dusk", "night"), "checkboxes"),
    Question("blurry", "boolean", ("false", "true"), "checkbox"),
    Question("usable", "boolean", ("false", "true"), "toggle"),
)


@dataclass(frozen=True)
class Crowd:
    """One seed's objects: the true value of each question, and each object's workers' answers."""

    truth: list[dict[str, Any]]
    answers: list[list[tuple[str, dict[str, Any]]]]  # per object: (worker, content)
    values: list[list[tuple[str, dict[str, Any]]]]  # per object: (worker, {question: value})


def _pool(rng: np.random.Generator) -> tuple[list[tuple[ClassWorker, LabelWorker]], np.ndarray]:
    pool: list[tuple[ClassWorker, LabelWorker]] = []
    for _ in range(11):
        accuracy = float(rng.uniform(0.65, 0.95))
        pool.append((ClassWorker(accuracy), LabelWorker(float(rng.uniform(0.7, 0.95)), float(rng.uniform(0.85, 0.98)))))
    pool.append((ClassWorker(kind="spammer"), LabelWorker(kind="spammer")))
    pool.append((ClassWorker(0.9, kind="swapper"), LabelWorker(0.9, 0.95, kind="swapper")))
    pool.append((ClassWorker(0.85, kind="biased", bias=0.5), LabelWorker(0.85, 0.95)))
    pool.append((ClassWorker(0.8), LabelWorker(0.9, 0.95, kind="lazy")))
    activity = rng.lognormal(0.0, 0.8, size=len(pool))
    return pool, activity / activity.sum()


def _per_question(rng: np.random.Generator, worker: ClassWorker) -> ClassWorker:
    """A careful worker is a little better or worse on each question."""
    if worker.kind != "careful":
        return worker
    return ClassWorker(float(np.clip(worker.accuracy + rng.normal(0, 0.05), 0.5, 0.99)))


def crowd(seed: int, n_objects: int, answers: tuple[int, int] = (3, 5)) -> Crowd:
    rng = np.random.default_rng(seed)
    pool, activity = _pool(rng)
    tuned = {q.name: [(_per_question(rng, c), lw) for c, lw in pool] for q in QUESTIONS}
    truth: list[dict[str, Any]] = []
    all_answers: list[list[tuple[str, dict[str, Any]]]] = []
    all_values: list[list[tuple[str, dict[str, Any]]]] = []
    for _ in range(n_objects):
        true: dict[str, Any] = {}
        for q in QUESTIONS:
            if q.kind == "multi":
                true[q.name] = rng.random(len(q.options)) < np.linspace(0.5, 0.2, len(q.options))
            else:
                probs = np.linspace(2.0, 1.0, len(q.options))
                true[q.name] = int(rng.choice(len(q.options), p=probs / probs.sum()))
        truth.append(true)
        n = int(rng.integers(answers[0], answers[1] + 1))
        chosen = rng.choice(len(pool), size=n, replace=False, p=activity)
        row, values = [], []
        for w in chosen:
            given: dict[str, Any] = {}
            for q in QUESTIONS:
                single, multi = tuned[q.name][int(w)]
                if q.kind == "multi":
                    given[q.name] = multi.answer(rng, true[q.name])
                else:
                    given[q.name] = single.answer(rng, true[q.name], len(q.options))
            worker = f"private.us-east-1.w{int(w):02d}"
            row.append((worker, encode(given, rng)))
            values.append((worker, given))
        all_answers.append(row)
        all_values.append(values)
    return Crowd(truth, all_answers, all_values)


def encode(given: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One worker's form answer as the elements submit it."""
    content: dict[str, Any] = {}
    for q in QUESTIONS:
        value = given[q.name]
        if q.encoding == "buttons":
            for i, option in enumerate(q.options):
                content[option] = {option: i == value}
        elif q.encoding in ("select", "radio"):
            content[q.name] = q.options[value]
        elif q.encoding == "classifier":
            content[q.name] = {"label": q.options[value]}
        elif q.encoding == "checkboxes":
            content[q.name] = {option: bool(on) for option, on in zip(q.options, value, strict=True)}
        elif q.encoding == "checkbox":
            content[q.name] = {"yes": bool(value)}
        else:
            content[q.name] = bool(value)
    content["quality"] = int(rng.integers(1, 6))
    if rng.random() < 0.3:
        content["comment"] = f"note {int(rng.integers(1000))}"
    return content


def payload(objects: Sequence[Sequence[tuple[str, Mapping[str, Any]]]]) -> list[dict[str, Any]]:
    return [
        {
            "datasetObjectId": str(i),
            "dataObject": {"s3Uri": f"s3://bench-bucket/images/{i}.jpg"},
            "annotations": [{"workerId": w, "annotationData": {"content": json.dumps(c)}} for w, c in answers],
        }
        for i, answers in enumerate(objects)
    ]


def _run(objects: list[dict[str, Any]], template: str | None, labels: Sequence[str] | None = None) -> list[Any]:
    from tally.consolidate import consolidate_batch
    from tally.forms.consolidate import JobTemplate
    from tally.gt.events import ConsolidationRequest
    from tally.storage import MemoryStorage

    uri = "s3://bench-bucket/job/annotations/req.json"
    event: dict[str, Any] = {"labelAttributeName": "bench", "payload": {"s3Uri": uri}}
    if labels is not None:
        event["labelCategories"] = list(labels)
    storage = MemoryStorage({uri: json.dumps(objects).encode()})
    found = JobTemplate(template)
    report = consolidate_batch(ConsolidationRequest.parse(event), storage, form_template=lambda: found)
    return [e["consolidatedAnnotation"]["content"]["bench"] for e in report.response]


def _value(q: Question, label: Mapping[str, Any], alone: bool) -> Any:
    if alone:
        if q.kind == "multi":
            return frozenset(label["class-names"])
        return label["class-name"]
    value = label["fields"][q.name]["value"]
    if q.kind == "multi":
        return frozenset(value)
    if q.kind == "boolean":
        return "true" if value else "false"
    return value


def _truth(q: Question, true: Any) -> Any:
    if q.kind == "multi":
        return frozenset(o for o, on in zip(q.options, true, strict=True) if on)
    return q.options[int(true)]


def _majority(q: Question, votes: Sequence[Any], rng: np.random.Generator) -> Any:
    if q.kind == "multi":
        ticks = np.mean(np.asarray(votes, dtype=float), axis=0) >= 0.5
        return frozenset(o for o, on in zip(q.options, ticks, strict=True) if on)
    counts = np.bincount(np.asarray(votes, dtype=int), minlength=len(q.options))
    best = np.flatnonzero(counts == counts.max())
    return q.options[int(rng.choice(best))]


def accuracy(seeds: Sequence[int], n_objects: int) -> dict[str, dict[str, list[float]]]:
    """Per question: accuracy per seed of the form, the question alone, and the majority."""
    out: dict[str, dict[str, list[float]]] = {q.name: {"form": [], "alone": [], "majority": []} for q in QUESTIONS}
    for seed in seeds:
        simulated = crowd(seed, n_objects)
        forms = _run(payload(simulated.answers), TEMPLATE)
        rng = np.random.default_rng(seed)
        for q in QUESTIONS:
            truth = [_truth(q, t[q.name]) for t in simulated.truth]
            alone_answers = [
                [
                    (w, {"q": {"labels": [o for o, on in zip(q.options, v[q.name], strict=True) if on]}})
                    if q.kind == "multi"
                    else (w, {"q": {"label": q.options[int(v[q.name])]}})
                    for w, v in values
                ]
                for values in simulated.values
            ]
            alone = _run(payload(alone_answers), None, q.options)
            majority = [_majority(q, [v[q.name] for _, v in values], rng) for values in simulated.values]
            for method, got in (
                ("form", [_value(q, label, False) for label in forms]),
                ("alone", [_value(q, label, True) for label in alone]),
                ("majority", majority),
            ):
                out[q.name][method].append(float(np.mean([g == t for g, t in zip(got, truth, strict=True)])))
    return out


def child(kind: str, objects: int, workers: int) -> None:
    """Runs in a child process: the handler on one payload under moto, its time printed as JSON."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "testing"
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="tally", POWERTOOLS_LOG_LEVEL="WARNING")
    os.environ.update(POWERTOOLS_METRICS_NAMESPACE="tally", POWERTOOLS_TRACE_DISABLED="true")
    import boto3
    from moto import mock_aws

    from tally import aws
    from tests.project import FakeContext, load_handler

    simulated = crowd(7, objects, (workers, workers))
    if kind == "form":
        body = json.dumps(payload(simulated.answers)).encode()
        labels = None
    else:
        q = QUESTIONS[2]
        alone = [
            [(w, {q.name: {"label": q.options[int(v[q.name])]}}) for w, v in values] for values in simulated.values
        ]
        body = json.dumps(payload(alone)).encode()
        labels = list(q.options)
    template_uri = "s3://bench-bucket/job/template.liquid.html"

    def read_template(sagemaker: Any, storage: Any, arn: str) -> tuple[str | None, str | None]:
        return storage.read(template_uri).decode(), None  # DescribeLabelingJob is not in moto: its answer

    aws.read_job_template = read_template  # type: ignore[assignment]
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench-bucket")
        s3.put_object(Bucket="bench-bucket", Key="job/annotations/req.json", Body=body)
        s3.put_object(Bucket="bench-bucket", Key="job/template.liquid.html", Body=TEMPLATE.encode())
        handler = load_handler("consolidation")
        event: dict[str, Any] = {
            "labelAttributeName": "bench",
            "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/bench",
            "payload": {"s3Uri": "s3://bench-bucket/job/annotations/req.json"},
            "outputConfig": "s3://bench-bucket/job/annotations",
        }
        if labels is not None:
            event["labelCategories"] = labels
        start, cpu = time.perf_counter(), time.process_time()
        response = handler.lambda_handler(event, FakeContext())
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    labels_out = [e["consolidatedAnnotation"]["content"]["bench"] for e in response]
    failed = sum("failure-reason" in label for label in labels_out)
    fields = len(labels_out[0].get("fields", {})) if labels_out else 0
    print(json.dumps({"kind": kind, "objects": objects, "workers": workers, "seconds": elapsed, "cpu": cpu, "failed": failed,
                      "fields": fields, "payload_mb": len(body) / 1e6}))  # fmt: skip


def speed(objects: int, workers: int, repeats: int) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for kind in ("form", "alone"):  # interleaved: a busy moment slows both
            line = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(objects), str(workers)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout.strip()
            result = json.loads(line.splitlines()[-1])
            if kind not in best or result["seconds"] < best[kind]["seconds"]:
                best[kind] = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--objects", type=int, default=300, help="objects per seed (accuracy)")
    parser.add_argument("--speed-objects", type=int, default=1000, help="objects of the speed batch")
    parser.add_argument("--repeats", type=int, default=3, help="child runs per row; the fastest is kept")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    if not args.skip_accuracy:
        print_accuracy(args.objects)
    if args.skip_speed:
        return
    print_speed(args.speed_objects, args.repeats)


def print_accuracy(objects: int) -> None:
    result = accuracy(SEEDS, objects)
    print(f"Accuracy per field, mean over seeds {', '.join(map(str, SEEDS))} ({objects} objects each, 3-5 answers)")
    print("(min-max over seeds in brackets; 'form - alone' is the largest per-seed difference either way)\n")
    print("| field | kind | options | form | alone (crowd-classifier) | majority | form - alone |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for q in QUESTIONS:
        row = result[q.name]
        cells = [f"{np.mean(row[m]):.3f} [{min(row[m]):.3f}-{max(row[m]):.3f}]" for m in ("form", "alone", "majority")]
        diffs = [f - a for f, a in zip(row["form"], row["alone"], strict=True)]
        worst = min(worst, min(diffs))
        spread = f"{min(diffs):+.3f} / {max(diffs):+.3f}"
        print(
            f"| `{q.name.replace('|', chr(92) + '|')}` | {q.kind} ({q.encoding}) | {len(q.options)} | {' | '.join(cells)} | {spread} |"
        )
    print(f"\nLargest shortfall of a form field against the question alone, any seed: {worst:+.3f}")


def print_speed(objects: int, repeats: int) -> None:
    timed = speed(objects, 5, repeats)
    print(
        "\n| batch | objects x workers | handler time (s) | its CPU time (s) | per object (ms) | payload (MB) | fields | failed |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind, label in (("form", "10-field form"), ("alone", "one crowd-classifier question")):
        r = timed[kind]
        print(f"| {label} | {r['objects']} x {r['workers']} | {r['seconds']:.2f} | {r['cpu']:.2f} | {1000 * r['seconds'] / r['objects']:.2f} | "
              f"{r['payload_mb']:.1f} | {r['fields'] or 1} | {r['failed']} |")  # fmt: skip
    ratio = timed["form"]["seconds"] / timed["alone"]["seconds"]
    print(f"\nForm / one question: {ratio:.1f}x. Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"best of {repeats} interleaved runs; load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip


if __name__ == "__main__":
    main()
