"""The pre-annotation step: a manifest line in, the worker task's input out.

Response::

    {"taskInput": {"taskObject": <source-ref URI or inline source text>,
                   "labels": [...],
                   "manifestLine": <the whole line>,
                   "initialValue": {"src": <prior mask URI>, "labelMappings": {...}}},  # adjustment jobs
     "isHumanAnnotationRequired": true}

``labels`` come from the first of: a ``labels`` list of strings on the manifest line (or under its
``metadata``); the labels configured for the deployment (``TALLY_LABELS``); the job's label category
file (through ``DescribeLabelingJob``, cached per container); the classes of a prior label on the
line. With none of these, ``labels`` is ``[]`` and a warning is logged (the template may list its
labels itself).

A line carrying a prior semantic-segmentation label (Ground Truth's built-in ``<attr>-ref`` with
``<attr>-ref-metadata``, or tally's own ``<attr>`` with ``mask-ref``) gets that mask as
``initialValue``: ``src`` is its S3 URI (the template applies ``grant_read_access``) and
``labelMappings`` its classes' colours, background left out, as ``<crowd-semantic-segmentation
initial-value>`` expects. A line without one but with a prior classification label (built-in: the
integer class with ``class-name`` in its metadata, or a list of integers with ``class-map``; tally's
own: ``class-name`` / ``class-names`` in the label) gets ``{"label": name}`` or ``{"labels": [names]}``
for a chained job's template to pre-select; one with a prior box label (built-in object detection,
adjustment lines included, or tally's), keypoint or instance label gets it as the crowd element's
initial value. Each prior is read by its label's task kind (:func:`prior`); one with none of these but a prior form (tally's label with
``fields``) gets each consolidated field's value by name (:func:`prior_form`), for the template's
elements to start from. Of several labels of one kind, the newest ``creation-date`` wins.
A tally label that its consolidation spilled to S3 to fit Lambda's response limit (``full-label-ref``,
:mod:`tally.gt.sink`) is read back first (:func:`read_back_spilled`); ``manifestLine`` stays the line
as received.

A line with neither ``source-ref`` nor ``source`` gets ``isHumanAnnotationRequired: false`` and a
logged reason; nothing here raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import EventError, TallyError
from .gt.events import PreAnnotationRequest
from .gt.sink import FULL_LABEL_REF, LabelReader
from .settings import Settings

__all__ = ["pre_annotate", "prior", "prior_form", "read_back_spilled"]

logger = logging.getLogger(__name__)


def prior(line: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``initialValue`` a prior label on a manifest line gives (module docstring), or ``None``.

    Each label (a key ``X`` with ``X-metadata`` beside it) is read by the task kind its ``type``
    names (:func:`tally.tasks.registry.kind_of`, its ``views.prior``); of the labels that give one,
    the kinds' ``prior_rank`` decides (segmentation, then classification, then boxes, keypoints and
    instances), then the newest ``creation-date``."""
    from .tasks.registry import kind_of  # on the first event, not at the handler's import

    found: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for key, meta in line.items():
        if not key.endswith("-metadata") or not isinstance(meta, dict):
            continue
        kind = kind_of(str(meta.get("type")))
        initial = None if kind is None else kind.views.prior(line.get(key.removesuffix("-metadata")), meta)
        if kind is not None and initial is not None:
            found.setdefault(kind.views.prior_rank, []).append((str(meta.get("creation-date", "")), initial))
    return max(found[min(found)], key=lambda item: item[0])[1] if found else None


