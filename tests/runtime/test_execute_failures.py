"""Every way a run can fail ends in an error document, a termination message and a distinct exit status."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import fsspec
import pytest

import kubetask
from kubetask._execute import _Termination

if TYPE_CHECKING:
    from conftest import Execution, Executor  # the `executor` fixture of tests/runtime/conftest.py

F = "failing_tasks"
T = "typed_tasks"
OUTCOMES = "outcome_tasks"
TASK_MODULES = Path(__file__).resolve().parent / "task_modules"


def assert_failed(
    result: Execution, *, exit_code: int, kind: str, recoverable: bool, error_type: str, message: str
) -> dict[str, Any]:
    """The error document and the termination message agree, and the message says what went wrong."""
    assert result.returncode == exit_code, result.stderr
    assert result.outputs is None
    assert result.error is not None, result.stderr
    assert (result.error["kind"], result.error["recoverable"], result.error["type"]) == (
        kind,
        recoverable,
        error_type,
    )
    assert message in result.error["message"]
    assert result.error["traceback"].startswith("Traceback (most recent call last):")
    assert result.termination is not None
    assert result.termination.outcome == "Failed"
    assert result.termination.error is not None
    assert result.termination.error.kind == kind
    assert result.termination.error.recoverable is recoverable
    assert result.termination.error.type == error_type
    assert result.termination.error_uri is not None
    assert result.termination.error_uri.endswith("/error.json")
    last_line = result.stderr.splitlines()[-1]
    assert last_line.startswith(f"kubetask-execute: end outcome=Failed kind={kind} ")
    assert f" exit={exit_code} " in last_line
    return result.error


# ---------------------------------------------------------------- loading the task: USER errors, exit 1


def test_module_missing_names_the_module_and_sys_path(executor: Executor) -> None:
    error = assert_failed(
        executor.run("no_such_module", "t"),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.TaskLoadError",
        message="cannot import task module 'no_such_module': No module named 'no_such_module' (sys.path: [",
    )
    assert "ModuleNotFoundError" in error["traceback"]


def test_module_failing_at_import_shows_the_underlying_error(executor: Executor) -> None:
    error = assert_failed(
        executor.run("broken_module", "never"),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.TaskLoadError",
        message="importing task module 'broken_module' raised KeyError: 'missing'",
    )
    assert 'VALUE = CONFIG["missing"]' in error["traceback"]


def test_module_with_a_missing_dependency_names_the_dependency(executor: Executor) -> None:
    assert_failed(
        executor.run("missing_dependency", "never"),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.TaskLoadError",
        message="cannot import task module 'missing_dependency': "
        "No module named 'no_such_dependency_for_kubetask_tests'",
    )


def test_name_missing_lists_the_tasks_the_module_has(executor: Executor) -> None:
    assert_failed(
        executor.run(F, "nope"),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.TaskLoadError",
        message="module 'failing_tasks' has no attribute 'nope'; its tasks: asks_for_retry, deep_recursion, "
        "exits, huge_error, raises_chained, raises_unprintable, sleeps, swallows_everything, wrong_output",
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("not_a_task", "failing_tasks.not_a_task is int 42, not a kubetask task", id="int"),
        pytest.param(
            "plain_function",
            "failing_tasks.plain_function is function <function plain_function",
            id="undecorated-function",
        ),
    ],
)
def test_object_that_is_not_a_task_is_refused(executor: Executor, name: str, message: str) -> None:
    error = assert_failed(
        executor.run(F, name),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.TaskLoadError",
        message=message,
    )
    assert error["message"].endswith("decorate it with @kubetask.task")


@pytest.mark.parametrize(
    ("loader_args", "message"),
    [
        pytest.param(
            ["task-module", F],
            "loader args: missing 'task-name' in ['task-module', 'failing_tasks']",
            id="missing-key",
        ),
        pytest.param(["task-name", "x", "module", F], "loader args: unknown key 'module'", id="unknown-key"),
        pytest.param(["task-module"], "loader args: expected key/value pairs", id="odd"),
    ],
)
def test_malformed_loader_args_are_user_errors(
    executor: Executor, loader_args: list[str], message: str
) -> None:
    argv = executor.command(loader_args, inputs=executor.inputs_file({}))
    assert_failed(
        executor.run_argv(argv),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.TaskLoadError",
        message=message,
    )


def test_loader_args_are_parsed_by_key_not_position(executor: Executor) -> None:
    argv = executor.command(
        ["task-name", "echo_int", "task-module", T], inputs=executor.inputs_file({"x": 4})
    )
    assert executor.run_argv(argv).outputs == {"o0": 4}


@pytest.mark.parametrize(
    ("resolver", "error_type", "message"),
    [
        pytest.param(
            "no_such_pkg.resolver",
            "kubetask.TaskLoadError",
            "cannot import task module 'no_such_pkg'",
            id="module-missing",
        ),
        pytest.param(
            "resolvers.nothing_here",
            "kubetask.TaskLoadError",
            "--resolver 'resolvers.nothing_here': module 'resolvers' has no attribute 'nothing_here'",
            id="attribute-missing",
        ),
        pytest.param(
            "resolvers.not_a_resolver",
            "kubetask.TaskLoadError",
            "--resolver 'resolvers.not_a_resolver' is str 'just a string', not a TaskResolverMixin",
            id="not-a-resolver",
        ),
        pytest.param("resolvers.exploding", "LookupError", "no task for ['k', 'v']", id="resolver-raises"),
        pytest.param(
            "resolvers.returns_nothing",
            "kubetask.TaskLoadError",
            "--resolver 'resolvers.returns_nothing': load_task(['k', 'v']) returned NoneType None, "
            "not a kubetask task",
            id="resolver-returns-no-task",
        ),
        pytest.param(
            "noseparator", "kubetask.TaskLoadError", "--resolver: expected a dotted path", id="no-dot"
        ),
    ],
)
def test_resolver_failures_are_user_errors(
    executor: Executor, resolver: str, error_type: str, message: str
) -> None:
    argv = executor.command(["k", "v"], inputs=executor.inputs_file({}), resolver=resolver)
    assert_failed(
        executor.run_argv(argv),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type=error_type,
        message=message,
    )


# ---------------------------------------------------------------- inputs: USER errors, exit 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param('{"x": ', "inputs document ", id="not-json"),
        pytest.param("[1, 2]", "expected a JSON object mapping input names to values, got list", id="array"),
        pytest.param('{"x": 1, "y": 2}', "unknown input(s) 'y'; the task takes 'x'", id="unknown-input"),
        pytest.param("{}", "missing required input(s) 'x'", id="missing-input"),
        pytest.param('{"x": NaN}', "not valid JSON: JSON has no NaN", id="nan"),
        pytest.param(
            '{"x": 1,',
            "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 9",
            id="trailing-comma",  # was a recoverable SystemError from the hand-made codec
        ),
        pytest.param(
            "[" * 100_000 + "]" * 100_000,
            "nested deeper than 100 levels, the most kubetask accepts in a value",
            id="too-deep",  # was a recoverable SYSTEM RecursionError
        ),
    ],
)
def test_bad_inputs_document(executor: Executor, document: str, message: str) -> None:
    assert_failed(
        executor.run(T, "echo_int", document),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.InputError",
        message=message,
    )


@pytest.mark.parametrize(
    ("name", "inputs", "message"),
    [
        pytest.param("echo_int", {"x": "x"}, "input 'x': expected int, got 'x' (str)", id="int-str"),
        pytest.param("echo_int", {"x": True}, "input 'x': expected int, got True (bool)", id="int-bool"),
        pytest.param("echo_int", {"x": 1.5}, "input 'x': expected int, got 1.5 (float)", id="int-float"),
        pytest.param("echo_bool", {"x": 1}, "input 'x': expected bool, got 1 (int)", id="bool-int"),
        pytest.param("echo_float", {"x": "1"}, "input 'x': expected float, got '1' (str)", id="float-str"),
        pytest.param("echo_str", {"x": 5}, "input 'x': expected str, got 5 (int)", id="str-int"),
        pytest.param("echo_none", {"x": 0}, "input 'x': expected None, got 0 (int)", id="none"),
        pytest.param(
            "echo_optional", {"x": "a"}, "input 'x': expected int | None, got 'a' (str)", id="optional"
        ),
        pytest.param("echo_union", {"x": 1.5}, "input 'x': expected int | str, got 1.5 (float)", id="union"),
        pytest.param(
            "echo_list", {"x": [1, "2"]}, "input 'x[1]': expected int, got '2' (str)", id="list-item"
        ),
        pytest.param(
            "echo_list", {"x": {"a": 1}}, "input 'x': expected list[int], got {'a': 1} (dict)", id="list"
        ),
        pytest.param(
            "echo_dict",
            {"x": {"k": "v"}},
            "input \"x['k']\": expected float, got 'v' (str)".replace('"', "'", 1).replace("']\"", "']'"),
            id="dict-item",
        ),
        pytest.param(
            "echo_tuple",
            {"x": [1]},
            "input 'x': expected tuple[int, str] (2 items), got [1] (list)",
            id="tuple-length",
        ),
        pytest.param(
            "echo_enum",
            {"x": "blue"},
            "input 'x': expected Color (one of 'red', 'green'), got 'blue'",
            id="enum",
        ),
        pytest.param(
            "echo_datetime",
            {"x": "yesterday"},
            "input 'x': expected datetime (ISO 8601 text), got 'yesterday' (str)",
            id="datetime",
        ),
        pytest.param(
            "echo_date",
            {"x": 20260101},
            "input 'x': expected date (ISO 8601 text), got 20260101 (int)",
            id="date",
        ),
        pytest.param(
            "echo_timedelta",
            {"x": "1h"},
            "input 'x': expected timedelta (a number of seconds), got '1h'",
            id="timedelta",
        ),
        pytest.param(
            "echo_bytes",
            {"x": "not base64!"},
            "input 'x': expected bytes (base64 text), got 'not base64!'",
            id="bytes",
        ),
        pytest.param(
            "echo_person",
            {"x": {"name": "A", "address": {"city": "B", "zip_code": "1"}}},
            "input 'x.address.zip_code': expected int, got '1' (str)",
            id="nested-dataclass-field",
        ),
        pytest.param(
            "echo_person",
            {"x": {"name": "A"}},
            "input 'x': missing required field 'address' of Person",
            id="dataclass-missing-field",
        ),
        pytest.param(
            "echo_person",
            {"x": {"name": "A", "address": {"city": "B", "zip_code": 1}, "age": 3}},
            "input 'x': unknown field(s) 'age' for Person; it has 'name', 'address', 'tags', 'born',"
            " 'favourite'",
            id="dataclass-unknown-field",
        ),
        pytest.param(
            "read_file",
            {"document": 3},
            "input 'document': expected kubetask.File (a URI or path), got 3",
            id="file-not-str",
        ),
        pytest.param(
            "read_file",
            {"document": "/no/such/file.txt"},
            "input 'document': '/no/such/file.txt' does not exist",
            id="file-missing",
        ),
    ],
)
def test_type_mismatch_names_the_input_the_expected_type_and_the_value(
    executor: Executor, name: str, inputs: dict[str, object], message: str
) -> None:
    error = assert_failed(
        executor.run(T, name, inputs),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.InputError",
        message=message,
    )
    assert error["message"].startswith("input ")


# ---------------------------------------------------------------- the task itself: USER errors, exit 1


def test_user_exception_keeps_its_type_message_and_chained_traceback(executor: Executor) -> None:
    error = assert_failed(
        executor.run(F, "raises_chained", {"text": "abc"}),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="failing_tasks.Oops",
        message="could not parse 'abc'",
    )
    traceback = error["traceback"]
    assert "ValueError: invalid literal for int() with base 10: 'abc'" in traceback
    assert "The above exception was the direct cause of the following exception" in traceback
    assert traceback.rstrip().endswith("failing_tasks.Oops: could not parse 'abc'")
    assert (
        "failing_tasks.Oops: could not parse 'x'" in executor.run(F, "raises_chained", {"text": "x"}).stderr
    )


def test_recoverable_error_asks_for_a_retry(executor: Executor) -> None:
    assert_failed(
        executor.run(F, "asks_for_retry"),
        exit_code=1,
        kind="USER",
        recoverable=True,
        error_type="kubetask.RecoverableError",
        message="the database is warming up",
    )


def test_wrong_output_type_is_the_task_s_fault(executor: Executor) -> None:
    assert_failed(
        executor.run(F, "wrong_output"),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.OutputError",
        message="output 'o0': expected int, got 'three' (str)",
    )


def test_outputs_nested_past_the_recursion_limit_are_the_task_s_fault(executor: Executor) -> None:
    """Was a recoverable SYSTEM RecursionError, retried on the operator's budget."""
    assert_failed(
        executor.run(OUTCOMES, "returns_too_deep", {"depth": 100_000}),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.OutputError",
        message="nested deeper than 100 levels, the most kubetask accepts in a value",
    )


