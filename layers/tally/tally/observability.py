"""Lambda-side reporting of a consolidation batch through Powertools Metrics (never worker data)."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .consolidate import BatchReport

__all__ = ["record_batch"]


def record_batch(metrics: Metrics, report: BatchReport) -> None:
    """Objects consolidated, passed through and failed, answers rejected, and the mean object confidence."""
    metrics.add_metric(name="ObjectsConsolidated", unit=MetricUnit.Count, value=report.consolidated)
    metrics.add_metric(name="ObjectsPassedThrough", unit=MetricUnit.Count, value=report.passed_through)
    metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=report.failed + report.dropped)
    metrics.add_metric(name="AnswersRejected", unit=MetricUnit.Count, value=report.answers_rejected)
    if report.offloaded:
        metrics.add_metric(name="LabelsOffloaded", unit=MetricUnit.Count, value=report.offloaded)
    if report.mean_confidence is not None:
        metrics.add_metric(name="MeanConfidence", unit=MetricUnit.NoUnit, value=report.mean_confidence)
