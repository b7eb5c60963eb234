"""Local and in-memory storage, and URI helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tally.errors import StorageError
from tally.storage import LocalStorage, MemoryStorage, join_uri, split_s3_uri


def test_s3_uris_map_into_the_mirror_and_cannot_escape_it(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("s3://bucket/a/b.png", b"x", "image/png")
    assert (tmp_path / "bucket" / "a" / "b.png").read_bytes() == b"x"
    assert storage.read("s3://bucket/a/b.png") == b"x"
    with pytest.raises(StorageError, match="escapes its bucket"):
        storage.read("s3://bucket/../other/secret")


def test_paths_and_file_uris(tmp_path: Path) -> None:
    storage = LocalStorage()
    target = tmp_path / "dir with space" / "f.json"
    storage.write(f"file://{target}", b"{}", "application/json")
    assert storage.read(str(target)) == b"{}"
    assert storage.modified(str(target)).tzinfo is not None
    with pytest.raises(StorageError, match="without an S3 mirror"):
        storage.read("s3://bucket/key")
    with pytest.raises(StorageError, match="unsupported URI scheme: https"):
        storage.read("https://example.com/x")
    with pytest.raises(StorageError, match="cannot read"):
        storage.read(str(tmp_path / "missing"))


def test_memory_storage() -> None:
    storage = MemoryStorage({"s3://b/k": b"v"})
    assert storage.read("s3://b/k") == b"v"
    storage.write("s3://b/new", b"n", "text/plain")
    assert storage.modified("s3://b/new") == storage.modified("s3://b/k")
    with pytest.raises(StorageError, match="no such object"):
        storage.read("s3://b/missing")


def test_uri_helpers() -> None:
    assert split_s3_uri("s3://bucket/a/b") == ("bucket", "a/b")
    with pytest.raises(StorageError):
        split_s3_uri("s3://bucket")
    assert join_uri("s3://b/prefix/", "/x/", "y.png") == "s3://b/prefix/x/y.png"
