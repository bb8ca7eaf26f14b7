"""Shipping code: packing a code root deterministically, the ignore rules, the size limit, and a pod's
``kubetask-execute --code-uri`` fetching, verifying and safely unpacking the archive before the task loads."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import kubetask
from kubetask._code import code_files, install_code, is_ignored, parse_ignore_file, unpack

if TYPE_CHECKING:
    from conftest import Execution, Executor


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def packed_names(root: Path) -> list[str]:
    archive = kubetask.pack_code(str(root))
    with tarfile.open(fileobj=io.BytesIO(archive.data), mode="r:gz") as opened:
        return opened.getnames()


# ---------------------------------------------------------------- the code root


def test_the_code_root_of_a_lone_module_is_its_folder(tmp_path: Path) -> None:
    module = write(tmp_path, {"tasks.py": ""}) / "tasks.py"
    assert kubetask.code_root_of(str(module)) == str(tmp_path)


def test_the_code_root_of_a_package_module_is_above_its_top_level_package(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"project/app/__init__.py": "", "project/app/jobs/__init__.py": "", "project/app/jobs/t.py": ""},
    )
    assert kubetask.code_root_of(str(tmp_path / "project/app/jobs/t.py")) == str(tmp_path / "project")


# ---------------------------------------------------------------- determinism


def test_the_same_tree_packs_to_the_same_bytes_whatever_the_mtimes_and_creation_order(tmp_path: Path) -> None:
    files = {"b.py": "B = 2\n", "a/__init__.py": "", "a/z.py": "Z = 26\n", "a/m.txt": "data"}
    first = write(tmp_path / "first", files)
    second = write(tmp_path / "second", dict(reversed(list(files.items()))))
    for index, path in enumerate(sorted(second.rglob("*"))):
        os.utime(path, (1_000_000 + index * 7919, 1_000_000 + index * 7919))
    (second / "b.py").chmod(0o600)  # only the owner's execute bit is kept; the rest is fixed
    one, two = kubetask.pack_code(str(first)), kubetask.pack_code(str(second))
    assert one.data == two.data
    assert one.sha256 == two.sha256 == hashlib.sha256(one.data).hexdigest()
    assert one.files == ("a/__init__.py", "a/m.txt", "a/z.py", "b.py")


def test_archive_entries_are_sorted_with_fixed_times_modes_and_owners(tmp_path: Path) -> None:
    root = write(tmp_path, {"run.sh": "#!/bin/sh\n", "x.py": "", "pkg/y.py": ""})
    (root / "run.sh").chmod(0o700)
    with tarfile.open(fileobj=io.BytesIO(kubetask.pack_code(str(root)).data), mode="r:gz") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["pkg/y.py", "run.sh", "x.py"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.name: m.mode for m in members} == {"pkg/y.py": 0o644, "run.sh": 0o755, "x.py": 0o644}


def test_a_changed_file_changes_the_hash(tmp_path: Path) -> None:
    root = write(tmp_path, {"t.py": "VALUE = 1\n"})
    before = kubetask.pack_code(str(root)).sha256
    (root / "t.py").write_text("VALUE = 2\n")
    assert kubetask.pack_code(str(root)).sha256 != before


# ---------------------------------------------------------------- ignore rules


def test_never_packed_git_venv_caches_bytecode_and_kubetask_state(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "t.py": "",
            ".git/HEAD": "ref",
            ".venv/lib/x.py": "",
            "pkg/__pycache__/t.cpython-311.pyc": "",
            "pkg/old.pyc": "",
            ".kubetask/kubeconfig": "",
            ".pytest_cache/v": "",
            "pkg/keep.py": "",
        },
    )
    assert packed_names(root) == ["pkg/keep.py", "t.py"]


@pytest.mark.parametrize(
    ("lines", "path", "is_directory", "ignored"),
    [
        pytest.param(["*.log"], "deep/down/x.log", False, True, id="glob-without-slash-at-any-depth"),
        pytest.param(["*.log", "!keep.log"], "a/keep.log", False, False, id="negation-re-includes"),
        pytest.param(["/build"], "build", True, True, id="leading-slash-anchors-to-the-root"),
        pytest.param(["/build"], "src/build", True, False, id="anchored-does-not-match-deeper"),
        pytest.param(["data/"], "data", False, False, id="trailing-slash-only-folders"),
        pytest.param(["data/"], "x/data", True, True, id="trailing-slash-folder-at-any-depth"),
        pytest.param(["docs/*.md"], "docs/a.md", False, True, id="inner-slash-anchors"),
        pytest.param(["docs/*.md"], "docs/sub/a.md", False, False, id="star-stays-in-one-segment"),
        pytest.param(["**/fixtures"], "a/b/fixtures", True, True, id="leading-double-star"),
        pytest.param(["logs/**"], "logs/a/b.txt", False, True, id="trailing-double-star"),
        pytest.param(["a/**/z.py"], "a/z.py", False, True, id="middle-double-star-zero-folders"),
        pytest.param(["a/**/z.py"], "a/b/c/z.py", False, True, id="middle-double-star-many-folders"),
        pytest.param(["file?.txt"], "file1.txt", False, True, id="question-mark"),
        pytest.param(["file[0-3].txt"], "file4.txt", False, False, id="character-class"),
        pytest.param(["file[!0-3].txt"], "file4.txt", False, True, id="negated-character-class"),
        pytest.param(["# comment", "", "\\#hash"], "#hash", False, True, id="comments-and-escaped-hash"),
    ],
)
def test_gitignore_syntax(lines: list[str], path: str, is_directory: bool, ignored: bool) -> None:
    rules = parse_ignore_file("\n".join(lines))
    assert is_ignored(path, is_directory=is_directory, rules=rules) is ignored


def test_gitignore_files_apply_below_their_folder_and_kubetaskignore_has_the_last_word(
    tmp_path: Path,
) -> None:
    root = write(
        tmp_path,
        {
            ".gitignore": "*.csv\nsecrets/\n",
            ".kubetaskignore": "notebooks/\n!lookup.csv\n",
            "t.py": "",
            "big.csv": "1,2",
            "lookup.csv": "a,b",
            "secrets/key": "k",
            "notebooks/n.ipynb": "{}",
            "sub/.gitignore": "local.py\n",
            "sub/local.py": "",
            "sub/kept.py": "",
            "local.py": "",
        },
    )
    assert packed_names(root) == [
        ".gitignore",
        ".kubetaskignore",
        "local.py",
        "lookup.csv",
        "sub/.gitignore",
        "sub/kept.py",
        "t.py",
    ]


def test_a_file_in_an_ignored_folder_cannot_be_re_included(tmp_path: Path) -> None:
    root = write(tmp_path, {".gitignore": "out/\n!out/keep.py\n", "out/keep.py": "", "t.py": ""})
    assert [name for name, _ in code_files(str(root))] == [".gitignore", "t.py"]  # as git does


def test_symlinked_files_are_packed_as_files_and_symlinked_folders_skipped(tmp_path: Path) -> None:
    root = write(tmp_path / "root", {"real.py": "R = 1\n", "pkg/m.py": ""})
    (root / "alias.py").symlink_to(root / "real.py")
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert packed_names(root) == ["alias.py", "pkg/m.py", "real.py"]


# ---------------------------------------------------------------- size


def test_too_large_a_root_is_refused_naming_the_largest_files(tmp_path: Path) -> None:
    root = write(tmp_path, {"t.py": "x" * 10, "model.bin": "m" * 5000, "data/big.csv": "c" * 3000})
    with pytest.raises(kubetask.CodePackingError) as raised:
        kubetask.pack_code(str(root), max_bytes=4096)
    message = str(raised.value)
    assert "7.8 KiB in 3 files, more than the 4.0 KiB" in message
    assert "the largest: model.bin (4.9 KiB), data/big.csv (2.9 KiB), t.py (0.0 KiB)" in message
    assert ".kubetaskignore" in message
    assert "--no-code" in message


def test_a_folder_with_too_many_files_is_refused_without_walking_all_of_it(tmp_path: Path) -> None:
    root = write(tmp_path, {f"a/{index}.txt": "" for index in range(5)} | {"b/more.txt": "", "t.py": ""})
    with pytest.raises(kubetask.CodePackingError) as raised:
        kubetask.pack_code(str(root), max_files=4)
    assert f"code root {str(root)!r} holds more than 4 files to ship" in str(raised.value)
    assert f"the walk stopped in {str(root / 'a')!r}" in str(raised.value)
    assert kubetask.pack_code(str(root), max_files=7).files[-1] == "t.py"


def test_ignored_files_do_not_count_towards_the_size(tmp_path: Path) -> None:
    root = write(tmp_path, {"t.py": "", "model.bin": "m" * 5000, ".kubetaskignore": "*.bin\n"})
    assert kubetask.pack_code(str(root), max_bytes=4096).files == (".kubetaskignore", "t.py")


# ---------------------------------------------------------------- unpacking


def hostile_archive(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, content in members:
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("members", "message"),
    [
        pytest.param(
            [(member("/etc/evil"), b"x")], "member '/etc/evil' is not a relative path", id="absolute"
        ),
        pytest.param(
            [(member("../evil.py"), b"x")], "member '../evil.py' leaves the code folder", id="dotdot"
        ),
        pytest.param([(member("pkg/../../evil.py"), b"x")], "leaves the code folder", id="dotdot-inside"),
        pytest.param(
            [(member("link", tarfile.SYMTYPE, "/etc/passwd"), b"")],
            "member 'link' is a symbolic link (to '/etc/passwd')",
            id="symlink",
        ),
        pytest.param(
            [(member("a.py"), b"x"), (member("hard", tarfile.LNKTYPE, "a.py"), b"")],
            "member 'hard' is a hard link",
            id="hardlink",
        ),
        pytest.param(
            [(member("fifo", tarfile.FIFOTYPE), b"")],
            "member 'fifo' is a FIFO; only regular files",
            id="fifo",
        ),
        pytest.param([(member("a.py"), b"1"), (member("./a.py"), b"2")], "appears twice", id="duplicate"),
    ],
)
def test_hostile_archives_are_refused(tmp_path: Path, members: list[Any], message: str) -> None:
    target = tmp_path / "code"
    target.mkdir()
    with pytest.raises(kubetask.CodeArchiveError) as raised:
        unpack(hostile_archive(*members), str(target), uri="s3://b/code.tar.gz")
    assert "code archive 's3://b/code.tar.gz'" in str(raised.value)
    assert message in str(raised.value)
    assert not (tmp_path / "evil.py").exists()


@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_long_names_unpack_in_the_forms_tar_tools_write(tmp_path: Path, tar_format: int) -> None:
    deep = "/".join(["a_rather_long_folder_name"] * 5) + "/module_with_a_long_name.py"  # > 100 characters
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tar_format) as archive:
        for name, content in ((deep, b"DEEP = 1\n"), ("top.py", b"TOP = 2\n")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755 if name == "top.py" else 0o644
            archive.addfile(info, io.BytesIO(content))
    assert unpack(buffer.getvalue(), str(tmp_path), uri="u") == [deep, "top.py"]
    assert (tmp_path / deep).read_bytes() == b"DEEP = 1\n"
    assert (tmp_path / "top.py").stat().st_mode & 0o777 == 0o755


def test_a_packed_tree_unpacks_to_the_same_files(tmp_path: Path) -> None:
    files = {"t.py": "T = 1\n", "pkg/__init__.py": "", "pkg/data/table.csv": "a,b\n" * 1000}
    archive = kubetask.pack_code(str(write(tmp_path / "src", files)))
    (tmp_path / "out").mkdir()
    assert sorted(unpack(archive.data, str(tmp_path / "out"), uri="u")) == sorted(files)
    assert {name: (tmp_path / "out" / name).read_text() for name in files} == files


def test_a_corrupted_header_is_refused(tmp_path: Path) -> None:
    import gzip

    raw = bytearray(gzip.decompress(hostile_archive((member("a.py"), b"x"))))
    raw[0:1] = b"b"  # the name changes, the header checksum does not
    with pytest.raises(kubetask.CodeArchiveError, match="bad header checksum at byte 0"):
        unpack(gzip.compress(bytes(raw)), str(tmp_path), uri="u")


def test_a_truncated_archive_is_refused(tmp_path: Path) -> None:
    data = hostile_archive((member("a.py"), b"x" * 5000))
    with pytest.raises(kubetask.CodeArchiveError, match=re.escape("'u' is not a readable tar.gz archive")):
        unpack(data[: len(data) // 2], str(tmp_path), uri="u")


def test_a_symlinked_folder_already_in_the_target_cannot_lead_outside(tmp_path: Path) -> None:
    target, outside = tmp_path / "code", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (target / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(kubetask.CodeArchiveError, match="would be written outside the code folder"):
        unpack(hostile_archive((member("escape/evil.py"), b"x")), str(target), uri="u")
    assert list(outside.iterdir()) == []


def test_an_archive_unpacking_beyond_the_limit_is_refused(tmp_path: Path) -> None:
    data = hostile_archive((member("a.bin"), b"0" * 2048), (member("b.bin"), b"0" * 2048))
    with pytest.raises(kubetask.CodeArchiveError, match=re.escape("unpacks to more than 3.0 KiB")):
        unpack(data, str(tmp_path), uri="u", max_bytes=3072)


def test_an_unreadable_archive_is_a_code_archive_error(tmp_path: Path) -> None:
    with pytest.raises(kubetask.CodeArchiveError, match=re.escape("'u' is not a readable tar.gz archive")):
        unpack(b"this is not gzip", str(tmp_path), uri="u")


def test_install_verifies_the_hash_before_unpacking(tmp_path: Path) -> None:
    archive = kubetask.pack_code(str(write(tmp_path / "src", {"t.py": ""})))
    stored = tmp_path / "code.tar.gz"
    stored.write_bytes(archive.data)
    with pytest.raises(kubetask.CodeArchiveError) as raised:
        install_code(str(stored), sha256="0" * 64, scratch=str(tmp_path / "scratch"))
    assert f"its sha256 is {archive.sha256}, expected {'0' * 64}" in str(raised.value)
    assert not (tmp_path / "scratch").exists() or list((tmp_path / "scratch").iterdir()) == []


# ---------------------------------------------------------------- kubetask-execute --code-uri


TASK_V1 = """import kubetask


