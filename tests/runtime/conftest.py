"""Fixtures for the runtime tests: running real ``kubetask-execute`` subprocesses, and an S3 server.

Task modules for the subprocesses live in ``task_modules/`` (put on PYTHONPATH, never collected).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kubetask

TASK_MODULES = Path(__file__).resolve().parent / "task_modules"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Execution:
    """What one ``kubetask-execute`` run left behind."""

    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    termination: kubetask.TerminationSummary | None
    termination_text: str | None


def subprocess_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with the venv first on PATH and the test task modules importable."""
    environment = dict(os.environ)
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{environment.get('PATH', '')}"
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(TASK_MODULES), environment.get("PYTHONPATH")])
    )
    for name in ("KUBETASK_ATTEMPT", "KUBETASK_RUN_NAME", "KUBETASK_NAMESPACE"):
        environment.pop(name, None)
    environment.update(extra or {})
    return environment


def _collect(process_result: tuple[int, str, str], directory: Path, output_prefix: Path) -> Execution:
    returncode, stdout, stderr = process_result
    outputs_file, error_file = output_prefix / "outputs.json", output_prefix / "error.json"
    termination_file = directory / "termination-log"
    termination_text = termination_file.read_text() if termination_file.exists() else None
    return Execution(
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        outputs=json.loads(outputs_file.read_text()) if outputs_file.exists() else None,
        error=json.loads(error_file.read_text()) if error_file.exists() else None,
        termination=kubetask.parse_termination_message(termination_text) if termination_text else None,
        termination_text=termination_text,
    )


class Executor:
    """Runs ``kubetask-execute`` exactly as a pod would (the command from build_execute_command)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.output_prefix = directory / "out"

    def command(
        self,
        loader_args: Sequence[str],
        *,
        inputs: str,
        output_prefix: str | None = None,
        resolver: str | None = None,
        raw_output_data_prefix: str | None = None,
        checkpoint_path: str | None = None,
        prev_checkpoint: str | None = None,
    ) -> list[str]:
        command = kubetask.build_execute_command(
            inputs=inputs,
            output_prefix=output_prefix or str(self.output_prefix),
            loader_args=loader_args,
            resolver=resolver,
            raw_output_data_prefix=raw_output_data_prefix,
            checkpoint_path=checkpoint_path,
            prev_checkpoint=prev_checkpoint,
        )
        return [str(VENV_BIN / command[0]), *command[1:]]

    def inputs_file(self, inputs: Mapping[str, object] | str) -> str:
        path = self.directory / "inputs.json"
        path.write_text(inputs if isinstance(inputs, str) else json.dumps(inputs))
        return str(path)

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return subprocess_environment(
            {"KUBETASK_TERMINATION_MESSAGE_PATH": str(self.directory / "termination-log"), **(extra or {})}
        )

    def run_argv(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> Execution:
        result = subprocess.run(
            list(argv),
            cwd=self.directory,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return _collect((result.returncode, result.stdout, result.stderr), self.directory, self.output_prefix)

    def run(
        self,
        module: str,
        name: str,
        inputs: Mapping[str, object] | str = "{}",
        *,
        inputs_uri: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        **options: Any,
    ) -> Execution:
        """Run task *module*.*name* with *inputs* (a mapping, or raw document text)."""
        uri = inputs_uri or self.inputs_file(inputs)
        argv = self.command(["task-module", module, "task-name", name], inputs=uri, **options)
        return self.run_argv(argv, env=env, timeout=timeout)

    def terminate_while_running(
        self, module: str, name: str, inputs: Mapping[str, object], *, signum: int = signal.SIGTERM
    ) -> Execution:
        """Start the task, wait until it prints "ready", send *signum*, and collect the result."""
        argv = self.command(["task-module", module, "task-name", name], inputs=self.inputs_file(inputs))
        with interruptible_children():
            process = subprocess.Popen(
                argv,
                cwd=self.directory,
                env=self.environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        try:
            assert process.stdout is not None
            ready = process.stdout.readline()  # the task prints "ready" once it runs; bounded by its sleep
            assert ready == "ready\n", f"task did not start: {ready!r}"
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return _collect((process.returncode, ready + stdout, stderr), self.directory, self.output_prefix)


@contextlib.contextmanager
def interruptible_children() -> Iterator[None]:
    """Children started in this block take SIGINT as a terminal's Ctrl-C would reach them, even when this
    test run itself was started ignoring it (a background job): an ignored signal survives exec."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # reset to the default on exec
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def sigint_reaches_children() -> Iterator[None]:
    """For this test, children take SIGINT as from a terminal (see interruptible_children)."""
    with interruptible_children():
        yield


@pytest.fixture
def executor(tmp_path: Path) -> Executor:
    return Executor(tmp_path)


@pytest.fixture
def task_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test task modules importable in this process (and forgotten afterwards)."""
    monkeypatch.syspath_prepend(str(TASK_MODULES))
    before = set(sys.modules)
    yield TASK_MODULES
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", "") and str(TASK_MODULES) in str(
            sys.modules[name].__file__
        ):
            del sys.modules[name]


# ---------------------------------------------------------------- S3: moto in server mode, one per session


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server (real HTTP) on a free 127.0.0.1 port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server did not start on {url} (exit {process.poll()})"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_environment(s3_endpoint: str) -> dict[str, str]:
    """Environment variables pointing boto3 and s3fs (fsspec config) at the moto server."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "FSSPEC_S3_ENDPOINT_URL": s3_endpoint,
    }


@pytest.fixture(scope="session")
def s3_client(s3_environment: dict[str, str]) -> Any:
    """A boto3 S3 client of the moto server, to arrange and inspect buckets."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_environment["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture
def s3_bucket(s3_client: Any, request: pytest.FixtureRequest) -> str:
    """A fresh bucket on the moto server, named after the test."""
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50].strip("-")
    s3_client.create_bucket(Bucket=name)
    return name
