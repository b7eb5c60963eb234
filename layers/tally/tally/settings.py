"""Deployment settings, read once from the environment (the template's parameters set them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from .labels import parse_label_list

__all__ = ["ALGORITHMS", "Algorithm", "Settings"]

Algorithm = Literal["reliability", "majority"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)


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
    """

    labels: tuple[str, ...] | None = None
    assume_role_arn: str | None = None
    algorithm: Algorithm = "reliability"
    threads: int = 4
    deadline_margin_ms: int = 10_000
    read_buckets: tuple[str, ...] = ()
    cache_mb: int = 256
    element_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        labels = parse_label_list(env.get("TALLY_LABELS"))
        algorithm = env.get("TALLY_ALGORITHM", "").strip() or cls.algorithm
        if algorithm not in ALGORITHMS:
            raise ValueError(f"TALLY_ALGORITHM must be one of {', '.join(ALGORITHMS)}")
        return cls(
            labels=tuple(labels) if labels else None,
            assume_role_arn=env.get("TALLY_ASSUME_ROLE_ARN", "").strip() or None,
            algorithm=algorithm,  # type: ignore[arg-type]  # checked against ALGORITHMS above
            threads=max(1, int(env.get("TALLY_THREADS", "") or cls.threads)),
            deadline_margin_ms=int(env.get("TALLY_DEADLINE_MARGIN_MS", "") or cls.deadline_margin_ms),
            read_buckets=tuple(b.strip() for b in env.get("TALLY_READ_BUCKETS", "").split(",") if b.strip()),
            cache_mb=int(env.get("TALLY_CACHE_MB", "") or cls.cache_mb),
            element_name=env.get("TALLY_ELEMENT_NAME", "").strip() or None,
        )
