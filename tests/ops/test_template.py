"""template.yaml: tracing, versions and aliases, logs, permissions and parameter validation."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from typing import Any

import pytest

import tally
from tally import Settings
from tally.settings import ENV_PREFIX, SettingsError
from tests.ops.template import RESOURCES, ROOT, TEMPLATE_DOCUMENT, environment, statements

TEMPLATE = TEMPLATE_DOCUMENT
FUNCTIONS = {"PreAnnotationFunction": "PreAnnotationLogGroup", "ConsolidationFunction": "ConsolidationLogGroup"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_traces_capture_neither_responses_nor_errors() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
    for function in FUNCTIONS:
        env = environment(function)
        assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == env["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


def test_numpy_starts_no_blas_threads_in_consolidation() -> None:
    # tally makes no matrix products; OpenBLAS's thread pool only cost CPU at import (bench/coldstart.py)
    assert environment("ConsolidationFunction")["OPENBLAS_NUM_THREADS"] == "1"
    assert "OPENBLAS_NUM_THREADS" not in environment("PreAnnotationFunction")  # it never imports numpy


def test_pydantic_looks_for_no_plugins() -> None:
    # its entry-point scan cost every cold start work for plugins tally has none of (bench/coldstart.py)
    for function in (*FUNCTIONS, "ReconsolidationFunction"):
        assert environment(function)["PYDANTIC_DISABLE_PLUGINS"] == "__all__"


def test_every_function_publishes_versions_behind_an_alias_and_outputs_the_alias() -> None:
    assert TEMPLATE["Globals"]["Function"]["AutoPublishAlias"] == "live"
    outputs = TEMPLATE["Outputs"]
    assert outputs["PreAnnotationFunctionArn"]["Value"] == {"Ref": "PreAnnotationFunction.Alias"}
    assert outputs["ConsolidationFunctionArn"]["Value"] == {"Ref": "ConsolidationFunction.Alias"}
    assert outputs["PreAnnotationFunctionVersionArn"]["Value"] == {"Ref": "PreAnnotationFunction.Version"}
    assert outputs["ConsolidationFunctionVersionArn"]["Value"] == {"Ref": "ConsolidationFunction.Version"}


def test_every_function_logs_to_its_own_group_with_the_retention_parameter() -> None:
    retention = TEMPLATE["Parameters"]["LogRetentionInDays"]
    assert retention["Default"] in retention["AllowedValues"]
    for function, group in FUNCTIONS.items():
        props = RESOURCES[function]["Properties"]
        assert props["LoggingConfig"] == {"LogGroup": {"Ref": group}}
        assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
        assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        # /aws/lambda/<function name>, so `sam logs` and the console find it
        name, variables = props["FunctionName"]["Fn::Sub"]
        assert RESOURCES[group]["Properties"]["LogGroupName"] == {"Fn::Sub": ["/aws/lambda/" + name, variables]}


def test_pre_annotation_neither_assumes_a_role_nor_advertises_one() -> None:
    actions = [action for s in statements("PreAnnotationFunction") for action in as_list(s["Action"])]
    assert actions == ["s3:GetObject", "sagemaker:DescribeLabelingJob", "kms:Decrypt"]
    assert "TALLY_ASSUME_ROLE_ARN" not in environment("PreAnnotationFunction")
    assert "PreAnnotationFunctionRoleArn" not in TEMPLATE["Outputs"]
    assert environment("ConsolidationFunction")["TALLY_ASSUME_ROLE_ARN"] == {"Ref": "GroundTruthRoleArn"}
    assumed = [s for s in statements("ConsolidationFunction") if s["Action"] == "sts:AssumeRole"]
    assert [s["Resource"] for s in assumed] == [{"Ref": "GroundTruthRoleArn"}]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_wildcard_in_tallys_own_statements(function: str) -> None:
    for statement in statements(function):
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"]):
            assert resource != "*"
            if isinstance(resource, dict) and "Fn::Sub" in resource:
                text = resource["Fn::Sub"]
                # only the last path segment of a bucket or job ARN may be a wildcard
                assert text.endswith(("${OutputBucket}/*", ":labeling-job/*")) and text.count("*") == 1


def test_every_tally_variable_in_the_template_is_a_setting() -> None:
    names = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}
    for function in FUNCTIONS:
        used = {key for key in environment(function) if key.startswith(ENV_PREFIX)}
        assert used <= names


def test_algorithm_choices_are_the_settings_choices() -> None:
    allowed = TEMPLATE["Parameters"]["ConsolidationAlgorithm"]["AllowedValues"]
    assert tuple(allowed) == tally.settings.ALGORITHMS


# (value, CloudFormation accepts it, tally accepts it at import): the pattern may be stricter than
# the import, never looser.
LABEL_VALUES = [
    ("", True, True),
    ("road", True, True),
    ("road, car ,sign", True, True),
    ("traffic light,car", True, True),
    ('["road", "car"]', True, True),
    ('[ "road" ,"car, parked" ]', True, True),
    ("[road, car]", False, False),  # the example: unquoted names in brackets
    ('["road", ]', False, False),
    ('["road", 3]', False, False),
    ("road, road", True, False),  # duplicates: no regular expression for that
    ("road,,car", False, True),
    ('road, "car"', False, True),
    ("[]", False, True),
    (" ", False, True),
]


@pytest.mark.parametrize(("value", "deploys", "imports"), LABEL_VALUES)
def test_labels_pattern(value: str, deploys: bool, imports: bool) -> None:
    pattern = TEMPLATE["Parameters"]["Labels"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == deploys
    if imports:
        Settings.from_env({"TALLY_LABELS": value})
    else:
        with pytest.raises(SettingsError, match="TALLY_LABELS"):
            Settings.from_env({"TALLY_LABELS": value})


def test_bucket_and_role_patterns_match_the_settings_patterns() -> None:
    params = TEMPLATE["Parameters"]
    assert params["OutputBucket"]["AllowedPattern"] == tally.settings._BUCKET
    assert params["GroundTruthRoleArn"]["AllowedPattern"] == "^$|" + tally.settings._ROLE_ARN


def test_versions_agree() -> None:
    sar = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.MULTILINE)
    assert sar["SemanticVersion"] == pyproject["project"]["version"] == tally.__version__ == released[0]


def test_the_sar_description_names_every_task_tally_consolidates() -> None:
    description = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]["Description"]
    assert len(description) <= 256  # CreateApplication's limit
    named = ("segmentation", "classification", "named entities", "bounding boxes", "instances", "keypoints", "polygons")
    assert [word for word in named if word not in description] == []
