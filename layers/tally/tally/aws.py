"""The AWS adapter: S3 storage, the optional Ground Truth role, the job's label list, and the worker
store's client (the store itself, on DynamoDB, is :mod:`tally.stores.dynamodb`).

With :mod:`tally.stores.dynamodb`, this is the only module of the core that imports botocore (the
Lambda runtime provides it). Every call goes through botocore's own sessions and clients: importing
boto3 on top would cost a cold start ~20 ms (it imports s3transfer and its resource layer), and its
DynamoDB resource another ~30 ms for loading the resource model, for nothing these calls use. Only the
command line imports boto3 (:func:`boto3_session`, for ``download_file``). Clients are created on
first use, never at import time.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import StorageError, TransientStorageError
from .labels import parse_label_category_file
from .storage import split_s3_uri

if TYPE_CHECKING:
    from .forms.consolidate import JobTemplate
    from .stores.dynamodb import DynamoWorkerStore, PlainDynamo

__all__ = [
    "S3Storage",
    "boto3_session",
    "describe_execution",
    "error_reason",
    "job_labels",
    "job_template",
    "map_run_counts",
    "object_exists",
    "own_session",
    "read_job_labels",
    "read_job_template",
    "s3_storage",
    "session_for",
    "stack_outputs",
    "start_execution",
    "worker_store",
]

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
"""Tries per S3 call. botocore's adaptive mode retries throttling, timeouts and 5xx with exponential
backoff (at most ~30 s in all) and slows the client down while S3 throttles it."""
_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=32,
)
_TRANSIENT_CODES = frozenset(
    {"Throttling", "ThrottlingException", "SlowDown", "RequestTimeout", "RequestTimeoutException",
     "InternalError", "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequestsException"}
)  # fmt: skip
_job_labels_cache: dict[str, list[str]] = {}
_job_template_cache: dict[str, str] = {}
_cache_lock = threading.Lock()
_job_descriptions: dict[str, dict[str, Any]] = {}
_describe_locks: dict[str, threading.Lock] = {}  # per job ARN (made under _cache_lock)


def error_reason(exc: Exception) -> str:
    """A botocore error as a short reason: the service's error code, else the exception's type
    (never its message, which may quote request data)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def _is_transient(exc: Exception) -> bool:
    """Throttling, a timeout, a lost connection or a 5xx: the same call may succeed later."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error_reason(exc) in _TRANSIENT_CODES or status >= 500 or status == 429
    return True  # BotoCoreError: connection, timeout and protocol failures


def _storage_error(action: str, bucket: str, key: str, exc: Exception) -> StorageError:
    if _is_transient(exc):
        return TransientStorageError(f"cannot {action} s3://{bucket}/{key}: {error_reason(exc)} after retries")
    return StorageError(f"cannot {action} s3://{bucket}/{key}: {error_reason(exc)}")


class S3Storage:
    """:class:`tally.storage.Storage` on S3; writes use SSE-KMS when a key is given."""

    def __init__(self, client: Any, kms_key_id: str | None = None) -> None:
        self._s3 = client
        self._kms_key_id = kms_key_id

    def read(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        try:
            body: bytes = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise _storage_error("read", bucket, key, exc) from exc
        return body

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        bucket, key = split_s3_uri(uri)
        extra: dict[str, str] = {}
        if self._kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms_key_id}
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, **extra)
        except (ClientError, BotoCoreError) as exc:
            raise _storage_error("write", bucket, key, exc) from exc

    def modified(self, uri: str) -> datetime:
        bucket, key = split_s3_uri(uri)
        try:
            stamp: datetime = self._s3.head_object(Bucket=bucket, Key=key)["LastModified"]
        except (ClientError, BotoCoreError) as exc:
            raise _storage_error("stat", bucket, key, exc) from exc
        return stamp.astimezone(UTC)


def session_for(role_arn: str | None, trusted_role_arn: str | None) -> botocore.session.Session:
    """The function's own session, or one for ``role_arn`` when it is the configured trusted role.

    Ground Truth's event names the job's execution role; assuming whatever role an event names would
    make the function a confused deputy, so only the deployment's configured role is ever assumed.
    """
    if not role_arn or not trusted_role_arn:
        return own_session()
    if role_arn != trusted_role_arn:
        logger.warning("event roleArn is not the configured Ground Truth role; using the function's own role")
        return own_session()
    sts = _client(own_session(), "sts")
    try:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="tally")["Credentials"]
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"cannot assume the Ground Truth role: {error_reason(exc)}") from exc
    session = botocore.session.Session()
    session.set_credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    return session


@functools.cache
def own_session() -> botocore.session.Session:
    """The function's own credentials: one session per container, created on first use."""
    return botocore.session.Session()


