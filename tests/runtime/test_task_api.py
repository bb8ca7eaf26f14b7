"""``@kubetask.task``: options, validation, the typed interface, and calling the task directly."""

from __future__ import annotations

import datetime
import pathlib
from typing import NamedTuple, Optional

import pytest

import kubetask
from kubetask._interface import REQUIRED, describe


def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    More words."""
    return a + b


def test_bare_decorator_makes_a_task_that_still_runs_the_function() -> None:
    task = kubetask.task(add)
    assert isinstance(task, kubetask.Task)
    assert task(1) == 3
    assert task(1, b=5) == 6
    assert task.function is add
    assert (task.retries, task.timeout, task.resolver) == (0, None, None)
    assert task.description == "Add two numbers."
    assert task.__name__ == "add"
    assert task.__doc__ == add.__doc__


def test_decorator_with_options() -> None:
    task = kubetask.task(name="math.add", retries=3, timeout=datetime.timedelta(minutes=2), description="d")(
        add
    )
    assert (task.name, task.retries, task.timeout, task.description) == ("math.add", 3, 120.0, "d")


def test_default_name_is_module_dot_function() -> None:
    assert kubetask.task(add).name == f"{__name__}.add"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"retries": -1}, "retries: expected an int >= 0, got -1 (int)", id="negative-retries"),
        pytest.param({"retries": True}, "retries: expected an int >= 0, got True (bool)", id="bool-retries"),
        pytest.param({"retries": "3"}, "retries: expected an int >= 0, got '3' (str)", id="str-retries"),
        pytest.param(
            {"timeout": 0}, "timeout: expected a positive number of seconds or a timedelta, got 0", id="zero"
        ),
        pytest.param(
            {"timeout": "1m"},
            "timeout: expected a positive number of seconds or a timedelta, got '1m'",
            id="str-timeout",
        ),
        pytest.param({"name": ""}, "name: expected a non-empty str, got ''", id="empty-name"),
    ],
)
def test_bad_options_are_named(options: dict[str, object], message: str) -> None:
    with pytest.raises(
        kubetask.TaskDefinitionError,
        match="@kubetask.task: " + message.replace("(", r"\(").replace(")", r"\)"),
    ):
        kubetask.task(**options)(add)  # type: ignore[call-overload]


def test_decorating_something_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(kubetask.TaskDefinitionError, match=r"expected a Python function, got 3 \(int\)"):
        kubetask.task(3)  # type: ignore[call-overload]


class Pair(NamedTuple):
    low: int
    high: int


@pytest.mark.parametrize(
    ("function", "inputs", "outputs"),
    [
        pytest.param(add, {"a": "int", "b": "int = 2"}, {"o0": "int"}, id="single"),
        pytest.param(lambda: None, {}, {}, id="untyped-nothing"),
    ],
)
def test_interface_from_type_hints(function: object, inputs: dict[str, str], outputs: dict[str, str]) -> None:
    interface = kubetask.task(function).interface  # type: ignore[call-overload]
    rendered = {
        name: describe(p.hint) + ("" if p.default is REQUIRED else f" = {p.default!r}")
        for name, p in interface.inputs.items()
    }
    assert rendered == inputs or function.__name__ == "<lambda>"  # type: ignore[attr-defined]
    assert {name: describe(hint) for name, hint in interface.outputs.items()} == outputs


def test_interface_output_shapes() -> None:
    def nothing() -> None: ...
    def pair() -> tuple[int, str]: ...  # type: ignore[empty-body]
    def named() -> Pair: ...  # type: ignore[empty-body]
    def variadic() -> tuple[int, ...]: ...  # type: ignore[empty-body]
    def optional(x: Optional[int] = None) -> list[str]: ...  # type: ignore[empty-body]  # noqa: UP045

    assert kubetask.task(nothing).interface.outputs == {}
    assert kubetask.task(pair).interface.outputs == {"o0": int, "o1": str}
    assert kubetask.task(named).interface.outputs == {"low": int, "high": int}
    assert describe(kubetask.task(variadic).interface.outputs["o0"]) == "tuple[int, ...]"
    interface = kubetask.task(optional).interface
    assert describe(interface.inputs["x"].hint) == "int | None"
    assert describe(interface.outputs["o0"]) == "list[str]"


def test_string_annotations_are_evaluated_in_the_function_module() -> None:
    namespace: dict[str, object] = {}
    exec(  # a module written with `from __future__ import annotations`
        "from __future__ import annotations\nimport pathlib\n"
        "def f(p: pathlib.Path, n: int | None = None) -> dict[str, float]: ...",
        namespace,
    )
    interface = kubetask.task(namespace["f"]).interface  # type: ignore[call-overload]
    assert interface.inputs["p"].hint is pathlib.Path
    assert describe(interface.inputs["n"].hint) == "int | None"
    assert describe(interface.outputs["o0"]) == "dict[str, float]"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("def f(*xs: int) -> int: ...", "*args and **kwargs are not supported", id="varargs"),
        pytest.param("def f(**kw: int) -> int: ...", "*args and **kwargs are not supported", id="varkw"),
        pytest.param("def f(x: set[int]) -> int: ...", "input 'x': unsupported type set[int]", id="set"),
        pytest.param(
            "def f(x: dict[int, str]) -> int: ...", "input 'x': dict keys must be str", id="int-keys"
        ),
        pytest.param("def f(x: int) -> complex: ...", "output 'o0': unsupported type complex", id="complex"),
        pytest.param(
            "def f(x: 'Missing') -> int: ...", "cannot evaluate its type hints: NameError", id="unresolved"
        ),
    ],
)
def test_unsupported_signatures_are_refused_with_the_reason(source: str, message: str) -> None:
    namespace: dict[str, object] = {}
    exec(source, namespace)
    with pytest.raises(kubetask.TaskDefinitionError, match=message.replace("*", r"\*").replace("[", r"\[")):
        _ = kubetask.task(namespace["f"]).interface  # type: ignore[call-overload]


def test_current_context_outside_a_run_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETASK_ATTEMPT", "2")
    monkeypatch.setenv("KUBETASK_RUN_NAME", "r")
    monkeypatch.delenv("KUBETASK_NAMESPACE", raising=False)
    context = kubetask.current_context()
    assert (context.attempt, context.run_name, context.namespace, context.task_name) == (2, "r", None, None)
    with pytest.raises(AttributeError, match="ExecutionContext is immutable"):
        context.attempt = 3  # type: ignore[misc]


def test_files_are_path_like_and_immutable(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("hi")
    file = kubetask.File(tmp_path / "a.txt", uri="s3://b/a.txt")
    assert pathlib.Path(file).read_text() == "hi"
    assert (file.read_text(), file.name, file.uri) == ("hi", "a.txt", "s3://b/a.txt")
    assert file == kubetask.File(str(tmp_path / "a.txt"), uri="s3://b/a.txt")
    assert file != kubetask.File(tmp_path / "a.txt")
    assert kubetask.File("x") != kubetask.Directory("x")
    assert len({kubetask.File("x"), kubetask.File("x"), kubetask.File("y")}) == 2
    assert repr(file) == f"File({str(tmp_path / 'a.txt')!r}, uri='s3://b/a.txt')"
    assert kubetask.Directory(tmp_path).files() == [kubetask.File(str(tmp_path / "a.txt"))]
    with pytest.raises(AttributeError, match="File is immutable"):
        file.path = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"path: expected a non-empty str or os\.PathLike, got ''"):
        kubetask.File("")


def test_context_values_compare_by_fields() -> None:
    context = kubetask.ExecutionContext(attempt=2, run_name="r")
    assert context == kubetask.ExecutionContext(attempt=2, run_name="r")
    assert context != kubetask.ExecutionContext(attempt=3, run_name="r")
    assert repr(context).startswith("ExecutionContext(attempt=2, checkpoint_path=None,")
