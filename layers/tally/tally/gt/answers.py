"""From a payload object's ``annotations`` to decoded worker answers, each bad one with a reason.

An answer's ``annotationData`` holds ``content`` (a JSON string of the worker's ``<crowd-form>``
output, keyed by each element's ``name``) or ``s3Uri`` (the same JSON in S3, read only from the
payload's bucket or a configured one). Within the form output, the element is found by its shape,
whatever its name, and a one-element list around it is accepted. Each answer keeps its
``annotationData`` exactly as received, so an answer tally does not consolidate goes back verbatim.

Two elements submit no object of their own. A form whose only field is a bare number or string
(``crowd-slider``, ``crowd-input``, ``crowd-text-area``: ``{"rating": 4}``) gives a :class:`BareValue`
``{"value": 4}``: several fields are a form, not one element, and are never read as one of them.
``crowd-text-ranking``'s output is read as AWS's notebook reads it, ``ordinalRankingDimensions`` as
the form output's only key (the whole output is the element), as well as under the element's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import AnswerFormatError, StorageError, TransientStorageError
from ..storage import Storage, split_s3_uri
from .events import AnnotationData, DatasetObject

__all__ = ["RANKING_KEY", "Answer", "AnswerIssue", "BareValue", "LoadedAnswer", "answer_elements", "load_answers"]

RANKING_KEY = "ordinalRankingDimensions"
"""What ``crowd-text-ranking`` submits: ``[{"name": dimension, "responseRankings": [rank, ...]}]``."""

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """One worker's answer: the output of the template's crowd element (already JSON-decoded), the
    whole form output it came from, and ``annotationData`` as the payload had it."""

    worker_id: str
    element: Mapping[str, Any]
    content: Mapping[str, Any]
    received: Mapping[str, Any]


@dataclass(frozen=True)
class AnswerIssue:
    """Something wrong with one answer: ``rejected`` answers were left out of the vote entirely."""

    worker_id: str
    reason: str
    rejected: bool = True
    transient: bool = False  # the answer could not be read for a passing reason (S3 throttling, 5xx)

    def as_json(self) -> dict[str, str]:
        return {"workerId": self.worker_id, "reason": self.reason}


@dataclass(frozen=True)
class LoadedAnswer(Generic[T]):
    """A decoded answer and the task its element belongs to (``None``: no known shape)."""

    answer: Answer
    task: T | None
    nbytes: int = 0  # size of the answer's JSON text


class BareValue(dict[str, Any]):
    """The element of a form whose only field submitted a bare number or string: ``{"value": v}``."""


def answer_elements(content: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The candidate elements of a form output (module docstring), in order."""
    found: list[Mapping[str, Any]] = []
    for value in content.values():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, dict):
            found.append(value)
    if not found and len(content) == 1:
        (value,) = content.values()
        if isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
            found.append(BareValue(value=value))
    if len(content) == 1 and isinstance(content.get(RANKING_KEY), list):
        found.append(content)
    return found


def _content_text(data: AnnotationData, storage: Storage, readable_buckets: Collection[str]) -> str:
    if data.content is not None:
        return str(data.content)
    uri = data.uri
    if not uri:
        raise AnswerFormatError("annotationData has neither content nor s3Uri")
    try:
        bucket, _ = split_s3_uri(uri)
    except StorageError as exc:
        raise AnswerFormatError("annotationData.s3Uri is not an s3:// URI") from exc
    if bucket not in readable_buckets:
        raise AnswerFormatError("annotationData.s3Uri points outside the job's buckets; not read")
    try:
        return storage.read(uri).decode("utf-8")
    except TransientStorageError:
        raise
    except StorageError as exc:
        raise AnswerFormatError(f"annotationData.s3Uri unreadable: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise AnswerFormatError("annotationData.s3Uri is not UTF-8 text") from exc


def _decode(text: str) -> Mapping[str, Any]:
    if not text.strip():
        raise AnswerFormatError("content is empty")
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswerFormatError("content is not JSON") from exc
    if isinstance(content, list) and len(content) == 1:
        content = content[0]
    if not isinstance(content, dict):
        raise AnswerFormatError("content is not a JSON object")
    return content


def load_answers(
    obj: DatasetObject,
    storage: Storage,
    readable_buckets: Collection[str],
    recognise: Callable[[Mapping[str, Any]], T | None],
    element_name: str | None = None,
) -> tuple[list[LoadedAnswer[T]], list[AnswerIssue]]:
    """Decode every annotation of one object, each element recognised by ``recognise`` (its task, or
    ``None``). A worker's first *usable* answer counts; a later one is left out with a reason. With
    ``element_name``, only the form output under that key is considered."""
    loaded: list[LoadedAnswer[T]] = []
    issues: list[AnswerIssue] = []
    used: set[str] = set()
    for annotation in obj.annotations:
        worker = annotation.worker_id
        if worker in used:
            issues.append(AnswerIssue(worker, "a second answer from the same worker; the first one is used"))
            continue
        try:
            text = _content_text(annotation.annotation_data, storage, readable_buckets)
            content = _decode(text)
        except AnswerFormatError as exc:
            issues.append(AnswerIssue(worker, str(exc)))
            continue
        except TransientStorageError as exc:
            issues.append(AnswerIssue(worker, f"annotationData.s3Uri not read for now: {exc}", transient=True))
            continue
        if element_name is not None:
            if element_name not in content:
                keys = ", ".join(sorted(str(k) for k in content)[:5]) or "none"
                issues.append(AnswerIssue(worker, f"content has no '{element_name}' element (keys: {keys})"))
                continue
            content_used: Mapping[str, Any] = {element_name: content[element_name]}
        else:
            content_used = content
        used.add(worker)
        received = annotation.annotation_data.as_received()
        elements = answer_elements(content_used)
        match = next(((e, t) for e in elements for t in [recognise(e)] if t is not None), None)
        if match is None:
            answer = Answer(worker, elements[0] if elements else content, content, received)
            loaded.append(LoadedAnswer(answer, None, len(text)))
        else:
            loaded.append(LoadedAnswer(Answer(worker, match[0], content, received), match[1], len(text)))
    return loaded, issues
