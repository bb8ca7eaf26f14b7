"""Failures as kubetask reports them: a user error with its chained cause (not retried), and an
output that does not match its type.

    kubetask run examples/failing/failing.py:parse_age -i text=forty-two     # exit 1, USER error
"""

import kubetask


class InvalidAge(ValueError):
    """The input is not an age."""


@kubetask.task(retries=3)
def parse_age(text: str) -> int:
    """Parse an age; a bad one is the caller's fault, so retries do not apply (not recoverable)."""
    try:
        age = int(text)
    except ValueError as error:
        raise InvalidAge(f"{text!r} is not an age") from error
    if not 0 <= age <= 150:
        raise InvalidAge(f"{age} is out of range 0..150")
    return age


@kubetask.task
def broken_promise() -> int:
    """Annotated to return an int, returns a str: an OutputError naming the output."""
    return "forty-two"  # type: ignore[return-value]
