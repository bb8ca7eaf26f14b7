"""TARGET of ``kubetask submit``: ``path/to/module.py:task`` or ``package.module:task``, loaded here so the
client can read the task's interface and its resolver's loader args.

A file is imported under the dotted name a pod will use: its stem, prefixed by the packages
(directories with ``__init__.py``) it sits in, with the folder above them on ``sys.path``, as
``kubetask run`` and ``python -m`` do.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import kubetask
from kubetask_client._errors import ClientUsageError

_EXPECTED = "expected 'path/to/module.py:task' or 'package.module:task'"


def module_for_file(path: Path) -> tuple[Path, str]:
    """(import root, dotted module name) of the Python file ``path``."""
    path = path.resolve()
    if path.suffix != ".py" or not path.stem.isidentifier():
        raise ClientUsageError(f"TARGET: {str(path)!r} is not an importable Python file ({_EXPECTED})")
    parts = [] if path.stem == "__init__" else [path.stem]
    root = path.parent
    while (root / "__init__.py").is_file() and root.name.isidentifier():
        parts.insert(0, root.name)
        root = root.parent
    return root, ".".join(parts)


def load_target(target: str) -> kubetask.Task[..., Any]:
    location, colon, attribute = target.rpartition(":")
    if not colon or not location or not attribute.isidentifier():
        raise ClientUsageError(f"TARGET: {_EXPECTED}, got {target!r}")
    if location.endswith(".py") or "/" in location:
        path = Path(location)
        if not path.is_file():
            raise ClientUsageError(f"TARGET: no such file {location!r} ({_EXPECTED})")
        root, module_name = module_for_file(path)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    else:
        module_name = location
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ClientUsageError(f"TARGET {target!r}: cannot import module {module_name!r}: {error}") from None
    found = getattr(module, attribute, None)
    if not isinstance(found, kubetask.Task):
        tasks = sorted(name for name, value in vars(module).items() if isinstance(value, kubetask.Task))
        what = "has no attribute" if found is None else f"has {type(found).__name__} {found!r} as"
        raise ClientUsageError(
            f"TARGET {target!r}: module {module_name!r} {what} {attribute!r}, not a @kubetask.task; "
            f"its tasks: {', '.join(tasks) or 'none'}"
        )
    return found
