"""Annotation-consolidation Lambda (AnnotationConsolidationLambdaArn): one response entry per object."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tally import ConsolidationRequest, Settings, TallyError, aws, consolidate_batch
from tally.observability import record_batch

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # the AWS calls; not patch_all's probe of a dozen other libraries
SETTINGS = Settings.from_env()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no worker data in traces
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> list[dict[str, Any]]:
    try:
        request = ConsolidationRequest.parse(event)
        logger.append_keys(labelingJobArn=request.labeling_job_arn)
        session = aws.session_for(request.role_arn, SETTINGS.assume_role_arn)
        report = consolidate_batch(
            request,
            aws.s3_storage(session, request.kms_key_id),
            settings=SETTINGS,
            job_labels=lambda: aws.job_labels(session, request.labeling_job_arn),
            remaining_ms=context.get_remaining_time_in_millis,
            worker_store=aws.worker_store(SETTINGS.worker_table),
            form_template=lambda: aws.job_template(session, request.labeling_job_arn),
        )
    except TallyError:
        logger.exception("batch not consolidated")  # the event or payload itself is unusable
        metrics.add_metric(name="BatchesFailed", unit=MetricUnit.Count, value=1)
        raise
    record_batch(metrics, report)
    return report.response