def test_sys_exit_in_a_task_is_a_user_error_not_a_silent_exit(executor: Executor) -> None:
    assert_failed(
        executor.run(F, "exits", {"code": 0}),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="SystemExit",
        message="the task called sys.exit(0)",
    )


def test_huge_errors_are_bounded_in_the_document_and_the_termination_message(executor: Executor) -> None:
    result = executor.run(F, "huge_error", {"size": 1_000_000})
    error = assert_failed(
        result, exit_code=1, kind="USER", recoverable=False, error_type="RuntimeError", message="xxxx"
    )
    assert len(error["message"]) < 9_000
    assert "characters omitted" in error["message"]
    assert len(error["traceback"]) < 33_000
    assert result.termination_text is not None
    assert len(result.termination_text.encode()) <= 4096
    assert result.termination is not None
    assert result.termination.truncated


def test_deep_recursion_traceback_is_bounded(executor: Executor) -> None:
    result = executor.run(F, "deep_recursion", {"depth": 0})
    error = assert_failed(
        result, exit_code=1, kind="USER", recoverable=False, error_type="RecursionError", message="recursion"
    )
    assert len(error["traceback"]) < 33_000


# ---------------------------------------------------------------- storage: SYSTEM errors, exit 3


def unwritable_directory(tmp_path: Path) -> Path:
    """A directory this process cannot create files in: chmod for a normal user; root ignores modes, so
    for root a path on sysfs, which refuses new files to everyone."""
    if os.geteuid() == 0:
        return Path("/sys/kubetask-test-out")
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o500)
    return directory / "out"


