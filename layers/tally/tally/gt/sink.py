"""The response sink: one batch's results in, Ground Truth's response out, never over Lambda's limit;
and :class:`LabelReader`, which follows what the sink moved to S3 when a label is read back.

:func:`respond` builds one response entry per object (:meth:`ObjectResult.to_gt`) and, only while the
response is over ``limit`` bytes (:data:`RESPONSE_LIMIT_BYTES`, measured as Lambda's runtime
serialises it), takes these steps in order; a response that fits is returned untouched:

1. **metadata cut**: every ``<attr>-metadata`` with more than its common keys (``type``, ``job-name``,
   ``human-annotated``, ``creation-date``, ``confidence``, ``failure-reason``) keeps only those and a
   ``details`` note; the label already holds every fact.
2. **batch figures moved**: what repeats across the objects — each worker's figures over the whole
   batch in ``worker-quality`` (the keys a result names in ``ObjectResult.batch_figures``) — is
   written once to ``<prefix>/batch_<digest>-worker-quality.json`` (``{workerId: {figure: value}}``),
   and every such label keeps its ``worker-quality`` rows with what is per object (``workerId``, and
   per-object figures such as segmentation's ``reliability`` and ``weight``) plus
   ``worker-quality-ref``. A figure that is not the same for a worker in every object stays in the
   labels; figures shorter than the ref that would replace them are not moved.
3. **per-object detail trimmed**, one key at a time in this order, from the labels where it weighs
   most first, until the response fits: ``worker-quality`` (with its ref: who answered and the
   per-object figures), then ``answer-warnings`` (answers used despite a warning), then
   ``rejected-answers`` (answers not counted). A trimmed label gets ``full-label-ref``: the whole
   label as consolidated, in ``<prefix>/<id>_<digest>-label.json``.
4. **labels spilled**, the largest first, until the response fits: the label keeps ``type``,
   ``confidence``, ``failure-reason``, its artefacts' URIs (``mask-ref``, ``instance-mask-ref``, ...),
   every other value of at most :data:`SMALL_VALUE_BYTES` bytes of JSON (``class-id``, ``class-name``,
   short ``class-ids``) and ``full-label-ref``.

What moves is written to S3 with the job's KMS key (as masks are), under names derived from the
content, so a retried batch writes the same keys with the same bytes and returns the same response.
Nothing is lost: following the refs (:class:`LabelReader`) gives back labels equal to those built.
The sink reads no task type: a task says what repeats through ``ObjectResult.batch_figures``; the
keys steps 3 and 4 know (``worker-quality``, ``answer-warnings``, ``rejected-answers``, ``*-ref``)
are the ones every task's label shares.

Only a batch whose object IDs and failure reasons alone pass the limit can still be over it after
step 4; it is returned with an error logged (Lambda refuses it, as it would anyway).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import StorageError
from ..storage import Storage, join_uri
from .response import RESPONSE_LIMIT_BYTES, ObjectResult, artefact_name, response_size

__all__ = [
    "DETAIL_ORDER",
    "FULL_LABEL_REF",
    "SMALL_VALUE_BYTES",
    "WORKER_QUALITY_REF",
    "LabelReader",
    "LabelRefError",
    "Response",
    "Step",
    "respond",
]

logger = logging.getLogger(__name__)

WORKER_QUALITY = "worker-quality"
WORKER_QUALITY_REF = "worker-quality-ref"
FULL_LABEL_REF = "full-label-ref"
PASSTHROUGH_REF = "annotationsFromAllWorkers-ref"
"""Written by tally before the sink had step 4 (pass-through answer lists moved on their own); still read."""
DETAIL_ORDER = (WORKER_QUALITY, "answer-warnings", "rejected-answers")
"""Step 3's order: the per-object detail least useful to a user of the output manifest goes first."""
SMALL_VALUE_BYTES = 64
"""Step 4 keeps a label's other values up to this many bytes of JSON (its class or decision summary)."""
_KEPT = ("type", "confidence", "failure-reason")
_SINK_REFS = frozenset({WORKER_QUALITY_REF, FULL_LABEL_REF, PASSTHROUGH_REF})
_ESSENTIAL_METADATA = ("type", "job-name", "human-annotated", "creation-date", "confidence", "failure-reason")
_DETAILS = "in the label (the full metadata would pass Lambda's response size limit)"
_STEPS = {1: "metadata cut", 2: "batch figures moved", 3: "per-object detail trimmed", 4: "labels spilled"}


@dataclass(frozen=True)
class Step:
    """One step :func:`respond` took: its number (1–4), the response's bytes before and after, and
    how many labels (or metadata objects, for step 1) it changed."""

    number: int
    before: int
    after: int
    changed: int

    @property
    def name(self) -> str:
        return _STEPS[self.number]


