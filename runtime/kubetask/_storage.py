"""Reading and writing URIs: local paths, ``file://``, ``data:`` and, lazily, any fsspec protocol.

Every failure is a StorageError naming the URI: a StorageLocationError (the user's, not worth retrying)
when the URI itself cannot work — malformed, not found, not writable, no credentials — else a plain
StorageError (worth retrying: the network, a full disk). Remote storage code (fsspec and its backend) is
imported only when a remote URI is used; a scheme whose backend is not installed names the extra to
install. Writes are atomic: a local document is written to a temporary file and renamed, and the
temporary file is removed whatever interrupts the write; an object store makes an object visible only
once complete.
"""

from __future__ import annotations

import errno
import os

from kubetask._errors import MissingStorageBackendError, StorageError, StorageLocationError
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

# OS errors that say the location is wrong, not that storage is having a bad moment.
_LOCATION_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS}
)
# Exceptions of the storage SDKs (matched by name: the runtime imports none of them) meaning "no usable
# credentials": botocore (S3), google-auth (GCS), azure-identity and azure-core (Azure).
_CREDENTIAL_ERRORS = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "ProfileNotFound",
        "DefaultCredentialsError",
        "RefreshError",
        "CredentialUnavailableError",
        "ClientAuthenticationError",
    }
)


