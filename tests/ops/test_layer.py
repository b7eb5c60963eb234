"""The layer's lock file and scripts/check_build.py's contents checks (on a hand-made build tree)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from tests.ops.template import ROOT

LAYER = ROOT / "layers" / "tally"
LOCK = LAYER / "requirements-lock.txt"


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_build = load_script("check_build")


def pins(path: Path) -> dict[str, str]:
    """name==version lines of a requirements file (extras dropped), names normalised."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)", line)
        if match:
            found[check_build.normalise(match[1])] = match[3]
    return found


def test_read_lock() -> None:
    assert check_build.read_lock(LOCK) == pins(LOCK)
    assert check_build.normalise("Typing_Extensions") == "typing-extensions"


def test_the_lock_pins_everything_with_hashes_and_leaves_botocore_to_the_runtime() -> None:
    lock = check_build.read_lock(LOCK)
    assert set(lock) == {
        "annotated-types",
        "aws-lambda-powertools",
        "aws-xray-sdk",
        "jmespath",
        "numpy",
        "pillow",
        "pydantic",
        "pydantic-core",
        "typing-extensions",
        "typing-inspection",
        "wrapt",
    }
    blocks = re.split(r"\n(?=[A-Za-z])", LOCK.read_text(encoding="utf-8").split("\n", 2)[2])
    assert len(blocks) == len(lock)
    assert all("--hash=sha256:" in block for block in blocks)


def test_direct_pins_agree_across_layer_dev_and_pyproject() -> None:
    lock = check_build.read_lock(LOCK)
    direct = pins(LAYER / "requirements.txt")
    dev = pins(ROOT / "requirements-dev.txt")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert direct == {
        "numpy": "2.4.6",
        "pillow": "13.0.0",
        "aws-lambda-powertools": "3.37.0",
        "pydantic": "2.14.4",
    }
    for name, version in direct.items():
        assert lock[name] == dev[name] == version
    assert sorted(pyproject) == sorted(
        line for line in (LAYER / "requirements.txt").read_text().splitlines() if "==" in line
    )


def fake_layer(tmp_path: Path, dists: dict[str, str]) -> tuple[Path, Path]:
    """A build tree with the given dist-info directories and a copy of the tally package's file list."""
    site = tmp_path / "TallyLayer" / "python"
    for name, version in dists.items():
        (site / f"{name}-{version}.dist-info").mkdir(parents=True)
    source = tmp_path / "src"
    for rel in ("__init__.py", "tasks/__init__.py"):
        for root in (source, site / "tally"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("")
    (site / "tally" / "py.typed").write_text("")
    (site / "tally" / "__pycache__").mkdir()
    (site / "tally" / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"")
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==2.4.6 \\\n    --hash=sha256:00\nTyping_Extensions==4.16.0 \\\n    --hash=sha256:11\n")
    return lock, source


def test_a_layer_matching_the_lock_passes(tmp_path: Path) -> None:
    lock, source = fake_layer(tmp_path, {"numpy": "2.4.6", "typing_extensions": "4.16.0"})
    assert check_build.contents_problems(tmp_path / "TallyLayer", lock, source, "tally") == []


@pytest.mark.parametrize(
    ("dists", "extra", "problems"),
    [
        ({"numpy": "2.4.6"}, None, ["typing-extensions==4.16.0 is locked but not in the layer"]),
        (
            {"numpy": "2.4.5", "typing_extensions": "4.16.0"},
            None,
            ["numpy is 2.4.5 in the layer, 2.4.6 in lock.txt"],
        ),
        (
            {"numpy": "2.4.6", "typing_extensions": "4.16.0", "botocore": "1.44.8"},
            None,
            [
                "botocore==1.44.8 is in the layer but not in lock.txt",
                "botocore is in the layer (the runtime provides it)",
            ],
        ),
        (
            {"numpy": "2.4.6", "typing_extensions": "4.16.0"},
            "numpy/_core/tests/test_x.py",
            ["1 numpy test directories in the layer, e.g. numpy/_core/tests"],
        ),
        (
            {"numpy": "2.4.6", "typing_extensions": "4.16.0"},
            "tally/simulate.py",
            ["tally/simulate.py is in the layer but not in " + "{source}"],
        ),
    ],
)
def test_contents_problems(tmp_path: Path, dists: dict[str, str], extra: str | None, problems: list[str]) -> None:
    lock, source = fake_layer(tmp_path, dists)
    if extra:
        path = tmp_path / "TallyLayer" / "python" / extra
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    expected = [p.replace("{source}", str(source)) for p in problems]
    assert check_build.contents_problems(tmp_path / "TallyLayer", lock, source, "tally") == expected


def test_a_missing_module_is_reported(tmp_path: Path) -> None:
    lock, source = fake_layer(tmp_path, {"numpy": "2.4.6", "typing_extensions": "4.16.0"})
    (tmp_path / "TallyLayer" / "python" / "tally" / "tasks" / "__init__.py").unlink()
    problems = check_build.contents_problems(tmp_path / "TallyLayer", lock, source, "tally")
    assert problems == ["tally/tasks/__init__.py is missing from the layer"]


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], capture_output=True, text=True, env=env, check=False)


def test_the_layer_build_refuses_to_run_without_python_313() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PY313", "ALLOW_NO_PYC")}
    refused = make("-C", str(LAYER), "check-py313", "PY313=/nonexistent/python3.13", env=env)
    assert refused.returncode != 0
    assert "ERROR: no working Python 3.13 to byte-compile the layer (PY313=/nonexistent/python3.13)." in refused.stderr
    allowed = make("-C", str(LAYER), "check-py313", "PY313=/nonexistent/python3.13", "ALLOW_NO_PYC=1", env=env)
    assert allowed.returncode == 0
    assert "the layer ships WITHOUT .pyc" in allowed.stderr
    found = make("-C", str(LAYER), "check-py313", f"PY313={sys.executable}", env=env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == f"layer: byte-compiling with {sys.executable}"


def test_sam_build_is_not_cached() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert "cached" not in config["default"]["build"]["parameters"]


def test_make_lists_every_target() -> None:
    text = "\n".join((ROOT / name).read_text(encoding="utf-8") for name in ("Makefile", "mk/browser.mk"))
    phony = {name for line in re.findall(r"^\.PHONY:(.*)$", text, flags=re.MULTILINE) for name in line.split()}
    listed = set(re.findall(r"^  make (\S+)", make("-C", str(ROOT), "help").stdout, flags=re.MULTILINE))
    assert phony == listed
