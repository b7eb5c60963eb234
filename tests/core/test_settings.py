"""Deployment settings from the environment (the template's parameters)."""

from __future__ import annotations

import dataclasses

import pytest

from tally import Settings
from tally.settings import SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.algorithm == "reliability"
    assert settings.labels is None
    assert settings.assume_role_arn is None
    assert settings.element_name is None
    assert settings.threads == 4


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
            "TALLY_CONFIDENCE_MAPS": "false",
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
        confidence_maps=False,
    )


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_THREADS", "3")
    monkeypatch.setenv("TALLY_LABELS", "sky")
    settings = Settings.from_env()
    assert (settings.threads, settings.labels) == (3, ("sky",))


def test_other_variables_are_ignored() -> None:
    assert Settings.from_env({"PATH": "/bin", "TALLY_UNKNOWN": "x", "tally_threads": "2"}) == Settings()


def test_the_template_passes_empty_strings_for_unset_parameters() -> None:
    settings = Settings.from_env({"TALLY_LABELS": "", "TALLY_ASSUME_ROLE_ARN": "", "TALLY_ALGORITHM": ""})
    assert settings == Settings()


def test_blank_values_count_as_unset() -> None:
    assert Settings.from_env({"TALLY_ASSUME_ROLE_ARN": "  ", "TALLY_ALGORITHM": " ", "TALLY_LABELS": " "}) == Settings()


def test_comma_separated_labels() -> None:
    assert Settings.from_env({"TALLY_LABELS": "road, car ,sign"}).labels == ("road", "car", "sign")


def test_settings_stay_a_frozen_dataclass() -> None:
    settings = Settings.from_env({"TALLY_THREADS": "2"})
    assert dataclasses.replace(settings, threads=5).threads == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.threads = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TALLY_LABELS": "[road, car]"},
            "invalid tally setting: TALLY_LABELS='[road, car]': Value error, not a JSON array of strings "
            '(quote each name: ["road", "car"]) nor comma-separated names',
        ),
        (
            {"TALLY_LABELS": '["road", 3]'},
            "invalid tally setting: TALLY_LABELS='[\"road\", 3]': Value error, "
            "not a JSON array of strings nor comma-separated names",
        ),
        (
            {"TALLY_LABELS": "road, car, road"},
            "invalid tally setting: TALLY_LABELS='road, car, road': Value error, a label is listed twice: road (label names must be unique)",
        ),
        (
            {"TALLY_THREADS": "four"},
            "invalid tally setting: TALLY_THREADS='four': Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            {"TALLY_THREADS": "0"},
            "invalid tally setting: TALLY_THREADS='0': Input should be greater than or equal to 1",
        ),
        (
            {"TALLY_CONFIDENCE_MAPS": "sometimes"},
            "invalid tally setting: TALLY_CONFIDENCE_MAPS='sometimes': Input should be a valid boolean, "
            "unable to interpret input",
        ),
        (
            {"TALLY_ALGORITHM": "staple"},
            "invalid tally setting: TALLY_ALGORITHM='staple': Input should be 'reliability', 'majority' or 'regions'",
        ),
        (
            {"TALLY_ASSUME_ROLE_ARN": "gt-role"},
            "invalid tally setting: TALLY_ASSUME_ROLE_ARN='gt-role': String should match pattern "
            "'^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$'",
        ),
        (
            {"TALLY_READ_BUCKETS": "ok-bucket,Bad_Bucket"},
            "invalid tally setting: TALLY_READ_BUCKETS='ok-bucket,Bad_Bucket': String should match pattern "
            "'^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'",
        ),
        (
            {"TALLY_CACHE_MB": "-1", "TALLY_DEADLINE_MARGIN_MS": "soon"},
            "invalid tally setting: TALLY_DEADLINE_MARGIN_MS='soon': Input should be a valid integer, unable to "
            "parse string as an integer; TALLY_CACHE_MB='-1': Input should be greater than or equal to 0",
        ),
    ],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_a_long_bad_value_is_shortened() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TALLY_THREADS": "9" * 200})
    assert f"TALLY_THREADS='{'9' * 77}...': Input should be less than or equal to 64" in str(caught.value)


def test_more_labels_than_a_mask_holds_are_a_setting_classification_can_use() -> None:
    # a palette mask holds 253 classes; segmentation says so per object (ConfigError), classification has no limit
    names = [f"l{i}" for i in range(300)]
    assert Settings.from_env({"TALLY_LABELS": ",".join(names)}).labels == tuple(names)
