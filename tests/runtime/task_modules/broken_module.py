"""A task module that fails while being imported."""

import kubetask

CONFIG = {"a": 1}
VALUE = CONFIG["missing"]


@kubetask.task
def never(x: int) -> int:
    return x
