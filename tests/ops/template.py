"""Read template.yaml with CloudFormation's short tags (``!Ref x`` → ``{"Ref": "x"}``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    return document


TEMPLATE_DOCUMENT: dict[str, Any] = load_template()
"""template.yaml, read once."""
RESOURCES: dict[str, Any] = TEMPLATE_DOCUMENT["Resources"]


def statements(function: str) -> list[dict[str, Any]]:
    """tally's own policy statements of a function, both branches of every Fn::If."""
    found: list[dict[str, Any]] = []
    for policy in RESOURCES[function]["Properties"]["Policies"]:
        for item in policy["Statement"]:
            branches = item["Fn::If"][1:] if "Fn::If" in item else [item]
            found += [b for b in branches if b != {"Ref": "AWS::NoValue"}]
    return found


def environment(function: str) -> dict[str, Any]:
    """A function's environment: the template's globals with its own variables over them."""
    own = RESOURCES[function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**TEMPLATE_DOCUMENT["Globals"]["Function"]["Environment"]["Variables"], **own}