@functools.cache
def boto3_session(session: botocore.session.Session) -> Any:
    """A boto3 session over ``session`` (its credentials and region), for the command line's
    ``download_file``. One per botocore session: boto3 registers its handlers on the botocore session,
    and registering them twice fails."""
    import boto3  # only here (module docstring)

    return boto3.session.Session(botocore_session=session)


@functools.cache
def _own_client(service: str) -> Any:
    return own_session().create_client(service, config=_CONFIG)  # clients are thread-safe; reuse them


def _client(session: botocore.session.Session, service: str) -> Any:
    """A client for ``session``: cached for the function's own session, new for an assumed role."""
    return _own_client(service) if session is own_session() else session.create_client(service, config=_CONFIG)


def s3_storage(session: botocore.session.Session, kms_key_id: str | None = None) -> S3Storage:
    return S3Storage(_client(session, "s3"), kms_key_id)


class _DescribedOnce:
    """``DescribeLabelingJob`` for :func:`job_labels` and :func:`job_template`, which both ask it on a
    job's first batch: one response per job per container (by its ARN: a job name is unique only
    within an account and region). The SageMaker client is made only for a job not yet described; a
    failed call is not kept (the next batch asks again). The job's lock makes two threads asking
    about one job at once wait for one call; a thread asking about another job does not wait."""

    def __init__(self, session: botocore.session.Session, job_arn: str) -> None:
        self._session = session
        self._job_arn = job_arn

    def describe_labeling_job(self, **request: str) -> dict[str, Any]:
        with _cache_lock:
            lock = _describe_locks.setdefault(self._job_arn, threading.Lock())
        with lock:
            found = _job_descriptions.get(self._job_arn)
            if found is None:
                found = _client(self._session, "sagemaker").describe_labeling_job(**request)
                _job_descriptions[self._job_arn] = found
        return found


def job_labels(session: botocore.session.Session, job_arn: str | None) -> list[str] | None:
    """The job's labels from its label category file (``DescribeLabelingJob``, asked once per job with
    :func:`job_template`), cached per container.

    Returns ``None`` (and logs why) when the job or its file cannot be read.
    """
    if not job_arn or "labeling-job/" not in job_arn:
        return None
    with _cache_lock:
        if job_arn in _job_labels_cache:
            return _job_labels_cache[job_arn]
    labels = read_job_labels(_DescribedOnce(session, job_arn), s3_storage(session), job_arn)
    if labels is not None:
        with _cache_lock:
            _job_labels_cache[job_arn] = labels
    return labels


def read_job_labels(sagemaker: Any, storage: S3Storage, job_arn: str) -> list[str] | None:
    """``DescribeLabelingJob`` → ``LabelCategoryConfigS3Uri`` → the label names (no caching)."""
    name = job_arn.rsplit("labeling-job/", 1)[1]
    try:
        uri = sagemaker.describe_labeling_job(LabelingJobName=name).get("LabelCategoryConfigS3Uri")
        if not uri:
            logger.warning("labeling job has no label category file")
            return None
        return parse_label_category_file(json.loads(storage.read(uri)))
    except Exception as exc:  # best effort: any failure falls back to the next label source
        logger.warning("cannot read the job's label category file: %s", error_reason(exc))
        return None


def job_template(session: botocore.session.Session, job_arn: str | None) -> JobTemplate:
    """The job's worker template (``DescribeLabelingJob`` → ``HumanTaskConfig.UiConfig.UiTemplateS3Uri``,
    read with the session's S3 access: the function may read the job's output bucket; the description
    asked once per job with :func:`job_labels`), cached per container. When it cannot be read, the template's ``note`` says why (the form is then inferred)."""
    from .forms.consolidate import JobTemplate

    if not job_arn or "labeling-job/" not in job_arn:
        return JobTemplate(note="the event names no labeling job whose worker template could be read")
    with _cache_lock:
        if job_arn in _job_template_cache:
            return JobTemplate(_job_template_cache[job_arn])
    html, note = read_job_template(_DescribedOnce(session, job_arn), s3_storage(session), job_arn)
    if html is not None:
        with _cache_lock:
            _job_template_cache[job_arn] = html
    return JobTemplate(html, note)


