"""Where ``tally reconsolidate`` finds each manifest line's answers: in the line itself (AWS's recipe:
``annotationsFromAllWorkers``), in a worker-response file (``worker-response-ref``), or, for a job's
output prefix, in the consolidation-request payloads and worker-response files under it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import manifest_lines
from ._common import CliStorage, load_json

__all__ = [
    "JobIndex",
    "Locator",
    "line_annotations",
    "located_annotations",
    "worker_response_annotations",
]


def worker_response_annotations(ref: str, storage: CliStorage) -> list[dict[str, Any]]:
    """A worker-response file (``{"answers": [{workerId, answerContent, ...}]}``) as payload annotations
    (:mod:`tally.manifest_lines`; a file that is not JSON is an input error, exit 3)."""
    return manifest_lines.worker_response_annotations(ref, storage, load_json)


def line_annotations(line: dict[str, Any], attr: str, storage: CliStorage) -> list[dict[str, Any]]:
    return manifest_lines.line_annotations(line, attr, storage, load_json)


_REQUESTS = "annotations/consolidated-annotation/consolidation-request"
_RESPONSES = "annotations/worker-response"
Locator = dict[str, str]  # {"payload": file, "id": datasetObjectId} or {"worker-response": file}


def _iteration(path: Path) -> tuple[int, str]:
    """Sort key: iteration number, then name (later iterations and later files win)."""
    for part in path.parts:
        if part.startswith("iteration-") and part.removeprefix("iteration-").isdigit():
            return int(part.removeprefix("iteration-")), path.name
    return 0, path.name


class JobIndex:
    """Where a job's output prefix keeps each object's answers: consolidation-request payloads (by
    ``datasetObjectId`` and by source) and worker-response files (by ``datasetObjectId``). Only file
    names and keys are kept, never answers."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.payload_of: dict[str, str] = {}
        self.id_of_source: dict[str, str] = {}
        self.response_of: dict[str, str] = {}
        for file in sorted((prefix / _REQUESTS).glob("iteration-*/*.json"), key=_iteration):
            elements = load_json(file.read_bytes(), str(file))
            for element in elements if isinstance(elements, list) else []:
                if not isinstance(element, dict) or element.get("datasetObjectId") is None:
                    continue
                object_id = str(element["datasetObjectId"])
                self.payload_of[object_id] = str(file)
                data = element.get("dataObject") or {}
                source = data.get("s3Uri") or data.get("content") if isinstance(data, dict) else None
                if isinstance(source, str):
                    self.id_of_source[source] = object_id
        for file in sorted((prefix / _RESPONSES).glob("iteration-*/*/*.json"), key=_iteration):
            self.response_of[file.parent.name] = str(file)

    def locate(self, line: dict[str, Any], attr: str, number: int) -> Locator | None:
        """Where this line's answers are, when the line itself does not hold them."""
        value = line.get(attr)
        if isinstance(value, dict) and isinstance(value.get("annotationsFromAllWorkers"), list):
            return None
        meta = line.get(f"{attr}-metadata")
        ref = meta.get("worker-response-ref") if isinstance(meta, dict) else None
        if isinstance(ref, str) and f"/{_RESPONSES}/" in ref:
            local = self.prefix / _RESPONSES / ref.split(f"/{_RESPONSES}/", 1)[1]
            if local.is_file():
                return {"worker-response": str(local)}
        source = line.get("source-ref", line.get("source"))
        object_id = self.id_of_source.get(source) if isinstance(source, str) else None
        object_id = object_id or str(number)
        if object_id in self.payload_of:
            return {"payload": self.payload_of[object_id], "id": object_id}
        if object_id in self.response_of:
            return {"worker-response": self.response_of[object_id]}
        return None


def located_annotations(locator: Locator, storage: CliStorage, cache: dict[str, Any]) -> list[dict[str, Any]]:
    if "worker-response" in locator:
        return worker_response_annotations(locator["worker-response"], storage)
    file = locator["payload"]
    if file not in cache:
        cache.clear()  # one payload file at a time: batches follow the manifest, payloads mostly too
        elements = load_json(storage.read(file), file)
        cache[file] = {str(e.get("datasetObjectId")): e for e in elements if isinstance(e, dict)}
    annotations = cache[file].get(locator["id"], {}).get("annotations", [])
    return list(annotations) if isinstance(annotations, list) else []
