"""Every bench script (and scripts/*) runs from the repo root, or anywhere, without PYTHONPATH: a script
that imports the repo's own `tests` or `bench` packages puts the repo's root on sys.path first."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*(ROOT / "bench").glob("*.py"), *(ROOT / "scripts").glob("*.py")])


def _repo_imports(tree: ast.Module) -> list[int]:
    """Lines importing the repo's `tests` or `bench` packages, anywhere in the module."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(n.split(".")[0] in ("tests", "bench") for n in names):
            lines.append(node.lineno)
    return lines


def _root_on_path(tree: ast.Module) -> int | None:
    """The line of a module-level ``sys.path.insert(0, ...)``, if any."""
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "sys.path.insert":
            return node.lineno
    return None


def test_a_script_importing_the_repo_puts_its_root_on_the_path_first() -> None:
    missing = []
    for path in SCRIPTS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = _repo_imports(tree)
        inserted = _root_on_path(tree)
        if imports and (inserted is None or inserted > min(imports)):
            missing.append(path.relative_to(ROOT).as_posix())
    assert missing == []


def test_the_vote_digest_runs_without_pythonpath(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "vote_digest.py"), "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: vote_digest.py")
