"""Deployment settings from the environment (the template's parameters)."""

from __future__ import annotations

import pytest

from tally import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.algorithm == "reliability"
    assert settings.labels is None
    assert settings.assume_role_arn is None
    assert settings.element_name is None


def test_every_variable() -> None:
    settings = Settings.from_env(
        {
            "TALLY_ALGORITHM": "majority",
            "TALLY_LABELS": '["road", "car"]',
            "TALLY_ASSUME_ROLE_ARN": "arn:aws:iam::111122223333:role/gt",
            "TALLY_THREADS": "8",
            "TALLY_DEADLINE_MARGIN_MS": "5000",
            "TALLY_READ_BUCKETS": "a-bucket, b-bucket",
            "TALLY_CACHE_MB": "64",
            "TALLY_ELEMENT_NAME": "annotatedResult",
        }
    )
    assert settings == Settings(
        labels=("road", "car"),
        assume_role_arn="arn:aws:iam::111122223333:role/gt",
        algorithm="majority",
        threads=8,
        deadline_margin_ms=5000,
        read_buckets=("a-bucket", "b-bucket"),
        cache_mb=64,
        element_name="annotatedResult",
    )


def test_the_template_passes_empty_strings_for_unset_parameters() -> None:
    settings = Settings.from_env({"TALLY_LABELS": "", "TALLY_ASSUME_ROLE_ARN": "", "TALLY_ALGORITHM": ""})
    assert settings == Settings()


def test_comma_separated_labels() -> None:
    assert Settings.from_env({"TALLY_LABELS": "road, car ,sign"}).labels == ("road", "car", "sign")


def test_an_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="TALLY_ALGORITHM must be one of reliability, majority"):
        Settings.from_env({"TALLY_ALGORITHM": "staple"})
