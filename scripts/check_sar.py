"""Check the template's Serverless Application Repository metadata offline, with SAM CLI's own code.

Run with the SAM CLI's interpreter (`.venv-sam/bin/python scripts/check_sar.py`); `make test` does.
It reads template.yaml with SAM CLI's SAR parser (`samcli.vendor.serverlessrepo`), builds the
CreateApplication and CreateApplicationVersion requests exactly as `sam publish` would (without
sending them) and checks:

* the metadata exists and has every property tally publishes (SAM's own `validate`);
* each request against botocore's `serverlessrepo` service model (types, required members);
* the limits the service documents for each member (lengths, patterns, 10 labels, 5 MB files);
* LicenseUrl and ReadmeUrl are local files (`sam package` uploads them) and the licence is the
  project's (pyproject's `license`); SemanticVersion is a semantic version equal to pyproject's.

A HomePageUrl or SourceCodeUrl still holding `REPLACE-ME` gives a warning, not a failure.

Usage:
    .venv-sam/bin/python scripts/check_sar.py [--template template.yaml]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.session import get_session
from botocore.validate import ParamValidator
from samcli.vendor.serverlessrepo import publish  # type: ignore[import-not-found]
from samcli.vendor.serverlessrepo.parser import (  # type: ignore[import-not-found]
    get_app_metadata,
    parse_template,
    strip_app_metadata,
)
from samcli.yamlhelper import yaml_dump  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = [
    "name",
    "description",
    "author",
    "spdx_license_id",
    "license_url",
    "readme_url",
    "semantic_version",
    "home_page_url",
    "source_code_url",
    "labels",
]
# Limits from the CreateApplication documentation in botocore's serverlessrepo model.
LIMITS: dict[str, tuple[int, int, str]] = {
    "Name": (1, 140, r"[a-zA-Z0-9\-]+"),
    "Description": (1, 256, r"(?s).+"),
    "Author": (1, 127, r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?"),
}
LABEL_PATTERN = r"[a-zA-Z0-9+\-_:/@]+"
MAX_LABELS = 10
MAX_FILE_BYTES = 5 * 1024 * 1024
# https://semver.org/ (the suggested regular expression, without named groups)
SEMVER = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
PLACEHOLDER = "REPLACE-ME"


def model_problems(operation: str, request: dict[str, Any]) -> list[str]:
    """botocore's validation of a request against the serverlessrepo model (offline)."""
    model = get_session().get_service_model("serverlessrepo").operation_model(operation)
    report = ParamValidator().validate(request, model.input_shape)
    return [f"{operation}: {line.strip()}" for line in report.generate_report().splitlines() if line.strip()]


def check(template_path: Path) -> tuple[list[str], list[str], dict[str, Any]]:
    """Return (problems, warnings, the CreateApplication request) for a template."""
    problems: list[str] = []
    warnings: list[str] = []
    template = parse_template(template_path.read_text(encoding="utf-8"))
    try:
        metadata = get_app_metadata(template)
        metadata.validate(REQUIRED)
    except Exception as error:  # SAM's ApplicationMetadataNotFoundError / InvalidApplicationMetadataError
        return [f"{type(error).__name__}: {error}"], warnings, {}
    body = yaml_dump(strip_app_metadata(template))
    create = publish._create_application_request(metadata, body)
    version = publish._create_application_version_request(metadata, "arn:aws:serverlessrepo:::applications/x", body)
    problems += model_problems("CreateApplication", create)
    problems += model_problems("CreateApplicationVersion", version)

    for key, (low, high, pattern) in LIMITS.items():
        value = str(create.get(key, ""))
        if not low <= len(value) <= high or not re.fullmatch(pattern, value):
            problems.append(f"{key} {value!r}: {low}-{high} characters matching {pattern}")
    labels = create.get("Labels", [])
    if len(labels) > MAX_LABELS:
        problems.append(f"{len(labels)} Labels (at most {MAX_LABELS})")
    problems += [f"Label {label!r} does not match {LABEL_PATTERN}" for label in labels if not _label_ok(label)]

    if not re.fullmatch(SEMVER, str(create.get("SemanticVersion", ""))):
        problems.append(f"SemanticVersion {create.get('SemanticVersion')!r} is not a semantic version")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if create.get("SemanticVersion") != pyproject["version"]:
        problems.append(f"SemanticVersion {create.get('SemanticVersion')} != pyproject version {pyproject['version']}")
    if create.get("SpdxLicenseId") != pyproject["license"]:
        problems.append(f"SpdxLicenseId {create.get('SpdxLicenseId')} != pyproject license {pyproject['license']}")

    for key in ("LicenseUrl", "ReadmeUrl"):
        local = template_path.parent / str(create.get(key, ""))
        if not local.is_file():
            problems.append(f"{key} {create.get(key)!r} is not a file beside the template (sam package uploads it)")
        elif local.stat().st_size > MAX_FILE_BYTES:
            problems.append(f"{key} {local.name} is over 5 MB")
    for key in ("HomePageUrl", "SourceCodeUrl"):
        url = str(create.get(key, ""))
        if not url.startswith("https://"):
            problems.append(f"{key} {url!r} is not an https URL")
        elif PLACEHOLDER in url:
            warnings.append(f"{key} {url} still holds {PLACEHOLDER}: set the project's public URL before publishing")
    return problems, warnings, create


def _label_ok(label: Any) -> bool:
    return isinstance(label, str) and 1 <= len(label) <= 127 and re.fullmatch(LABEL_PATTERN, label) is not None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args(argv)
    problems, warnings, request = check(args.template)
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    if problems:
        print(f"check_sar FAILED: {len(problems)} problem(s)")
        return 1
    print(f"check_sar OK: {request['Name']} {request['SemanticVersion']} ({request['SpdxLicenseId']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
