"""scripts/check_sar.py: the SAR metadata, checked with SAM CLI's own parser (in .venv-sam)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.template import ROOT, TEMPLATE

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


def run_check(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "scripts" / "check_sar.py"), "--template", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )


def variant(tmp_path: Path, old: str, new: str) -> Path:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert old in text
    for name in ("LICENSE", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_template_passes() -> None:
    result = run_check(TEMPLATE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "check_sar OK: tally-ground-truth 0.1.0 (Apache-2.0)"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  AWS::ServerlessRepo::Application:",
            "  Other::Metadata:",
            "FAIL: ApplicationMetadataNotFoundError",
        ),
        ("    Author: tally-contributors\n", "", "FAIL: InvalidApplicationMetadataError"),
        ("Author: tally-contributors", "Author: Tally Team", "FAIL: Author 'Tally Team'"),
        (
            "SemanticVersion: 0.1.0",
            "SemanticVersion: v0.1.0",
            "FAIL: SemanticVersion 'v0.1.0' is not a semantic version",
        ),
        ("SemanticVersion: 0.1.0", "SemanticVersion: 0.2.0", "FAIL: SemanticVersion 0.2.0 != pyproject version"),
        ("SpdxLicenseId: Apache-2.0", "SpdxLicenseId: MIT", "FAIL: SpdxLicenseId MIT != pyproject license"),
        ("LicenseUrl: LICENSE", "LicenseUrl: LICENCE.txt", "FAIL: LicenseUrl 'LICENCE.txt' is not a file"),
        ("Labels: [", "Labels: [a, b, c, d, e, ", "FAIL: 11 Labels (at most 10)"),
        ("Labels: [", "Labels: [ground truth, ", "FAIL: Label 'ground truth' does not match"),
        ("Name: tally-ground-truth", "Name: tally_ground_truth", "FAIL: Name 'tally_ground_truth'"),
        ("Labels: [", "Labels: [7, ", "FAIL: CreateApplication: Invalid type for parameter Labels[0]"),
    ],
)
def test_broken_metadata_fails(tmp_path: Path, old: str, new: str, message: str) -> None:
    result = run_check(variant(tmp_path, old, new))
    assert result.returncode == 1
    assert message in result.stderr
