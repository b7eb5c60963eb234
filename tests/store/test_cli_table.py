"""`tally consolidate --worker-table` under moto's DynamoDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tally import aws
from tally.tools.cli import main
from tests.sim.jobs import classification_objects, job_crowd
from tests.store.dynamo import TABLE


@pytest.fixture(autouse=True)
def _fresh_client() -> Any:
    aws._store_client.cache_clear()
    yield
    aws._store_client.cache_clear()


def consolidate(tmp_path: Path, objects: list[dict[str, Any]], name: str, *extra: str) -> tuple[int, str]:
    source = tmp_path / f"{name}.json"
    if not source.exists():  # a rerun reads the same file (its date is the response's creation-date)
        source.write_text(json.dumps(objects))
    code = main(["consolidate", str(source), "--out", str(tmp_path / name), "--labels", "Dog,Cat,Bird", *extra])
    return code, (tmp_path / name / "results.jsonl").read_text()


def test_the_table_keeps_the_job_across_runs_and_a_rerun_is_a_retry(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objects = classification_objects(job_crowd(3, 8))
    code, first = consolidate(tmp_path, objects[:4], "a", "--worker-table", TABLE)
    assert code == 0 and f"worker model:     job (table {TABLE})" in capsys.readouterr().out
    assert dynamodb.scan(TableName=TABLE)["Count"] > 1
    code, again = consolidate(tmp_path, objects[:4], "a", "--worker-table", TABLE)
    assert code == 0 and again == first
    assert "worker model:     job (retried batch)" in capsys.readouterr().out
    consolidate(tmp_path, objects[4:], "b", "--worker-table", TABLE)
    assert "worker model:     job (table" in capsys.readouterr().out


def test_without_the_option_the_batch_is_on_its_own(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALLY_WORKER_TABLE", TABLE)  # the Lambda's variable: the command line ignores it
    code, _ = consolidate(tmp_path, classification_objects(job_crowd(3, 4)), "a")
    assert code == 0 and "worker model" not in capsys.readouterr().out
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0


def test_a_missing_table_warns_and_consolidates(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = consolidate(tmp_path, classification_objects(job_crowd(3, 4)), "a", "--worker-table", "missing-table")
    assert code == 0
    assert "worker model:     batch (store failed) (table missing-table)" in capsys.readouterr().out