@kubetask.task
def greet(name: str) -> str:
    return f"hello {name} from v1"
"""


def run_with_code(
    executor: Executor,
    archive_uri: str,
    sha256: str,
    *,
    loader_args: list[str],
    resolver: str | None = None,
    in_pod: bool = True,
) -> Execution:
    """Run as a pod does (the scratch volume in $KUBETASK_SCRATCH_DIR), or elsewhere ($TMPDIR)."""
    command = kubetask.build_execute_command(
        inputs=executor.inputs_file({"name": "ada"}),
        output_prefix=str(executor.output_prefix),
        loader_args=loader_args,
        resolver=resolver,
        code_uri=archive_uri,
        code_sha256=sha256,
    )
    scratch = str(executor.directory / "scratch")
    env = {"KUBETASK_SCRATCH_DIR": scratch} if in_pod else {"TMPDIR": scratch, "KUBETASK_SCRATCH_DIR": ""}
    return executor.run_argv([str(Path(sys.executable).parent / command[0]), *command[1:]], env=env)


def stored_archive(tmp_path: Path, files: dict[str, str]) -> tuple[Path, kubetask.CodeArchive]:
    archive = kubetask.pack_code(str(write(tmp_path / "project", files)))
    stored = tmp_path / "store" / archive.file_name
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(archive.data)
    return stored, archive


@pytest.mark.parametrize("form", [pytest.param("path", id="local-path"), pytest.param("file", id="file-uri")])
def test_execute_runs_a_task_from_the_archive_with_the_default_resolver(
    executor: Executor, tmp_path: Path, form: str
) -> None:
    stored, archive = stored_archive(tmp_path, {"shipped_greeting.py": TASK_V1})
    uri = str(stored) if form == "path" else stored.as_uri()
    loader_args = ["task-module", "shipped_greeting", "task-name", "greet"]
    result = run_with_code(executor, uri, archive.sha256, loader_args=loader_args)
    assert result.returncode == 0, result.stderr
    assert result.outputs == {"o0": "hello ada from v1"}
    (unpacked,) = (executor.directory / "scratch").iterdir()  # in the pod's scratch volume, left to the pod
    assert unpacked.name.startswith(f"kubetask-code-{archive.sha256[:12]}-")
    assert (unpacked / "shipped_greeting.py").read_text() == TASK_V1


def test_outside_a_pod_the_unpacked_code_is_removed_after_the_run(executor: Executor, tmp_path: Path) -> None:
    stored, archive = stored_archive(tmp_path, {"shipped_greeting.py": TASK_V1})
    loader_args = ["task-module", "shipped_greeting", "task-name", "greet"]
    result = run_with_code(executor, str(stored), archive.sha256, loader_args=loader_args, in_pod=False)
    assert result.returncode == 0, result.stderr
    assert list((executor.directory / "scratch").iterdir()) == []


def test_the_shipped_code_wins_over_a_copy_in_the_working_directory(
    executor: Executor, tmp_path: Path
) -> None:
    (executor.directory / "shipped_greeting.py").write_text(TASK_V1.replace("v1", "the image"))
    stored, archive = stored_archive(tmp_path, {"shipped_greeting.py": TASK_V1})
    result = run_with_code(
        executor,
        str(stored),
        archive.sha256,
        loader_args=["task-module", "shipped_greeting", "task-name", "greet"],
    )
    assert result.returncode == 0, result.stderr
    assert result.outputs == {"o0": "hello ada from v1"}


def test_execute_loads_a_custom_resolver_from_the_archive(executor: Executor, tmp_path: Path) -> None:
    resolver = """from kubetask import TaskResolverMixin, task