@pytest.mark.parametrize(
    ("inputs_uri", "message"),
    [
        pytest.param(
            "{tmp}/missing.json", "cannot read '{tmp}/missing.json': No such file or directory", id="missing"
        ),
        pytest.param("{tmp}", "cannot read '{tmp}': Is a directory", id="a-directory"),
        pytest.param(
            "data:application/json;base64,e30=!", "data: URI has invalid base64 data", id="bad-base64"
        ),
        pytest.param(
            "data:no-comma", "not a data: URI (expected 'data:[<media type>][;base64],<data>')", id="no-comma"
        ),
        pytest.param(
            "file://otherhost/inputs.json",
            "'file://otherhost/inputs.json': file:// URIs on another host ('otherhost') are not supported",
            id="file-other-host",
        ),
    ],
)
def test_inputs_that_cannot_be_read_are_a_user_error_naming_the_uri(
    executor: Executor, tmp_path: Path, inputs_uri: str, message: str
) -> None:
    """Deterministic: retrying reads the same missing document (was a recoverable SYSTEM error, 4 runs)."""
    assert_failed(
        executor.run(T, "echo_int", inputs_uri=inputs_uri.format(tmp=tmp_path)),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="kubetask.StorageLocationError",
        message=message.format(tmp=tmp_path),
    )


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        pytest.param(
            "file", "--output-prefix '{prefix}': cannot create the directory: File exists", id="a-file"
        ),
        pytest.param(
            "under-a-file",
            "--output-prefix '{prefix}': cannot create the directory: Not a directory",
            id="under-a-file",
        ),
        pytest.param("unwritable", "--output-prefix '{prefix}': ", id="unwritable"),
        pytest.param("data:,x", "--output-prefix 'data:,x'...: data: URIs are read-only", id="data-uri"),
        pytest.param(
            "file://otherhost/out",
            "'file://otherhost/out': file:// URIs on another host ('otherhost') are not supported",
            id="file-other-host",
        ),
    ],
)
def test_output_prefix_that_cannot_be_written_fails_before_the_task_runs(
    executor: Executor, tmp_path: Path, prefix: str, message: str
) -> None:
    """Was found only after the task ran, and retried as a recoverable SYSTEM error."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    prefix = {"file": str(blocker), "under-a-file": str(blocker / "out")}.get(prefix, prefix)
    if prefix == "unwritable":
        prefix = str(unwritable_directory(tmp_path))
    argv = executor.command(
        ["task-module", T, "task-name", "chatty"], inputs=executor.inputs_file({"x": 1}), output_prefix=prefix
    )
    result = executor.run_argv(argv)
    assert result.returncode == 1, result.stderr
    assert "stdout from the task" not in result.stdout  # refused before the task ran
    assert result.termination is not None
    error = result.termination.error
    assert error is not None
    assert (error.kind, error.recoverable, error.type) == ("USER", False, "kubetask.StorageLocationError")
    assert message.format(prefix=prefix) in error.message
    assert result.termination.error_uri is None  # nowhere to write the error document either
    assert "could not write the error document" in result.stderr


def test_unreachable_object_store_is_a_recoverable_system_error(executor: Executor) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "FSSPEC_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    assert_failed(
        executor.run(T, "echo_int", inputs_uri="s3://bucket/inputs.json", env=environment),
        exit_code=3,
        kind="SYSTEM",
        recoverable=True,
        error_type="kubetask.StorageError",
        message="cannot read 's3://bucket/inputs.json'",
    )


def test_missing_storage_backend_names_the_extra_and_is_not_recoverable(executor: Executor) -> None:
    assert_failed(
        executor.run(T, "echo_int", inputs_uri="oss://bucket/inputs.json"),
        exit_code=3,
        kind="SYSTEM",
        recoverable=False,
        error_type="kubetask.MissingStorageBackendError",
        message="'oss://bucket/inputs.json': no storage backend for oss:// (Install ossfs to access Alibaba "
        "Object Storage System): install the fsspec backend for oss://",
    )


def without_site_packages(executor: Executor, *, with_fsspec: bool) -> dict[str, str]:
    """An environment like an image with only the runtime installed (``python -S``: no site-packages),
    plus fsspec alone when *with_fsspec*: the storage backends are really missing, nothing is faked."""
    path = [str(Path(kubetask.__file__).parents[1]), str(TASK_MODULES)]
    if with_fsspec:
        only_fsspec = executor.directory / "only-fsspec"
        only_fsspec.mkdir()
        (only_fsspec / "fsspec").symlink_to(Path(fsspec.__file__).parent)
        path.append(str(only_fsspec))
    return {"PYTHONPATH": os.pathsep.join(path)}


@pytest.mark.parametrize(
    ("with_fsspec", "inputs_uri", "output_prefix", "message"),
    [
        pytest.param(
            False,
            "s3://bucket/inputs.json",
            None,
            "'s3://bucket/inputs.json' needs fsspec for s3:// URIs: pip install 'kubetask[s3]'",
            id="no-fsspec",
        ),
        pytest.param(
            True,
            "gs://bucket/inputs.json",
            None,
            "'gs://bucket/inputs.json': no storage backend for gs:// (",
            id="no-gcsfs",
        ),
        pytest.param(
            True,
            None,
            "abfs://container/run",
            "'abfs://container/run': no storage backend for abfs:// (",
            id="no-adlfs-for-outputs",
        ),
        pytest.param(
            True,
            None,
            "s3://bucket/run",
            "'s3://bucket/run': no storage backend for s3:// (",
            id="no-s3fs-for-outputs",
        ),
    ],
)
def test_missing_backend_of_a_kubetask_extra_names_the_extra_before_the_task_runs(
    executor: Executor,
    with_fsspec: bool,
    inputs_uri: str | None,
    output_prefix: str | None,
    message: str,
) -> None:
    extra = {"s3": "s3", "gs": "gcs", "abfs": "azure"}[(inputs_uri or output_prefix or "").split(":")[0]]
    argv = executor.command(
        ["task-module", T, "task-name", "chatty"],
        inputs=inputs_uri or executor.inputs_file({"x": 1}),
        output_prefix=output_prefix,
    )
    result = executor.run_argv(
        [sys.executable, "-S", "-m", "kubetask._execute", *argv[1:]],
        env=without_site_packages(executor, with_fsspec=with_fsspec),
    )
    assert result.returncode == 3, result.stderr
    assert "stdout from the task" not in result.stdout  # refused before the task ran, not after
    assert result.termination is not None
    assert result.termination.error is not None
    error = result.termination.error
    assert (error.kind, error.recoverable) == ("SYSTEM", False)
    assert error.type == "kubetask.MissingStorageBackendError"
    assert message in error.message
    assert error.message.endswith(f"pip install 'kubetask[{extra}]'")
    if output_prefix is None:  # the error document lands beside the outputs, where the operator looks
        assert result.error is not None
        assert result.error["message"] == error.message


# ---------------------------------------------------------------- SIGTERM: SYSTEM recoverable, exit 143


@pytest.mark.parametrize("name", ["sleeps", "swallows_everything"])
@pytest.mark.parametrize(
    "signum",
    [
        pytest.param(signal.SIGTERM, id="SIGTERM"),
        pytest.param(signal.SIGINT, id="SIGINT"),  # Ctrl-C under `kubetask run` reaches it too
    ],
)
def test_sigterm_stops_the_task_and_records_a_recoverable_system_error(
    executor: Executor, name: str, signum: int
) -> None:
    result = executor.terminate_while_running(F, name, {"seconds": 60}, signum=signum)
    assert_failed(
        result,
        exit_code=143,
        kind="SYSTEM",
        recoverable=True,
        error_type="kubetask.Terminated",  # not a bare KeyboardInterrupt for SIGINT
        message=f"received signal {int(signum)} ({signal.Signals(signum).name}): the run was stopped",
    )
    assert "woke up" not in result.stdout
    assert "swallowed" not in result.stdout


@pytest.mark.parametrize(
    ("name", "message", "context"),
    [
        pytest.param(
            "swallows_the_signal",
            "received signal 15 (SIGTERM): the run was stopped (the task caught it and returned)",
            None,
            id="caught-and-returned",
        ),
        pytest.param(
            "fails_while_stopping",
            "received signal 15 (SIGTERM): the run was stopped (RuntimeError followed)",
            "RuntimeError: cleanup failed",
            id="raised-while-stopping",
        ),
    ],
)
def test_sigterm_is_recorded_even_when_the_task_catches_it(
    executor: Executor, name: str, message: str, context: str | None
) -> None:
    """A stopped run's result is not kept: the pod is going away (cancel, timeout, eviction)."""
    result = executor.terminate_while_running("stopping_tasks", name, {"seconds": 60})
    error = assert_failed(
        result,
        exit_code=143,
        kind="SYSTEM",
        recoverable=True,
        error_type="kubetask.Terminated",
        message=message,
    )
    assert not (executor.output_prefix / "outputs.json").exists()
    if context is not None:
        assert context in error["traceback"]


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        pytest.param("raises_keyboard_interrupt", "KeyboardInterrupt", "KeyboardInterrupt", id="interrupt"),
        pytest.param("raises_terminated", "kubetask.Terminated", "the task gave up", id="terminated"),
    ],
)
def test_a_task_raising_a_stop_itself_without_a_signal_is_a_user_error(
    executor: Executor, name: str, error_type: str, message: str
) -> None:
    """Was recorded as a SIGTERM stop (exit 143) and retried on the operator's system budget."""
    assert_failed(
        executor.run(OUTCOMES, name),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type=error_type,
        message=message,
    )


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_signal_while_outputs_are_written_leaves_exactly_one_document(
    executor: Executor, moment: str
) -> None:
    """Was a .partial file beside error.json (signal before the rename), or a complete outputs.json and
    an error.json together (signal after it). The outcome is decided once the write starts."""
    result = executor.run("stopping_tasks", "signalled_while_outputs_are_written", {"moment": moment})
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(executor.output_prefix)) == ["log.txt", "outputs.json"]
    assert result.outputs == {"o0": "x" * 100_000}
    assert result.termination is not None
    assert result.termination.outcome == "Succeeded"


