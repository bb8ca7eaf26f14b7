"""File values through storage: inputs downloaded to a scratch directory, outputs uploaded under the raw
output data prefix at ``<prefix>/<output path>/<file name>``."""

from __future__ import annotations

import os

from kubetask._codec import FileTransfer
from kubetask._errors import InputError
from kubetask._storage import download, join, local_path, upload

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def key_segments(key: str) -> list[str]:
    """``"report.pages[0]"`` -> ``["report.pages_0_"]``: a value's path as safe path segments."""
    cleaned = "".join(character if character in _SAFE else "_" for character in key).strip(".")
    return [cleaned or "value"]


class StorageTransfer(FileTransfer):
    """Local inputs are used in place; remote ones are downloaded. Outputs are uploaded."""

    def __init__(self, *, raw_output_prefix: str) -> None:
        self.raw_output_prefix = raw_output_prefix
        self._scratch: str | None = None

    def fetch(self, uri: str, *, directory: bool, key: str) -> str:
        path = local_path(uri)
        if path is not None:
            if not os.path.exists(path):
                raise InputError(f"input '{key}': {uri!r} does not exist")
            if directory != os.path.isdir(path):
                raise InputError(f"input '{key}': expected a {'directory' if directory else 'file'}: {uri!r}")
            return os.path.abspath(path)
        name = uri.rstrip("/").rsplit("/", 1)[-1] if not uri.startswith("data:") else "data"
        target = os.path.join(self.scratch(), *key_segments(key), name or "data")
        download(uri, target, directory=directory)
        return target

    def store(self, path: str, *, directory: bool, key: str) -> str:
        segments = key_segments(key)
        if not directory:  # a file keeps its name; a directory's contents go right under the value's path
            segments.append(os.path.basename(os.path.abspath(path)))
        uri = join(self.raw_output_prefix, *segments)
        upload(path, uri, directory=directory)
        return uri

    def scratch(self) -> str:
        """A private directory for downloads, made on first use."""
        if self._scratch is None:
            import tempfile  # only when a remote file input is used

            self._scratch = tempfile.mkdtemp(prefix="kubetask-inputs-")
        return self._scratch

    def clean_up(self) -> None:
        if self._scratch is not None:
            import shutil  # only when files were downloaded

            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
