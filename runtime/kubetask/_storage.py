"""Reading and writing URIs: local paths, ``file://``, ``data:`` and, lazily, any fsspec protocol.

Every failure is a StorageError naming the URI. Remote storage code (fsspec and its backend) is imported
only when a remote URI is used; a scheme whose backend is not installed names the extra to install.
Writes are atomic: a local document is written to a temporary file and renamed; an object store makes an
object visible only once complete.
"""

from __future__ import annotations

import os

from kubetask._errors import MissingStorageBackendError, StorageError
from kubetask._protocol import decode_data_uri

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any

# fsspec protocol -> the kubetask extra that installs its backend
_EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "abfs": "azure",
    "abfss": "azure",
    "az": "azure",
    "adl": "azure",
}


def scheme_of(uri: str) -> str | None:
    """``"s3"`` for ``s3://b/k``, ``"data"`` for ``data:...``, None for a local path."""
    if uri.startswith("data:"):
        return "data"
    scheme, separator, _ = uri.partition("://")
    if separator and len(scheme) > 1 and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return scheme.lower()
    return None


def local_path(uri: str) -> str | None:
    """The file system path of a local path or ``file://`` URI, else None."""
    scheme = scheme_of(uri)
    if scheme is None:
        return uri
    if scheme != "file":
        return None
    rest = uri[len("file://") :]
    host, slash, path = rest.partition("/")
    if host not in ("", "localhost"):
        raise StorageError(f"{uri!r}: file:// URIs on another host ({host!r}) are not supported")
    path = slash + path
    if "%" in path:
        from urllib.parse import unquote  # rare: percent-encoded file URIs

        path = unquote(path)
    return path


def join(prefix: str, *names: str) -> str:
    """``prefix/name/...`` for a local path or a URI."""
    return "/".join([prefix.rstrip("/"), *names]) if prefix not in ("", "/") else "/" + "/".join(names)


def is_local(uri: str) -> bool:
    return scheme_of(uri) in (None, "file")


def check_backend(uri: str) -> None:
    """Fail now, naming the extra, if *uri* needs a storage backend that is not installed (so a task
    does not run for an hour before its outputs find nowhere to go). Local and data: URIs need none."""
    if not uri.startswith("data:") and not is_local(uri):
        _fsspec_for(uri)


def read_bytes(uri: str) -> bytes:
    """The content of the file at *uri*."""
    if uri.startswith("data:"):
        try:
            return decode_data_uri(uri)
        except ValueError as error:
            raise StorageError(str(error)) from None
    path = local_path(uri)
    if path is not None:
        try:
            with open(path, "rb") as stream:
                return stream.read()
        except OSError as error:
            raise StorageError(f"cannot read {uri!r}: {error.strerror or error}") from error
    filesystem, remote = _filesystem(uri)
    try:
        return bytes(filesystem.cat_file(remote))
    except Exception as error:
        raise StorageError(f"cannot read {uri!r}: {type(error).__name__}: {error}") from error


