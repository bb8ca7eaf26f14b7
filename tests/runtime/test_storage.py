"""Storage by URI: local paths, file://, data: and fsspec protocols (memory:// here; S3: test_execute_s3)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import kubetask
from kubetask._storage import (
    download,
    is_location_error,
    join,
    local_path,
    read_bytes,
    remove_documents,
    scheme_of,
    upload,
    write_bytes,
)


@pytest.mark.parametrize(
    ("uri", "scheme", "path"),
    [
        pytest.param("/abs/p", None, "/abs/p", id="absolute"),
        pytest.param("rel/p", None, "rel/p", id="relative"),
        pytest.param("file:///abs/p", "file", "/abs/p", id="file-uri"),
        pytest.param("file://localhost/abs/p", "file", "/abs/p", id="file-localhost"),
        pytest.param("file:///with%20space", "file", "/with space", id="percent-encoded"),
        pytest.param("s3://b/k", "s3", None, id="s3"),
        pytest.param("data:,x", "data", None, id="data"),
    ],
)
def test_schemes_and_local_paths(uri: str, scheme: str | None, path: str | None) -> None:
    assert scheme_of(uri) == scheme
    assert local_path(uri) == path


def test_join_works_for_paths_and_uris() -> None:
    assert join("s3://b/run/", "outputs.json") == "s3://b/run/outputs.json"
    assert join("/runs/1", "raw", "o0") == "/runs/1/raw/o0"


def test_local_write_is_atomic_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "doc.json"
    write_bytes(str(target), b"one")
    write_bytes(target.as_uri(), b"two")
    assert target.read_bytes() == b"two"
    assert sorted(os.listdir(target.parent)) == ["doc.json"]  # no partial files left behind


def test_data_uris_are_read_only() -> None:
    assert read_bytes(kubetask.data_uri(b"abc")) == b"abc"
    with pytest.raises(kubetask.StorageLocationError, match="data: URIs are read-only"):
        write_bytes("data:,x", b"y")


def test_file_uri_on_another_host_is_refused() -> None:
    with pytest.raises(kubetask.StorageLocationError, match=r"file:// URIs on another host \('server'\)"):
        read_bytes("file://server/share/x")


def test_memory_protocol_through_fsspec(tmp_path: Path) -> None:
    write_bytes("memory://kubetask-test/doc.json", b"{}")
    assert read_bytes("memory://kubetask-test/doc.json") == b"{}"
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "a").write_text("a")
    (tmp_path / "tree" / "sub" / "b").write_text("b")
    upload(str(tmp_path / "tree"), "memory://kubetask-test/tree", directory=True)
    download("memory://kubetask-test/tree", str(tmp_path / "copy"), directory=True)
    assert (tmp_path / "copy" / "sub" / "b").read_text() == "b"
    assert (tmp_path / "copy" / "a").read_text() == "a"


def test_missing_remote_object_names_the_uri() -> None:
    with pytest.raises(kubetask.StorageLocationError, match="cannot read 'memory://kubetask-test/absent'"):
        read_bytes("memory://kubetask-test/absent")


def test_unknown_protocol_is_named() -> None:
    """A typo in the URI (the user's, not retried), unlike a known protocol whose backend is missing."""
    with pytest.raises(kubetask.StorageLocationError, match="unknown storage protocol 'nosuchproto'"):
        read_bytes("nosuchproto://x/y")


class NoCredentialsError(Exception):
    """Named like botocore's: the runtime recognises SDK credential errors by name, importing none."""


def _chained(error: BaseException) -> BaseException:
    wrapper = RuntimeError("wrapped")
    wrapper.__cause__ = error
    return wrapper


@pytest.mark.parametrize(
    ("error", "location"),
    [
        pytest.param(FileNotFoundError("no key"), True, id="not-found-without-errno"),
        pytest.param(PermissionError("403"), True, id="forbidden"),
        pytest.param(OSError(errno.EROFS, "Read-only file system"), True, id="read-only"),
        pytest.param(OSError(errno.ENOSPC, "No space left on device"), False, id="disk-full"),
        pytest.param(ConnectionError("reset"), False, id="network"),
        pytest.param(TimeoutError("slow"), False, id="timeout"),
        pytest.param(NoCredentialsError("Unable to locate credentials"), True, id="credentials"),
        pytest.param(_chained(NoCredentialsError("x")), True, id="chained-credentials"),
        pytest.param(_chained(ConnectionError("x")), False, id="chained-network"),
    ],
)
def test_location_errors_are_told_from_passing_ones(error: BaseException, location: bool) -> None:
    """A location error will happen again on retry (USER, not recoverable); the others may not."""
    assert is_location_error(error) is location


class Interrupted(BaseException):
    """Stands for kubetask.Terminated, which SIGTERM raises wherever the main thread is."""


def test_an_interrupted_local_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(source: str, destination: str) -> None:
        raise Interrupted  # after the temporary file was written, before the rename

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(Interrupted):
        write_bytes(str(tmp_path / "outputs.json"), b"{}")
    assert os.listdir(tmp_path) == []  # was outputs.json.<pid>.partial


@pytest.mark.parametrize(
    "prefix", [pytest.param("local", id="local"), pytest.param("memory://kubetask-test/rm", id="memory")]
)
def test_remove_documents_removes_those_present_and_ignores_the_others(tmp_path: Path, prefix: str) -> None:
    if prefix == "local":
        prefix = str(tmp_path)
    write_bytes(join(prefix, "error.json"), b"{}")
    write_bytes(join(prefix, "keep.json"), b"{}")
    remove_documents(prefix, ["outputs.json", "error.json", "log.txt"])
    with pytest.raises(kubetask.StorageLocationError):
        read_bytes(join(prefix, "error.json"))
    assert read_bytes(join(prefix, "keep.json")) == b"{}"
