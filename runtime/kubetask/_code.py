"""Code that ships without an image build: the task's source packed into an archive, unpacked in the pod.

The client packs the *code root* of a task's module (the folder above its top-level package, or the file's
folder for a lone module) into a deterministic, content-addressed ``tar.gz``: the same tree gives the same
bytes and so the same sha256, whatever the files' timestamps, owners or the order the file system lists
them in, so an unchanged project is uploaded once. ``kubetask-execute --code-uri URI --code-sha256 HEX``
fetches the archive, checks its hash, unpacks it into the pod's scratch space and puts it first on
``sys.path``, in the same interpreter, before the resolver loads the task.

What is packed: regular files (a symlink to a file is packed as the file; symlinked folders are skipped, so
a cycle cannot make the archive endless), minus what ``.gitignore`` files (in the root and below) and a
``.kubetaskignore`` in the root exclude, minus what is never code (``ALWAYS_IGNORED_NAMES``, ``*.pyc``).
Ignore files use git's syntax: ``#`` comments, ``!`` to re-include, a trailing ``/`` for folders only, a
leading or inner ``/`` to anchor to the ignore file's folder, ``*``, ``?``, ``[...]`` and ``**``. (Not
supported: escaped trailing spaces, and git's global and ``info/exclude`` files.) ``.kubetaskignore`` is
read after ``.gitignore``, so it can re-include with ``!``. An archive holds at most ``MAX_CODE_BYTES`` of
files (before compression) and ``MAX_CODE_FILES`` files.

Unpacking trusts nothing: only regular files whose paths are relative, without ``..`` and inside the target
folder; no links, devices or duplicate names; a bounded total size. The pod imports this module only when
it is given an archive, so runs without one pay nothing for it.
"""

from __future__ import annotations

import os
import sys

from kubetask._errors import CodeArchiveError, CodePackingError
from kubetask._frozen import Frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterator

#: Most bytes of files (before compression) an archive may hold when packing.
MAX_CODE_BYTES = 32 * 1024 * 1024
#: Most files an archive may hold when packing (also bounds the walk of a folder that is not a project).
MAX_CODE_FILES = 20_000
#: Most bytes an archive may unpack to in the pod (a bound against compression bombs, not a packing limit).
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
#: Names skipped wherever they are: version control, virtual environments, caches, kubetask dev's state.
ALWAYS_IGNORED_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "__pycache__",
        ".kubetask",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
    }
)
ALWAYS_IGNORED_SUFFIXES = (".pyc", ".pyo")
IGNORE_FILES = (".gitignore", ".kubetaskignore")
ARCHIVE_SUFFIX = ".tar.gz"
#: Scratch space the operator mounts in every task pod; unpacked code goes there (else the temp folder).
SCRATCH_DIR_VARIABLE = "KUBETASK_SCRATCH_DIR"

_FIXED_MTIME = 0
_MAX_LARGEST_SHOWN = 5


class CodeArchive(Frozen):
    """A packed code root: the archive's bytes, their sha256 (hex) and what went into it."""

    __slots__ = ("data", "files", "root", "sha256", "size")

    data: bytes
    sha256: str
    root: str
    files: tuple[str, ...]
    size: int

    def __init__(self, *, data: bytes, sha256: str, root: str, files: tuple[str, ...], size: int) -> None:
        self._set_fields(data=data, sha256=sha256, root=root, files=files, size=size)

    @property
    def file_name(self) -> str:
        """``<sha256>.tar.gz``: the name it is stored under, so its content names it."""
        return self.sha256 + ARCHIVE_SUFFIX

    def __repr__(self) -> str:
        return (
            f"CodeArchive(sha256={self.sha256!r}, root={self.root!r}, files={len(self.files)}, "
            f"size={self.size}, archive={len(self.data)} bytes)"
        )


# ---------------------------------------------------------------- the code root


def code_root_of(module_file: str) -> str:
    """The folder that makes the module at *module_file* importable: above its top-level package, or the
    folder of a lone module."""
    from kubetask._modules import module_name_for_file

    return module_name_for_file(module_file)[0]


# ---------------------------------------------------------------- ignore rules


