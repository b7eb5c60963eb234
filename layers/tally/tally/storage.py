"""Where bytes come from and go to: the :class:`Storage` protocol and its local implementation.

The consolidation core reads and writes through a ``Storage`` and never knows whether it runs in
Lambda (S3, see :mod:`tally.aws`, the only module that imports botocore and boto3) or on a laptop.
Local storage takes plain paths and ``file://`` URIs, and can stand in for S3 by mapping
``s3://bucket/key`` to ``<s3_root>/bucket/key``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from .errors import StorageError

__all__ = ["LocalStorage", "MemoryStorage", "Storage", "join_uri", "split_s3_uri"]


class Storage(Protocol):
    """Byte storage addressed by URI."""

    def read(self, uri: str) -> bytes:
        """The object's bytes; raises :class:`StorageError` (never returns ``None``)."""
        ...

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        """Write (replace) the object."""
        ...

    def modified(self, uri: str) -> datetime:
        """When the object was last written (UTC)."""
        ...


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b")``; raises :class:`StorageError` for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise StorageError("not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def join_uri(prefix: str, *parts: str) -> str:
    """Join URI or path segments with single slashes."""
    out = prefix.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


class LocalStorage:
    """Files on disk: plain paths, ``file://`` URIs, and ``s3://`` URIs under ``s3_root`` if given."""

    def __init__(self, s3_root: str | os.PathLike[str] | None = None) -> None:
        self._s3_root = Path(s3_root) if s3_root is not None else None

    def path_of(self, uri: str) -> Path:
        if uri.startswith("s3://"):
            if self._s3_root is None:
                raise StorageError("s3:// URI given to local storage without an S3 mirror directory")
            bucket, key = split_s3_uri(uri)
            root = (self._s3_root / bucket).resolve()
            path = (root / key).resolve()
            if not path.is_relative_to(root):
                raise StorageError("key escapes its bucket")
            return path
        if uri.startswith("file://"):
            return Path(unquote(urlparse(uri).path))
        if "://" in uri:
            raise StorageError(f"unsupported URI scheme: {uri.split('://', 1)[0]}")
        return Path(uri)

    def read(self, uri: str) -> bytes:
        try:
            return self.path_of(uri).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {uri}: {exc.strerror or type(exc).__name__}") from exc

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        path = self.path_of(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise StorageError(f"cannot write {uri}: {exc.strerror or type(exc).__name__}") from exc

    def modified(self, uri: str) -> datetime:
        try:
            return datetime.fromtimestamp(self.path_of(uri).stat().st_mtime, tz=UTC)
        except OSError as exc:
            raise StorageError(f"cannot stat {uri}: {exc.strerror or type(exc).__name__}") from exc


class MemoryStorage:
    """Objects in a dict (for benchmarks and tests: no disk, no network); every object dates from
    ``modified_at``."""

    def __init__(self, objects: dict[str, bytes] | None = None, modified_at: datetime | None = None) -> None:
        self.objects = dict(objects or {})
        self._modified_at = modified_at or datetime(2026, 1, 1, tzinfo=UTC)

    def read(self, uri: str) -> bytes:
        try:
            return self.objects[uri]
        except KeyError as exc:
            raise StorageError(f"cannot read {uri}: no such object") from exc

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        self.objects[uri] = data

    def modified(self, uri: str) -> datetime:
        if uri not in self.objects:
            raise StorageError(f"cannot stat {uri}: no such object")
        return self._modified_at
