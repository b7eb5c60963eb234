"""``tally reconsolidate SOURCE --on aws``: the same re-consolidation run by the stack's state machine
(:mod:`tally.distributed`, ``statemachine/reconsolidate.asl.json``) instead of this machine.

Nothing is uploaded: the execution's input names the source, the label attribute, where the run
writes and the options. Progress comes from the execution's Map runs (``DescribeMapRun`` item counts);
Ctrl-C leaves the execution running and says how to follow or stop it. Every AWS call goes through
:mod:`tally.aws`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from ..storage import split_s3_uri
from ._common import ExitCode, InputError, progress_bar, stderr_console
from .reconsolidate import print_summary

__all__ = ["AwsInterrupted", "run_on_aws"]

_PASSES = {
    "ListResponses": "listing the answers",
    "Survey": "surveying (pass 1)",
    "Gather": "gathering (pass 2)",
    "Consolidate": "reconsolidating",
}
_ENDED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
POLL_SECONDS = 5.0


class AwsInterrupted(click.ClickException):
    """Ctrl-C while following an execution: exit 130, the execution goes on."""

    exit_code = ExitCode.INTERRUPTED

    def show(self, file: Any = None) -> None:
        click.echo(f"tally: interrupted; {self.message}", err=True)


def _name(attr: str, now: datetime) -> str:
    """An execution name (80 characters of letters, digits, - and _) that says what and when."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', attr)[:60]}-{now:%Y%m%dT%H%M%S}"


def _input(
    source: str, attr: str, out: str, batch_size: int, concurrency: int, options: dict[str, Any]
) -> dict[str, Any]:
    """The execution input: a manifest (``s3://.../*.manifest`` or any object) or a job's output prefix
    (``s3://.../`` ending with a slash: its ``annotations/worker-response/`` objects are listed)."""
    bucket, key = split_s3_uri(source)
    out_bucket, out_prefix = split_s3_uri(out.rstrip("/") + "/")
    out_prefix = out_prefix.strip("/")
    data: dict[str, Any] = {
        "labelAttribute": attr,
        "output": {"Bucket": out_bucket, "Prefix": out_prefix, "Results": f"{out_prefix}/results"},
        "batchSize": batch_size,
        "maxConcurrency": concurrency,
        "options": {k: v for k, v in options.items() if v is not None},
    }
    if source.endswith("/"):
        data["listing"] = {"Bucket": bucket, "Prefix": f"{key}annotations/worker-response/"}
    else:
        data["source"] = {"Bucket": bucket, "Key": key}
    return data


def _check_out(out: str, run_root: str) -> None:
    """The run may write only under the stack's ReconsolidationOutput (its role's only write grant)."""
    root = run_root.rstrip("/") + "/"
    if not out.rstrip("/").startswith(root):
        raise click.BadParameter(f"with --on aws, --out must be a folder under {root}", param_hint="'--out'")


def _follow(execution_arn: str, sleep: Callable[[float], None], progress: bool | None) -> dict[str, Any]:
    """Poll the execution until it ends, with a bar per Map run; its final description."""
    from .. import aws

    with progress_bar(progress, stderr_console()) as bar:
        tasks: dict[int, Any] = {}
        while True:
            state = aws.describe_execution(execution_arn)
            for number, (name, counts) in enumerate(aws.map_run_counts(execution_arn)):
                done = counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("timedOut", 0)
                done += counts.get("aborted", 0)
                if number not in tasks:
                    tasks[number] = bar.add_task(_PASSES.get(name, name), total=counts.get("total") or None)
                bar.update(tasks[number], completed=done, total=counts.get("total") or None)
            if state["status"] in _ENDED:
                return state
            sleep(POLL_SECONDS)


def _how_to_follow(execution_arn: str, manifest: str) -> str:
    return (
        f"the execution goes on without you; its manifest will be {manifest}\n"
        f"  follow it: aws stepfunctions describe-execution --execution-arn {execution_arn}\n"
        f"  stop it:   aws stepfunctions stop-execution --execution-arn {execution_arn}"
    )


def run_on_aws(
    source: str,
    attr: str,
    out: str | None,
    stack: str,
    batch_size: int,
    concurrency: int,
    options: dict[str, Any],
    progress: bool | None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Start the stack's reconsolidation state machine on ``source`` and follow it to the end."""
    if not source.startswith("s3://"):
        raise click.BadParameter(
            "with --on aws, SOURCE must be an s3:// URI (nothing is uploaded)", param_hint="SOURCE"
        )
    try:
        from .. import aws
    except ImportError as exc:
        raise InputError("--on aws needs boto3 (pip install tally[aws])") from exc
    outputs = aws.stack_outputs(stack)
    machine, run_root = outputs.get("ReconsolidationStateMachineArn"), outputs.get("ReconsolidationOutput")
    if not machine or not run_root:
        raise InputError(f"the stack {stack} has no reconsolidation state machine: deploy it with Reconsolidation=true")
    name = _name(attr, datetime.now(UTC))
    out = out or f"{run_root.rstrip('/')}/{name}"
    _check_out(out, run_root)
    if not source.endswith("/") and not aws.object_exists(source):
        raise InputError(f"cannot read {source}: no such object (a job's output prefix ends with /)")
    manifest = f"{out.rstrip('/')}/output.manifest"
    execution_input = _input(source, attr, out, batch_size, concurrency, options)
    execution_arn = aws.start_execution(machine, name, execution_input)
    click.echo(f"started {execution_arn}", err=True)
    try:
        state = _follow(execution_arn, sleep or time.sleep, progress)
    except KeyboardInterrupt:
        raise AwsInterrupted(_how_to_follow(execution_arn, manifest)) from None
    if state["status"] != "SUCCEEDED":
        cause = f": {state['cause'][:300]}" if state.get("cause") else ""
        raise InputError(f"the execution {state['status']} ({state.get('error') or 'no error given'}){cause}")
    summary = state["output"] or {}
    storage = aws.s3_storage(aws.own_session())
    messages = json.loads(storage.read(summary["summary"])).get("messages", [])
    print_summary(summary, messages, summary["output-manifest"], summary["summary"], see=summary["summary"])
    return ExitCode.FAILED_OBJECTS if summary.get("failed") else ExitCode.OK
