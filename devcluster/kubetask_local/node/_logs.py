"""Container logs kept by the local node in the CRI log format, read back as ``kubectl logs`` asks.

Each line of a container's stdout/stderr is stored as ``<RFC 3339 nano time> <stream> <F|P> <text>`` in
``<pod dir>/logs/<container>.log`` (``P`` marks a partial line, as containerd writes), so ``--timestamps``,
``--since-time``, ``--tail`` and ``--limit-bytes`` can be answered after the process is gone.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


def _timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


class LogWriter:
    """Appends a container's output lines to its log file, flushed line by line so logs can be followed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: BinaryIO = path.open("ab")

    def write_line(self, stream: str, line: bytes) -> None:
        partial = not line.endswith(b"\n")
        text = line if partial else line[:-1]
        self._file.write(f"{_timestamp()} {stream} {'P' if partial else 'F'} ".encode() + text + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class LogOptions:
    """The ``pods/log`` query options the node honours."""

    tail_lines: int | None = None
    timestamps: bool = False
    since_time: datetime.datetime | None = None
    limit_bytes: int | None = None


@dataclass(frozen=True)
class _Entry:
    time: str
    text: bytes
    partial: bool


def _parse(raw: bytes) -> list[_Entry]:
    entries = []
    for record in raw.split(b"\n"):
        parts = record.split(b" ", 3)
        if len(parts) == 4:
            entries.append(_Entry(time=parts[0].decode(), text=parts[3], partial=parts[2] == b"P"))
    return entries


def render(raw: bytes, options: LogOptions) -> bytes:
    """The log as ``kubectl logs`` shows it, from the stored records."""
    entries = _parse(raw)
    if options.since_time is not None:
        since = options.since_time.astimezone(datetime.UTC)
        entries = [entry for entry in entries if _parse_time(entry.time) >= since]
    lines: list[bytes] = []
    pending = b""
    for entry in entries:
        prefix = f"{entry.time} ".encode() if options.timestamps and not pending else b""
        pending += prefix + entry.text
        if not entry.partial:
            lines.append(pending + b"\n")
            pending = b""
    if pending:
        lines.append(pending)
    if options.tail_lines is not None:
        lines = lines[-options.tail_lines :] if options.tail_lines > 0 else []
    out = b"".join(lines)
    return out[: options.limit_bytes] if options.limit_bytes is not None else out


def _parse_time(text: str) -> datetime.datetime:
    # Stored with nanoseconds; Python keeps microseconds.
    return datetime.datetime.strptime(text[:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)


def log_options(params: Mapping[str, str]) -> LogOptions:
    """The options of a ``pods/log`` query (``tailLines``, ``timestamps``, ``sinceSeconds``/``sinceTime``,
    ``limitBytes``); values that do not parse are ignored, as the API server validates them first."""
    since: datetime.datetime | None = None
    with contextlib.suppress(ValueError):
        if "sinceTime" in params:
            since = datetime.datetime.fromisoformat(params["sinceTime"].replace("Z", "+00:00"))
        elif "sinceSeconds" in params:
            since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
                seconds=int(params["sinceSeconds"])
            )
    return LogOptions(
        tail_lines=_int(params.get("tailLines")),
        timestamps=params.get("timestamps", "").lower() in ("true", "1"),
        since_time=since,
        limit_bytes=_int(params.get("limitBytes")),
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def read_log(path: Path, options: LogOptions) -> bytes:
    return render(path.read_bytes(), options) if path.exists() else b""
