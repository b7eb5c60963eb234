"""What every command shares: exit codes, errors, storage for local paths and ``s3://`` URIs,
settings with command-line overrides, JSON files that name themselves in errors, progress and
all-or-nothing output directories."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..errors import StorageError
from ..settings import Settings
from ..storage import LocalStorage, Storage
from ..text import counted
from ._exit_codes import ExitCode

__all__ = [
    "NO_CREDENTIALS",
    "CliStorage",
    "ExitCode",
    "InputError",
    "buckets_under",
    "build_settings",
    "configure_logging",
    "counted",
    "current_verbosity",
    "deferred_interrupt",
    "input_file",
    "load_json",
    "progress_bar",
    "replace_settings",
]


class InputError(click.ClickException):
    """An input that cannot be used (missing file, bad JSON, bad template): exit code 3."""

    exit_code = ExitCode.INPUT


def load_json(data: bytes | str, name: str) -> Any:
    """Parse JSON, naming the file (``name``) in the error."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc


def input_file(path: Path) -> Path:
    """``path``, when it is a file to read; else an :class:`InputError` (exit 3, as in every command)."""
    if path.is_dir():
        raise InputError(f"cannot read {path}: it is a directory, not a file")
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    return path


def buckets_under(s3_root: str | None) -> tuple[str, ...]:
    """The bucket names an S3 mirror directory holds (its sub-directories)."""
    if s3_root is None:
        return ()
    root = Path(s3_root)
    if not root.is_dir():
        raise click.BadParameter(f"{s3_root} is not a directory", param_hint="'--s3-root'")
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    """Settings with some fields changed (a dataclass today, a pydantic model soon)."""
    copy = getattr(settings, "model_copy", None)
    if copy is not None:
        result: Settings = copy(update=changes)
        return result
    return dataclasses.replace(settings, **changes)


def build_settings(**overrides: Any) -> Settings:
    """``Settings.from_env()`` with the command line's overrides (``None`` values are left out)."""
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a bad setting is a bad option value: exit 2, before any work
        raise click.UsageError(f"bad TALLY_* environment variable: {exc}") from exc
    return replace_settings(settings, **{k: v for k, v in overrides.items() if v is not None})


NO_CREDENTIALS = (
    "no AWS credentials to read s3:// URIs with: give --s3-root DIR (a local copy of the buckets, "
    "s3://BUCKET/KEY as DIR/BUCKET/KEY) or configure AWS credentials"
)


class CliStorage:
    """Local files, plus ``s3://`` URIs read from an S3 mirror directory (``s3_root``) or, without
    one, from real S3 with your AWS credentials (needs boto3).

    Writes to local paths under ``out`` go to ``staging`` instead (same relative path), so a run can
    build its output aside and move it into place only when it is complete. ``preload`` keeps one
    object's bytes so that it is not read twice.
    """

    def __init__(self, s3_root: str | None, *, out: Path | None = None, staging: Path | None = None) -> None:
        self._local = LocalStorage(s3_root)
        self._mirror = s3_root is not None
        self._s3: Storage | None = None
        self._out = out.resolve() if out is not None else None
        self._staging = staging
        self._preloaded: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._s3_error: str | None = None

    def _for(self, uri: str) -> Storage:
        if not uri.startswith("s3://") or self._mirror:
            return self._local
        with self._lock:
            if self._s3_error is not None:
                raise StorageError(self._s3_error)
            if self._s3 is None:
                try:
                    from .. import aws  # botocore only when S3 is really needed
                except ImportError as exc:
                    self._s3_error = "reading s3:// URIs needs boto3 (pip install tally[aws]) or --s3-root"
                    raise StorageError(self._s3_error) from exc
                session = aws.own_session()
                if session.get_credentials() is None:  # found before any request (S3 would retry for seconds)
                    self._s3_error = NO_CREDENTIALS
                    raise StorageError(self._s3_error)
                self._s3 = aws.s3_storage(session)
            return self._s3

    def _staged(self, uri: str) -> str:
        if self._out is None or self._staging is None or "://" in uri:
            return uri
        path = Path(uri).resolve()
        if path.is_relative_to(self._out):
            return str(self._staging / path.relative_to(self._out))
        return uri

    def staged(self, out: Path, staging: Path) -> CliStorage:
        """The same storage (and preloaded bytes), writing what goes under ``out`` to ``staging``."""
        other = CliStorage(None, out=out, staging=staging)
        other._local, other._mirror, other._preloaded = self._local, self._mirror, self._preloaded
        return other

    def preload(self, uri: str, data: bytes) -> None:
        self._preloaded[uri] = data

    def read(self, uri: str) -> bytes:
        data = self._preloaded.pop(uri, None)
        if data is not None:
            return data
        return self._for(uri).read(uri)

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        self._for(uri).write(self._staged(uri), data, content_type)

    def modified(self, uri: str) -> datetime:
        return self._for(uri).modified(uri)

    def local_path(self, uri: str) -> Path | None:
        """The file behind ``uri`` when it is on disk (a path, ``file://`` or a mirrored ``s3://``)."""
        if uri.startswith("s3://") and not self._mirror:
            return None
        try:
            return self._local.path_of(uri)
        except StorageError:
            return None


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back while a few renames put finished output into place, then deliver it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


