"""Pre-annotation Lambda (PreHumanTaskLambdaArn): a manifest line in, the task's input out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from tally import Settings, aws
from tally.pre_annotation import pre_annotate

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # the AWS calls; not patch_all's probe of a dozen other libraries
SETTINGS = Settings.from_env()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no worker data in traces
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_arn = event.get("labelingJobArn") if isinstance(event, dict) else None
    logger.append_keys(labelingJobArn=job_arn)
    return pre_annotate(
        event,
        settings=SETTINGS,
        job_labels=lambda: aws.job_labels(aws.own_session(), job_arn),
        read=lambda uri: aws.s3_storage(aws.own_session()).read(uri),  # a prior label spilled to S3
    )
