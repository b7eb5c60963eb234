"""From a payload object's ``annotations`` to decoded worker answers, each bad one with a reason.

An answer's ``annotationData`` holds ``content`` (a JSON string of the worker's ``<crowd-form>``
output, keyed by each element's ``name``) or ``s3Uri`` (the same JSON in S3, read only from the
payload's bucket or a configured one). Within the form output, the element is found by its shape,
whatever its name, and a one-element list around it is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import AnswerFormatError, StorageError
from .models import DatasetObject
from .storage import Storage, split_s3_uri
from .tasks import Answer, AnswerIssue, Task, task_for

__all__ = ["LoadedAnswer", "load_answers"]


@dataclass(frozen=True)
class LoadedAnswer:
    """A decoded answer and the registered task its element belongs to (``None``: no known shape)."""

    answer: Answer
    task: Task | None


def _elements(content: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for value in content.values():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, dict):
            found.append(value)
    return found


def _content_text(obj_annotation_data: Any, storage: Storage, readable_buckets: Collection[str]) -> str:
    if obj_annotation_data.content is not None:
        return str(obj_annotation_data.content)
    uri = obj_annotation_data.uri
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
    obj: DatasetObject, storage: Storage, readable_buckets: Collection[str], element_name: str | None = None
) -> tuple[list[LoadedAnswer], list[AnswerIssue]]:
    """Decode every annotation of one object; the same worker's second answer is left out. With
    ``element_name``, only the form output under that key is considered."""
    loaded: list[LoadedAnswer] = []
    issues: list[AnswerIssue] = []
    seen: set[str] = set()
    for annotation in obj.annotations:
        worker = annotation.worker_id
        if worker in seen:
            issues.append(AnswerIssue(worker, "a second answer from the same worker; the first one is used"))
            continue
        seen.add(worker)
        try:
            content = _decode(_content_text(annotation.annotation_data, storage, readable_buckets))
        except AnswerFormatError as exc:
            issues.append(AnswerIssue(worker, str(exc)))
            continue
        if element_name is not None:
            if element_name not in content:
                keys = ", ".join(sorted(str(k) for k in content)[:5]) or "none"
                issues.append(AnswerIssue(worker, f"content has no '{element_name}' element (keys: {keys})"))
                continue
            content_used: Mapping[str, Any] = {element_name: content[element_name]}
        else:
            content_used = content
        elements = _elements(content_used)
        match = next(((e, t) for e in elements for t in [task_for(e)] if t is not None), None)
        if match is None:
            loaded.append(LoadedAnswer(Answer(worker, elements[0] if elements else content, content), None))
        else:
            loaded.append(LoadedAnswer(Answer(worker, match[0], content), match[1]))
    return loaded, issues
