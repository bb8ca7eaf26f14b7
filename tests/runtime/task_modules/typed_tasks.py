"""Tasks for the subprocess tests of kubetask-execute: one per supported type, and the output shapes."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
import pathlib
import tempfile
from typing import NamedTuple, Optional, Union

import kubetask


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Address:
    city: str
    zip_code: int


@dataclasses.dataclass
class Person:
    name: str
    address: Address
    tags: list[str] = dataclasses.field(default_factory=list)
    born: datetime.date | None = None
    favourite: Color = Color.GREEN


class Stats(NamedTuple):
    mean: float
    count: int


@kubetask.task
def echo_bool(x: bool) -> bool:
    return x


@kubetask.task
def echo_int(x: int) -> int:
    return x


@kubetask.task
def echo_float(x: float) -> float:
    return x


@kubetask.task
def echo_str(x: str) -> str:
    return x


@kubetask.task
def echo_none(x: None) -> None:
    return x


@kubetask.task
def echo_optional(x: Optional[int] = None) -> Optional[int]:  # noqa: UP045 - typing.Optional on purpose
    return x


@kubetask.task
def echo_union(x: Union[int, str]) -> Union[int, str]:  # noqa: UP007 - typing.Union on purpose
    return x


@kubetask.task
def echo_pipe_union(x: float | str | None) -> float | str | None:
    return x


@kubetask.task
def echo_list(x: list[int]) -> list[int]:
    return x


@kubetask.task
def echo_dict(x: dict[str, float]) -> dict[str, float]:
    return x


@kubetask.task
def echo_tuple(x: tuple[int, str]) -> tuple[tuple[int, str]]:
    return (x,)


@kubetask.task
def echo_variadic_tuple(x: tuple[int, ...]) -> tuple[int, ...]:
    return x


@kubetask.task
def echo_enum(x: Color) -> Color:
    return x


@kubetask.task
def echo_int_enum(x: Level) -> Level:
    return x


@kubetask.task
def echo_datetime(x: datetime.datetime) -> datetime.datetime:
    return x + datetime.timedelta(hours=1)


@kubetask.task
def echo_date(x: datetime.date) -> datetime.date:
    return x + datetime.timedelta(days=1)


@kubetask.task
def echo_timedelta(x: datetime.timedelta) -> datetime.timedelta:
    return x * 2


@kubetask.task
def echo_bytes(x: bytes) -> bytes:
    return x[::-1]


@kubetask.task
def echo_person(x: Person) -> Person:
    return dataclasses.replace(x, tags=[*x.tags, "seen"])


@kubetask.task
def describe_person(x: Person) -> str:
    return f"{x.name} from {x.address.city} ({type(x.address).__name__}, {x.favourite.name})"


@kubetask.task
def divide(a: int, b: int) -> tuple[int, int]:
    return divmod(a, b)


@kubetask.task
def stats(xs: list[float]) -> Stats:
    return Stats(mean=sum(xs) / len(xs), count=len(xs))


@kubetask.task
def nothing() -> None:
    return None


@kubetask.task
def with_defaults(a: int, b: int = 10, *, c: str = "c") -> str:
    return f"{a}-{b}-{c}"


@kubetask.task
def untyped(x, y=2):  # type: ignore[no-untyped-def]
    return {"sum": x + y}


@kubetask.task
def positional_only(a: int, /, b: int) -> int:
    return a - b


@kubetask.task
def read_file(document: kubetask.File) -> str:
    return document.read_text()


@kubetask.task
def shout_file(document: kubetask.File) -> kubetask.File:
    out = os.path.join(tempfile.mkdtemp(), "shout.txt")
    with open(out, "w") as stream:
        stream.write(document.read_text().upper())
    return kubetask.File(out)


@kubetask.task
def pass_file(document: kubetask.File) -> kubetask.File:
    return document


@kubetask.task
def list_directory(folder: kubetask.Directory) -> list[str]:
    return [os.path.relpath(f.path, folder.path) for f in folder.files()]


@kubetask.task
def make_directory(count: int) -> kubetask.Directory:
    root = tempfile.mkdtemp()
    for index in range(count):
        os.makedirs(os.path.join(root, f"part{index}"), exist_ok=True)
        with open(os.path.join(root, f"part{index}", "data.txt"), "w") as stream:
            stream.write(str(index))
    return kubetask.Directory(root)


@kubetask.task
def reverse_path(source: pathlib.Path) -> pathlib.Path:
    target = pathlib.Path(tempfile.mkdtemp()) / "reversed.txt"
    target.write_text(source.read_text()[::-1])
    return target


@kubetask.task
def context_report() -> dict[str, object]:
    context = kubetask.current_context()
    return {
        "attempt": context.attempt,
        "run_name": context.run_name,
        "namespace": context.namespace,
        "task_name": context.task_name,
        "checkpoint_path": context.checkpoint_path,
        "prev_checkpoint": context.prev_checkpoint,
        "output_prefix": context.output_prefix,
        "raw_output_data_prefix": context.raw_output_data_prefix,
    }


@kubetask.task
def chatty(x: int) -> int:
    print("stdout from the task", flush=True)
    print("stderr from the task", file=__import__("sys").stderr, flush=True)
    return x


@kubetask.task
def untyped_pair(x):  # type: ignore[no-untyped-def]
    return x, [x]