class IgnoreRule(Frozen):
    """One line of an ignore file, compiled: matched against paths relative to the file's folder."""

    __slots__ = ("base", "directory_only", "negated", "pattern", "regex")

    base: str
    pattern: str
    negated: bool
    directory_only: bool
    regex: re.Pattern[str]

    def __init__(
        self, *, base: str, pattern: str, negated: bool, directory_only: bool, regex: re.Pattern[str]
    ) -> None:
        self._set_fields(
            base=base, pattern=pattern, negated=negated, directory_only=directory_only, regex=regex
        )

    def matches(self, relative: str, *, is_directory: bool) -> bool:
        """Whether this rule applies to *relative* (a ``/``-separated path under the code root)."""
        if self.directory_only and not is_directory:
            return False
        if self.base:
            if not relative.startswith(self.base + "/"):
                return False
            relative = relative[len(self.base) + 1 :]
        return self.regex.fullmatch(relative) is not None


def parse_ignore_file(text: str, *, base: str = "") -> list[IgnoreRule]:
    """The rules of an ignore file found in the folder *base* (relative to the code root, ``""`` for it)."""
    import re

    rules = []
    for raw in text.splitlines():
        line = raw.rstrip(" \t\r")
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated or line.startswith("\\"):  # \# and \! stand for a literal first character
            line = line[1:]
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        # A pattern without a slash matches a name at any depth; one with a slash is relative to `base`.
        regex = re.compile(body if anchored else f"(?:.*/)?{body}", re.DOTALL)
        rules.append(
            IgnoreRule(base=base, pattern=raw, negated=negated, directory_only=directory_only, regex=regex)
        )
    return rules


def _translate(pattern: str) -> str:
    """A gitignore glob as a regular expression: ``*`` and ``?`` stay within a path segment, ``**`` spans
    segments, ``[...]`` is a character class."""
    import re

    parts: list[str] = []
    index = 0
    length = len(pattern)
    while index < length:
        character = pattern[index]
        if pattern.startswith("**/", index) and (index == 0 or pattern[index - 1] == "/"):
            parts.append("(?:.*/)?")  # zero or more folders
            index += 3
        elif pattern.startswith("/**", index) and index + 3 == length:
            parts.append("/.*")  # everything inside
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif character == "*":
            parts.append("[^/]*")
            index += 1
        elif character == "?":
            parts.append("[^/]")
            index += 1
        elif character == "[":
            end = pattern.find("]", index + 2 if pattern[index + 1 : index + 2] in ("!", "^") else index + 1)
            if end == -1:
                parts.append(re.escape(character))
                index += 1
                continue
            inside = pattern[index + 1 : end]
            if inside[:1] in ("!", "^"):
                inside = "^" + inside[1:]
            parts.append("[" + inside.replace("\\", "\\\\") + "]")
            index = end + 1
        elif character == "\\" and index + 1 < length:
            parts.append(re.escape(pattern[index + 1]))
            index += 2
        else:
            parts.append(re.escape(character))
            index += 1
    return "".join(parts)


def is_ignored(relative: str, *, is_directory: bool, rules: list[IgnoreRule]) -> bool:
    """Git's rule: the last matching rule decides; a ``!`` rule re-includes."""
    name = relative.rsplit("/", 1)[-1]
    if name in ALWAYS_IGNORED_NAMES or (not is_directory and name.endswith(ALWAYS_IGNORED_SUFFIXES)):
        return True
    ignored = False
    for rule in rules:
        if rule.matches(relative, is_directory=is_directory):
            ignored = not rule.negated
    return ignored


def _read_rules(directory: str, base: str, names: list[str]) -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    for ignore_file in IGNORE_FILES:
        if ignore_file not in names or (ignore_file == ".kubetaskignore" and base):
            continue  # .kubetaskignore is read in the code root only
        path = os.path.join(directory, ignore_file)
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                rules += parse_ignore_file(stream.read(), base=base)
        except OSError as error:
            raise CodePackingError(f"cannot read {path!r}: {error.strerror or error}") from None
    return rules


