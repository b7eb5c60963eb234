"""tally: consolidation and pre-annotation for Amazon SageMaker Ground Truth custom labeling jobs."""

from __future__ import annotations

from .consolidate import BatchReport, consolidate_batch
from .errors import TallyError
from .gt.events import ConsolidationRequest, PreAnnotationRequest
from .settings import Settings

__all__ = [
    "BatchReport",
    "ConsolidationRequest",
    "PreAnnotationRequest",
    "Settings",
    "TallyError",
    "__version__",
    "consolidate_batch",
]

__version__ = "0.1.0"
