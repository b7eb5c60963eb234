"""The exceptions tally raises, and what each one means.

Hierarchy::

    TallyError
    ├── EventError            the Ground Truth event itself is unusable (no payload URI, bad JSON)
    ├── ConfigError           the job's configuration makes every object fail (duplicate labels, ...)
    ├── StorageError          reading or writing an object failed (missing key, access denied)
    │   └── TransientStorageError  throttled, timed out or a 5xx after the retries: try again later
    ├── AnswerError           one worker's answer cannot be used; the object goes on without it
    │   ├── AnswerFormatError     not JSON, no recognisable element, missing fields
    │   ├── ImageDecodeError      not base64, not a PNG, truncated, too large
    │   └── MaskShapeError        the mask's size differs from the image or the other masks
    └── ObjectError           one data object cannot be consolidated; it is returned with the reason

Only the batch driver turns an ``AnswerError`` into a rejected answer, an ``ObjectError`` into a
failed object and a ``ConfigError`` into every object failed with its reason; only an ``EventError``
or a ``StorageError`` on the payload itself fails a batch.
Messages never contain worker data, image bytes or pre-signed URLs.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AnswerError",
    "AnswerFormatError",
    "ConfigError",
    "EventError",
    "ImageDecodeError",
    "MaskShapeError",
    "ObjectError",
    "StorageError",
    "TallyError",
    "TransientStorageError",
]


class TallyError(Exception):
    """Base class of every error tally raises on purpose."""


class EventError(TallyError):
    """The Ground Truth event (or the payload list it points at) cannot be used at all."""


class ConfigError(TallyError):
    """The job's configuration (its labels, say) cannot work for any object of the batch."""


class StorageError(TallyError):
    """An object could not be read or written."""


class TransientStorageError(StorageError):
    """A read or write failed for a passing reason (throttling, a timeout, a 5xx) after the retries;
    the same call may succeed later."""


class AnswerError(TallyError):
    """One worker's answer cannot be used."""


class AnswerFormatError(AnswerError):
    """The answer is not JSON, or has no element of a known shape, or misses required fields."""


class ImageDecodeError(AnswerError):
    """The answer's image is not valid base64, not a PNG, truncated, or larger than allowed."""


class MaskShapeError(AnswerError):
    """The mask's size disagrees with ``inputImageProperties`` or with the other workers' masks."""


class ObjectError(TallyError):
    """A data object cannot be consolidated (for example: no usable answer).

    ``issues`` carries what was found wrong with its answers, so the failure can report them.
    """

    def __init__(self, message: str, issues: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.issues = list(issues)
