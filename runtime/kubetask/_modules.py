"""Finding and importing the modules that hold tasks.

A module run as a script is ``__main__``, which a pod cannot import: its real dotted name comes from its
file path, walking up through packages (directories with ``__init__.py``).
"""

from __future__ import annotations

import os
import sys

from kubetask._errors import TaskDefinitionError, TaskLoadError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from types import ModuleType


def module_name_for_file(path: str) -> tuple[str, str]:
    """``(import root, dotted module name)`` of the Python file at *path*."""
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    stem, extension = os.path.splitext(filename)
    if extension != ".py" or not stem.isidentifier():
        raise TaskDefinitionError(
            f"{path!r} cannot be imported as a module: expected a file named like 'name.py' with a valid "
            "Python identifier as its name"
        )
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        if not package.isidentifier():
            raise TaskDefinitionError(f"package directory {package!r} of {path!r} is not a valid module name")
        parts.insert(0, package)
    if not parts:
        raise TaskDefinitionError(f"{path!r} is a package's __init__.py at the file system root")
    return directory, ".".join(parts)


def real_module_name(module_name: str) -> str:
    """The importable name of *module_name*: ``__main__`` is named after its file (or ``-m`` target)."""
    if module_name != "__main__":
        return module_name
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return str(spec.name).removesuffix(".__main__")  # `python -m pkg.mod`
    filename = getattr(main, "__file__", None)
    if not filename:
        raise TaskDefinitionError(
            "tasks defined in an interactive session or notebook (__main__ without a file) cannot be loaded "
            "by name: define them in a module"
        )
    return module_name_for_file(filename)[1]


def import_task_module(name: str) -> ModuleType:
    """Import *name* with the working directory on ``sys.path``, as ``python -m`` would."""
    working_directory = os.getcwd()
    if working_directory not in sys.path and "" not in sys.path:
        sys.path.insert(0, working_directory)
    try:
        __import__(name)  # importlib.import_module without importing importlib (and warnings)
        return sys.modules[name]
    except ImportError as error:
        raise TaskLoadError(
            f"cannot import task module {name!r}: {error} (sys.path: {sys.path!r})"
        ) from error
    except Exception as error:
        raise TaskLoadError(
            f"importing task module {name!r} raised {type(error).__name__}: {error}"
        ) from error
