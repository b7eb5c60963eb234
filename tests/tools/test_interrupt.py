"""A real Ctrl-C (SIGINT to the command's process group, as a terminal sends it) in the middle of a
run: exit code 130, one line on stderr, no traceback, nothing half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.project import ROOT
from tests.sim.manifests import segmentation_lines, write_manifest


def _start(argv: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'tally'}:{ROOT}"}
    return subprocess.Popen(
        [sys.executable, "-m", "tally.tools.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the command ended before the interrupt: {process.communicate()}"
        assert time.monotonic() < deadline, "the command never started writing"
        time.sleep(0.02)


def _interrupt(process: subprocess.Popen[str]) -> tuple[int, str]:
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def test_ctrl_c_during_consolidate(tmp_path: Path) -> None:
    lines = list(segmentation_lines(150, seed=21, attr="x", height=240, width=320))
    payload = [
        {
            "datasetObjectId": str(i),
            "dataObject": {"s3Uri": line["source-ref"]},
            "annotations": line["x"]["annotationsFromAllWorkers"],
        }
        for i, line in enumerate(lines)
    ]
    source = tmp_path / "payload.json"
    source.write_text(json.dumps(payload))
    out = tmp_path / "out"
    process = _start(
        ["consolidate", str(source), "--out", str(out), "--labels", "road,car,person,sign", "--threads", "1"]
    )
    _wait_for(lambda: any(tmp_path.glob(".out.tally-*/masks/*.png")), process)
    code, err = _interrupt(process)
    assert code == 130
    assert err == "tally: interrupted; nothing half-written was left behind\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["payload.json"]


def test_ctrl_c_during_reconsolidate_on_two_processes(tmp_path: Path) -> None:
    source = write_manifest(tmp_path / "in.manifest", segmentation_lines(120, seed=22, attr="x", height=240, width=320))
    out = tmp_path / "out"
    argv = [
        "reconsolidate",
        str(source),
        "--label-attribute",
        "x",
        "--out",
        str(out),
        "--jobs",
        "2",
        "--batch-size",
        "10",
    ]
    argv += ["--labels", "road,car,person,sign"]
    process = _start(argv)
    _wait_for(
        lambda: (out / ".output.manifest.partial").is_file() and (out / ".output.manifest.partial").stat().st_size > 0,
        process,
    )
    code, err = _interrupt(process)
    assert code == 130
    [line] = err.splitlines()
    assert line.startswith("tally: interrupted; ") and line.endswith(
        " of 120 lines done; run the same command again to continue"
    )
    done = int(line.split("; ")[1].split(" of ")[0])
    assert done % 10 == 0 and 0 < done < 120
    state = json.loads((out / ".reconsolidate.json").read_text())
    assert state["lines_done"] == done and not state["finished"]
    assert not (out / "output.manifest").exists()