def code_files(root: str, *, max_files: int = MAX_CODE_FILES) -> Iterator[tuple[str, str]]:
    """``(relative path, absolute path)`` of every file to pack under *root*, sorted by relative path;
    CodePackingError as soon as there are more than *max_files* (the walk stops there)."""
    found: list[tuple[str, str]] = []

    def walk(directory: str, base: str, inherited: list[IgnoreRule]) -> None:
        try:
            with os.scandir(directory) as scanned:
                entries = sorted(scanned, key=lambda entry: entry.name)
        except OSError as error:
            raise CodePackingError(f"cannot list {directory!r}: {error.strerror or error}") from None
        rules = inherited + _read_rules(directory, base, [entry.name for entry in entries])
        for entry in entries:
            relative = f"{base}/{entry.name}" if base else entry.name
            if entry.is_dir(follow_symlinks=False):
                if not is_ignored(relative, is_directory=True, rules=rules):
                    walk(entry.path, relative, rules)
            elif entry.is_file(follow_symlinks=True) and not is_ignored(
                relative, is_directory=False, rules=rules
            ):
                found.append((relative, entry.path))
                if len(found) > max_files:
                    raise CodePackingError(
                        f"code root {root!r} holds more than {max_files} files to ship (the walk stopped in "
                        f"{directory!r}): is it the project's folder? Exclude what the task does not need in "
                        ".kubetaskignore (gitignore syntax), or build it into the image and submit with "
                        "--no-code (code=False)"
                    )

    walk(root, "", [])
    return iter(sorted(found))


# ---------------------------------------------------------------- packing


def pack_code(root: str, *, max_bytes: int = MAX_CODE_BYTES, max_files: int = MAX_CODE_FILES) -> CodeArchive:
    """Pack the folder *root* into a deterministic ``tar.gz``; CodePackingError when it is too large (naming
    the largest files), holds too many files, or is unreadable."""
    import gzip
    import hashlib
    import io
    import tarfile

    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise CodePackingError(f"code root {root!r}: not a folder")
    files = list(code_files(root, max_files=max_files))
    sizes: list[tuple[int, str]] = []
    for relative, path in files:
        try:
            sizes.append((os.stat(path).st_size, relative))
        except OSError as error:
            raise CodePackingError(f"cannot read {path!r}: {error.strerror or error}") from None
    total = sum(size for size, _ in sizes)
    if total > max_bytes:
        largest = sorted(sizes, key=lambda item: (-item[0], item[1]))[:_MAX_LARGEST_SHOWN]
        shown = ", ".join(f"{name} ({_mebibytes(size)})" for size, name in largest)
        raise CodePackingError(
            f"code root {root!r} holds {_mebibytes(total)} in {len(files)} files, more than the "
            f"{_mebibytes(max_bytes)} kubetask ships; the largest: {shown}. Exclude what the task does not "
            "need in .kubetaskignore (gitignore syntax), or build it into the image and submit with "
            "--no-code (code=False)"
        )
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=_FIXED_MTIME, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for relative, path in files:
            try:
                with open(path, "rb") as stream:
                    content = stream.read()
                executable = os.stat(path).st_mode & 0o100
            except OSError as error:
                raise CodePackingError(f"cannot read {path!r}: {error.strerror or error}") from None
            info = tarfile.TarInfo(relative)
            info.size = len(content)
            info.mtime = _FIXED_MTIME
            info.mode = 0o755 if executable else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    return CodeArchive(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        root=root,
        files=tuple(relative for relative, _ in files),
        size=total,
    )


def _mebibytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.1f} KiB"


def code_uri(prefix: str, archive: CodeArchive) -> str:
    """Where *archive* goes under the storage *prefix*: ``<prefix>/code/<sha256>.tar.gz``."""
    from kubetask._storage import join

    return join(prefix, "code", archive.file_name)


def upload_code(archive: CodeArchive, *, prefix: str) -> str:
    """Store *archive* under the storage *prefix* unless an archive of that content is already there (its
    name is its hash); the URI it has. StorageError when storage cannot be reached."""
    from kubetask._storage import write_bytes

    uri = code_uri(prefix, archive)
    if not _exists(uri):
        write_bytes(uri, archive.data)
    return uri


