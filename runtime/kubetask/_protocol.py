"""The contract between the runtime and whoever starts it (the operator, ``kubetask run``).

The single place where the shape of the pod command is defined, the exit codes and ``data:`` URIs.
Pure functions, no I/O.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Sequence

EXECUTE_PROGRAM = "kubetask-execute"
DEFAULT_RESOLVER = "kubetask.default_task_resolver"


# Exit status of ``kubetask-execute``: distinct for each way it can end. Plain ints on the pod's path;
# ``kubetask.ExitCode`` (``_exit_code``) names them as an IntEnum: enum costs ~4 ms of the pod's cold start.
EXIT_SUCCESS = 0
EXIT_USER_ERROR = 1  # the task, its module, its resolver or its inputs failed
EXIT_USAGE_ERROR = 2  # the command line or the environment is malformed
EXIT_SYSTEM_ERROR = 3  # storage or the runtime itself failed; worth retrying
EXIT_TERMINATED = 143  # SIGTERM (128 + 15), e.g. the pod was deleted or timed out


def build_execute_command(
    *,
    inputs: str,
    output_prefix: str,
    loader_args: Sequence[str],
    raw_output_data_prefix: str | None = None,
    resolver: str | None = None,
    checkpoint_path: str | None = None,
    prev_checkpoint: str | None = None,
    code_uri: str | None = None,
    code_sha256: str | None = None,
) -> list[str]:
    """The argv of a task pod: ``kubetask-execute --inputs I --output-prefix O ... -- LOADER ARGS``."""
    _require_uri("inputs", inputs)
    _require_uri("output_prefix", output_prefix)
    if isinstance(loader_args, str) or not loader_args:
        raise ValueError(f"loader_args: expected a non-empty sequence of str, got {loader_args!r}")
    for index, arg in enumerate(loader_args):
        if not isinstance(arg, str):
            raise TypeError(f"loader_args[{index}]: expected str, got {arg!r} ({type(arg).__name__})")
    command = [EXECUTE_PROGRAM, "--inputs", inputs, "--output-prefix", output_prefix]
    if raw_output_data_prefix is not None:
        _require_uri("raw_output_data_prefix", raw_output_data_prefix)
        command += ["--raw-output-data-prefix", raw_output_data_prefix]
    if resolver is None:
        resolver = DEFAULT_RESOLVER
    _require_uri("resolver", resolver)
    command += ["--resolver", resolver]
    if checkpoint_path is not None:
        _require_uri("checkpoint_path", checkpoint_path)
        command += ["--checkpoint-path", checkpoint_path]
    if prev_checkpoint is not None:
        _require_uri("prev_checkpoint", prev_checkpoint)
        command += ["--prev-checkpoint", prev_checkpoint]
    if (code_uri is None) != (code_sha256 is None):
        raise ValueError(f"code_uri and code_sha256 go together, got {code_uri!r} and {code_sha256!r}")
    if code_uri is not None:
        _require_uri("code_uri", code_uri)
        _require_uri("code_sha256", code_sha256)
        command += ["--code-uri", code_uri, "--code-sha256", str(code_sha256)]
    return [*command, "--", *loader_args]


def _require_uri(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: expected a non-empty str, got {value!r}")


def data_uri(payload: bytes, *, media_type: str = "application/json") -> str:
    """An RFC 2397 ``data:`` URI carrying *payload* base64-encoded, so small inputs travel in the argv."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise TypeError(f"payload: expected bytes, got {payload!r} ({type(payload).__name__})")
    if not isinstance(media_type, str) or "," in media_type or "/" not in media_type:
        raise ValueError(f"media_type: expected a MIME type like 'application/json', got {media_type!r}")
    import binascii  # a shared library: not on the pod's path unless a data: URI is

    encoded = binascii.b2a_base64(payload, newline=False).decode("ascii")
    return f"data:{media_type};base64,{encoded}"


def decode_data_uri(uri: str) -> bytes:
    """The payload of an RFC 2397 ``data:`` URI (base64 or percent-encoded)."""
    if not uri.startswith("data:") or "," not in uri:
        raise ValueError(f"not a data: URI (expected 'data:[<media type>][;base64],<data>'): {uri[:80]!r}")
    header, _, body = uri[5:].partition(",")
    if header.endswith(";base64"):
        import binascii  # a shared library: not on the pod's path unless a data: URI is

        try:
            return binascii.a2b_base64(body.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError) as error:
            raise ValueError(f"data: URI has invalid base64 data ({error}): {uri[:80]!r}") from None
    from urllib.parse import unquote_to_bytes  # only for the rare percent-encoded form

    return unquote_to_bytes(body)
