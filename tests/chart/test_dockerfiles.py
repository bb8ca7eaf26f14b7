"""The Dockerfiles, linted at the parser level (no Docker engine here): pinned, minimal, non-root."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).parents[2]
DOCKERFILES = [
    pytest.param(REPO / "runtime" / "Dockerfile", id="runtime-base-image"),
    pytest.param(REPO / "operator" / "Dockerfile", id="operator-image"),
]
PINNED_PYTHON = re.compile(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+(@sha256:[0-9a-f]{64})?")


def _instructions(path: Path, name: str) -> list[dict[str, Any]]:
    return [i for i in DockerfileParser(str(path)).structure if i["instruction"] == name]


def _final_stage(path: Path) -> list[dict[str, Any]]:
    structure = DockerfileParser(str(path)).structure
    last_from = max(index for index, i in enumerate(structure) if i["instruction"] == "FROM")
    return structure[last_from:]


@pytest.mark.parametrize("path", DOCKERFILES)
def test_every_base_image_is_pinned_to_an_exact_slim_python(path: Path) -> None:
    parents = DockerfileParser(str(path)).parent_images
    assert parents
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(part) for part in requires.removeprefix(">=").split("."))
    for image in parents:
        match = PINNED_PYTHON.fullmatch(image)
        assert match, f"{path.name}: base image {image!r} is not pinned to python:X.Y.Z-slim-<debian>"
        assert (int(match[1]), int(match[2])) >= minimum, (
            f"{image!r} is older than requires-python {requires}"
        )


@pytest.mark.parametrize("path", DOCKERFILES)
def test_the_image_runs_as_a_numeric_non_root_user(path: Path) -> None:
    users = [i["value"] for i in _final_stage(path) if i["instruction"] == "USER"]
    assert users, f"{path.name}: the final stage never leaves root"
    uid, _, gid = users[-1].partition(":")
    # Kubernetes can only enforce runAsNonRoot on a numeric USER.
    assert uid.isdigit(), f"{path.name}: USER {users[-1]!r} must be numeric"
    assert int(uid) != 0
    assert not gid or int(gid) != 0
    assert "65532" in (REPO / "charts" / "kubetask" / "values.yaml").read_text(), "chart and image uids agree"


@pytest.mark.parametrize("path", DOCKERFILES)
def test_no_add_and_exec_form_commands(path: Path) -> None:
    parser = DockerfileParser(str(path))
    assert not [i for i in parser.structure if i["instruction"] == "ADD"], (
        "COPY only: ADD fetches URLs, unpacks"
    )
    for instruction in parser.structure:
        if instruction["instruction"] in {"CMD", "ENTRYPOINT"}:
            assert isinstance(json.loads(instruction["value"]), list), (
                f"{instruction['value']!r} not exec form"
            )


@pytest.mark.parametrize("path", DOCKERFILES)
def test_installs_leave_no_caches_behind(path: Path) -> None:
    for run in _instructions(path, "RUN"):
        command = run["value"]
        if "pip install" in command:
            assert "--no-cache-dir" in command, command
        if "apt-get install" in command:
            assert "--no-install-recommends" in command, command
            assert "rm -rf /var/lib/apt/lists" in command, command


def _ignored(relative: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(relative, p.rstrip("/")) or relative.startswith(p) for p in patterns)


@pytest.mark.parametrize("path", DOCKERFILES)
def test_every_copied_path_exists_and_is_not_dockerignored(path: Path) -> None:
    ignore_file = path.with_name(path.name + ".dockerignore")
    patterns = [
        line.strip()
        for line in ignore_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for copy in _instructions(path, "COPY"):
        words = shlex.split(copy["value"])
        if any(word.startswith("--from=") for word in words):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), (
                f"{path.name}: COPY {source!r} does not exist (context: repo root)"
            )
            assert not _ignored(source.rstrip("/"), patterns), (
                f"{path.name}: COPY {source!r} is dockerignored"
            )


@pytest.mark.parametrize("path", DOCKERFILES)
def test_the_documented_build_command_builds_this_file_from_the_repository_root(path: Path) -> None:
    relative = path.relative_to(REPO).as_posix()
    comments = [i["value"] for i in _instructions(path, "COMMENT")]
    builds = [c for c in comments if c.startswith("docker build")]
    assert builds, f"{relative}: no documented `docker build` command"
    for build in builds:
        words = shlex.split(build)
        assert words[words.index("-f") + 1] == relative
        assert words[-1] == "."


def test_the_operator_image_is_the_one_the_chart_deploys() -> None:
    values = yaml.safe_load((REPO / "charts" / "kubetask" / "values.yaml").read_text())
    chart = yaml.safe_load((REPO / "charts" / "kubetask" / "Chart.yaml").read_text())
    dockerfile = REPO / "operator" / "Dockerfile"
    tags = [
        shlex.split(c)[shlex.split(c).index("-t") + 1]
        for c in (i["value"] for i in _instructions(dockerfile, "COMMENT"))
        if c.startswith("docker build")
    ]
    assert tags == [f"{values['image']['repository']}:{chart['appVersion']}"]
    (cmd,) = _instructions(dockerfile, "CMD")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(cmd["value"])[0] in scripts
    assert any('".[operator]"' in run["value"] for run in _instructions(dockerfile, "RUN"))