def read_job_template(sagemaker: Any, storage: S3Storage, job_arn: str) -> tuple[str | None, str | None]:
    """The worker template's text, or ``None`` and the reason it was not read (no caching)."""
    name = job_arn.rsplit("labeling-job/", 1)[1]
    try:
        config = sagemaker.describe_labeling_job(LabelingJobName=name).get("HumanTaskConfig", {}).get("UiConfig", {})
    except Exception as exc:  # best effort: the form is then inferred from the answers
        logger.warning("cannot describe the labeling job for its worker template: %s", error_reason(exc))
        return None, f"the job's worker template was not read (DescribeLabelingJob: {error_reason(exc)})"
    uri = config.get("UiTemplateS3Uri")
    if not uri:
        return None, "the job's worker template is not an S3 object (UiTemplateS3Uri): none was read"
    try:
        return storage.read(uri).decode("utf-8"), None
    except StorageError as exc:
        logger.warning("cannot read the job's worker template: %s", exc)
        return None, f"the job's worker template was not read ({str(exc).rsplit(': ', 1)[-1]})"
    except UnicodeDecodeError:
        return None, "the job's worker template is not UTF-8 text: none was read"


# -- the worker store -----------------------------------------------------------------------------


def worker_store(table: str | None, ttl_days: int = 90) -> DynamoWorkerStore | None:
    """The function's worker store on ``table`` (``Settings.worker_table``) with its own credentials
    (the table is the deployment's, not the Ground Truth role's), or ``None`` when no table is set.
    The store's module (:mod:`tally.stores.dynamodb`) is imported only when a table is set; its client
    (:class:`~tally.stores.dynamodb.PlainDynamo`) takes and returns plain Python values."""
    if not table:
        return None
    from .stores.dynamodb import DynamoWorkerStore

    return DynamoWorkerStore(_store_client(), table, ttl_days)


@functools.cache
def _store_client() -> PlainDynamo:
    from .stores.dynamodb import STORE_CONFIG, PlainDynamo

    return PlainDynamo(lambda: own_session().create_client("dynamodb", config=STORE_CONFIG))


# -- re-consolidation on AWS (the command line's `tally reconsolidate --on aws`) -------------------------


def _call(what: str, call: Any, **kwargs: Any) -> Any:
    """A control-plane call; a :class:`StorageError` naming ``what`` and the error code when it fails."""
    try:
        return call(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"cannot {what}: {error_reason(exc)}") from exc


def stack_outputs(stack: str, client: Any = None) -> dict[str, str]:
    """The CloudFormation stack's outputs by key (``DescribeStacks``)."""
    cfn = client or _own_client("cloudformation")
    stacks = _call(f"describe the stack {stack}", cfn.describe_stacks, StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])} if stacks else {}


def object_exists(uri: str) -> bool:
    """Whether an S3 object exists (``HeadObject``: 404 is no; any other error is raised)."""
    bucket, key = split_s3_uri(uri)
    try:
        _own_client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_reason(exc) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise StorageError(f"cannot stat {uri}: {error_reason(exc)}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"cannot stat {uri}: {error_reason(exc)}") from exc
    return True


def start_execution(state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str:
    """Start the state machine; the execution's ARN."""
    sfn = _own_client("stepfunctions")
    started = _call(
        "start the reconsolidation",
        sfn.start_execution,
        stateMachineArn=state_machine_arn,
        name=name,
        input=json.dumps(execution_input),
    )
    return str(started["executionArn"])


def describe_execution(execution_arn: str) -> dict[str, Any]:
    """The execution's ``status`` and, once it ended, its ``output`` (parsed), ``error`` and ``cause``."""
    found = _call("describe the execution", _own_client("stepfunctions").describe_execution, executionArn=execution_arn)
    output = found.get("output")
    return {
        "status": found["status"],
        "output": json.loads(output) if output else None,
        "error": found.get("error"),
        "cause": found.get("cause"),
    }


def map_run_counts(execution_arn: str) -> list[tuple[str, dict[str, int]]]:
    """Each Distributed Map run of the execution so far, oldest first: its Map state's name and its item
    counts (``ListMapRuns``, ``DescribeMapRun``: ``total``, ``succeeded``, ``failed``, ...)."""
    sfn = _own_client("stepfunctions")
    runs = _call("list the map runs", sfn.list_map_runs, executionArn=execution_arn).get("mapRuns", [])
    found = []
    for run in sorted(runs, key=lambda r: r.get("startDate") or 0):
        arn = str(run["mapRunArn"])
        counts = _call("describe a map run", sfn.describe_map_run, mapRunArn=arn).get("itemCounts", {})
        state = arn.rsplit(":", 2)[-2].split("/", 1)[-1] if arn.count(":") >= 2 else arn
        found.append((state, {str(k): int(v) for k, v in counts.items() if isinstance(v, int)}))
    return found
