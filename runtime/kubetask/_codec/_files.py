"""The codec of file values: ``kubetask.File``, ``kubetask.Directory`` and ``pathlib.Path``."""

# ruff: noqa: ARG002 - every codec takes the same arguments; the simple kinds need not all of them
from __future__ import annotations

import os

from kubetask._codec._base import Codec, Conversion, ValueProblem, is_remote
from kubetask._files import Directory, File

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any


class FileCodec(Codec):
    """kubetask.File, kubetask.Directory and pathlib.Path: a URI in JSON, a local path in the task."""

    has_files = True

    def __init__(self, hint: Any) -> None:
        self.type = hint
        self.directory = hint is Directory
        self.kubetask_type = hint is File or hint is Directory
        self.description = f"kubetask.{hint.__name__}" if self.kubetask_type else hint.__qualname__

    def shaped_like(self, value: object) -> bool:
        return isinstance(value, str | os.PathLike)

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, str) or not value:
            raise self.mismatch(value, " (a URI or path)")
        transfer = conversion.transfer
        local = transfer.fetch(value, directory=self.directory, key=conversion.key())
        if self.kubetask_type:
            return self.type(local, uri=transfer.source_uri(value))
        return self.type(local)

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, File | Directory):
            if self.kubetask_type and not isinstance(value, self.type):
                raise self.mismatch(value)
            if value.uri is not None:
                return value.uri  # passed through unchanged: it is already stored
            local = value.path
        elif isinstance(value, str) and value and is_remote(value):
            return value  # already stored: a pod reads it from there
        elif isinstance(value, str | os.PathLike) and os.fspath(value):
            local = os.fspath(value)
        else:
            raise self.mismatch(value, " (a local path)")
        local = local.removeprefix("file://")
        directory = self.directory or (not self.kubetask_type and os.path.isdir(local))
        if not os.path.exists(local):
            raise ValueProblem(f"{local!r} does not exist")
        if directory != os.path.isdir(local):
            kind = "directory" if directory else "file"
            raise ValueProblem(f"expected a {kind}, but {local!r} is not one")
        return conversion.transfer.store(local, directory=directory, key=conversion.key())

    def parse_text(self, text: str) -> object:
        return text
