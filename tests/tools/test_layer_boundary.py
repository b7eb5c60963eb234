"""The Lambda handlers never import the command line, the importers it uses, or its extra's packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.project import ROOT

_PROBE = """
import importlib.util, json, sys
for name in ("consolidation", "pre_annotation"):
    spec = importlib.util.spec_from_file_location(f"fn_{name}", f"functions/{name}/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("click", "rich", "liquid") or m.startswith(("tally.tools", "tally.importers")))))
"""


def test_handlers_import_nothing_of_the_cli() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "tally"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "tally",
        "POWERTOOLS_METRICS_NAMESPACE": "tally",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_without_the_cli_extra_tally_says_how_to_install_it() -> None:
    probe = "import sys; sys.modules['click'] = None; from tally.tools.cli import main; main()"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "tally")}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 3
    assert done.stderr == "tally: the command line needs the 'cli' extra (click is missing): pip install 'tally[cli]'\n"
