"""Deployment settings, read once from the environment (the template's parameters set them).

The ``TALLY_*`` variables are validated with a pydantic model (no settings library: pydantic-settings
cost the cold start ~15 ms for an environment reader these ten lines do); a bad value raises one
:class:`SettingsError` that names every variable at fault, e.g.::

    SettingsError: invalid tally setting: TALLY_THREADS='four': Input should be a valid integer, ...

Empty variables count as unset (the template passes ``""`` for parameters left empty).

Examples:
    >>> Settings.from_env({"TALLY_LABELS": "road, car", "TALLY_THREADS": "2"}).labels
    ('road', 'car')
    >>> Settings.from_env({"TALLY_LABELS": "[road, car]"})
    Traceback (most recent call last):
    ...
    tally.settings.SettingsError: invalid tally setting: TALLY_LABELS='[road, car]': Value error, not a JSON array of strings (quote each name: ["road", "car"]) nor comma-separated names
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .labels import parse_label_list

__all__ = ["ALGORITHMS", "ENV_PREFIX", "Algorithm", "Settings", "SettingsError"]

Algorithm = Literal["reliability", "majority", "regions"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
ENV_PREFIX = "TALLY_"
_MAX_SHOWN = 80  # characters of a bad value quoted in the error


class SettingsError(ValueError):
    """A setting in the environment is invalid; the message names each variable at fault."""


@dataclass(frozen=True)
class Settings:
    """What a deployment can configure.

    Attributes:
        labels: the job's labels in class-key order, when the event does not carry them
            (``TALLY_LABELS``: JSON array or comma-separated).
        assume_role_arn: the Ground Truth execution role the functions may assume
            (``TALLY_ASSUME_ROLE_ARN``); the event's ``roleArn`` is assumed only when it is this role.
        algorithm: the segmentation vote (``TALLY_ALGORITHM``).
        threads: objects consolidated at once (``TALLY_THREADS``).
        deadline_margin_ms: stop starting new objects when less than this much time is left
            (``TALLY_DEADLINE_MARGIN_MS``); objects not reached are returned with a reason.
        read_buckets: buckets answers may be read from besides the payload's own
            (``TALLY_READ_BUCKETS``, comma-separated).
        cache_mb: memory for keeping decoded masks between the two phases of a batch
            (``TALLY_CACHE_MB``); objects beyond it are decoded twice.
        element_name: the ``name`` of the template's crowd element (``TALLY_ELEMENT_NAME``); when
            set, an answer without that key is rejected instead of being recognised by its shape.
        worker_table: the DynamoDB table keeping each job's worker statistics across batches
            (``TALLY_WORKER_TABLE``, :mod:`tally.worker_store`); unset, every batch's worker model is its own.
        confidence_maps: write a per-pixel confidence map PNG beside each segmentation mask
            (``TALLY_CONFIDENCE_MAPS``: true/false; the ``reliability`` vote only).
    """

    labels: tuple[str, ...] | None = None
    assume_role_arn: str | None = None
    algorithm: Algorithm = "reliability"
    threads: int = 4
    deadline_margin_ms: int = 10_000
    read_buckets: tuple[str, ...] = ()
    cache_mb: int = 256
    element_name: str | None = None
    worker_table: str | None = None
    confidence_maps: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the ``TALLY_*`` variables of ``env`` (default ``os.environ``).

        Raises:
            SettingsError: naming each invalid variable and its value.
        """
        environ = os.environ if env is None else env
        names = {f.name: ENV_PREFIX + f.name.upper() for f in fields(cls)}
        raw = {name: environ[var] for name, var in names.items() if environ.get(var, "") != ""}
        try:
            values = _Environment.model_validate(raw)
        except ValidationError as error:
            raise SettingsError(_describe(error, environ)) from None
        return cls(**{name: getattr(values, name) for name in names})


_ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"
_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_TABLE = r"^[A-Za-z0-9_.-]{3,255}$"  # DynamoDB's table name rule
_DEFAULT = Settings()


class _Environment(BaseModel):
    """The ``TALLY_*`` variables that are set and not empty, validated; field names are
    :class:`Settings`' field names (``TALLY_`` + the name in capitals is the variable)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: tuple[str, ...] | None = Field(default=_DEFAULT.labels)
    assume_role_arn: str | None = Field(default=_DEFAULT.assume_role_arn, pattern=_ROLE_ARN)
    algorithm: Algorithm = _DEFAULT.algorithm
    threads: int = Field(default=_DEFAULT.threads, ge=1, le=64)
    deadline_margin_ms: int = Field(default=_DEFAULT.deadline_margin_ms, ge=0, le=900_000)
    read_buckets: tuple[Annotated[str, Field(pattern=_BUCKET)], ...] = _DEFAULT.read_buckets
    cache_mb: int = Field(default=_DEFAULT.cache_mb, ge=0)
    element_name: str | None = Field(default=_DEFAULT.element_name, min_length=1)
    worker_table: str | None = Field(default=_DEFAULT.worker_table, pattern=_TABLE)
    confidence_maps: bool = _DEFAULT.confidence_maps

    @field_validator("labels", mode="before")
    @classmethod
    def _parse_labels(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        labels = parse_label_list(value)  # its ValueError names the fault, as for --labels
        return tuple(labels) if labels else None

    @field_validator("read_buckets", mode="before")
    @classmethod
    def _split_buckets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("assume_role_arn", "element_name", "worker_table", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("algorithm", mode="before")
    @classmethod
    def _strip_algorithm(cls, value: Any) -> Any:
        return value.strip() or _DEFAULT.algorithm if isinstance(value, str) else value


def _describe(error: ValidationError, environ: Mapping[str, str]) -> str:
    """One line naming every variable at fault, its value (shortened) and pydantic's reason."""
    parts = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        name = ENV_PREFIX + field.upper()
        raw = environ.get(name, "")
        shown = raw if len(raw) <= _MAX_SHOWN else raw[: _MAX_SHOWN - 3] + "..."
        parts.append(f"{name}={shown!r}: {item['msg']}")
    return "invalid tally setting: " + "; ".join(dict.fromkeys(parts))