def prior_form(line: Mapping[str, Any]) -> dict[str, Any] | None:
    """The newest prior form label on a line (tally's: ``fields``, :mod:`tally.forms.consolidate`), as an
    ``initialValue``: ``{field: value}`` for each field that was consolidated (a choice's option, a
    multiple choice's list, a yes/no's boolean, an annotation element's prior from its task kind, e.g.
    boxes as ``{"boundingBoxes": [...]}``); fields kept as
    given have no agreed value and are left out. A template reads ``task.input.initialValue.<field>``
    where its element takes a starting value (``value``, ``checked``, ``selected``, ``initial-value``)."""
    from .tasks.registry import kind_of  # on the first event, not at the handler's import

    found: list[tuple[str, dict[str, Any]]] = []
    for key, meta in line.items():
        value = line.get(key.removesuffix("-metadata"))
        if not key.endswith("-metadata") or not isinstance(meta, dict) or not isinstance(value, dict):
            continue
        fields = value.get("fields")
        if not isinstance(fields, dict):
            continue
        initial: dict[str, Any] = {}
        for name, entry in fields.items():
            if not isinstance(entry, dict) or not entry.get("consolidated"):
                continue
            given = entry.get("value")
            kind = kind_of(str(entry["type"])) if entry.get("type") else None
            if kind is not None and isinstance(given, dict):  # an annotation element: its kind's prior
                start = kind.views.prior(given, {})
                if start is not None:
                    initial[name] = start
            elif entry.get("kind") in ("single-choice", "multi-choice", "boolean"):
                initial[name] = given
        if initial:
            found.append((str(meta.get("creation-date", "")), initial))
    return max(found, key=lambda item: item[0])[1] if found else None


def _prior_labels(prior: Mapping[str, Any]) -> list[str]:
    """Label names a prior initial value uses, in first-seen order."""
    if "labelMappings" in prior:
        return list(prior["labelMappings"])
    if "label" in prior:
        return [str(prior["label"])]
    items = prior.get("labels") or prior.get("boundingBoxes") or prior.get("keypoints") or prior.get("instances") or []
    names = [str(i["label"]) if isinstance(i, dict) else str(i) for i in items]
    return list(dict.fromkeys(names))


def _line_labels(line: Mapping[str, Any]) -> list[str] | None:
    """Labels listed on the line itself: ``labels``, or ``metadata.labels``."""
    metadata = line.get("metadata")
    for labels in (line.get("labels"), metadata.get("labels") if isinstance(metadata, dict) else None):
        if isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels):
            return list(labels)
    return None


def read_back_spilled(line: Mapping[str, Any], read: Callable[[str], bytes] | None) -> Mapping[str, Any]:
    """``line`` with each tally label that the response sink spilled to S3 (``full-label-ref``) read
    back whole through ``read``; a label that cannot be read back is left as it is, with a warning.
    Worker figures moved to the batch's file are not read: no prior uses them."""
    spilled = [
        key
        for key, value in line.items()
        if isinstance(value, dict) and isinstance(value.get(FULL_LABEL_REF), str) and f"{key}-metadata" in line
    ]
    if not spilled or read is None:
        return line
    reader, out = LabelReader(read, worker_figures=False), dict(line)
    for key in spilled:
        try:
            out[key] = reader.resolve(line[key])
        except TallyError as exc:
            logger.warning("a prior label was not read back from S3: %s", exc)
    return out


def pre_annotate(
    event: Any,
    *,
    settings: Settings | None = None,
    job_labels: Callable[[], Sequence[str] | None] = lambda: None,
    read: Callable[[str], bytes] | None = None,
) -> dict[str, Any]:
    """Build the pre-annotation response for one Ground Truth event (see the module docstring);
    ``read`` fetches a prior label the consolidation spilled to S3 (``None``: such a label gives no prior)."""
    settings = settings or Settings()
    try:
        request = PreAnnotationRequest.parse(event)
    except EventError as exc:
        logger.warning("no human annotation: %s", exc)
        return {"taskInput": {}, "isHumanAnnotationRequired": False}
    line = request.data_object
    task_object = line.get("source-ref", line.get("source"))
    if not isinstance(task_object, str) or not task_object:
        logger.warning("no human annotation: the manifest line has neither source-ref nor source")
        return {"taskInput": {"manifestLine": line}, "isHumanAnnotationRequired": False}
    full = read_back_spilled(line, read)
    initial = prior(full)
    form = prior_form(full) if initial is None else None
    labels = _line_labels(line) or (list(settings.labels) if settings.labels else None) or job_labels()
    if not labels and initial:
        labels = _prior_labels(initial)
    if not labels:
        logger.warning("no labels for the task: none on the line, configured, or in the job's label file")
    task_input: dict[str, Any] = {"taskObject": task_object, "labels": list(labels or []), "manifestLine": line}
    if initial or form:
        task_input["initialValue"] = initial or form
    return {"taskInput": task_input, "isHumanAnnotationRequired": True}