@contextlib.contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A scratch directory next to ``out`` (same file system, so renames are atomic), removed on exit."""
    out.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{out.name}.tally-", dir=out.parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def replace_outputs(staging: Path, out: Path, names: tuple[str, ...]) -> None:
    """Move ``names`` from ``staging`` into ``out``, replacing older ones: old files leave first and
    the new ones arrive in the order given (the index file last), so an interruption never leaves an
    old index beside new files."""
    out.mkdir(parents=True, exist_ok=True)
    trash = staging / ".replaced"
    trash.mkdir(exist_ok=True)
    with deferred_interrupt():
        for name in reversed(names):
            old = out / name
            if old.exists() or old.is_symlink():
                old.rename(trash / name)
        for name in names:
            new = staging / name
            if new.exists():
                new.rename(out / name)


class _ExtrasFormatter(logging.Formatter):
    """Log lines with the object and worker they are about (the core passes them as ``extra``)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        about = [f"{key}={getattr(record, key)}" for key in ("datasetObjectId", "workerId") if hasattr(record, key)]
        return f"{text} [{' '.join(about)}]" if about else text


def configure_logging(verbose: int) -> None:
    """The consolidation's own log on stderr: errors only by default (the commands report rejected
    answers and failed objects themselves, naming object and worker), ``-v`` warnings, ``-vv`` every
    object. Also called in worker processes, with the parent's ``verbose``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ExtrasFormatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.ERROR if verbose <= 0 else logging.WARNING if verbose == 1 else logging.INFO)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_tally_cli", False):
            root.removeHandler(old)
    handler._tally_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    logging.getLogger("tally").setLevel(logging.INFO)


def current_verbosity() -> int:
    """The ``verbose`` that :func:`configure_logging` was last called with (0 when it was not)."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_tally_cli", False):
            return {logging.ERROR: 0, logging.WARNING: 1}.get(handler.level, 2)
    return 0


def stderr_console() -> Console:
    return Console(file=sys.stderr, stderr=True)


def progress_bar(enabled: bool | None, console: Console) -> Progress:
    """A per-item progress bar on stderr; ``enabled=None``: only when stderr is a terminal."""
    show = console.is_terminal if enabled is None else enabled
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
        transient=False,
    )


def count_lines(path: Path) -> int:
    """Non-blank lines of a file (a manifest's records)."""
    with path.open("rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def write_atomically(out: Path, write: Callable[[Any], None]) -> None:
    """Write ``out`` through a temporary file beside it, renamed into place only when complete (an
    interrupted run leaves ``out`` as it was)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            write(fh)
        with deferred_interrupt():
            os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
