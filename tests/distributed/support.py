"""A job on S3 under moto for the reconsolidation tests: the definition as SAM deploys it, and the job's
function driven by the local runner of its state machine (the fixture is in this folder's conftest)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.distributed.sfn_runner import LocalStepFunctions
from tests.functions.s3 import put
from tests.project import ROOT, FakeContext

ASL = ROOT / "statemachine" / "reconsolidate.asl.json"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:tally-Reconsolidation-1234abcd:live"
BUCKET = "job-bucket"
RUN = "tally-reconsolidated/run-1"


def definition() -> dict[str, Any]:
    """The ASL with its DefinitionSubstitutions made, as SAM deploys it."""
    text = ASL.read_text(encoding="utf-8").replace("${ReconsolidationFunctionArn}", FUNCTION)
    assert "${" not in text
    document: dict[str, Any] = json.loads(text)
    return document


@dataclass
class Job:
    s3: Any
    handler: Any
    tmp: Path
    invocations: list[dict[str, Any]]

    def invoke(self, arn: str, payload: dict[str, Any]) -> Any:
        assert arn == FUNCTION
        self.invocations.append(payload)
        return self.handler.lambda_handler(json.loads(json.dumps(payload)), FakeContext())

    def put_manifest(self, lines: list[dict[str, Any]], key: str = "job/manifests/output/output.manifest") -> Path:
        """The manifest on S3 and the same bytes on disk, with the object's time as the file's (both
        outputs' creation-date)."""
        body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
        put(self.s3, f"s3://{BUCKET}/{key}", body)
        local = self.tmp / "source.manifest"
        local.write_bytes(body)
        stamp = self.s3.head_object(Bucket=BUCKET, Key=key)["LastModified"].timestamp()
        os.utime(local, (stamp, stamp))
        return local

    def execution_input(self, attr: str, batch_size: int, **options: Any) -> dict[str, Any]:
        return {
            "source": {"Bucket": BUCKET, "Key": "job/manifests/output/output.manifest"},
            "labelAttribute": attr,
            "output": {"Bucket": BUCKET, "Prefix": RUN, "Results": f"{RUN}/results"},
            "batchSize": batch_size,
            "maxConcurrency": 100,
            "options": {k: v for k, v in options.items() if v is not None},
        }

    def run(self, execution_input: dict[str, Any], **kwargs: Any) -> tuple[Any, LocalStepFunctions]:
        runner = LocalStepFunctions(definition(), self.invoke, self.s3, **kwargs)
        return runner.run(execution_input), runner

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return body