def _exists(uri: str) -> bool:
    from kubetask._errors import StorageError
    from kubetask._storage import _filesystem, local_path

    path = local_path(uri)
    if path is not None:
        return os.path.isfile(path)
    filesystem, remote = _filesystem(uri)
    try:
        return bool(filesystem.exists(remote))
    except Exception as error:
        raise StorageError(f"cannot look for {uri!r}: {type(error).__name__}: {error}") from error


# ---------------------------------------------------------------- in the pod
#
# The pod reads the archive with zlib and a small tar reader of its own rather than tarfile: tarfile pulls in
# shutil, re and enum (~30 ms of cold start) and reads a .gz member by seeking back and forth in the
# decompressed stream, which took ~100 ms for a 1 MiB archive (benchmarks/bench_code.py). The reader accepts
# the ustar, pax and GNU forms tarfile and GNU tar write, and yields only what unpack allows.

_BLOCK = 512
_REGULAR = (b"0", b"\0", b"7")
_DIRECTORY = b"5"
_PAX_HEADER, _PAX_GLOBAL, _GNU_LONG_NAME, _GNU_LONG_LINK = b"x", b"g", b"L", b"K"
_KINDS = {b"1": "hard link", b"2": "symbolic link", b"3": "character device", b"4": "block device"}
_KINDS[b"6"] = "FIFO"


def verify(data: bytes, *, sha256: str, uri: str) -> None:
    """CodeArchiveError unless *data* hashes to *sha256*."""
    actual = _sha256(data)
    if actual != sha256:
        raise CodeArchiveError(
            f"code archive {uri!r}: its sha256 is {actual}, expected {sha256}: the archive was changed or "
            "replaced after it was submitted; submit the task again"
        )


def _sha256(data: bytes) -> str:
    try:  # OpenSSL's sha256 without hashlib, which sets up every algorithm at import (~5 ms of cold start)
        from _hashlib import openssl_sha256
    except ImportError:  # pragma: no cover - a Python built without OpenSSL
        from hashlib import sha256 as openssl_sha256
    return str(openssl_sha256(data).hexdigest())


def _gunzip(data: bytes, *, uri: str, limit: int) -> bytes:
    import zlib

    decompressor = zlib.decompressobj(31)  # 31: a gzip header and trailer around the deflate stream
    try:
        raw = decompressor.decompress(data, limit + 1)
    except zlib.error as error:
        raise CodeArchiveError(f"code archive {uri!r} is not a readable tar.gz archive: {error}") from None
    if len(raw) > limit:
        raise CodeArchiveError(f"code archive {uri!r}: unpacks to more than {_mebibytes(limit)}")
    if not decompressor.eof:
        raise CodeArchiveError(f"code archive {uri!r} is not a readable tar.gz archive: it is truncated")
    return raw


def _octal(field: bytes, *, uri: str, offset: int) -> int:
    if field[:1] and field[0] & 0x80:
        raise CodeArchiveError(f"code archive {uri!r}: a base-256 number at byte {offset} (not supported)")
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise CodeArchiveError(
            f"code archive {uri!r} is not a readable tar.gz archive: bad number {text!r} at byte {offset}"
        ) from None


