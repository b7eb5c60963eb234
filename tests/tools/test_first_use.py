"""The command line as a new user meets it (issue 24): option and environment variable validated by one
function, the same exit code for a missing input everywhere, `--help` defaults that are the real ones,
warnings where a preview would mislead."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

import tally.labels
from tally.settings import Settings
from tally.tools import _common
from tally.tools.cli import main
from tests.helpers import annotation, data_object, seg_content
from tests.project import ROOT

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


def _claims(text: str) -> list[tuple[str, str]]:
    """Every default of a setting a text states, as ``TALLY_X or Y`` (``--help``) or ``TALLY_X, else Y``
    (docs/cli.md's tables): ``(variable, Y)``."""
    flat = " ".join(text.replace("`", "").split())
    return re.findall(r"(TALLY_[A-Z_]+),? (?:or|else) ([^\]|;]+?)\s*(?=\]|\||;)", flat)


def _agrees(variable: str, stated: str) -> bool:
    value = getattr(Settings(), variable.removeprefix("TALLY_").lower())
    if value is None:  # no literal default: the text says where the value comes from instead
        return not stated[0].isdigit() and stated not in ("on", "off", "true", "false")
    if isinstance(value, bool):
        return stated in (("on", "true") if value else ("off", "false"))
    return stated == str(value)


def test_help_and_docs_state_the_settings_real_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """Every default `--help` and docs/cli.md give for a TALLY_* setting is the settings' own (the
    help said `[default: TALLY_CONFIDENCE_MAPS or on]` while confidence maps are off by default)."""
    stated: dict[str, list[tuple[str, str]]] = {}
    for command in ("consolidate", "reconsolidate", "preview", "export", "report"):
        capsys.readouterr()
        assert main([command, "--help"]) == 0
        stated[command] = _claims(capsys.readouterr().out)
    stated["docs/cli.md"] = _claims((ROOT / "docs" / "cli.md").read_text())
    # the texts do state these (a pattern that found nothing would prove nothing)
    assert {v for v, _ in stated["consolidate"]} == {"TALLY_ALGORITHM", "TALLY_THREADS", "TALLY_CONFIDENCE_MAPS"}
    assert {v for v, _ in stated["reconsolidate"]} == {
        "TALLY_LABELS",
        "TALLY_ALGORITHM",
        "TALLY_THREADS",
        "TALLY_CONFIDENCE_MAPS",
    }
    assert {v for v, _ in stated["docs/cli.md"]} >= {"TALLY_ALGORITHM", "TALLY_THREADS", "TALLY_CONFIDENCE_MAPS"}
    wrong = [(where, v, s) for where, claims in stated.items() for v, s in claims if not _agrees(v, s)]
    assert wrong == []


def test_readme_tables_list_every_setting_and_parameter() -> None:
    """The README's settings table has a row per Settings field with its real default, and its
    parameter table a row per template parameter (TALLY_WORKER_TABLE and KeepWorkerModels were missing)."""
    readme = (ROOT / "README.md").read_text()
    settings = dict(re.findall(r"^\| `(TALLY_[A-Z_]+)` \| [^|]* \| ([^|]*) \|", readme, flags=re.MULTILINE))
    fields = {f"TALLY_{f.name.upper()}": getattr(Settings(), f.name) for f in dataclasses.fields(Settings)}
    assert sorted(settings) == sorted(fields)
    for variable, default in fields.items():
        shown = settings[variable].strip().strip("`")
        expected = "–" if default in (None, ()) else str(default).lower() if isinstance(default, bool) else str(default)
        assert shown == expected, variable
    table = readme[readme.index("| Parameter | Meaning |") :]
    table = table[: table.index("\n\n")]
    documented = re.findall(r"^\| `(\w+)`", table, flags=re.MULTILINE)
    template = (ROOT / "template.yaml").read_text()
    parameters = template[template.index("\nParameters:\n") : template.index("\nConditions:")]
    assert documented == re.findall(r"^  (\w+):$", parameters, flags=re.MULTILINE)


PRIOR = {
    "source-ref": "s3://bucket/a.jpg",
    "animal": 0,
    "animal-metadata": {
        "type": "groundtruth/image-classification",
        "class-name": "Probably yes",
        "confidence": 0.9,
        "job-name": "labeling-job/animal",
        "human-annotated": "yes",
        "creation-date": "2026-01-01T00:00:00",
    },
}


@pytest.mark.parametrize(
    ("template", "extra", "warned"),
    [
        (
            "image-classification",
            [],
            "Probably yes (taken from the line's prior label, which holds only the class it decided)",
        ),
        ("text-classification", ["--labels", "yes"], "yes"),
        ("image-classification", ["--labels", "Probably yes,Probably no"], None),
        ("image-classification-multi-select", [], None),  # one box to tick or not: a choice
        ("bounding-box", [], None),  # one label to draw: a choice of where
    ],
)
def test_preview_warns_of_a_classifier_with_one_category(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], template: str, extra: list[str], warned: str | None
) -> None:
    """A chained job's line whose only labels are its prior classification (categories=["Probably
    yes"]) renders a classifier a worker cannot answer otherwise: the page is written, with a warning."""
    line = tmp_path / "line.json"
    line.write_text(json.dumps(PRIOR))
    out = tmp_path / "page.html"
    capsys.readouterr()
    assert main(["preview", str(TEMPLATES / f"{template}.liquid.html"), str(line), *extra, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    if warned is None:
        assert err == ""
    else:
        assert err == (
            f"warning: the classifier offers one category, {warned}: a worker has nothing to choose; "
            "give the job's labels with --labels or TALLY_LABELS\n"
        )
    assert out.is_file()
