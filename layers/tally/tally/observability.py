"""Lambda-side reporting of a consolidation batch through Powertools Metrics (never worker data)."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from .consolidate import BatchReport

__all__ = ["MAX_FIELD_METRICS", "record_batch"]

MAX_FIELD_METRICS = 25
"""Form fields given metrics of their own (dimension ``FormField``); a larger form's totals still count."""


def record_batch(metrics: Metrics, report: BatchReport) -> None:
    """Objects consolidated, passed through and failed, answers rejected, and the mean object confidence;
    for a form, the fields consolidated and kept as given (objects × fields), and per field (dimension
    ``FormField``) how many objects had it consolidated and kept as given."""
    metrics.add_metric(name="ObjectsConsolidated", unit=MetricUnit.Count, value=report.consolidated)
    metrics.add_metric(name="ObjectsPassedThrough", unit=MetricUnit.Count, value=report.passed_through)
    metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=report.failed + report.dropped)
    metrics.add_metric(name="AnswersRejected", unit=MetricUnit.Count, value=report.answers_rejected)
    if report.offloaded:
        metrics.add_metric(name="LabelsOffloaded", unit=MetricUnit.Count, value=report.offloaded)
    if report.mean_confidence is not None:
        metrics.add_metric(name="MeanConfidence", unit=MetricUnit.NoUnit, value=report.mean_confidence)
    if report.fields:
        consolidated = sum(t.consolidated for t in report.fields.values())
        kept = sum(t.kept for t in report.fields.values())
        metrics.add_metric(name="FormFieldsConsolidated", unit=MetricUnit.Count, value=consolidated)
        metrics.add_metric(name="FormFieldsKeptAsGiven", unit=MetricUnit.Count, value=kept)
        namespace = metrics.namespace
        for name, tally in list(report.fields.items())[:MAX_FIELD_METRICS]:  # the template's names, no answers
            for metric, value in (("FieldConsolidated", tally.consolidated), ("FieldKeptAsGiven", tally.kept)):
                with single_metric(name=metric, unit=MetricUnit.Count, value=value, namespace=namespace) as one:
                    one.add_dimension(name="FormField", value=name[:250])
