"""The smallest task: one typed input, one typed output.

kubetask run examples/hello/hello.py:hello -i name=world
"""

import kubetask


@kubetask.task
def hello(name: str) -> str:
    """Greet someone."""
    return f"Hello, {name}!"
