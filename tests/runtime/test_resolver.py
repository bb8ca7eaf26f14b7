"""The default resolver round-trips tasks through loader args, and refuses what a pod cannot load."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import kubetask
from kubetask import SerializationSettings, Task, default_task_resolver
from kubetask._resolver import load_resolver

SETTINGS = SerializationSettings(image="example/image:1")


def test_loader_args_round_trip_to_the_same_task(task_modules: Path) -> None:
    import typed_tasks

    args = default_task_resolver.loader_args(SETTINGS, typed_tasks.echo_int)
    assert args == ["task-module", "typed_tasks", "task-name", "echo_int"]
    assert default_task_resolver.load_task(args) is typed_tasks.echo_int


def test_task_bound_to_a_different_variable_name_uses_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bound.py").write_text(
        "import kubetask\n\ndef mul(a: int, b: int) -> int:\n    return a * b\n\n"
        "mul_task = kubetask.task(mul)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import bound  # type: ignore[import-not-found]

    args = default_task_resolver.loader_args(SETTINGS, bound.mul_task)
    assert args == ["task-module", "bound", "task-name", "mul_task"]
    assert default_task_resolver.load_task(args) is bound.mul_task
    del sys.modules["bound"]


def test_loader_args_are_parsed_by_key(task_modules: Path) -> None:
    import typed_tasks

    task = default_task_resolver.load_task(["task-name", "echo_str", "task-module", "typed_tasks"])
    assert task is typed_tasks.echo_str


def test_nested_function_is_refused_with_the_reason() -> None:
    def outer() -> Task[..., object]:
        @kubetask.task
        def inner(x: int) -> int:
            return x

        return inner

    with pytest.raises(
        kubetask.TaskDefinitionError, match=r"inner' is defined inside 'outer': a pod can only import"
    ):
        default_task_resolver.loader_args(SETTINGS, outer())


def test_lambda_is_refused_with_the_reason() -> None:
    with pytest.raises(kubetask.TaskDefinitionError, match="is a lambda: a pod cannot find it by name"):
        default_task_resolver.loader_args(SETTINGS, kubetask.task(lambda x: x))


def test_task_not_bound_at_module_level_is_refused() -> None:
    orphan = kubetask.task(_orphan_function)  # the task object itself is bound to no module-level name
    with pytest.raises(kubetask.TaskDefinitionError, match="is not bound to any module-level name"):
        default_task_resolver.loader_args(SETTINGS, orphan)


def _orphan_function(x: int) -> int:
    return x


def test_main_module_gets_its_real_name_from_the_file_path(tmp_path: Path) -> None:
    package = tmp_path / "proj" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "script.py").write_text(
        "import kubetask\n\n@kubetask.task\ndef hello(name: str) -> str:\n    return name\n\n"
        "if __name__ == '__main__':\n"
        "    print(kubetask.default_task_resolver.loader_args(None, hello), hello.name)\n"
    )
    result = subprocess.run(
        [sys.executable, str(package / "script.py")], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "['task-module', 'pkg.script', 'task-name', 'hello'] pkg.script.hello"


def test_load_errors_name_what_is_missing(task_modules: Path) -> None:
    with pytest.raises(
        kubetask.TaskLoadError, match=r"cannot import task module 'nope_mod': No module named"
    ):
        default_task_resolver.load_task(["task-module", "nope_mod", "task-name", "x"])
    with pytest.raises(kubetask.TaskLoadError, match="its tasks: asks_for_retry, deep_recursion"):
        default_task_resolver.load_task(["task-module", "failing_tasks", "task-name", "x"])
    with pytest.raises(
        kubetask.TaskLoadError, match=r"failing_tasks\.not_a_task is int 42, not a kubetask task"
    ):
        default_task_resolver.load_task(["task-module", "failing_tasks", "task-name", "not_a_task"])


def test_get_all_tasks_finds_module_level_tasks(task_modules: Path) -> None:
    import typed_tasks

    tasks = default_task_resolver.get_all_tasks()
    assert typed_tasks.echo_int in tasks
    assert len(tasks) == len({id(task) for task in tasks})


def test_default_resolver_location_is_the_contract_path() -> None:
    assert default_task_resolver.location == kubetask.DEFAULT_RESOLVER
    assert load_resolver(kubetask.DEFAULT_RESOLVER) is default_task_resolver


class KeyResolver(kubetask.TaskResolverMixin):
    def load_task(self, loader_args: Sequence[str]) -> Task[..., object]:
        raise kubetask.TaskLoadError("unused")

    def loader_args(self, settings: SerializationSettings, task: Task[..., object]) -> list[str]:
        return ["key", task.name]

    def get_all_tasks(self) -> list[Task[..., object]]:
        return []


key_resolver = KeyResolver()


def test_custom_resolver_location_is_its_module_level_name() -> None:
    assert key_resolver.location == f"{__name__}.key_resolver"
    assert key_resolver.name() == "KeyResolver"
    assert key_resolver.task_name(kubetask.task(_orphan_function)) is None


def test_custom_resolver_not_bound_at_module_level_has_no_location() -> None:
    with pytest.raises(kubetask.TaskDefinitionError, match="is not bound to a module-level name"):
        _ = KeyResolver().location


def test_resolver_protocol_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        kubetask.TaskResolverMixin()  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["key"], "expected key/value pairs", id="odd"),
        pytest.param(["key", "a", "key", "b"], "key 'key' given twice", id="twice"),
        pytest.param(["other", "a"], "unknown key 'other'", id="unknown"),
        pytest.param([], "missing 'key'", id="missing"),
    ],
)
def test_parse_loader_args_errors(args: list[str], message: str) -> None:
    with pytest.raises(kubetask.TaskLoadError, match=message):
        kubetask.parse_loader_args(args, keys=["key"])
