"""Typed arithmetic: inputs converted by their type hints, several outputs, defaults, a variable binding.

kubetask run examples/arithmetic/arithmetic.py:add -i a=2 -i b=3
kubetask run examples/arithmetic/arithmetic.py:divide -i a=17 -i b=5
kubetask run examples/arithmetic/arithmetic.py:summarize -i 'values=[1.5, 2.5, 5]'
"""

from typing import NamedTuple

import kubetask


@kubetask.task
def add(a: int, b: int) -> int:
    """The sum of two integers."""
    return a + b


@kubetask.task(retries=1, timeout=30)
def divide(a: int, b: int) -> tuple[int, int]:
    """Quotient and remainder: a tuple gives outputs o0 and o1."""
    return divmod(a, b)


class Summary(NamedTuple):
    count: int
    total: float
    mean: float


@kubetask.task
def summarize(values: list[float], scale: float = 1.0) -> Summary:
    """A NamedTuple gives outputs named after its fields."""
    scaled = [value * scale for value in values]
    return Summary(count=len(scaled), total=sum(scaled), mean=sum(scaled) / len(scaled))


def power(base: float, exponent: int = 2) -> float:
    return float(base**exponent)


# A task bound to a name other than its function's: it is found by the name it is bound to.
square = kubetask.task(power)
