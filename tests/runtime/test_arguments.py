"""The kubetask-execute command line accepts exactly what build_execute_command produces."""

from __future__ import annotations

import pytest

import kubetask
from kubetask._arguments import output_prefix_of, parse_arguments


def test_builder_output_parses_back() -> None:
    command = kubetask.build_execute_command(
        inputs="I",
        output_prefix="O",
        loader_args=["a", "--b"],
        raw_output_data_prefix="R",
        resolver="m.r",
        checkpoint_path="C",
        prev_checkpoint="P",
    )
    arguments = parse_arguments(command[1:])
    assert (arguments.inputs, arguments.output_prefix, arguments.raw_output_data_prefix) == ("I", "O", "R")
    assert (arguments.resolver, arguments.checkpoint_path, arguments.prev_checkpoint) == ("m.r", "C", "P")
    assert arguments.loader_args == ["a", "--b"]


def test_equals_form_and_default_resolver() -> None:
    arguments = parse_arguments(["--inputs=I", "--output-prefix=O", "--", "x"])
    assert (arguments.inputs, arguments.resolver) == ("I", kubetask.DEFAULT_RESOLVER)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--inputs", "I", "--inputs", "J", "--output-prefix", "O", "--", "x"],
            "--inputs given twice: 'I' and 'J'",
            id="twice",
        ),
        pytest.param(
            ["--inputs=", "--output-prefix", "O", "--", "x"],
            "--inputs: expected a non-empty value",
            id="empty",
        ),
        pytest.param(["--inputs"], "--inputs: expected a value after it", id="dangling"),
    ],
)
def test_usage_errors_name_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(kubetask.UsageError, match=message):
        parse_arguments(argv)


def test_output_prefix_is_recovered_from_a_bad_command_line() -> None:
    assert output_prefix_of(["--bogus", "--output-prefix", "O", "--", "--output-prefix", "Z"]) == "O"
    assert output_prefix_of(["--output-prefix=P"]) == "P"
    assert output_prefix_of(["--inputs", "I"]) is None
