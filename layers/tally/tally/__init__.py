"""tally: consolidation and pre-annotation for Amazon SageMaker Ground Truth custom labeling jobs.

The names below are imported on first use, so that ``from tally import Settings`` (the pre-annotation
function) does not load numpy and Pillow, which only consolidation needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {
    "BatchReport": ".consolidate",
    "consolidate_batch": ".consolidate",
    "TallyError": ".errors",
    "ConsolidationRequest": ".gt.events",
    "PreAnnotationRequest": ".gt.events",
    "Settings": ".settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
