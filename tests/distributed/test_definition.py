"""The state machine's definition: cfn-lint's Step Functions schema (E3601) accepts it inline, every
state is reachable, and the template deploys it only with Reconsolidation=true."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.distributed.support import definition
from tests.ops.template import load_template
from tests.project import ROOT

CFN_LINT = ROOT / ".venv-sam" / "bin" / "cfn-lint"


def _lint(asl: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/r", "DefinitionString": json.dumps(asl)},
            }
        },
    }
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(template))
    return subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, check=False, timeout=120)


def test_the_definition_lints(tmp_path: Path) -> None:
    asl = definition()
    assert _lint(asl, tmp_path).returncode == 0
    asl["States"]["Survey"]["Type"] = "Mapp"  # the check can fail
    found = _lint(asl, tmp_path)
    assert found.returncode == 2 and "E3601" in found.stdout


def test_every_state_is_reachable_and_every_map_is_distributed() -> None:
    states = definition()["States"]
    seen, todo = set(), ["HasManifest"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        todo += [c["Next"] for c in state.get("Choices", [])] + [state[k] for k in ("Next", "Default") if k in state]
    assert seen == set(states)
    maps = {n: s for n, s in states.items() if s["Type"] == "Map"}
    assert sorted(maps) == ["Consolidate", "Gather", "ListResponses", "Survey"]
    assert all(s["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED" for s in maps.values())
    assert {n: s.get("ToleratedFailurePercentage") for n, s in maps.items()} == {
        "ListResponses": None,  # 0: every answer is needed
        "Survey": 0,
        "Gather": 0,
        "Consolidate": 100,  # every failed line is reported with its reason
    }


def test_everything_it_needs_is_deployed_only_on_request() -> None:
    resources = load_template()["Resources"]
    added = {"ReconsolidationLogGroup", "ReconsolidationFunction", "ReconsolidationStateMachine"}
    assert {name: resources[name].get("Condition") for name in added} == dict.fromkeys(added, "Reconsolidates")
    machine = resources["ReconsolidationStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD"
    assert machine["DefinitionUri"] == "statemachine/reconsolidate.asl.json"
    statements = machine["Policies"][0]["Statement"]
    resources_of = {s["Sid"]: s["Resource"] for s in statements if isinstance(s, dict) and "Sid" in s}
    assert "*" not in json.dumps(resources_of).replace("/*", "")  # objects of a bucket or prefix, no wildcard service
    assert resources_of["WriteResults"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${OutputBucket}/${ReconsolidationPrefix}/*"
    }
