"""The command line of ``kubetask-execute``, parsed without :mod:`argparse` (~7 ms of cold start).

The argv shape is fixed by ``build_execute_command``; this accepts exactly that (flags in any order,
``--flag=value`` too) and names the flag in every error.
"""

from __future__ import annotations

from kubetask._errors import UsageError
from kubetask._protocol import DEFAULT_RESOLVER, EXECUTE_PROGRAM

USAGE = f"""usage: {EXECUTE_PROGRAM} --inputs URI --output-prefix URI [--raw-output-data-prefix URI]
                        [--resolver DOTTED.PATH] [--checkpoint-path URI] [--prev-checkpoint URI]
                        [--code-uri URI --code-sha256 HEX] -- LOADER-ARGS...

Run one task in this process: load it with the resolver from LOADER-ARGS, read the inputs document,
call the task, write <output-prefix>/outputs.json (or error.json) and the termination message.
URIs: local paths, file://, data: (RFC 2397) and any fsspec protocol (s3://, gs://, ...).
--resolver defaults to {DEFAULT_RESOLVER}.
--code-uri: a tar.gz of the task's code (kubetask.pack_code), checked against --code-sha256, unpacked
and put first on sys.path before the task is loaded.
Exit status: 0 success, 1 user error, 2 usage error, 3 system error, 143 SIGTERM."""

_FLAGS = {
    "--inputs": "inputs",
    "--output-prefix": "output_prefix",
    "--raw-output-data-prefix": "raw_output_data_prefix",
    "--resolver": "resolver",
    "--checkpoint-path": "checkpoint_path",
    "--prev-checkpoint": "prev_checkpoint",
    "--code-uri": "code_uri",
    "--code-sha256": "code_sha256",
}
_HEX = frozenset("0123456789abcdef")


class ExecuteArguments:
    """The parsed command line."""

    __slots__ = (
        "checkpoint_path",
        "code_sha256",
        "code_uri",
        "inputs",
        "loader_args",
        "output_prefix",
        "prev_checkpoint",
        "raw_output_data_prefix",
        "resolver",
    )

    def __init__(self, values: dict[str, str], loader_args: list[str]) -> None:
        self.inputs = values["inputs"]
        self.output_prefix = values["output_prefix"]
        self.raw_output_data_prefix = values.get("raw_output_data_prefix")
        self.resolver = values.get("resolver", DEFAULT_RESOLVER)
        self.checkpoint_path = values.get("checkpoint_path")
        self.prev_checkpoint = values.get("prev_checkpoint")
        self.code_uri = values.get("code_uri")
        self.code_sha256 = values.get("code_sha256")
        self.loader_args = loader_args


def wants_help(argv: list[str]) -> bool:
    """``-h``/``--help`` before ``--``."""
    head = argv[: argv.index("--")] if "--" in argv else argv
    return "-h" in head or "--help" in head


def parse_arguments(argv: list[str]) -> ExecuteArguments:
    """Parse *argv* (without the program name); UsageError names what is wrong."""
    values: dict[str, str] = {}
    index = 0
    while index < len(argv):
        argument = argv[index]
        if argument == "--":
            break
        flag, equals, inline = argument.partition("=")
        if flag not in _FLAGS:
            expected = ", ".join(_FLAGS)
            raise UsageError(
                f"unknown argument {argument!r}: expected one of {expected}, then -- LOADER-ARGS"
            )
        if equals:
            value = inline
        elif index + 1 < len(argv) and argv[index + 1] != "--":
            index += 1
            value = argv[index]
        else:
            raise UsageError(f"{flag}: expected a value after it")
        if not value:
            raise UsageError(f"{flag}: expected a non-empty value, got {value!r}")
        name = _FLAGS[flag]
        if name in values:
            raise UsageError(f"{flag} given twice: {values[name]!r} and {value!r}")
        values[name] = value
        index += 1
    missing = [flag for flag in ("--inputs", "--output-prefix") if _FLAGS[flag] not in values]
    if missing:
        raise UsageError(f"missing required {' and '.join(missing)}")
    _check_code(values)
    if index >= len(argv):
        raise UsageError("missing '--' followed by the loader args that name the task")
    loader_args = argv[index + 1 :]
    if not loader_args:
        raise UsageError("no loader args after '--': nothing names the task to run")
    return ExecuteArguments(values, loader_args)


def _check_code(values: dict[str, str]) -> None:
    if ("code_uri" in values) != ("code_sha256" in values):
        given, missing = ("--code-uri", "--code-sha256")[:: 1 if "code_uri" in values else -1]
        raise UsageError(f"{given} needs {missing}: the archive and its sha256 go together")
    digest = values.get("code_sha256")
    if digest is not None and (len(digest) != 64 or not _HEX.issuperset(digest)):
        raise UsageError(f"--code-sha256: expected 64 lowercase hexadecimal digits, got {digest!r}")


def output_prefix_of(argv: list[str]) -> str | None:
    """``--output-prefix`` from an argv that failed to parse, so a usage error can still be recorded."""
    head = argv[: argv.index("--")] if "--" in argv else argv
    for index, argument in enumerate(head):
        if argument.startswith("--output-prefix="):
            return argument.partition("=")[2] or None
        if argument == "--output-prefix" and index + 1 < len(head):
            return head[index + 1]
    return None
