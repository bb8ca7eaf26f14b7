"""A task module whose own import fails."""

import no_such_dependency_for_kubetask_tests  # noqa: F401

import kubetask


@kubetask.task
def never(x: int) -> int:
    return x