@dataclass
class Response:
    """The response entries, their size as Lambda serialises them, the steps taken (none when the
    response fitted as built) and how many labels have their full version in S3 (steps 3 and 4)."""

    entries: list[dict[str, Any]]
    size: int
    limit: int
    steps: list[Step] = field(default_factory=list)
    offloaded: int = 0

    @property
    def fits(self) -> bool:
        return self.size <= self.limit


def _json(value: Any) -> bytes:
    """An artefact's bytes: compact UTF-8 JSON, the same for the same value."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _size(value: Any) -> int:
    """Bytes ``value`` takes inside the response (:func:`response_size`'s serialisation)."""
    return len(json.dumps(value, separators=(", ", ": ")))


def respond(
    results: Sequence[ObjectResult],
    attr: str,
    *,
    job_name: str,
    created: str,
    storage: Storage,
    prefix: str,
    limit: int = RESPONSE_LIMIT_BYTES,
    threads: int = 4,
) -> Response:
    """The response for ``results``, fitted under ``limit`` bytes (module docstring).

    Args:
        results: one per object, in the response's order.
        attr: the label attribute name.
        job_name, created: the metadata's ``job-name`` and ``creation-date``.
        storage: where moved labels and figures are written (S3 in Lambda).
        prefix: the URI prefix they are written under (the batch's artefact prefix).
        limit: the largest response, in bytes.
        threads: writes made at once in steps 3 and 4.
    """
    entries = [r.to_gt(attr, job_name=job_name, created=created) for r in results]
    return _Fitter(entries, results, attr, storage, prefix, limit, threads).run()


class _Fitter:
    def __init__(
        self,
        entries: list[dict[str, Any]],
        results: Sequence[ObjectResult],
        attr: str,
        storage: Storage,
        prefix: str,
        limit: int,
        threads: int,
    ) -> None:
        self.entries, self.results, self.attr = entries, results, attr
        self.storage, self.prefix, self.limit, self.threads = storage, prefix, limit, max(1, threads)
        self.contents: list[dict[str, Any]] = [e["consolidatedAnnotation"]["content"] for e in entries]
        self.originals: list[Any] = [c[attr] for c in self.contents]  # never changed: the full labels
        self.size = response_size(entries)
        self.response = Response(entries, self.size, limit)
        self.sizes: list[int] = []  # each label's bytes, from step 3 on
        self.full_refs: dict[int, str] = {}  # full-label URIs already written, by entry index
        self.full_data: dict[int, bytes] = {}
        self.failed_write = False  # after a failed write no other is tried: S3 is likely to refuse them too

    def label(self, i: int) -> Any:
        return self.contents[i][self.attr]

    def run(self) -> Response:
        for number, step in ((1, self.cut_metadata), (2, self.move_batch_figures), (3, self.trim), (4, self.spill)):
            if self.size <= self.limit or self.failed_write:
                break
            before = self.size
            changed = step()
            if changed:
                self.response.steps.append(Step(number, before, self.size, changed))
                log = logger.warning if number >= 3 else logger.info
                log("response over the limit: step %d (%s) took it from %d to %d bytes, %d changed",
                    number, _STEPS[number], before, self.size, changed)  # fmt: skip
        self.response.size = self.size
        self.response.offloaded = len(self.full_refs)
        if self.size > self.limit:
            logger.error(
                "the response is %d bytes, over the %d-byte limit: Lambda will refuse it", self.size, self.limit
            )
        return self.response

    # -- step 1 ----------------------------------------------------------------------------------

    def cut_metadata(self) -> int:
        key, changed = f"{self.attr}-metadata", 0
        for content in self.contents:
            meta = content[key]
            cut = {k: meta[k] for k in _ESSENTIAL_METADATA if k in meta}
            if len(cut) < len(meta):  # a metadata object with nothing to cut stays as it is
                content[key] = cut | {"details": _DETAILS}
                changed += 1
        self.size = response_size(self.entries)
        return changed

    # -- step 2 ----------------------------------------------------------------------------------

    def move_batch_figures(self) -> int:
        declared = [
            i
            for i, r in enumerate(self.results)
            if r.batch_figures
            and isinstance(self.label(i), dict)
            and isinstance(self.label(i).get(WORKER_QUALITY), list)
        ]
        if not declared:
            return 0
        keys = [
            k
            for k in self.results[declared[0]].batch_figures
            if all(k in self.results[i].batch_figures for i in declared)
        ]
        figures: dict[str, dict[str, Any]] = {}
        differ: set[str] = set()
        for i in declared:
            for row in self.label(i)[WORKER_QUALITY]:
                if not isinstance(row, dict) or not isinstance(row.get("workerId"), str):
                    logger.error("a worker-quality row has no workerId: the batch figures stay in the labels")
                    return 0
                seen = figures.setdefault(row["workerId"], {})
                for k in keys:
                    if k not in row or (k in seen and seen[k] != row[k]):
                        differ.add(k)
                    else:
                        seen.setdefault(k, row[k])
        if differ:
            logger.warning("worker figures %s differ between objects of the batch: kept in each label", sorted(differ))
        moved = [k for k in keys if k not in differ]
        if not moved:
            return 0
        moving = {w: {k: figures[w][k] for k in moved} for w in sorted(figures)}
        data = _json(moving)
        uri = join_uri(self.prefix, artefact_name("batch", data, "-worker-quality.json"))
        # what a row loses is the same in every label: ', "<key>": <value>' per figure of its worker
        lost = {w: sum(4 + _size(k) + _size(v) for k, v in f.items()) for w, f in moving.items()}
        added = 4 + _size(WORKER_QUALITY_REF) + _size(uri)
        changes, saved = [], 0
        for i in declared:
            label = self.label(i)
            rows = [{k: v for k, v in row.items() if k not in moved} for row in label[WORKER_QUALITY]]
            changes.append((i, {**label, WORKER_QUALITY: rows, WORKER_QUALITY_REF: uri}))
            saved += sum(lost[row["workerId"]] for row in label[WORKER_QUALITY]) - added
        if saved <= 0:  # a ref longer than the figures it would replace
            return 0
        try:
            self.storage.write(uri, data, "application/json")
        except StorageError as exc:
            logger.error("batch figures not moved to S3, the response stays over the limit: %s", exc)
            self.failed_write = True
            return 0
        for i, new in changes:
            self.contents[i][self.attr] = new
        self.size -= saved
        return len(changes)

    # -- steps 3 and 4 ---------------------------------------------------------------------------

    def full_ref(self, i: int) -> tuple[str, bytes]:
        """Entry ``i``'s whole label as written to S3, and its URI (named by the content)."""
        data = self.full_data.get(i)
        if data is None:
            data = self.full_data[i] = _json(self.originals[i])
        return join_uri(self.prefix, artefact_name(self.entries[i]["datasetObjectId"], data, "-label.json")), data

    def apply(self, changes: list[tuple[int, dict[str, Any]]]) -> int:
        """Write the whole labels the changes need, ``threads`` at once, then make each change whose
        label is in S3. After a failed write no further one is started (module docstring)."""
        refused: list[StorageError] = []

        def write(i: int) -> None:
            if refused:  # S3 refused one: the writes still queued are not tried
                return
            uri, data = self.full_ref(i)
            try:
                self.storage.write(uri, data, "application/json")
            except StorageError as exc:
                refused.append(exc)
                return
            self.full_refs[i] = uri

        missing = [i for i, _ in changes if i not in self.full_refs]
        if len(missing) > 1 and self.threads > 1:
            from concurrent.futures import ThreadPoolExecutor  # only batches this large pay for the import

            with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="tally-sink") as pool:
                list(pool.map(write, missing))
        else:
            for i in missing:
                write(i)
        if refused:
            self.failed_write = True
            logger.error("labels not moved to S3, the response stays over the limit: %s", refused[0])
        done = 0
        for i, new in changes:
            if i in self.full_refs:
                self.contents[i][self.attr] = new
                size = _size(new)
                self.size += size - self.sizes[i]
                self.sizes[i] = size
                done += 1
        return done

    def ensure_sizes(self) -> None:
        if not self.sizes:
            self.sizes = [_size(self.label(i)) for i in range(len(self.contents))]

    def trim(self) -> int:
        self.ensure_sizes()
        changed: set[int] = set()
        for key in DETAIL_ORDER:
            if self.size <= self.limit or self.failed_write:
                break
            candidates = [
                (-_size(label[key]), str(self.entries[i]["datasetObjectId"]), i)
                for i in range(len(self.contents))
                if isinstance(label := self.label(i), dict) and key in label
            ]
            changes: list[tuple[int, dict[str, Any]]] = []
            projected = self.size
            for _, _, i in sorted(candidates):
                label = self.label(i)
                gone = (key, WORKER_QUALITY_REF) if key == WORKER_QUALITY else (key,)
                new = {k: v for k, v in label.items() if k not in gone}
                new[FULL_LABEL_REF] = self.full_ref(i)[0]
                saved = self.sizes[i] - _size(new)
                if saved <= 0:
                    continue
                changes.append((i, new))
                projected -= saved
                if projected <= self.limit:
                    break
            self.apply(changes)
            changed.update(i for i, _ in changes if i in self.full_refs)
        return len(changed)

    def spill(self) -> int:
        self.ensure_sizes()
        order = sorted(
            range(len(self.contents)), key=lambda i: (-self.sizes[i], str(self.entries[i]["datasetObjectId"]))
        )
        changes: list[tuple[int, dict[str, Any]]] = []
        projected = self.size
        for i in order:
            original = self.originals[i]
            if not isinstance(original, dict):
                continue
            new = _summary(original)
            new[FULL_LABEL_REF] = self.full_ref(i)[0]
            saved = self.sizes[i] - _size(new)
            if saved <= 0:
                continue
            changes.append((i, new))
            projected -= saved
            if projected <= self.limit:
                break
        return self.apply(changes)