def is_location_error(error: BaseException) -> bool:
    """Whether *error* (or what it was raised from) says the URI cannot work as given: not found, not
    writable, or no credentials to reach it. Retrying the same URI cannot help."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _LOCATION_ERRNOS:
            return True
        if isinstance(current, FileNotFoundError | PermissionError | NotADirectoryError | IsADirectoryError):
            return True  # fsspec backends raise these without an errno for missing keys and 403s
        if _is_credentials_error(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def storage_error(message: str, error: BaseException) -> StorageError:
    """The StorageError for *error* met while doing what *message* says (the URI is in the message)."""
    if _is_credentials_error(error):
        message += " (no credentials for this storage: set the storage Secret or the pod's identity)"
    return (StorageLocationError if is_location_error(error) else StorageError)(message)


def _is_credentials_error(error: BaseException) -> bool:
    return any(cls.__name__ in _CREDENTIAL_ERRORS for cls in type(error).__mro__)


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
        raise StorageLocationError(
            f"{uri!r}: file:// URIs on another host ({host!r}) are not supported; expected "
            "file:///path or file://localhost/path"
        )
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


def check_writable_prefix(uri: str, *, probe: str | None, flag: str) -> None:
    """Fail now, before the task runs, if nothing can be written under the prefix *uri* (given as
    *flag*): a ``data:`` URI, a local path that is a file or not writable, a remote one whose backend or
    credentials are missing or whose bucket does not exist. Locally the directory is created. Remotely
    the document *probe* under it is looked up (one request): that needs the credentials the writes
    will, without writing anything; with *probe* None only the backend is checked."""
    if uri.startswith("data:"):
        raise StorageLocationError(
            f"{flag} {uri[:40]!r}...: data: URIs are read-only; expected a directory or a storage URI"
        )
    path = local_path(uri)
    if path is not None:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as error:
            message = f"{flag} {uri!r}: cannot create the directory: {_reason(error)}"
            raise storage_error(message, error) from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise StorageLocationError(f"{flag} {uri!r}: the directory is not writable by this process")
        return
    if probe is None:
        check_backend(uri)
        return
    filesystem, remote = _filesystem(uri)
    try:
        filesystem.exists(join(remote, probe))
        root = remote.strip("/").split("/", 1)[0]
        found = filesystem.exists(root)
    except Exception as error:
        raise storage_error(f"{flag} {uri!r}: cannot reach the storage: {_describe(error)}", error) from error
    if not found:
        raise StorageLocationError(f"{flag} {uri!r}: {root!r} does not exist (or this pod cannot see it)")


def read_bytes(uri: str) -> bytes:
    """The content of the file at *uri*."""
    if uri.startswith("data:"):
        try:
            return decode_data_uri(uri)
        except ValueError as error:
            raise StorageLocationError(str(error)) from None
    path = local_path(uri)
    if path is not None:
        try:
            with open(path, "rb") as stream:
                return stream.read()
        except OSError as error:
            raise storage_error(f"cannot read {uri!r}: {_reason(error)}", error) from error
    filesystem, remote = _filesystem(uri)
    try:
        return bytes(filesystem.cat_file(remote))
    except Exception as error:
        raise storage_error(f"cannot read {uri!r}: {_describe(error)}", error) from error


def write_bytes(uri: str, data: bytes) -> None:
    """Write *data* to *uri* atomically (readers see the old content or the new, never a part)."""
    if uri.startswith("data:"):
        raise StorageLocationError(f"cannot write to {uri[:40]!r}...: data: URIs are read-only")
    path = local_path(uri)
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
            raise storage_error(f"cannot write {uri!r}: {_reason(error)}", error) from error
        except BaseException:  # a signal, KeyboardInterrupt: never leave the partial file behind
            _remove_quietly(temporary)
            raise
        return
    filesystem, remote = _filesystem(uri)
    try:
        filesystem.pipe_file(remote, data)  # one PUT: an object store shows it whole or not at all
    except Exception as error:
        raise storage_error(f"cannot write {uri!r}: {_describe(error)}", error) from error


def download(uri: str, destination: str, *, directory: bool) -> None:
    """Copy the file (or directory tree) at *uri* to the local path *destination*."""
    if uri.startswith("data:"):
        if directory:
            raise StorageLocationError(f"{uri[:40]!r}...: a data: URI holds a file, not a directory")
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
        raise storage_error(f"cannot read {uri!r}: {_reason(error)}", error) from error
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
        raise storage_error(f"cannot download {uri!r}: {_describe(error)}", error) from error


def remove_documents(prefix: str, names: list[str]) -> None:
    """Remove the documents *names* under *prefix* where they exist (one request for an object store)."""
    path = local_path(prefix)
    if path is not None:
        for name in names:
            try:
                os.remove(os.path.join(path, name))
            except FileNotFoundError:
                pass
            except OSError as error:
                raise storage_error(
                    f"cannot remove {join(prefix, name)!r}: {_reason(error)}", error
                ) from error
        return
    filesystem, remote = _filesystem(prefix)
    paths = [join(remote, name) for name in names]
    try:
        try:
            filesystem.rm(paths)  # S3's bulk delete: one request, absent keys are no error
        except FileNotFoundError:  # backends that refuse absent paths: one by one
            for path in paths:
                try:  # noqa: SIM105 - contextlib is one more import on the cold path
                    filesystem.rm_file(path)
                except FileNotFoundError:
                    pass
    except Exception as error:
        raise storage_error(f"cannot remove documents under {prefix!r}: {_describe(error)}", error) from error


def upload(source: str, uri: str, *, directory: bool) -> None:
    """Copy the local file (or directory tree) *source* to *uri*."""
    if uri.startswith("data:"):
        raise StorageLocationError(f"cannot write to {uri[:40]!r}...: data: URIs are read-only")
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
        raise storage_error(f"cannot write {uri!r}: {_reason(error)}", error) from error
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
        raise storage_error(f"cannot upload to {uri!r}: {_describe(error)}", error) from error


def _write_local(path: str, data: bytes, uri: str) -> None:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as stream:
            stream.write(data)
    except OSError as error:
        raise StorageError(f"cannot store {uri[:40]!r} locally at {path!r}: {_reason(error)}") from error


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


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
    except ValueError as error:  # no backend anywhere knows it: a typo in the URI, not a missing install
        raise StorageLocationError(f"{uri!r}: unknown storage protocol {scheme!r} ({error})") from None
    return fsspec


def _filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem and in-filesystem path of a remote *uri*."""
    fsspec = _fsspec_for(uri)
    try:
        filesystem, path = fsspec.core.url_to_fs(uri)
    except Exception as error:
        message = f"{uri!r}: cannot set up {scheme_of(uri)}:// storage: {_describe(error)}"
        if isinstance(error, ValueError):  # the backend refused the URI itself (a malformed bucket name...)
            raise StorageLocationError(message) from error
        raise storage_error(message, error) from error
    return filesystem, path
