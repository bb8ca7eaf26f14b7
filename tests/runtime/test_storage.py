"""Storage by URI: local paths, file://, data: and fsspec protocols (memory:// here; S3: test_execute_s3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kubetask
from kubetask._storage import download, join, local_path, read_bytes, scheme_of, upload, write_bytes


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
    with pytest.raises(kubetask.StorageError, match="data: URIs are read-only"):
        write_bytes("data:,x", b"y")


def test_file_uri_on_another_host_is_refused() -> None:
    with pytest.raises(kubetask.StorageError, match=r"file:// URIs on another host \('server'\)"):
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
    with pytest.raises(kubetask.StorageError, match="cannot read 'memory://kubetask-test/absent'"):
        read_bytes("memory://kubetask-test/absent")


def test_unknown_protocol_is_named() -> None:
    with pytest.raises(kubetask.StorageError, match="unknown storage protocol 'nosuchproto'"):
        read_bytes("nosuchproto://x/y")