def write_bytes(uri: str, data: bytes) -> None:
    """Write *data* to *uri* atomically (readers see the old content or the new, never a part)."""
    path = local_path(uri)
    if uri.startswith("data:"):
        raise StorageError(f"cannot write to {uri[:40]!r}...: data: URIs are read-only")
    if path is not None:
        temporary = f"{path}.{os.getpid()}.partial"
        try:
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            with open(temporary, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except OSError as error:
            _remove_quietly(temporary)
            raise StorageError(f"cannot write {uri!r}: {error.strerror or error}") from error
        return
    filesystem, remote = _filesystem(uri)
    try:
        filesystem.pipe_file(remote, data)  # one PUT: an object store shows it whole or not at all
    except Exception as error:
        raise StorageError(f"cannot write {uri!r}: {type(error).__name__}: {error}") from error


def download(uri: str, destination: str, *, directory: bool) -> None:
    """Copy the file (or directory tree) at *uri* to the local path *destination*."""
    if uri.startswith("data:"):
        if directory:
            raise StorageError(f"{uri[:40]!r}...: a data: URI holds a file, not a directory")
        _write_local(destination, read_bytes(uri), uri)
        return
    path = local_path(uri)
    try:
        if path is not None:
            import shutil  # only for files: shutil pulls in compression modules at import

            os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
            if directory:
                shutil.copytree(path, destination)
            else:
                shutil.copyfile(path, destination)
            return
    except OSError as error:
        raise StorageError(f"cannot read {uri!r}: {error.strerror or error}") from error
    filesystem, remote = _filesystem(uri)
    try:
        if directory:
            os.makedirs(destination, exist_ok=True)
            for source in filesystem.find(remote):
                relative = source[len(remote.rstrip("/")) + 1 :]
                target = os.path.join(destination, *relative.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                filesystem.get_file(source, target)
        else:
            os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
            filesystem.get_file(remote, destination)
    except Exception as error:
        raise StorageError(f"cannot download {uri!r}: {type(error).__name__}: {error}") from error


def upload(source: str, uri: str, *, directory: bool) -> None:
    """Copy the local file (or directory tree) *source* to *uri*."""
    if uri.startswith("data:"):
        raise StorageError(f"cannot write to {uri[:40]!r}...: data: URIs are read-only")
    path = local_path(uri)
    try:
        if path is not None:
            if os.path.abspath(source) == os.path.abspath(path):
                return
            import shutil  # only for files: shutil pulls in compression modules at import

            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            if directory:
                shutil.copytree(source, path, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, path)
            return
    except OSError as error:
        raise StorageError(f"cannot write {uri!r}: {error.strerror or error}") from error
    filesystem, remote = _filesystem(uri)
    try:
        if directory:
            for root, _, names in os.walk(source):
                for name in names:
                    local = os.path.join(root, name)
                    relative = os.path.relpath(local, source).replace(os.sep, "/")
                    filesystem.put_file(local, f"{remote.rstrip('/')}/{relative}")
        else:
            filesystem.put_file(source, remote)
    except Exception as error:
        raise StorageError(f"cannot upload to {uri!r}: {type(error).__name__}: {error}") from error


def _write_local(path: str, data: bytes, uri: str) -> None:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as stream:
            stream.write(data)
    except OSError as error:
        raise StorageError(
            f"cannot store {uri[:40]!r} locally at {path!r}: {error.strerror or error}"
        ) from error


def _remove_quietly(path: str) -> None:
    try:  # noqa: SIM105 - contextlib is one more import on the cold path
        os.remove(path)
    except OSError:
        pass


def _fsspec_for(uri: str) -> Any:
    """fsspec, once it is known to have a backend for *uri*'s scheme (imported on first use)."""
    scheme = scheme_of(uri) or ""
    extra = _EXTRAS.get(scheme, "remote")
    try:
        import fsspec  # remote storage is optional and costs ~100 ms to import: only when used
    except ImportError:
        raise MissingStorageBackendError(
            f"{uri!r} needs fsspec for {scheme}:// URIs: pip install 'kubetask[{extra}]'"
        ) from None
    try:
        fsspec.get_filesystem_class(scheme)
    except ImportError as error:
        hint = (
            f"pip install 'kubetask[{extra}]'"
            if scheme in _EXTRAS
            else f"install the fsspec backend for {scheme}://"
        )
        raise MissingStorageBackendError(
            f"{uri!r}: no storage backend for {scheme}:// ({error}): {hint}"
        ) from None
    except ValueError as error:
        raise MissingStorageBackendError(f"{uri!r}: unknown storage protocol {scheme!r} ({error})") from None
    return fsspec


def _filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem and in-filesystem path of a remote *uri*."""
    fsspec = _fsspec_for(uri)
    try:
        filesystem, path = fsspec.core.url_to_fs(uri)
    except Exception as error:
        raise StorageError(
            f"{uri!r}: cannot set up {scheme_of(uri)}:// storage: {type(error).__name__}: {error}"
        ) from error
    return filesystem, path
