"""The command line as a new user meets it (issue 24): option and environment variable validated by one
function, the same exit code for a missing input everywhere, `--help` defaults that are the real ones,
warnings where a preview would mislead."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import tally.labels
from tally.tools import _common
from tally.tools.cli import main
from tests.conftest import ROOT
from tests.helpers import annotation, data_object, seg_content

TEMPLATES = ROOT / "templates"


def _payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.json"
    content = seg_content(["cd"], {"c": "cat", "d": "dog"}, {"cat": "#123456", "dog": "#abcdef"})
    path.write_text(json.dumps([data_object("0", annotation("w1", content))]))
    return path


def _line(tmp_path: Path) -> Path:
    path = tmp_path / "line.json"
    path.write_text(json.dumps({"source-ref": "s3://bucket/a.jpg"}))
    return path


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    """Each command that takes --labels, ready to run but for its labels."""
    source = tmp_path / "recipe.manifest"
    source.write_text(json.dumps({"source-ref": "s3://b/a.jpg", "x": {"annotationsFromAllWorkers": []}}) + "\n")
    return {
        "consolidate": ["consolidate", str(_payload(tmp_path)), "--out", str(tmp_path / "out")],
        "reconsolidate": ["reconsolidate", str(source), "--label-attribute", "x", "--out", str(tmp_path / "out")],
        "preview": [
            "preview",
            str(TEMPLATES / "image-classification.liquid.html"),
            str(_line(tmp_path)),
            "--out",
            str(tmp_path / "out"),
        ],
    }


TWICE = "a label is listed twice: road (label names must be unique)"
UNQUOTED = 'not a JSON array of strings (quote each name: ["road", "car"]) nor comma-separated names'


@pytest.mark.parametrize("command", ["consolidate", "reconsolidate", "preview"])
@pytest.mark.parametrize(("labels", "reason"), [("road,road", TWICE), ("[road, car]", UNQUOTED)])
def test_labels_option_and_environment_fail_alike_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    labels: str,
    reason: str,
) -> None:
    """--labels and TALLY_LABELS are checked by one function (tally.labels.parse_label_list): the same
    exit code 2, the same reason, nothing read or written."""
    argv = _commands(tmp_path)[command]
    monkeypatch.setattr(_common.CliStorage, "read", lambda *a: pytest.fail("work started"))
    capsys.readouterr()
    assert main([*argv, "--labels", labels]) == 2
    option = capsys.readouterr().err.splitlines()[-1]
    assert option == f"Error: Invalid value for '--labels': {reason}"
    monkeypatch.setenv("TALLY_LABELS", labels)
    assert main(argv) == 2
    environment = capsys.readouterr().err.splitlines()[-1]
    assert environment == (
        f"Error: bad TALLY_* environment variable: invalid tally setting: TALLY_LABELS={labels!r}: "
        f"Value error, {reason}"
    )
    assert not (tmp_path / "out").exists()


def test_the_one_label_check() -> None:
    assert doctest.testmod(tally.labels).failed == 0
    assert tally.labels.parse_label_list('["road", "car"]') == ["road", "car"]
    with pytest.raises(ValueError, match=r"^not a JSON array of strings nor comma-separated names$"):
        tally.labels.parse_label_list('["road", 3]')


def _with_input(command: str, given: Path, tmp_path: Path) -> list[str]:
    template = str(TEMPLATES / "keypoint.liquid.html")
    return {
        "consolidate": ["consolidate", str(given), "--out", str(tmp_path / "out")],
        "reconsolidate": ["reconsolidate", str(given), "--label-attribute", "x", "--out", str(tmp_path / "out")],
        "export": ["export", str(given), "--label-attribute", "x", "--format", "coco", "--out", str(tmp_path / "out")],
        "report": ["report", str(given), "--out", str(tmp_path / "out")],
        "preview (template)": ["preview", str(given), str(_line(tmp_path)), "--out", str(tmp_path / "out")],
        "preview (line)": ["preview", template, str(given), "--out", str(tmp_path / "out")],
    }[command]


@pytest.mark.parametrize(
    "command", ["consolidate", "reconsolidate", "export", "report", "preview (template)", "preview (line)"]
)
@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_missing_input_or_a_directory_is_exit_3_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, kind: str
) -> None:
    given = tmp_path / "given"
    if kind == "directory":
        given.mkdir()
    capsys.readouterr()
    assert main(_with_input(command, given, tmp_path)) == 3
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and str(given) in err, err
    if command != "reconsolidate":  # reconsolidate's --out before it reads: issue 24 point 5, not here
        assert not (tmp_path / "out").exists()
