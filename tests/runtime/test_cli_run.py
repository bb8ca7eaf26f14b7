"""``kubetask run`` end to end (a real ``kubetask`` process running a real ``kubetask-execute``), the
parsing of ``-i`` by type, and the dispatch of the other commands (``kubetask`` is the client's console
script; ``run`` uses only the runtime's public face)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import kubetask
from kubetask._errors import UsageError
from kubetask._local import parse_cli_value, parse_target

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "examples"
KUBETASK = Path(sys.executable).with_name("kubetask")


def kubetask_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBETASK), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_run_prints_outputs_as_json_and_keeps_the_run_documents(tmp_path: Path) -> None:
    result = kubetask_cli(
        "run", str(EXAMPLES / "hello" / "hello.py") + ":hello", "-i", "name=world", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"o0": "Hello, world!"}
    [run] = (tmp_path / ".kubetask" / "runs").iterdir()
    assert json.loads((run / "inputs.json").read_text()) == {"name": "world"}
    assert json.loads((run / "outputs.json").read_text()) == {"o0": "Hello, world!"}
    summary = kubetask.parse_termination_message((run / "termination-log").read_text())
    assert summary is not None
    assert summary.outputs == {"o0": "Hello, world!"}
    assert "kubetask-execute: start task-module=hello task-name=hello" in result.stderr


def test_run_accepts_a_dotted_module_target_from_the_working_directory(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(
        "import kubetask\n\n@kubetask.task\ndef double(x: int) -> int:\n"
        "    print('noise')\n    return 2 * x\n"
    )
    result = kubetask_cli("run", "pkg.jobs:double", "-i", "x=21", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"o0": 42}  # the task's print went to stderr, not into the JSON
    assert "noise" in result.stderr


def test_run_of_a_file_inside_a_package_imports_it_by_its_package_name(tmp_path: Path) -> None:
    package = tmp_path / "deep" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(
        "import kubetask\n\n@kubetask.task\ndef name() -> str:\n    return __name__\n"
    )
    result = kubetask_cli("run", "deep/pkg/mod.py:name", cwd=tmp_path)
    assert json.loads(result.stdout) == {"o0": "pkg.mod"}, result.stderr


def test_run_merges_an_inputs_file_with_i_overrides(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"a": 1, "b": 2}))
    target = str(EXAMPLES / "arithmetic" / "arithmetic.py") + ":add"
    result = kubetask_cli("run", target, "--inputs-file", str(inputs), "-i", "b=40", cwd=tmp_path)
    assert json.loads(result.stdout) == {"o0": 41}, result.stderr


def test_failed_run_reports_the_error_and_exits_with_the_runtime_status(tmp_path: Path) -> None:
    target = str(EXAMPLES / "failing" / "failing.py") + ":parse_age"
    result = kubetask_cli("run", target, "-i", "text=old", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "kubetask run: failed (USER error, not recoverable, exit 1): failing.InvalidAge: 'old' is not an age"
        in result.stderr
    )
    assert "error document: " in result.stderr


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        pytest.param(
            ["hello.py"], 2, "TARGET: expected 'path/to/file.py:task' or 'package.module:task'", id="no-task"
        ),
        pytest.param(["missing.py:t"], 2, "TARGET: no such file 'missing.py'", id="no-file"),
        pytest.param(
            ["{hello}:hello", "-i", "nme=x"],
            2,
            "-i nme: the task has no input 'nme'; it takes name",
            id="unknown-input",
        ),
        pytest.param(
            ["{arith}:add", "-i", "a=one", "-i", "b=2"], 2, "-i a=one: expected int, got 'one'", id="bad-int"
        ),
        pytest.param(
            ["{hello}:nope"], 2, "module 'hello' has no attribute 'nope'; its tasks: hello", id="no-name"
        ),
        pytest.param(
            ["{arith}:power"], 2, "arithmetic.power is function, not a kubetask task", id="not-a-task"
        ),
        pytest.param(
            ["{hello}:hello"],
            2,
            "input 'name' is required by task 'hello.hello' and was not given",
            id="missing-input",
        ),
        pytest.param(
            ["{hello}:hello", "--inputs-file", "nowhere.json"],
            2,
            "--inputs-file 'nowhere.json':",
            id="no-inputs-file",
        ),
        pytest.param(
            ["{hello}:hello", "-i", "name=x", "--store", "a-file/runs"],
            2,
            "--store 'a-file/runs': cannot create the run directory",
            id="store-not-a-directory",
        ),
    ],
)
def test_bad_run_arguments_are_named(tmp_path: Path, args: list[str], status: int, message: str) -> None:
    paths = {
        "hello": str(EXAMPLES / "hello" / "hello.py"),
        "arith": str(EXAMPLES / "arithmetic" / "arithmetic.py"),
    }
    (tmp_path / "a-file").write_text("in the way of --store")
    result = kubetask_cli("run", *[arg.format(**paths) for arg in args], cwd=tmp_path)
    assert result.returncode == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "hint", "value"),
    [
        pytest.param("world", str, "world", id="str"),
        pytest.param("42", str, "42", id="str-stays-str"),
        pytest.param("42", int, 42, id="int"),
        pytest.param("2.5", float, 2.5, id="float"),
        pytest.param("yes", bool, True, id="bool-yes"),
        pytest.param("False", bool, False, id="bool-false"),
        pytest.param("none", int | None, None, id="optional-none"),
        pytest.param("7", int | None, 7, id="optional-int"),
        pytest.param("7", int | str, 7, id="union-prefers-int"),
        pytest.param("seven", int | str, "seven", id="union-falls-back-to-str"),
        pytest.param("[1, 2]", list[int], [1, 2], id="list-as-json"),
        pytest.param('{"a": 1}', dict[str, int], {"a": 1}, id="dict-as-json"),
        pytest.param("90", __import__("datetime").timedelta, 90.0, id="timedelta-seconds"),
        pytest.param("2026-01-01", __import__("datetime").date, "2026-01-01", id="date-iso"),
        pytest.param("hi", bytes, "aGk=", id="bytes-base64"),
        pytest.param("word", object, "word", id="untyped-word"),
        pytest.param("[1]", object, [1], id="untyped-json"),
        pytest.param("s3://b/k", kubetask.File, "s3://b/k", id="file-uri"),
    ],
)
def test_i_values_are_parsed_by_the_parameter_type(text: str, hint: object, value: object) -> None:
    assert parse_cli_value(text, hint, name="p") == value


def test_i_enum_values_match_by_value_or_name() -> None:
    import enum

    class Mode(enum.Enum):
        FAST = "fast"
        SLOW = "slow"

    assert parse_cli_value("fast", Mode, name="m") == "fast"
    assert parse_cli_value("SLOW", Mode, name="m") == "slow"
    with pytest.raises(UsageError, match="-i m=medium: expected one of fast, slow, got 'medium'"):
        parse_cli_value("medium", Mode, name="m")


def test_i_local_file_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "doc.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert parse_cli_value("doc.txt", kubetask.File, name="d") == str(tmp_path / "doc.txt")


def test_target_of_a_dotted_module_has_no_import_root() -> None:
    target = parse_target("pkg.mod:task")
    assert (target.import_root, target.module, target.name) == (None, "pkg.mod", "task")


def test_dev_is_found_through_the_entry_point_group_with_its_extra() -> None:
    from importlib.metadata import entry_points

    [dev] = [point for point in entry_points(group="kubetask.commands") if point.name == "dev"]
    assert dev.extras == ["local"]  # what `kubetask dev` names when the local cluster cannot be imported


def test_a_command_whose_package_is_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata
    import io

    from kubetask_client import _cli

    broken = importlib.metadata.EntryPoint(
        name="dev", value="no_such_kubetask_extra._cli:main [local]", group="kubetask.commands"
    )
    monkeypatch.setattr(_cli, "_plugin_commands", lambda: {"dev": broken})
    err = io.StringIO()
    assert _cli.main(["dev", "--port", "1"], out=io.StringIO(), err=err) == 2
    assert "kubetask dev: needs the 'local' extra: pip install 'kubetask[local]'" in err.getvalue()


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = kubetask_cli("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in result.stderr


def test_submit_is_the_clients_submit_loaded_on_first_use() -> None:
    import kubetask_client

    assert kubetask.submit is kubetask_client.submit


def test_run_killed_by_a_signal_exits_as_a_shell_would_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "killed.py").write_text(
        "import os, signal\nimport kubetask\n\n@kubetask.task\ndef die() -> int:\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would\n    return 0\n"
    )
    result = kubetask_cli("run", "killed.py:die", cwd=tmp_path)
    assert result.returncode == 128 + 9
    assert result.stdout == ""
    assert "kubetask run: kubetask-execute was killed by signal 9 (SIGKILL) before it could record" in (
        result.stderr
    )


@pytest.mark.usefixtures("sigint_reaches_children")
@pytest.mark.parametrize(
    ("signum", "whole_group"),
    [
        pytest.param(signal.SIGINT, True, id="ctrl-c-reaches-both-processes"),
        pytest.param(signal.SIGTERM, False, id="sigterm-to-kubetask-run-alone"),
    ],
)
def test_run_stopped_by_a_signal_reports_the_recorded_stop_not_a_traceback(
    tmp_path: Path, signum: int, whole_group: bool
) -> None:
    (tmp_path / "slow.py").write_text(
        "import time\nimport kubetask\n\n@kubetask.task\ndef slow() -> str:\n"
        "    print('ready', flush=True)\n    time.sleep(60)\n    return 'woke up'\n"
    )
    process = subprocess.Popen(
        [str(KUBETASK), "run", "slow.py:slow"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        assert process.stderr is not None
        seen = [process.stderr.readline() for _ in range(2)]  # the start line, then the task's "ready"
        assert seen[-1] == "ready\n", seen
        if whole_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    name = signal.Signals(signum).name
    assert process.returncode == 143, stderr
    assert stdout == ""
    assert (
        f"kubetask run: failed (SYSTEM error, recoverable, exit 143): kubetask.Terminated: received signal "
        f"{int(signum)} ({name}): the run was stopped" in stderr
    )
    assert "KeyboardInterrupt" not in stderr
    [run] = (tmp_path / ".kubetask" / "runs").iterdir()
    assert json.loads((run / "error.json").read_text())["type"] == "kubetask.Terminated"