@pytest.mark.parametrize("how", ["streams", "descriptors", "both"])
def test_a_task_closing_stdout_and_stderr_still_succeeds(executor: Executor, how: str) -> None:
    """Was a crash after the Succeeded summary: the cluster reported UserError {"outcome":"Succeeded"...}."""
    result = executor.run(OUTCOMES, "closes_its_output", {"how": how})
    assert result.returncode == 0, result.stderr
    assert result.outputs == {"o0": 7}
    assert result.error is None
    assert result.termination is not None
    assert result.termination.outcome == "Succeeded"
    assert result.stderr.splitlines()[-1].startswith("kubetask-execute: end outcome=Succeeded ")
    if how == "descriptors":  # the stream object survived: what it still held is written, not lost
        assert "unflushed line" in result.stdout


def test_a_thread_left_running_does_not_keep_the_attempt_from_ending(executor: Executor) -> None:
    """The interpreter waits for non-daemon threads at exit: the pod (and its TaskRun) never ended."""
    result = executor.run(OUTCOMES, "leaves_a_thread_running", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.outputs == {"o0": 3}
    assert "the task left thread(s) running: forever; the attempt ends without them" in result.stderr
    assert "the task left thread(s) running: forever" in (executor.output_prefix / "log.txt").read_text()


def test_a_task_changing_directory_does_not_move_relative_documents(
    executor: Executor, tmp_path: Path
) -> None:
    """Relative --inputs and --output-prefix are taken from where kubetask-execute started."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    executor.inputs_file({"to": str(elsewhere)})
    argv = executor.command(
        ["task-module", OUTCOMES, "task-name", "changes_directory"], inputs="inputs.json", output_prefix="out"
    )
    result = executor.run_argv(argv)
    assert result.returncode == 0, result.stderr
    assert result.outputs == {"o0": 5}
    assert sorted(os.listdir(executor.output_prefix)) == ["log.txt", "outputs.json"]
    assert os.listdir(elsewhere) == []
    assert result.termination is not None
    assert result.termination.outputs_uri == str(executor.output_prefix / "outputs.json")


def test_a_signal_as_the_outcome_is_being_decided_is_recorded_not_raised() -> None:
    """Python runs a signal handler at the entry of a call: one that came as shield() was called (first
    thing in the block recording a failure) raised out of that block, leaving no document at all."""
    termination = _Termination()
    in_shield = cast(FrameType, SimpleNamespace(f_code=_Termination.shield.__code__))
    termination.handle(signal.SIGTERM, in_shield)  # does not raise
    termination.shield()
    stopped = termination.confirm(ValueError("the task failed"))
    assert isinstance(stopped, kubetask.Terminated)
    assert str(stopped) == "received signal 15 (SIGTERM): the run was stopped (ValueError followed)"


@pytest.mark.parametrize(
    ("task", "inputs", "left"),
    [
        pytest.param("echo_int", {"x": 1}, ["log.txt", "outputs.json"], id="now-succeeds"),
        pytest.param("echo_int", {"x": "x"}, ["error.json", "log.txt"], id="now-fails"),
    ],
)
def test_a_reused_output_prefix_ends_with_this_run_s_outcome_only(
    executor: Executor, task: str, inputs: dict[str, object], left: list[str]
) -> None:
    """A container restarted in place, or a rerun, used to leave the earlier outcome beside the new one."""
    executor.output_prefix.mkdir()
    for document in ("outputs.json", "error.json", "log.txt"):
        (executor.output_prefix / document).write_text('{"stale": true}')
    result = executor.run(T, task, inputs)
    assert result.returncode == (0 if "outputs.json" in left else 1), result.stderr
    assert sorted(os.listdir(executor.output_prefix)) == left
    assert "stale" not in (executor.output_prefix / left[0]).read_text()


# ---------------------------------------------------------------- the command line: usage errors, exit 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--output-prefix", "out", "--", "k", "v"], "missing required --inputs", id="no-inputs"),
        pytest.param(
            ["--inputs", "i", "--output-prefix", "out"],
            "missing '--' followed by the loader args",
            id="no-separator",
        ),
        pytest.param(
            ["--inputs", "i", "--output-prefix", "out", "--"],
            "no loader args after '--'",
            id="no-loader-args",
        ),
        pytest.param(
            ["--inputs", "i", "--output-prefix", "out", "--bogus", "1", "--", "k", "v"],
            "unknown argument '--bogus'",
            id="unknown-flag",
        ),
        pytest.param(
            ["--inputs", "--output-prefix", "out", "--", "k"], "unknown argument 'out'", id="flag-as-value"
        ),
    ],
)
def test_usage_errors_exit_2_with_a_non_recoverable_system_summary(
    executor: Executor, argv: list[str], message: str
) -> None:
    result = executor.run_argv([executor.command(["x"], inputs="i")[0], *argv])
    assert result.returncode == 2
    assert result.termination is not None
    assert result.termination.error is not None
    assert (result.termination.error.kind, result.termination.error.recoverable) == ("SYSTEM", False)
    assert result.termination.error.type == "kubetask.UsageError"
    assert message in result.termination.error.message
    assert "usage: kubetask-execute --inputs URI --output-prefix URI" in result.stderr


def test_usage_error_with_a_known_output_prefix_writes_the_error_document(executor: Executor) -> None:
    argv = [executor.command(["x"], inputs="i")[0], "--output-prefix", str(executor.output_prefix), "--", "k"]
    result = executor.run_argv(argv)
    assert result.returncode == 2
    assert result.error is not None
    assert result.error["type"] == "kubetask.UsageError"


def test_malformed_attempt_variable_is_a_usage_error_naming_it(executor: Executor) -> None:
    result = executor.run(T, "echo_int", {"x": 1}, env={"KUBETASK_ATTEMPT": "first"})
    assert result.returncode == 2
    message = "KUBETASK_ATTEMPT: expected a positive integer (1-based), got 'first'"
    assert message in result.stderr
    assert result.error is not None
    assert result.error["message"] == message
    assert result.termination is not None
    assert result.termination.error is not None
    assert (result.termination.error.type, result.termination.error.recoverable) == (
        "kubetask.UsageError",
        False,
    )


def test_help_exits_0(executor: Executor) -> None:
    result = executor.run_argv([executor.command(["x"], inputs="i")[0], "--help"])
    assert result.returncode == 0
    assert (
        "Exit status: 0 success, 1 user error, 2 usage error, 3 system error, 143 SIGTERM." in result.stdout
    )


def test_exception_whose_message_cannot_be_rendered_is_still_reported(executor: Executor) -> None:
    assert_failed(
        executor.run(F, "raises_unprintable"),
        exit_code=1,
        kind="USER",
        recoverable=False,
        error_type="failing_tasks.Unprintable",
        message="failing_tasks.Unprintable (its message could not be rendered: RuntimeError)",
    )


def test_runtime_findings_are_one_line_without_a_trace(executor: Executor) -> None:
    result = executor.run(T, "echo_int", {"x": "x"})
    assert (
        "kubetask-execute: error: kubetask.InputError: input 'x': expected int, got 'x' (str)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
