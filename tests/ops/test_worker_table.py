"""template.yaml's worker table (issue 14): on-demand, encrypted, recoverable, expiring, and the
consolidation function's least-privilege access to it."""

from __future__ import annotations

from typing import Any

import pytest

from tally.settings import Settings, SettingsError
from tests.ops.template import RESOURCES, environment, statements
from tests.ops.template import TEMPLATE_DOCUMENT as TEMPLATE

TABLE: dict[str, Any] = RESOURCES["WorkerTable"]


def test_the_table_is_on_demand_encrypted_recoverable_and_expires_what_the_store_writes() -> None:
    props = TABLE["Properties"]
    assert TABLE["Condition"] == "KeepsWorkerModels"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def test_only_the_consolidation_function_gets_the_table_and_only_the_calls_it_makes() -> None:
    assert environment("ConsolidationFunction")["TALLY_WORKER_TABLE"] == {
        "Fn::If": ["KeepsWorkerModels", {"Ref": "WorkerTable"}, ""]
    }
    assert "TALLY_WORKER_TABLE" not in environment("PreAnnotationFunction")
    table_statements = [s for s in statements("ConsolidationFunction") if s.get("Sid") == "WorkerModels"]
    assert table_statements == [
        {
            "Sid": "WorkerModels",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": {"Fn::GetAtt": ["WorkerTable", "Arn"]},
        }
    ]
    assert not any("dynamodb" in str(s) for s in statements("PreAnnotationFunction"))
    # the calls the store really makes, against these grants and the TTL attribute: tests/store/test_dynamo_store.py


def test_the_parameter_turns_the_table_off() -> None:
    assert TEMPLATE["Parameters"]["KeepWorkerModels"]["AllowedValues"] == ["true", "false"]
    assert TEMPLATE["Conditions"]["KeepsWorkerModels"] == {"Fn::Equals": [{"Ref": "KeepWorkerModels"}, "true"]}
    assert TEMPLATE["Outputs"]["WorkerTableName"]["Condition"] == "KeepsWorkerModels"


@pytest.mark.parametrize("bad", ["ab", "a table", "arn:aws:dynamodb:us-east-1:123456789012:table/t"])
def test_the_setting_takes_a_table_name_and_nothing_else(bad: str) -> None:
    assert Settings.from_env({"TALLY_WORKER_TABLE": " tally-Workers_1.x "}).worker_table == "tally-Workers_1.x"
    assert Settings.from_env({"TALLY_WORKER_TABLE": ""}).worker_table is None
    with pytest.raises(SettingsError, match=r"^invalid tally setting: TALLY_WORKER_TABLE="):
        Settings.from_env({"TALLY_WORKER_TABLE": bad})
