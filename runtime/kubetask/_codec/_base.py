"""What every codec shares: the problem a value can have, one conversion's state, the Codec protocol and
the file transfer protocol."""

# ruff: noqa: ARG002 - every codec takes the same arguments; the simple kinds need not all of them
from __future__ import annotations

import os

from kubetask._errors import InputError
from kubetask._hints import show

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any

# How deep a value may nest (lists, dicts, records inside each other). Deeper values are refused as the
# user's mistake, naming this limit, rather than exhausting the interpreter's stack (a RecursionError
# would be a retried SYSTEM failure). Far above any real record; well inside the interpreter's limit.
MAX_DEPTH = 100
# Integers the Kubernetes API keeps exact: it decodes JSON numbers beyond int64 as float64.
INT64_MAX = 2**63 - 1


class ValueProblem(Exception):
    """A value does not fit its type. ``segments`` (innermost first) say where inside the value."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.segments: list[str] = []

    def at(self, segment: str) -> ValueProblem:
        self.segments.append(segment)
        return self

    def path(self, name: str) -> str:
        return name + "".join(reversed(self.segments))


def too_deep() -> ValueProblem:
    return ValueProblem(f"nested deeper than {MAX_DEPTH} levels, the most kubetask accepts in a value")


def is_remote(uri: str) -> bool:
    """A URI some storage holds (``s3://``, ``gs://``, ``data:``...), not a path on this machine."""
    if uri.startswith("data:"):
        return True
    scheme, separator, _ = uri.partition("://")
    return bool(separator) and len(scheme) > 1 and scheme.lower() != "file"


class FileTransfer:
    """Moves file values between URIs and local paths. This one uses local paths as they are."""

    def fetch(self, uri: str, *, directory: bool, key: str) -> str:
        """A local path holding the file (or directory) at *uri*; *key* names the value (for layout)."""
        if "://" in uri and not uri.startswith("file://"):
            raise InputError(f"input '{key}': {uri!r} is remote and this run has no storage to fetch it from")
        return uri.removeprefix("file://")

    def source_uri(self, value: str) -> str | None:
        """The ``uri`` a fetched value remembers (so passing it on as an output does not copy it)."""
        return value

    def store(self, path: str, *, directory: bool, key: str) -> str:
        """The URI under which the local *path* is now stored."""
        return os.path.abspath(path)


class Conversion:
    """One conversion: the file transfer, the path of the file value being converted (tracked only inside
    values that hold files) and whether integers must survive the Kubernetes API (int64)."""

    __slots__ = ("int64", "path", "transfer")

    def __init__(self, transfer: FileTransfer, *, name: str, int64: bool = False) -> None:
        self.transfer = transfer
        self.path = [name]
        self.int64 = int64

    def key(self) -> str:
        return "".join(self.path)


class Codec:
    """One kind of type. Subclasses override what differs; ``decode`` is JSON -> Python, ``encode`` is
    Python -> JSON, ``parse_text`` is command-line text -> JSON."""

    description = "?"
    exact_type: object = None  # values of exactly this type go first in a union
    has_files = False

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        raise NotImplementedError

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        raise NotImplementedError

    def parse_text(self, text: str) -> object:
        """The JSON value for *text* given as ``-i name=text``: JSON for structured types."""
        import json  # only on the command line

        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise ValueProblem(f"expected {self.description} as JSON, got {text!r}") from None

    def shaped_like(self, value: object) -> bool:
        """Whether *value* (JSON or Python) has this container's shape: then only its insides can be wrong."""
        return False

    def children(self) -> list[Codec]:
        return []

    def mismatch(self, value: object, detail: str = "") -> ValueProblem:
        return ValueProblem(f"expected {self.description}{detail}, got {show(value)}")
