"""The value codec: one class per kind of type, each knowing its values both ways and on the command line.

A task's type hint is compiled once into a tree of codecs (cached per hint), and every consumer uses that
tree: the pod decodes inputs and encodes outputs, the client encodes inputs for submission and checks them
before creating anything, ``-i name=value`` is parsed by it. A hint is supported exactly when it compiles.

Errors inside a value are raised as ValueProblem with the detail (``expected int, got '3' (str)``); the
path inside the value (``.lines[1].quantity``) is collected while the exception unwinds, so the success path
builds no path strings. The caller (the Interface) turns it into InputError, OutputError or UsageError
naming the input or output. Values nested deeper than MAX_DEPTH are refused with a problem naming the limit.

Modules for particular types (datetime, dataclasses, pathlib) are imported only for hints that use them,
which the task module has already imported: this module is on ``kubetask-execute``'s cold path.
"""

from __future__ import annotations

from kubetask._codec._base import (
    INT64_MAX,
    MAX_DEPTH,
    Codec,
    Conversion,
    FileTransfer,
    ValueProblem,
    is_remote,
)
from kubetask._codec._compile import SUPPORTED, codec_for

__all__ = [
    "INT64_MAX",
    "MAX_DEPTH",
    "SUPPORTED",
    "Codec",
    "Conversion",
    "FileTransfer",
    "ValueProblem",
    "codec_for",
    "is_remote",
]