def _summary(label: Mapping[str, Any]) -> dict[str, Any]:
    """What a spilled label keeps (step 4): its type, confidence, failure reason, artefact URIs and
    small values."""
    return {
        k: v
        for k, v in label.items()
        if k in _KEPT
        or (k.endswith("-ref") and k not in _SINK_REFS)
        or (k not in _SINK_REFS and k not in DETAIL_ORDER and _size(v) <= SMALL_VALUE_BYTES)
    }


# -- reading labels back ---------------------------------------------------------------------------


class LabelRefError(StorageError):
    """A ref the sink wrote cannot be followed: its file is not what the label says it is."""


class LabelReader:
    """Labels as they were consolidated, whatever the sink moved to S3 (module docstring).

    ``read`` fetches a URI's bytes (a :class:`~tally.storage.Storage`'s ``read``); batch files are
    read once and kept. :meth:`resolve` follows ``full-label-ref`` (the whole label), then
    ``worker-quality-ref`` (each row gets its worker's batch figures back) and the older
    ``annotationsFromAllWorkers-ref``; a label without them is returned as it is. A reader that has no
    use for the worker figures (an export to built-in shapes, a pre-annotation prior) passes
    ``worker_figures=False``: ``worker-quality-ref`` is then left as it is, and never read.

    Example:
        >>> from tally.storage import MemoryStorage
        >>> files = MemoryStorage({"s3://b/o/batch_1-worker-quality.json": b'{"w1": {"accuracy": 0.9}}'})
        >>> reader = LabelReader(files.read)
        >>> reader.resolve({"class-id": 0, "worker-quality": [{"workerId": "w1"}],
        ...                 "worker-quality-ref": "s3://b/o/batch_1-worker-quality.json"})
        {'class-id': 0, 'worker-quality': [{'workerId': 'w1', 'accuracy': 0.9}]}
    """

    def __init__(self, read: Callable[[str], bytes], *, worker_figures: bool = True) -> None:
        self._read = read
        self._worker_figures = worker_figures
        self._batch: dict[str, Any] = {}

    def _json(self, uri: str) -> Any:
        data = self._read(uri)
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LabelRefError(f"{uri} is not a JSON file") from exc

    def _figures(self, uri: str) -> Mapping[str, Any]:
        if uri not in self._batch:
            figures = self._json(uri)
            if not isinstance(figures, dict):
                raise LabelRefError(f"{uri} is not a worker-quality file")
            self._batch[uri] = figures
        figures = self._batch[uri]
        assert isinstance(figures, dict)
        return figures

    def resolve(self, label: Any) -> Any:
        """``label`` with every ref the sink wrote followed (a new object; ``label`` is unchanged).

        Raises:
            StorageError: a ref's file cannot be read (:class:`LabelRefError`: it is not what the
                label says it is).
        """
        refs = _SINK_REFS if self._worker_figures else _SINK_REFS - {WORKER_QUALITY_REF}
        if not isinstance(label, dict) or not any(k in label for k in refs):
            return label
        if isinstance(label.get(FULL_LABEL_REF), str):
            uri = label[FULL_LABEL_REF]
            full = self._json(uri)
            if not isinstance(full, dict) or full.get("type") != label.get("type"):
                raise LabelRefError(f"{uri} is not the full label of a {label.get('type')} label")
            return self.resolve(full)
        out = dict(label)
        uri = out.pop(WORKER_QUALITY_REF, None) if self._worker_figures else None
        if isinstance(uri, str) and isinstance(out.get(WORKER_QUALITY), list):
            figures = self._figures(uri)
            rows = []
            for row in out[WORKER_QUALITY]:
                worker = row.get("workerId") if isinstance(row, dict) else None
                batch = figures.get(worker) if isinstance(worker, str) else None
                if not isinstance(batch, dict):
                    raise LabelRefError(f"{uri} has no figures for a worker of this label")
                rows.append({**row, **batch})
            out[WORKER_QUALITY] = rows
        uri = out.pop(PASSTHROUGH_REF, None)
        if isinstance(uri, str):
            out["annotationsFromAllWorkers"] = self._json(uri)
        return out
