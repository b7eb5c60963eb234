"""Reconsolidation Lambda: every step of the state machine ``statemachine/reconsolidate.asl.json``.

A Distributed Map child's batch (``{"Items": [...], "BatchInput": {"step", "run"}}``) or a task step
(``{"step": "join" | "plan" | "fit" | "finish", "run": {...}}``); the core is :mod:`tally.distributed`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tally import Settings, TallyError, aws, distributed
from tally.errors import EventError

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])
SETTINGS = Settings.from_env()
TASKS = {
    "join": distributed.join_listing,
    "plan": distributed.plan,
    "fit": distributed.fit,
    "finish": distributed.finish,
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no worker data in traces
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    storage = aws.s3_storage(aws.own_session())
    try:
        if isinstance(event, dict) and "Items" in event:
            step = str((event.get("BatchInput") or {}).get("step"))
            logger.append_keys(step=step, items=len(event["Items"]) if isinstance(event["Items"], list) else None)
            result = distributed.batch_step(event, SETTINGS, storage)
        else:
            step = str(event.get("step")) if isinstance(event, dict) else ""
            if step not in TASKS:
                raise EventError(f"the event is neither a batch nor a step of {', '.join(TASKS)}")
            logger.append_keys(step=step)
            result = TASKS[step](event.get("run") or {}, SETTINGS, storage)
    except TallyError:
        logger.exception("step failed")  # the run or its files are unusable; Step Functions retries or reports it
        metrics.add_metric(name="ReconsolidationStepsFailed", unit=MetricUnit.Count, value=1)
        raise
    except Exception:  # an unforeseen error: counted too; Step Functions reports it (Error: its type)
        metrics.add_metric(name="ReconsolidationStepsFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="ReconsolidationSteps", unit=MetricUnit.Count, value=1)
    return result
