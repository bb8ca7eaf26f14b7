"""``kubetask.File`` and ``kubetask.Directory``: task inputs and outputs that are files, not values.

An input given as a URI is downloaded before the task runs and the task sees a local path; an output is
uploaded under the raw output data prefix and reported by URI. ``uri`` remembers where a value came from,
so passing an input through as an output does not copy it again.
"""

from __future__ import annotations

import os

from kubetask._frozen import Frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import IO, Any


class _LocalPath(Frozen, os.PathLike[str]):
    __slots__ = ("path", "uri")

    path: str
    uri: str | None

    def __init__(self, path: str | os.PathLike[str], *, uri: str | None = None) -> None:
        local = os.fspath(path)
        if not isinstance(local, str) or not local:
            raise TypeError(f"path: expected a non-empty str or os.PathLike, got {path!r}")
        if uri is not None and (not isinstance(uri, str) or not uri):
            raise TypeError(f"uri: expected a non-empty str or None, got {uri!r}")
        self._set_fields(path=local, uri=uri)

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        source = f", uri={self.uri!r}" if self.uri is not None else ""
        return f"{type(self).__name__}({self.path!r}{source})"

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/"))


class File(_LocalPath):
    """A file a task reads or produces; ``open()`` it or use it wherever a path is accepted."""

    __slots__ = ()

    def open(self, mode: str = "r", encoding: str | None = None) -> IO[Any]:
        """``open(self.path, mode)``: the caller closes it (``with file.open() as stream: ...``)."""
        return open(self.path, mode, encoding=encoding)

    def read_bytes(self) -> bytes:
        with open(self.path, "rb") as stream:
            return stream.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        with open(self.path, encoding=encoding) as stream:
            return stream.read()


class Directory(_LocalPath):
    """A directory a task reads or produces."""

    __slots__ = ()

    def files(self) -> list[File]:
        """Every regular file below the directory, sorted by path."""
        found = [File(os.path.join(root, name)) for root, _, names in os.walk(self.path) for name in names]
        return sorted(found, key=lambda file: file.path)
