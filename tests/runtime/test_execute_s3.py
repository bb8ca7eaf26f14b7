"""kubetask-execute against S3: moto in server mode (real HTTP), the real s3fs backend via fsspec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Executor

T = "typed_tasks"
F = "failing_tasks"


def put(client: Any, bucket: str, key: str, body: bytes | str) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


def get(client: Any, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


def keys(client: Any, bucket: str, prefix: str) -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def test_inputs_and_outputs_documents_on_s3(
    executor: Executor, s3_client: Any, s3_bucket: str, s3_environment: dict[str, str]
) -> None:
    put(s3_client, s3_bucket, "runs/1/inputs.json", json.dumps({"a": 17, "b": 5}))
    result = executor.run(
        T,
        "divide",
        inputs_uri=f"s3://{s3_bucket}/runs/1/inputs.json",
        output_prefix=f"s3://{s3_bucket}/runs/1",
        env=s3_environment,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(get(s3_client, s3_bucket, "runs/1/outputs.json")) == {"o0": 3, "o1": 2}
    assert result.termination is not None
    assert result.termination.outputs == {"o0": 3, "o1": 2}
    assert result.termination.outputs_uri == f"s3://{s3_bucket}/runs/1/outputs.json"


def test_file_input_is_downloaded_and_file_output_uploaded_under_the_raw_prefix(
    executor: Executor, s3_client: Any, s3_bucket: str, s3_environment: dict[str, str]
) -> None:
    put(s3_client, s3_bucket, "data/doc.txt", "whisper")
    result = executor.run(
        T,
        "shout_file",
        {"document": f"s3://{s3_bucket}/data/doc.txt"},
        output_prefix=f"s3://{s3_bucket}/runs/2",
        raw_output_data_prefix=f"s3://{s3_bucket}/raw/2",
        env=s3_environment,
    )
    assert result.returncode == 0, result.stderr
    assert result.outputs is None  # on S3, not local
    outputs = json.loads(get(s3_client, s3_bucket, "runs/2/outputs.json"))
    assert outputs == {"o0": f"s3://{s3_bucket}/raw/2/o0/shout.txt"}
    assert get(s3_client, s3_bucket, "raw/2/o0/shout.txt") == b"WHISPER"


def test_directory_input_and_output_on_s3(
    executor: Executor, s3_client: Any, s3_bucket: str, s3_environment: dict[str, str]
) -> None:
    put(s3_client, s3_bucket, "tree/a.txt", "a")
    put(s3_client, s3_bucket, "tree/sub/b.txt", "b")
    listed = executor.run(
        T,
        "list_directory",
        {"folder": f"s3://{s3_bucket}/tree"},
        output_prefix=f"s3://{s3_bucket}/runs/3",
        env=s3_environment,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(get(s3_client, s3_bucket, "runs/3/outputs.json")) == {"o0": ["a.txt", "sub/b.txt"]}
    made = executor.run(
        T, "make_directory", {"count": 2}, output_prefix=f"s3://{s3_bucket}/runs/4", env=s3_environment
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(get(s3_client, s3_bucket, "runs/4/outputs.json")) == {
        "o0": f"s3://{s3_bucket}/runs/4/raw/o0"
    }
    assert keys(s3_client, s3_bucket, "runs/4/raw/") == [
        "runs/4/raw/o0/part0/data.txt",
        "runs/4/raw/o0/part1/data.txt",
    ]


def test_error_document_is_written_to_s3(
    executor: Executor, s3_client: Any, s3_bucket: str, s3_environment: dict[str, str]
) -> None:
    result = executor.run(
        F, "raises_chained", {"text": "x"}, output_prefix=f"s3://{s3_bucket}/runs/5", env=s3_environment
    )
    assert result.returncode == 1
    error = json.loads(get(s3_client, s3_bucket, "runs/5/error.json"))
    assert (error["kind"], error["type"], error["message"]) == (
        "USER",
        "failing_tasks.Oops",
        "could not parse 'x'",
    )
    assert result.termination is not None
    assert result.termination.error_uri == f"s3://{s3_bucket}/runs/5/error.json"


def test_missing_s3_object_is_a_user_error_naming_the_uri(
    executor: Executor, s3_bucket: str, s3_environment: dict[str, str]
) -> None:
    """A missing inputsFrom document stays missing: not retried (was a recoverable SYSTEM error)."""
    result = executor.run(T, "echo_int", inputs_uri=f"s3://{s3_bucket}/nothing.json", env=s3_environment)
    assert result.returncode == 1, result.stderr
    assert result.error is not None
    assert (result.error["kind"], result.error["recoverable"]) == ("USER", False)
    assert result.error["type"] == "kubetask.StorageLocationError"
    assert f"cannot read 's3://{s3_bucket}/nothing.json'" in result.error["message"]


def without_credentials(s3_environment: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The moto endpoint, but no AWS credentials anywhere botocore looks (environment, files, IMDS)."""
    return {
        **s3_environment,
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_missing_credentials_fail_before_the_task_runs(
    executor: Executor, s3_bucket: str, s3_environment: dict[str, str], tmp_path: Path
) -> None:
    """Was NoCredentialsError after the task ran, as a recoverable SYSTEM error."""
    argv = executor.command(
        ["task-module", T, "task-name", "chatty"],
        inputs=executor.inputs_file({"x": 1}),
        output_prefix=f"s3://{s3_bucket}/runs/6",
    )
    result = executor.run_argv(argv, env=without_credentials(s3_environment, tmp_path))
    assert result.returncode == 1, result.stderr
    assert "stdout from the task" not in result.stdout
    assert result.termination is not None
    error = result.termination.error
    assert error is not None
    assert (error.kind, error.recoverable, error.type) == ("USER", False, "kubetask.StorageLocationError")
    assert f"--output-prefix 's3://{s3_bucket}/runs/6': cannot reach the storage: NoCredentialsError" in (
        error.message
    )
    assert "no credentials for this storage" in error.message


def test_missing_bucket_fails_before_the_task_runs(
    executor: Executor, s3_environment: dict[str, str]
) -> None:
    argv = executor.command(
        ["task-module", T, "task-name", "chatty"],
        inputs=executor.inputs_file({"x": 1}),
        output_prefix="s3://kubetask-no-such-bucket/runs/7",
    )
    result = executor.run_argv(argv, env=s3_environment)
    assert result.returncode == 1, result.stderr
    assert "stdout from the task" not in result.stdout
    assert result.termination is not None
    assert result.termination.error is not None
    assert result.termination.error.type == "kubetask.StorageLocationError"
    assert (
        "--output-prefix 's3://kubetask-no-such-bucket/runs/7': 'kubetask-no-such-bucket' does not exist"
        in result.termination.error.message
    )


def test_the_log_is_archived_beside_the_outputs_on_s3(
    executor: Executor, s3_client: Any, s3_bucket: str, s3_environment: dict[str, str]
) -> None:
    result = executor.run(T, "chatty", {"x": 1}, output_prefix=f"s3://{s3_bucket}/runs/8", env=s3_environment)
    assert result.returncode == 0, result.stderr
    assert keys(s3_client, s3_bucket, "runs/8/") == ["runs/8/log.txt", "runs/8/outputs.json"]
    log = get(s3_client, s3_bucket, "runs/8/log.txt").decode()
    assert "stdout from the task\n" in log
    assert "stderr from the task\n" in log
    assert log.splitlines()[-1].startswith("kubetask-execute: end outcome=Succeeded ")
