"""The container shim: the process the node starts for each container, standing in for its PID namespace.

On a real node the container's main process is PID 1 of its own PID namespace: orphans are reparented to it,
and when it exits the kernel kills every other process of the namespace (pid_namespaces(7)). A local process
has no namespace, so the node starts this shim instead (as containerd starts ``containerd-shim``). The shim

- marks itself a child subreaper (``PR_SET_CHILD_SUBREAPER``, prctl(2)), so every descendant of the
  container, however it detaches (double fork, ``setsid``), stays in the shim's subtree;
- applies the container's user and groups (``runAsUser``, ``runAsGroup``, ``supplementalGroups``) and
  ``no_new_privs`` (``allowPrivilegeEscalation: false``) in the child, then executes the command; an exec
  failure is written to the status pipe (the node reports it as ``StartError``), success closes it empty;
- forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the main process only, as a runtime delivers the stop
  signal to PID 1;
- on SIGUSR1 (the node's "kill the container"), or when the main process has exited, SIGKILLs every
  descendant, reaps them all and exits with the main process's code (128+signal when it was killed);
- does the same when the node dies (``PR_SET_PDEATHSIG``), so nothing outlives the node.

Limits: a descendant that gains another user's identity (a setuid program) cannot be killed by an unprivileged
node; without prctl (not Linux) descendants that detach are not found; without ``/proc`` the node kills the
shim's process group only.

It runs as ``python -I -S _shim.py STATUS_FD PARENT_PID UID GID GROUPS NO_NEW_PRIVS DROP FS -- ARGV...``
(see :class:`RunAs`) and uses only the standard library (``-I -S`` keep its start short and untouched by
the pod's ``PYTHON*`` variables).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any, NamedTuple

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
_PR_CAPBSET_DROP = 24
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
KILL_SIGNAL = signal.SIGUSR1  # sent by the node: kill the whole container now


class RunAs(NamedTuple):
    """Who the container's process runs as and what it may not do (None keeps the node's own)."""

    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] = ()
    no_new_privs: bool = False
    drop_capabilities: tuple[int, ...] = ()
    # A private mount namespace: with ``read_only_root`` every mount but /proc, /sys, /dev and ``writable`` is
    # made read-only; ``read_only`` paths are always made read-only. Empty: the host's view, untouched.
    read_only_root: bool = False
    writable: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()

    @property
    def confines_filesystem(self) -> bool:
        return self.read_only_root or bool(self.read_only)

    def shim_arguments(self) -> list[str]:
        """UID GID GROUPS NO_NEW_PRIVS DROP_CAPABILITIES FILESYSTEM as the shim takes them ("-" for none)."""
        import json  # here, not at the top: the shim's start must not pay for it

        view = {"readOnlyRoot": self.read_only_root, "writable": self.writable, "readOnly": self.read_only}
        return [
            "-" if self.uid is None else str(self.uid),
            "-" if self.gid is None else str(self.gid),
            ",".join(str(group) for group in self.groups) or "-",
            "1" if self.no_new_privs else "0",
            ",".join(str(cap) for cap in self.drop_capabilities) or "-",
            json.dumps(view) if self.confines_filesystem else "-",
        ]


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def descendants(root: int, *, proc: str = "/proc") -> list[int]:
    """Every live descendant of ``root``, read from ``/proc`` (empty when it cannot be read)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir(proc)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat", "rb") as file:
                stat = file.read()
            parent = int(stat[stat.rfind(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # ended while being read
        children.setdefault(parent, []).append(int(entry))
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_KEPT_WRITABLE = ("/proc", "/sys", "/dev")  # a runtime gives containers their own, writable


def _mount(target: str, *, flags: int, source: str | None = None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    encoded = None if source is None else source.encode()
    if libc.mount(encoded, target.encode(), None, flags, None) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"mount {target!r} for readOnlyRootFilesystem/readOnly: {os.strerror(number)}")


def _mount_points() -> list[tuple[str, set[str]]]:
    """(mount point, its options) of this mount namespace, from /proc/self/mountinfo."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as file:
        for line in file:
            fields = line.split()
            target = _unescape(fields[4])
            points.append((target, set(fields[5].split(","))))
    return points


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes (``\\040``)."""
    parts = field.split("\\")
    return parts[0] + "".join(chr(int(part[:3], 8)) + part[3:] for part in parts[1:])


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def confine_filesystem(run_as: RunAs) -> None:
    """In the container's process, before exec: a private mount namespace where the root filesystem (every
    mount but /proc, /sys, /dev and the container's writable volumes) is read-only when asked, and read-only
    volume mounts are read-only, as a runtime mounts them. Needs root (CAP_SYS_ADMIN)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"unshare(CLONE_NEWNS) for readOnlyRootFilesystem: {os.strerror(number)}")
    _mount("/", flags=_MS_REC | _MS_PRIVATE)  # nothing done here reaches the host's mounts
    for path in (*run_as.writable, *run_as.read_only):
        _mount(path, flags=_MS_BIND | _MS_REC, source=path)  # a mount of its own, so it can differ
    if run_as.read_only_root:
        for target, options in _mount_points():
            if "ro" in options or _inside(target, (*_KEPT_WRITABLE, *run_as.writable)):
                continue
            _mount(target, flags=_MS_REMOUNT | _MS_BIND | _MS_RDONLY | _kept_flags(options))
    for path in run_as.read_only:
        options = next((o for t, o in reversed(_mount_points()) if t == path), set())
        _mount(path, flags=_MS_REMOUNT | _MS_BIND | _MS_RDONLY | _kept_flags(options))


def _kept_flags(options: set[str]) -> int:
    """The flags a read-only remount must keep (the kernel refuses to drop locked ones)."""
    return (
        (_MS_NOSUID if "nosuid" in options else 0)
        | (_MS_NODEV if "nodev" in options else 0)
        | (_MS_NOEXEC if "noexec" in options else 0)
    )


def exit_code(status: int) -> int:
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status)


class Shim:
    def __init__(self, *, status_fd: int, parent: int, run_as: RunAs) -> None:
        self.status_fd = status_fd
        self.parent = parent
        self.run_as = run_as
        self.main: int | None = None
        self.pending: list[int] = []
        self.main_code: int | None = None

    def run(self, argv: list[str]) -> int:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        _prctl(_PR_SET_PDEATHSIG, KILL_SIGNAL)
        for signum in _FORWARDED:
            signal.signal(signum, self._forward)
        signal.signal(KILL_SIGNAL, self._kill)
        if os.getppid() != self.parent:  # the node died before the death signal was armed
            return 137
        self.main = self._spawn(argv)
        if self.main is None:
            return 128
        while self.main_code is None:
            if not self._reap(block=True):
                return 128  # cannot happen: the main process is a child until it is reaped
        self._kill_all()
        return self.main_code

    def _spawn(self, argv: list[str]) -> int | None:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        # Stop signals are held while the child is made: the child takes them with the default action once
        # its handlers are reset, the shim forwards them once it knows the child's pid.
        signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
        pid = os.fork()
        if pid == 0:  # the container's main process
            try:
                os.close(read_end)
                os.close(self.status_fd)  # the node's EOF must not wait for the container
                for signum in (*_FORWARDED, KILL_SIGNAL):
                    signal.signal(signum, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
                _prctl(_PR_SET_PDEATHSIG, 0)
                run_as = self.run_as
                if run_as.confines_filesystem:
                    confine_filesystem(run_as)
                for capability in run_as.drop_capabilities:  # before setuid, which loses CAP_SETPCAP
                    _prctl(_PR_CAPBSET_DROP, capability)  # one this kernel does not know is ignored
                if run_as.gid is not None or run_as.groups:
                    os.setgroups(list(run_as.groups))
                if run_as.gid is not None:
                    os.setgid(run_as.gid)
                if run_as.uid is not None:
                    os.setuid(run_as.uid)
                if run_as.no_new_privs and not _prctl(_PR_SET_NO_NEW_PRIVS, 1):
                    raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
                os.execvp(argv[0], argv)
            except OSError as error:
                _attempt(os.write, write_end, f"{error.errno or 0} {error.strerror or error}".encode())
            finally:
                os._exit(127)
        self.main = pid  # from here on, stop signals go to it (the node may send one once it has the status)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
        os.close(write_end)
        failure = b""
        while chunk := os.read(read_end, 4096):
            failure += chunk
        os.close(read_end)
        _attempt(os.write, self.status_fd, failure)
        os.close(self.status_fd)
        if failure:
            _attempt(os.waitpid, pid, 0)
            self.main = None
            return None
        for held in self.pending:  # a stop signal that came before the child was being made
            _attempt(os.kill, pid, held)
        return pid

    def _reap(self, *, block: bool) -> bool:
        """Reap one child; False when there is none left (or none has ended, without ``block``)."""
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == self.main and self.main_code is None:
            self.main_code = exit_code(status)
        return pid != 0

    def _forward(self, signum: int, _frame: object) -> None:
        if self.main is None:
            self.pending.append(signum)
        elif self.main_code is None:
            _attempt(os.kill, self.main, signum)

    def _kill(self, _signum: int, _frame: object) -> None:
        self._kill_all()
        if self.main_code is None:
            self.main_code = 137
        os._exit(self.main_code)

    def _kill_all(self) -> None:
        """SIGKILL every descendant until none is left; orphans of killed ones come back to the subreaper."""
        while True:
            for pid in descendants(os.getpid()):
                _attempt(os.kill, pid, signal.SIGKILL)
            if not self._reap(block=True):
                return


def _attempt(call: Any, *args: Any) -> bool:
    """``call(*args)``; False when it raised OSError (contextlib would cost the shim's start more)."""
    try:
        call(*args)
    except OSError:
        return False
    return True


def _filesystem(text: str) -> dict[str, Any]:
    if text == "-":
        return {}
    import json  # only containers with a confined filesystem pay for it

    view = json.loads(text)
    return {
        "read_only_root": bool(view["readOnlyRoot"]),
        "writable": tuple(view["writable"]),
        "read_only": tuple(view["readOnly"]),
    }


def _ids(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part and part != "-")


def main(arguments: list[str]) -> int:
    status_fd, parent, uid, gid, groups, no_new_privs, drop, filesystem, separator, *argv = arguments
    if separator != "--" or not argv:
        usage = "STATUS_FD PARENT UID GID GROUPS NO_NEW_PRIVS DROP_CAPABILITIES FILESYSTEM -- ARGV..."
        print(f"usage: {sys.argv[0]} {usage}", file=sys.stderr)
        return 2
    run_as = RunAs(
        uid=None if uid == "-" else int(uid),
        gid=None if gid == "-" else int(gid),
        groups=_ids(groups),
        no_new_privs=no_new_privs == "1",
        drop_capabilities=_ids(drop),
        **_filesystem(filesystem),
    )
    return Shim(status_fd=int(status_fd), parent=int(parent), run_as=run_as).run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
