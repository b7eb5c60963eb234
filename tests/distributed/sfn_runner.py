"""A small local runner of ``statemachine/reconsolidate.asl.json``: what Step Functions does with it,
for the states, fields and paths the definition uses, on S3 under moto (AWS retires Step Functions
Local, and moto runs neither JSONL item readers nor ItemBatcher).

It reads the ASL and follows it state by state: ``Choice`` (``IsPresent``, ``BooleanEquals``), ``Task``
(``Parameters`` with ``.$`` paths, ``ResultPath``, ``OutputPath``), and Distributed ``Map``: the
``ItemReader`` (``s3:getObject`` with ``InputType: JSONL``, numbering the non-blank lines from 0, or
``s3:listObjectsV2``), ``ItemSelector`` over ``$$.Map.Item.Index``/``Value``, ``ItemBatcher``
(``MaxItemsPerBatch``/``Path``, ``MaxInputBytesPerBatch``, ``BatchInput``: the children get
``{"Items", "BatchInput"}``), one child per batch running the ``ItemProcessor``'s task,
``ToleratedFailurePercentage`` and the ``ResultWriter``'s files (``manifest.json``, ``SUCCEEDED_0.json``,
``FAILED_0.json`` with each child's ``Input``, ``Output`` or ``Error``/``Cause`` as JSON strings). A
child's input over Step Functions' 256 KiB fails the run, as it would on AWS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from tests.functions.s3 import put

PAYLOAD_LIMIT = 256 * 1024
Invoke = Callable[[str, dict[str, Any]], Any]


class MapFailed(Exception):
    """More children failed than the Map tolerates (``States.ExceedToleratedFailureThreshold``)."""


def _get(path: str, data: Any, context: dict[str, Any]) -> Any:
    if path == "$":
        return data
    root, rest = (context, path[3:]) if path.startswith("$$.") else (data, path[2:])
    value = root
    for part in rest.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


def _has(path: str, data: Any) -> bool:
    try:
        _get(path, data, {})
    except KeyError:
        return False
    return True


def _resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _get(value, data, context)
            else:
                out[key] = _resolve(value, data, context)
        return out
    if isinstance(template, list):
        return [_resolve(v, data, context) for v in template]
    return template


def _put_result(data: Any, path: str | None, result: Any) -> Any:
    if path is None or path == "$":
        return result
    out = json.loads(json.dumps(data))
    target = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = result
    return out


class LocalStepFunctions:
    """Run the definition with ``invoke(function_arn, payload)`` standing in for Lambda.

    ``fail_child(step, batch)``: make that child fail (``Lambda.Unknown``) before it runs, as a
    timed-out or crashed batch would. ``children`` counts the children per Map state."""

    def __init__(
        self,
        definition: dict[str, Any],
        invoke: Invoke,
        s3: Any,
        fail_child: Callable[[str, dict[str, Any]], bool] | None = None,
    ) -> None:
        self.definition, self.invoke, self.s3 = definition, invoke, s3
        self.fail_child = fail_child or (lambda _state, _batch: False)
        self.children: dict[str, int] = {}
        self.visited: list[str] = []
        self.map_runs: list[dict[str, Any]] = []  # as ListMapRuns and DescribeMapRun give them

    def run(self, execution_input: dict[str, Any]) -> Any:
        name = self.definition["StartAt"]
        data: Any = execution_input
        while True:
            state = self.definition["States"][name]
            self.visited.append(name)
            kind = state["Type"]
            if kind == "Choice":
                name = self._choose(state, data)
                continue
            if kind == "Task":
                payload = _resolve(state["Parameters"], data, {}) if "Parameters" in state else data
                result = self.invoke(state["Resource"], payload)
            elif kind == "Map":
                result = self._map(name, state, data)
            else:
                raise NotImplementedError(kind)
            data = _put_result(data, state.get("ResultPath"), result)
            if "OutputPath" in state:
                data = _get(state["OutputPath"], data, {})
            if state.get("End"):
                return data
            name = state["Next"]

    @staticmethod
    def _choose(state: dict[str, Any], data: Any) -> str:
        for rule in state["Choices"]:
            if "IsPresent" in rule and _has(rule["Variable"], data) == rule["IsPresent"]:
                return str(rule["Next"])
            present = "BooleanEquals" in rule and _has(rule["Variable"], data)
            if present and _get(rule["Variable"], data, {}) is rule["BooleanEquals"]:
                return str(rule["Next"])
        return str(state["Default"])

    def _items(self, reader: dict[str, Any], data: Any) -> list[Any]:
        params = _resolve(reader["Parameters"], data, {})
        if reader["Resource"] == "arn:aws:states:::s3:getObject":
            assert reader["ReaderConfig"]["InputType"] == "JSONL"
            body = self.s3.get_object(Bucket=params["Bucket"], Key=params["Key"])["Body"].read().decode("utf-8")
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        assert reader["Resource"] == "arn:aws:states:::s3:listObjectsV2"
        items = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=params["Bucket"], Prefix=params["Prefix"]):
            for obj in page.get("Contents", []):
                items.append(
                    {
                        "Key": obj["Key"],
                        "Size": obj["Size"],
                        "Etag": obj["ETag"],
                        "LastModified": str(obj["LastModified"]),
                    }
                )
        return items

    def _batches(self, batcher: dict[str, Any], items: list[Any], data: Any) -> list[list[Any]]:
        most = batcher.get("MaxItemsPerBatch") or _get(batcher["MaxItemsPerBatchPath"], data, {})
        most_bytes = batcher.get("MaxInputBytesPerBatch", PAYLOAD_LIMIT)
        batches: list[list[Any]] = []
        current: list[Any] = []
        size = 0
        for item in items:
            n = len(json.dumps(item, separators=(",", ":")).encode())
            if current and (len(current) >= most or size + n > most_bytes):
                batches.append(current)
                current, size = [], 0
            current.append(item)
            size += n
        if current:
            batches.append(current)
        return batches

    def _map(self, name: str, state: dict[str, Any], data: Any) -> dict[str, Any]:
        assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
        concurrency = state.get("MaxConcurrency") or _get(state["MaxConcurrencyPath"], data, {})
        assert isinstance(concurrency, int) and concurrency >= 0
        items = self._items(state["ItemReader"], data)
        if "ItemSelector" in state:
            items = [
                _resolve(state["ItemSelector"], data, {"Map": {"Item": {"Index": i, "Value": item}}})
                for i, item in enumerate(items)
            ]
        batcher = state["ItemBatcher"]
        batch_input = _resolve(batcher.get("BatchInput", {}), data, {})
        task = state["ItemProcessor"]["States"][state["ItemProcessor"]["StartAt"]]
        succeeded, failed = [], []
        run_id = uuid.uuid4().hex
        for number, batch in enumerate(self._batches(batcher, items, data)):
            child = {"Items": batch, "BatchInput": batch_input}
            text = json.dumps(child, separators=(",", ":"))
            if len(text.encode()) > PAYLOAD_LIMIT:
                raise AssertionError(
                    f"{name}: a child's input of {len(text.encode())} bytes (States.DataLimitExceeded)"
                )
            record = {"ExecutionArn": f"arn:aws:states:us-east-1:123456789012:execution:m/{name}:{run_id}-{number}",
                      "Input": text, "InputDetails": {"Included": True}, "Name": f"{run_id}-{number}"}  # fmt: skip
            self.children[name] = self.children.get(name, 0) + 1
            if self.fail_child(name, child):
                failed.append({**record, "Status": "FAILED", "Error": "Lambda.Unknown", "Cause": "timed out"})
                continue
            output = self.invoke(task["Resource"], json.loads(text))
            out_text = json.dumps(output)
            assert len(out_text.encode()) <= PAYLOAD_LIMIT, f"{name}: a child's output over 256 KiB"
            succeeded.append({**record, "Status": "SUCCEEDED", "Output": out_text, "OutputDetails": {"Included": True}})
        total = len(succeeded) + len(failed)
        if total and 100 * len(failed) / total > state.get("ToleratedFailurePercentage", 0):
            raise MapFailed(f"{name}: {len(failed)} of {total} children failed")
        writer = _resolve(state["ResultWriter"]["Parameters"], data, {})
        prefix = f"{writer['Prefix'].rstrip('/')}/{run_id}"
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status, records in (("SUCCEEDED", succeeded), ("FAILED", failed)):
            if records:
                key = f"{prefix}/{status}_0.json"
                body = json.dumps(records).encode()
                put(self.s3, f"s3://{writer['Bucket']}/{key}", body)
                files[status].append({"Key": key, "Size": len(body)})
        arn = f"arn:aws:states:us-east-1:123456789012:mapRun:m/{name}:{run_id}"
        manifest = {"DestinationBucket": writer["Bucket"], "MapRunArn": arn, "ResultFiles": files}
        counts = {"pending": 0, "running": 0, "succeeded": len(succeeded), "failed": len(failed), "timedOut": 0,
                  "aborted": 0, "total": total, "resultsWritten": total}  # fmt: skip
        self.map_runs.append({"mapRunArn": arn, "itemCounts": counts, "executionCounts": counts})
        put(self.s3, f"s3://{writer['Bucket']}/{prefix}/manifest.json", json.dumps(manifest).encode())
        return {
            "MapRunArn": manifest["MapRunArn"],
            "ResultWriterDetails": {"Bucket": writer["Bucket"], "Key": f"{prefix}/manifest.json"},
        }
