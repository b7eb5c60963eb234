from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.project import FakeContext

# Property tests draw the same examples on every run (a failure is reproducible, CI is not a lottery);
# HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region; never a real endpoint."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tally")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "tally")
    from tally import aws

    # the function's own session and clients are cached per container; each test is a new container
    aws.own_session.cache_clear()
    aws._own_client.cache_clear()
    aws._store_client.cache_clear()
    for cache in (aws._job_descriptions, aws._describe_locks, aws._job_labels_cache, aws._job_template_cache):
        cache.clear()
