"""`tally` imports a command's module only when that command runs: `tally --help` lists every command
with the one-line help the command itself gives, and `tally export` never loads python-liquid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tally.tools.cli import COMMANDS, cli, main
from tests.project import ROOT

_PROBE = """
import json, sys
from tally.tools.cli import main
code = main(sys.argv[1:])
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(("liquid", "tally.tools.", "tally.consolidate")))]))
"""


def _imported(*argv: str) -> tuple[int, list[str]]:
    """Run ``tally ARGV`` in a fresh interpreter: its exit code and the modules of interest it imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "tally")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return int(code), list(modules)


def test_help_imports_no_command() -> None:
    assert _imported("--help") == (0, ["tally.tools._exit_codes", "tally.tools.cli"])


def test_export_help_does_not_import_liquid() -> None:
    code, modules = _imported("export", "--help")
    assert code == 0
    assert "tally.tools.export" in modules
    assert [m for m in modules if m.startswith("liquid") or m in ("tally.tools.preview", "tally.tools.report")] == []


def test_export_help_imports_neither_numpy_nor_pillow_nor_the_registry() -> None:
    probe = (
        "import json, sys\nfrom tally.tools.cli import main\ncode = main(['export', '--help'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'PIL') "
        "or m.startswith(('tally.tasks', 'tally.coco')))))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "tally")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_preview_help_imports_liquid() -> None:
    """The probe above can see liquid when it is loaded."""
    code, modules = _imported("preview", "--help")
    assert code == 0 and "liquid" in modules and "tally.tools.export" not in modules


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    """Each line of `tally --help` is what click would print for the command itself, at any width."""
    with click.Context(cli) as ctx:
        command = cli.get_command(ctx, name)
    assert command is not None and command.name == name
    assert command.help is not None and command.help.startswith(COMMANDS[name])
    stand_in = click.Command(name, help=COMMANDS[name])
    for limit in range(20, 130):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert listed == [  # as when every command was imported at start-up
        "  consolidate    Consolidate one Ground Truth batch the way tally's...",
        "  export         Export to Ground Truth's built-in shapes or to COCO JSON.",
        "  preview        Render a worker template for one manifest line, offline.",
        "  reconsolidate  Consolidate a finished job again from its output...",
        "  report         Write an offline HTML page to review a consolidated batch.",
    ]
    assert main(["nosuch"]) == 2
    assert "No such command 'nosuch'" in capsys.readouterr().err


def test_a_label_studio_import_does_not_load_the_cvat_reader(tmp_path: Path) -> None:
    probe = (
        "import json, sys\nfrom tally.tools.cli import main\ncode = main(sys.argv[1:])\n"
        "print(json.dumps([code, 'tally.importers.cvat' in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "tally")}
    found = []
    for tool, source in (("labelstudio", "labelstudio/ls-previous-export.json"), ("cvat", "cvat/three-jobs")):
        argv = ["consolidate", "--from", tool, str(ROOT / "tests" / "fixtures" / source), "--out", str(tmp_path / tool)]
        done = subprocess.run([sys.executable, "-c", probe, *argv], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=True, timeout=120)  # fmt: skip
        found.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert found == [[0, False], [0, True]]  # the probe sees the reader when a CVAT import loads it
