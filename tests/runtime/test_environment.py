"""The KUBETASK_* variables a pod gets, read once: the attempt, the run, and where the summary goes."""

from __future__ import annotations

from pathlib import Path

import pytest

import kubetask
from kubetask._environment import PodEnvironment


def test_variables_are_read_and_empty_ones_are_unset(tmp_path: Path) -> None:
    environment = PodEnvironment.from_environ(
        {
            "KUBETASK_ATTEMPT": "3",
            "KUBETASK_RUN_NAME": "nightly",
            "KUBETASK_NAMESPACE": "",
            "KUBETASK_TERMINATION_MESSAGE_PATH": str(tmp_path / "summary"),
        },
        default_termination_path=str(tmp_path / "absent"),
    )
    assert (environment.attempt, environment.run_name, environment.namespace) == (3, "nightly", None)
    assert environment.termination_message_path == str(tmp_path / "summary")


def test_attempt_defaults_to_the_first() -> None:
    assert PodEnvironment.from_environ({}).attempt == 1


@pytest.mark.parametrize("value", ["0", "-1", "first", "1.5", ""])
def test_a_bad_attempt_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(kubetask.UsageError) as raised:
        PodEnvironment.from_environ({"KUBETASK_ATTEMPT": value})
    assert str(raised.value) == f"KUBETASK_ATTEMPT: expected a positive integer (1-based), got {value!r}"


def test_the_kubelet_s_termination_log_is_used_only_when_it_is_writable(tmp_path: Path) -> None:
    mounted = tmp_path / "termination-log"
    mounted.write_text("")
    found = PodEnvironment.from_environ({}, default_termination_path=str(mounted))
    assert found.termination_message_path == str(mounted)
    missing = PodEnvironment.from_environ({}, default_termination_path=str(tmp_path / "absent"))
    assert missing.termination_message_path is None  # a laptop: nothing to write to, and no error


def test_environment_is_immutable() -> None:
    environment = PodEnvironment.from_environ({})
    with pytest.raises(AttributeError):
        environment.attempt = 2  # type: ignore[misc]