def _text(field: bytes, *, uri: str) -> str:
    try:
        return field.split(b"\0", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise CodeArchiveError(f"code archive {uri!r}: a member name is not UTF-8: {field!r}") from None


def _pax_records(data: bytes, *, uri: str) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        length_text, space, _ = data[position : position + 32].partition(b" ")
        try:
            length = int(length_text)
        except ValueError:
            length = 0
        record = data[position : position + length]
        if not space or length <= len(length_text) + 1 or not record.endswith(b"\n"):
            raise CodeArchiveError(f"code archive {uri!r} is not a readable tar.gz archive: bad pax header")
        key, _, value = record[len(length_text) + 1 : -1].partition(b"=")
        records[_text(key, uri=uri)] = _text(value, uri=uri)
        position += length
    return records


def tar_members(raw: bytes, *, uri: str) -> Iterator[tuple[str, bytes, int, memoryview, str]]:
    """``(name, type flag, mode, content, link name)`` of each member of the uncompressed tar *raw*; the
    content is a view into *raw*, not a copy."""
    view = memoryview(raw)
    offset = 0
    pending: dict[str, str] = {}
    while offset + _BLOCK <= len(raw):
        header = raw[offset : offset + _BLOCK]
        if header == bytes(_BLOCK):
            return  # the end-of-archive blocks
        stored = _octal(header[148:156], uri=uri, offset=offset + 148)
        if stored != sum(header[:148]) + 8 * 32 + sum(header[156:]):
            raise CodeArchiveError(
                f"code archive {uri!r} is not a readable tar.gz archive: bad header checksum at byte {offset}"
            )
        name = _text(header[:100], uri=uri)
        if header[257:262] == b"ustar" and header[345] != 0:
            name = _text(header[345:500], uri=uri) + "/" + name
        mode = _octal(header[100:108], uri=uri, offset=offset + 100)
        size = _octal(header[124:136], uri=uri, offset=offset + 124)
        flag = header[156:157]
        link = _text(header[157:257], uri=uri)
        start = offset + _BLOCK
        content = view[start : start + size]
        if len(content) < size:
            raise CodeArchiveError(f"code archive {uri!r} is not a readable tar.gz archive: it is truncated")
        offset = start + (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if flag == _PAX_HEADER:
            pending.update(_pax_records(bytes(content), uri=uri))
        elif flag == _GNU_LONG_NAME:
            pending["path"] = _text(bytes(content), uri=uri)
        elif flag == _GNU_LONG_LINK:
            pending["linkpath"] = _text(bytes(content), uri=uri)
        elif flag != _PAX_GLOBAL:
            if "size" in pending:
                raise CodeArchiveError(
                    f"code archive {uri!r}: member {name!r} has a pax size (not supported)"
                )
            yield pending.get("path", name), flag, mode, content, pending.get("linkpath", link)
            pending = {}
    raise CodeArchiveError(f"code archive {uri!r} is not a readable tar.gz archive: no end-of-archive blocks")


def unpack(data: bytes, destination: str, *, uri: str, max_bytes: int = MAX_UNPACKED_BYTES) -> list[str]:
    """Unpack the ``tar.gz`` *data* into the existing folder *destination*; the relative paths written.

    CodeArchiveError, naming *uri*, for an unreadable archive or any member that is not a plain file inside
    *destination* (absolute paths, ``..``, links, devices), a duplicate name, or more than *max_bytes*."""
    destination = os.path.realpath(destination)
    raw = _gunzip(data, uri=uri, limit=max_bytes + 64 * 1024 * 1024)  # room for headers and padding
    written: list[str] = []
    seen: set[str] = set()
    made: set[str] = {destination}
    total = 0
    for name, flag, mode, content, link in tar_members(raw, uri=uri):
        if flag == _DIRECTORY:
            _safe_relative(name, uri=uri)
            continue
        if flag not in _REGULAR:
            kind = _KINDS.get(flag, f"member of type {flag!r}")
            shown = f"{kind} (to {link!r})" if link else kind
            raise CodeArchiveError(
                f"code archive {uri!r}: member {name!r} is a {shown}; only regular files are unpacked"
            )
        relative = _safe_relative(name, uri=uri)
        if relative in seen:
            raise CodeArchiveError(f"code archive {uri!r}: member {name!r} appears twice")
        seen.add(relative)
        total += len(content)
        if total > max_bytes:
            raise CodeArchiveError(f"code archive {uri!r}: unpacks to more than {_mebibytes(max_bytes)}")
        target = os.path.join(destination, *relative.split("/"))
        parent = os.path.dirname(target)
        try:
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                real_parent = os.path.realpath(parent)
                if real_parent != destination and not real_parent.startswith(destination + os.sep):
                    raise CodeArchiveError(
                        f"code archive {uri!r}: member {name!r} would be written outside the code folder"
                    )
                made.add(parent)
            # os.write on the descriptor, not a file object: no buffer, no fstat or isatty per file
            descriptor = os.open(
                target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if mode & 0o100 else 0o644
            )
            try:
                left = content
                while left:
                    left = left[os.write(descriptor, left) :]
            finally:
                os.close(descriptor)
        except OSError as error:
            raise CodeArchiveError(
                f"code archive {uri!r}: cannot unpack {name!r} into {destination!r}: "
                f"{error.strerror or error}"
            ) from None
        written.append(relative)
    return written


def _safe_relative(name: str, *, uri: str) -> str:
    """*name* as a clean relative ``/`` path, or CodeArchiveError when it could leave the folder."""
    cleaned = name.replace("\\", "/")
    drive = len(cleaned) > 1 and cleaned[1] == ":"
    if not cleaned or cleaned.startswith("/") or "\x00" in cleaned or drive:
        raise CodeArchiveError(f"code archive {uri!r}: member {name!r} is not a relative path")
    segments = [segment for segment in cleaned.split("/") if segment not in ("", ".")]
    if ".." in segments or not segments:
        raise CodeArchiveError(f"code archive {uri!r}: member {name!r} leaves the code folder ('..')")
    return "/".join(segments)


def _new_folder(base: str, sha256: str) -> str:
    """A new private folder under *base* (``mkdir`` refuses an existing name, so nothing can be planted)."""
    os.makedirs(base, exist_ok=True)
    for attempt in range(100):
        folder = os.path.join(base, f"kubetask-code-{sha256[:12]}-{os.getpid()}-{attempt}")
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        return folder
    raise CodeArchiveError(f"cannot make a folder for the code under {base!r}: every name is taken")


def install_code(uri: str, *, sha256: str, scratch: str | None = None) -> str:
    """Fetch the archive at *uri*, verify it, unpack it and put it first on ``sys.path``; the folder.

    Read failures are StorageErrors (worth retrying); a wrong hash or a bad archive is a CodeArchiveError
    (the user's, not recoverable). The folder is made under *scratch*, else ``$KUBETASK_SCRATCH_DIR`` (the
    pod's scratch volume), else ``$TMPDIR`` or ``/tmp``."""
    from kubetask._storage import read_bytes

    data = read_bytes(uri)
    verify(data, sha256=sha256, uri=uri)
    base = scratch or os.environ.get(SCRATCH_DIR_VARIABLE) or os.environ.get("TMPDIR") or "/tmp"
    try:
        folder = _new_folder(base, sha256)
    except OSError as error:
        raise CodeArchiveError(
            f"cannot make a folder for the code of {uri!r} under {base!r}: {error.strerror or error}"
        ) from None
    try:
        unpack(data, folder, uri=uri)
    except BaseException:
        remove_code(folder)
        raise
    sys.path.insert(0, folder)
    # The folder serves this one run: bytecode cached in it would cost a folder and a file per imported
    # module that no later run reads.
    sys.dont_write_bytecode = True
    # The task module resolver adds the working directory (as `python -m` does); it goes after the shipped
    # code, which must win over an older copy of the same modules baked into the image.
    working_directory = os.getcwd()
    if working_directory not in sys.path and "" not in sys.path:
        sys.path.insert(1, working_directory)
    return folder


def release_code(folder: str) -> None:
    """The run is over: remove the unpacked code, except from a pod's scratch volume, which the kubelet
    removes with the pod (sparing the pod the time)."""
    if not os.environ.get(SCRATCH_DIR_VARIABLE):
        remove_code(folder)


def remove_code(folder: str) -> None:
    """Delete an unpacked code folder (and take it off ``sys.path``); os.walk, not shutil (cold start)."""
    if folder in sys.path:
        sys.path.remove(folder)
    for directory, folders, files in os.walk(folder, topdown=False):
        for name in files:
            _quietly(os.remove, os.path.join(directory, name))
        for name in folders:
            path = os.path.join(directory, name)
            _quietly(os.remove if os.path.islink(path) else os.rmdir, path)
    _quietly(os.rmdir, folder)


def _quietly(action: Callable[[str], None], path: str) -> None:
    try:  # noqa: SIM105 - contextlib is one more import on the cold path
        action(path)
    except OSError:
        pass
