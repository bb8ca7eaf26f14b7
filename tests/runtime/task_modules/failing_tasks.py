"""Tasks that fail in every way kubetask-execute must report."""

from __future__ import annotations

import sys
import time

import kubetask

not_a_task = 42


def plain_function(x: int) -> int:
    return x


class Oops(Exception):
    """A user's own exception class."""


def _parse(text: str) -> int:
    return int(text)


@kubetask.task
def raises_chained(text: str) -> int:
    try:
        return _parse(text)
    except ValueError as error:
        raise Oops(f"could not parse {text!r}") from error


@kubetask.task
def asks_for_retry() -> int:
    raise kubetask.RecoverableError("the database is warming up")


@kubetask.task
def wrong_output() -> int:
    return "three"  # type: ignore[return-value]


@kubetask.task
def huge_error(size: int) -> None:
    raise RuntimeError("x" * size)


@kubetask.task
def deep_recursion(depth: int) -> int:
    return deep_recursion.function(depth + 1)


@kubetask.task
def exits(code: int) -> None:
    sys.exit(code)


@kubetask.task
def sleeps(seconds: float) -> str:
    print("ready", flush=True)
    time.sleep(seconds)
    return "woke up"


@kubetask.task
def swallows_everything(seconds: float) -> str:
    try:
        print("ready", flush=True)  # inside the try: the signal may come as soon as this is read
        time.sleep(seconds)
    except Exception:
        return "swallowed"
    return "woke up"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


@kubetask.task
def raises_unprintable() -> None:
    raise Unprintable()