@task
def shout(name: str) -> str:
    return name.upper() + "!"


class Registry(TaskResolverMixin):
    def load_task(self, loader_args):
        return {"shout": shout}[loader_args[0]]

    def loader_args(self, settings, task):
        return [task.name]

    def get_all_tasks(self):
        return [shout]


registry = Registry()
"""
    stored, archive = stored_archive(
        tmp_path, {"shipped_app/__init__.py": "", "shipped_app/registry.py": resolver}
    )
    result = run_with_code(
        executor, str(stored), archive.sha256, loader_args=["shout"], resolver="shipped_app.registry.registry"
    )
    assert result.returncode == 0, result.stderr
    assert result.outputs == {"o0": "ADA!"}


def test_a_hash_mismatch_is_a_non_recoverable_user_error_naming_the_uri(
    executor: Executor, tmp_path: Path
) -> None:
    stored, _ = stored_archive(tmp_path, {"shipped_greeting.py": TASK_V1})
    result = run_with_code(
        executor, str(stored), "f" * 64, loader_args=["task-module", "shipped_greeting", "task-name", "greet"]
    )
    assert result.returncode == 1
    assert result.termination is not None
    assert result.termination.error is not None
    error = result.termination.error
    assert (error.kind, error.recoverable, error.type) == ("USER", False, "kubetask.CodeArchiveError")
    assert f"code archive {str(stored)!r}: its sha256 is" in error.message
    assert result.error is not None
    assert result.error["kind"] == "USER"


def test_an_unreadable_archive_is_a_non_recoverable_user_error(executor: Executor, tmp_path: Path) -> None:
    stored = tmp_path / "broken.tar.gz"
    stored.write_bytes(b"not an archive")
    result = run_with_code(
        executor,
        str(stored),
        hashlib.sha256(b"not an archive").hexdigest(),
        loader_args=["task-module", "m", "task-name", "t"],
    )
    assert result.returncode == 1
    assert result.termination is not None
    assert result.termination.error is not None
    assert (result.termination.error.kind, result.termination.error.recoverable) == ("USER", False)
    assert (
        f"code archive {str(stored)!r} is not a readable tar.gz archive" in result.termination.error.message
    )


def test_a_missing_archive_is_a_user_error_naming_it(executor: Executor, tmp_path: Path) -> None:
    # As a missing inputs document: a URI that names nothing is the spec's mistake, and retrying the same
    # spec cannot help (StorageLocationError). An unreachable store stays a recoverable SYSTEM error.
    missing = tmp_path / "gone.tar.gz"
    result = run_with_code(
        executor, str(missing), "a" * 64, loader_args=["task-module", "m", "task-name", "t"]
    )
    assert result.returncode == 1
    assert result.termination is not None
    assert result.termination.error is not None
    assert (
        result.termination.error.kind,
        result.termination.error.type,
        result.termination.error.recoverable,
    ) == ("USER", "kubetask.StorageLocationError", False)
    assert str(missing) in result.termination.error.message


def test_execute_fetches_the_archive_from_s3(
    executor: Executor, tmp_path: Path, s3_client: Any, s3_bucket: str, s3_environment: dict[str, str]
) -> None:
    stored, archive = stored_archive(tmp_path, {"shipped_greeting.py": TASK_V1})
    s3_client.put_object(Bucket=s3_bucket, Key=f"code/{archive.file_name}", Body=stored.read_bytes())
    command = kubetask.build_execute_command(
        inputs=executor.inputs_file({"name": "s3"}),
        output_prefix=str(executor.output_prefix),
        loader_args=["task-module", "shipped_greeting", "task-name", "greet"],
        code_uri=f"s3://{s3_bucket}/code/{archive.file_name}",
        code_sha256=archive.sha256,
    )
    result = executor.run_argv(
        [str(Path(sys.executable).parent / command[0]), *command[1:]], env=s3_environment
    )
    assert result.returncode == 0, result.stderr
    assert json.dumps(result.outputs) == json.dumps({"o0": "hello s3 from v1"})


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"code_uri": "/c.tar.gz"}, "code_uri and code_sha256 go together", id="uri-alone"),
        pytest.param({"code_sha256": "a" * 64}, "code_uri and code_sha256 go together", id="sha-alone"),
    ],
)
def test_build_execute_command_wants_both_code_options(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kubetask.build_execute_command(inputs="i", output_prefix="o", loader_args=["x"], **options)


def test_build_execute_command_passes_the_code_options() -> None:
    command = kubetask.build_execute_command(
        inputs="i", output_prefix="o", loader_args=["x"], code_uri="/c.tar.gz", code_sha256="a" * 64
    )
    assert command[command.index("--code-uri") + 1] == "/c.tar.gz"
    assert command[command.index("--code-sha256") + 1] == "a" * 64
    assert command.index("--code-sha256") < command.index("--")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(["--code-uri", "/c.tar.gz"], "--code-uri needs --code-sha256", id="uri-alone"),
        pytest.param(["--code-sha256", "a" * 64], "--code-sha256 needs --code-uri", id="sha-alone"),
        pytest.param(
            ["--code-uri", "/c", "--code-sha256", "A" * 64],
            f"--code-sha256: expected 64 lowercase hexadecimal digits, got {'A' * 64!r}",
            id="uppercase",
        ),
        pytest.param(
            ["--code-uri", "/c", "--code-sha256", "abc"],
            "--code-sha256: expected 64 lowercase hexadecimal digits, got 'abc'",
            id="short",
        ),
    ],
)
def test_the_code_flags_are_checked(flags: list[str], message: str) -> None:
    from kubetask._arguments import parse_arguments

    with pytest.raises(kubetask.UsageError) as raised:
        parse_arguments(["--inputs", "i", "--output-prefix", "o", *flags, "--", "x"])
    assert str(raised.value).startswith(message)


def test_the_code_flags_are_parsed() -> None:
    from kubetask._arguments import parse_arguments

    parsed = parse_arguments(
        ["--inputs", "i", "--code-sha256=" + "b" * 64, "--output-prefix", "o", "--code-uri", "/c", "--", "x"]
    )
    assert (parsed.code_uri, parsed.code_sha256) == ("/c", "b" * 64)


# ---------------------------------------------------------------- cold start


def imported_modules(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_a_run_without_code_imports_none_of_it(executor: Executor) -> None:
    (executor.directory / "plain_greeting.py").write_text(TASK_V1)
    argv = executor.command(
        ["task-module", "plain_greeting", "task-name", "greet"], inputs=executor.inputs_file({"name": "x"})
    )
    result = executor.run_argv([sys.executable, "-X", "importtime", "-m", "kubetask._execute", *argv[1:]])
    assert result.outputs == {"o0": "hello x from v1"}, result.stderr
    assert not imported_modules(result.stderr) & {"kubetask._code", "zlib", "_hashlib", "hashlib", "tarfile"}


def test_a_run_with_code_imports_no_archive_or_regex_library(executor: Executor, tmp_path: Path) -> None:
    stored, archive = stored_archive(tmp_path, {"shipped_greeting.py": TASK_V1})
    command = kubetask.build_execute_command(
        inputs=executor.inputs_file({"name": "x"}),
        output_prefix=str(executor.output_prefix),
        loader_args=["task-module", "shipped_greeting", "task-name", "greet"],
        code_uri=str(stored),
        code_sha256=archive.sha256,
    )
    result = executor.run_argv([sys.executable, "-X", "importtime", "-m", "kubetask._execute", *command[1:]])
    assert result.outputs == {"o0": "hello x from v1"}, result.stderr
    imported = imported_modules(result.stderr)
    assert "kubetask._code" in imported
    # zlib and OpenSSL's sha256 (_hashlib) are all the archive needs: none of these, nor regular expressions
    assert not imported & {"tarfile", "gzip", "shutil", "tempfile", "hashlib", "re", "json"}
