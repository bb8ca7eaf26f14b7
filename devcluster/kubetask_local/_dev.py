"""``kubetask dev``: a whole local Kubernetes in one foreground process.

The API server emulator and the local node share one asyncio loop; the operator runs as a subprocess
(``python -m kubetask_operator`` with ``KUBECONFIG`` pointing here) and is restarted, as a Deployment would
restart it, when it exits on its own. The TaskRun CRD is applied before the kubeconfig is written, so the
kubeconfig's appearance means the cluster is ready. SIGINT/SIGTERM stop everything (operator, pod processes,
server) and SIGHUP restarts the operator (so does ``POST /kubetask-local/operator/restart``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp.web
import yaml

from kubetask_local._node_admin import add_node_admin_routes
from kubetask_local.apiserver import ApiServer
from kubetask_local.node import MERGE_PATCH, ApiError, FastMode, LocalNode, NodeApiClient, NodeConfig, Taint

logger = logging.getLogger("kubetask_local.dev")

CONTEXT = "kubetask-local"
OPERATOR_MODULE = "kubetask_operator"
_OPERATOR_STOP_SECONDS = 10.0
STORAGE_PREFIX_VARIABLE = "KUBETASK_STORAGE_PREFIX"
#: The kubeconfig cluster extension telling clients the cluster's storage (kubetask_client reads it).
STORAGE_EXTENSION = "kubetask.dev/storage"


@dataclass(frozen=True)
class DevOptions:
    """What ``kubetask dev`` was asked for (see ``kubetask dev --help``)."""

    kubeconfig: Path = Path(".kubetask/kubeconfig")
    port: int = 0
    operator: bool = True
    state_dir: Path | None = None
    node_name: str = "kubetask-local"
    node_labels: Mapping[str, str] = field(default_factory=dict)
    node_taints: tuple[Taint, ...] = ()
    failing_images: frozenset[str] = frozenset()
    image_users: Mapping[str, str] = field(default_factory=dict)
    fast_mode: FastMode | None = None
    node_lost_after: float = 1.0
    pod_eviction_timeout: float = 3.0
    exit_with_parent: bool = False
    operator_env: Mapping[str, str] = field(default_factory=dict)


def kubeconfig_document(
    server_url: str,
    *,
    token: str,
    ca_pem: bytes | None,
    namespace: str = "default",
    storage_prefix: str | None = None,
) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if storage_prefix is not None:  # a cluster extension, as minikube records its own details
        cluster["extensions"] = [{"name": STORAGE_EXTENSION, "extension": {"prefix": storage_prefix}}]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, server_url: str, *, token: str, ca_pem: bytes | None, storage_prefix: str | None = None
) -> None:
    """Write atomically (temporary file + rename), so whoever waits for the file never reads half of it;
    readable by its owner only, since its token admits to the cluster."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.touch(mode=0o600)
    os.chmod(temporary, 0o600)
    temporary.write_text(
        yaml.safe_dump(
            kubeconfig_document(server_url, token=token, ca_pem=ca_pem, storage_prefix=storage_prefix),
            sort_keys=False,
        )
    )
    temporary.replace(path)


def running_cluster_url(kubeconfig: Path) -> str | None:
    """The server of ``kubeconfig`` when a local cluster answers there (its admin root), else None: a second
    ``kubetask dev`` must not take over the kubeconfig of one that still runs."""
    try:
        document = yaml.safe_load(kubeconfig.read_text())
        server = str(document["clusters"][0]["cluster"]["server"])
        token = str((document["users"][0].get("user") or {}).get("token") or "")
        ca_data = document["clusters"][0]["cluster"].get("certificate-authority-data")
        context = ssl.create_default_context(cadata=base64.b64decode(ca_data).decode()) if ca_data else None
        request = urllib.request.Request(
            f"{server}/kubetask-local/", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=0.5, context=context) as reply:
            return server if reply.status == 200 else None
    except (OSError, ValueError, LookupError, TypeError, yaml.YAMLError, ssl.SSLError):
        return None


class _CrdLoader:
    """Imports the operator package in a thread while the cluster starts: ``kubetask_operator`` pulls in kopf
    and the kubernetes client (over a second of imports), which would otherwise delay readiness."""

    def __init__(self) -> None:
        self.crd: dict[str, Any] | None = None
        self.more_crds: list[dict[str, Any]] = []  # the TaskMap and TaskQueue CRDs beside it
        self.problem: str | None = None
        self._thread = threading.Thread(target=self._load, name="kubetask-dev-crd", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            module = importlib.import_module(OPERATOR_MODULE)
        except ImportError as error:
            self.problem = (
                f"the operator package is not installed ({error}); pip install 'kubetask[operator]'"
            )
            return
        load_crd: Callable[[], dict[str, Any]] | None = getattr(module, "load_crd", None)
        if load_crd is None:
            self.problem = f"{OPERATOR_MODULE}.load_crd() does not exist yet"
            return
        self.crd = load_crd()
        load_crds: Callable[[], list[dict[str, Any]]] | None = getattr(module, "load_crds", None)
        self.more_crds = [crd for crd in (load_crds() if load_crds else []) if crd != self.crd]

    async def result(self) -> dict[str, Any] | None:
        await asyncio.to_thread(self._thread.join)
        return self.crd


async def apply_crd(api: NodeApiClient, crd: Mapping[str, Any]) -> None:
    """Create the CRD, or merge-patch it when it exists (an emulator restarted on a kept state)."""
    name = crd["metadata"]["name"]
    try:
        await api.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=crd)
    except ApiError as error:
        if error.status != 409:
            raise
        await api.request(
            "PATCH",
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
            body=crd,
            content_type=MERGE_PATCH,
        )


class OperatorProcess:
    """The operator subprocess, restarted with a back-off when it exits on its own (like a Deployment)."""

    def __init__(self, *, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._restart_wanted = asyncio.Event()
        self.restarts = 0

    @staticmethod
    def available() -> bool:
        return (
            importlib.util.find_spec(OPERATOR_MODULE) is not None
            and importlib.util.find_spec(f"{OPERATOR_MODULE}.__main__") is not None
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.returncode is None else None

    def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="kubetask-dev-operator")

    def restart(self) -> None:
        self._restart_wanted.set()

    async def _supervise(self) -> None:
        backoff = 1.0
        while True:
            started = time.monotonic()
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", OPERATOR_MODULE, env=self._env, stdin=asyncio.subprocess.DEVNULL
            )
            logger.info("operator started (pid %d)", self._process.pid)
            exited = asyncio.create_task(self._process.wait())
            wanted = asyncio.create_task(self._restart_wanted.wait())
            await asyncio.wait({exited, wanted}, return_when=asyncio.FIRST_COMPLETED)
            wanted.cancel()
            if self._restart_wanted.is_set():
                self._restart_wanted.clear()
                await self._terminate()
                self.restarts += 1
                backoff = 1.0
                continue
            code = exited.result()
            backoff = 1.0 if time.monotonic() - started > 30 else min(backoff * 2, 30.0)
            logger.warning("operator exited with code %s; restarting in %.0fs", code, backoff)
            self.restarts += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._restart_wanted.wait(), timeout=backoff)
            self._restart_wanted.clear()

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=_OPERATOR_STOP_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def stop(self, *, signalled: bool = False, hurry: asyncio.Event | None = None) -> None:
        """Stop it for good. ``signalled``: it got the stop signal itself (a terminal's Ctrl-C reaches the
        whole foreground process group, which it shares with us), so it is given the time to stop on its
        own before it is terminated: a second signal in the middle of its own stop hits kopf's handler twice
        (InvalidStateError) or the loop closing its wakeup pipe ("Bad file descriptor"), each a traceback.
        ``hurry`` (a second Ctrl-C) ends that wait."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        process = self._process
        if signalled and process is not None and process.returncode is None:
            waits = {asyncio.ensure_future(process.wait())}
            if hurry is not None:
                waits.add(asyncio.ensure_future(hurry.wait()))
            _done, pending = await asyncio.wait(
                waits, timeout=_OPERATOR_STOP_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            for waiting in pending:
                waiting.cancel()
        await self._terminate()


class _StopSignals:
    """SIGINT and SIGTERM set ``stop``; one more sets ``again`` (stop faster). ``by_ctrl_c``: SIGINT
    stopped us."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        self._loop = loop
        self._stop = stop
        self.by_ctrl_c = False
        self.again = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._received, signum)

    def _received(self, signum: signal.Signals) -> None:
        if self._stop.is_set():
            self.again.set()
            return
        self.by_ctrl_c = signum == signal.SIGINT
        self._stop.set()

    def remove(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._loop.remove_signal_handler(signum)


def _json(body: Any) -> aiohttp.web.Response:
    return aiohttp.web.json_response(body)


def _add_operator_admin_routes(server: ApiServer, operator: OperatorProcess | None) -> None:
    async def show(_request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        if operator is None:
            return _json({"running": False, "pid": None, "restarts": 0})
        return _json(
            {"running": operator.pid is not None, "pid": operator.pid, "restarts": operator.restarts}
        )

    async def restart(_request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        if operator is None:
            return aiohttp.web.json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "BadRequest",
                    "code": 400,
                    "message": "kubetask dev runs without an operator (--no-operator or not installed)",
                },
                status=400,
            )
        operator.restart()
        return _json({"restarting": True, "previousPid": operator.pid})

    server.add_admin_route("GET", "operator", show)
    server.add_admin_route("POST", "operator/restart", restart)


async def run_dev(options: DevOptions, *, stop: asyncio.Event | None = None, out: TextIO = sys.stdout) -> int:
    """Run the local cluster until ``stop`` is set or SIGINT/SIGTERM arrives; answers the exit status."""
    began = time.monotonic()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = _StopSignals(loop, stop)
    kubeconfig = options.kubeconfig.absolute()
    kubeconfig.unlink(missing_ok=True)  # its appearance is the readiness signal
    wants_operator = options.operator and OperatorProcess.available()
    crd_loader = _CrdLoader()
    # A new token at each start: only who can read the kubeconfig can drive the cluster (it runs pod
    # commands as this user).
    server = ApiServer(port=options.port, token=secrets.token_urlsafe(32), tls=True)
    await server.start()  # first: a port in use fails here, before anything needs cleaning up
    state_dir = options.state_dir or Path(tempfile.mkdtemp(prefix="kubetask-dev-"))
    # Storage for outputs, files and shipped code, out of the box: in the state folder, so it lasts as
    # long as the cluster (the operator gets it, and clients through the kubeconfig's extension).
    storage_prefix = os.environ.get(STORAGE_PREFIX_VARIABLE) or (state_dir / "storage").absolute().as_uri()
    node = LocalNode(
        api_url=server.url_with_credentials,
        config=NodeConfig(
            root=state_dir / "node",
            name=options.node_name,
            labels=dict(options.node_labels),
            taints=options.node_taints,
            failing_images=options.failing_images,
            image_users=options.image_users,
            fast_mode=options.fast_mode,
            node_monitor_grace=options.node_lost_after,
            pod_eviction_timeout=options.pod_eviction_timeout,
            # A pod's processes reach this cluster as a pod's in-cluster credentials would (the chart's
            # `helm test` pod runs `kubetask submit`), never the cluster KUBECONFIG named when it started.
            base_env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        ),
    )
    operator: OperatorProcess | None = None
    try:
        server.set_log_source(node.log_source)
        add_node_admin_routes(server, node)
        await node.start()
        crd = await crd_loader.result()
        if crd is None:
            print(f"kubetask dev: warning: the TaskRun CRD is not applied: {crd_loader.problem}", file=out)
        else:
            await apply_crd(node.api, crd)
            for other in crd_loader.more_crds:
                await apply_crd(node.api, other)
        assert server.token is not None
        write_kubeconfig(
            kubeconfig, server.url, token=server.token, ca_pem=server.ca_pem, storage_prefix=storage_prefix
        )
        if wants_operator:
            operator = OperatorProcess(
                env={**os.environ, "KUBECONFIG": str(kubeconfig), STORAGE_PREFIX_VARIABLE: storage_prefix}
            )
            operator.start()
            loop.add_signal_handler(signal.SIGHUP, operator.restart)
        elif options.operator:
            print(
                f"kubetask dev: warning: no operator: {OPERATOR_MODULE}.__main__ is not importable", file=out
            )
        _add_operator_admin_routes(server, operator)
        _print_ready(
            out,
            kubeconfig=kubeconfig,
            url=server.url,
            operator=operator is not None,
            seconds=time.monotonic() - began,
        )
        orphan_watch = asyncio.create_task(_stop_when_orphaned(stop)) if options.exit_with_parent else None
        await stop.wait()
        if orphan_watch is not None:
            orphan_watch.cancel()
        print("kubetask dev: stopping", file=out, flush=True)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        if operator is not None:
            # SIGINT is Ctrl-C: the terminal sent it to the operator too (same foreground group). SIGTERM
            # (a service manager, kubetask_local.testing) is for us alone: we pass it on.
            await operator.stop(signalled=signals.by_ctrl_c, hurry=signals.again)
        signals.remove()
        await node.close()
        await server.stop()
        if options.state_dir is None:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


async def _stop_when_orphaned(stop: asyncio.Event, *, interval: float = 1.0) -> None:
    """Set ``stop`` once the parent process is gone (this process is then re-parented)."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(interval)
    print("kubetask dev: the process that started it ended", file=sys.stderr, flush=True)
    stop.set()


def _print_ready(out: TextIO, *, kubeconfig: Path, url: str, operator: bool, seconds: float) -> None:
    print(
        f"kubetask dev: local cluster ready in {seconds:.2f}s\n"
        f"  API server: {url}\n"
        f"  operator:   {'running (python -m kubetask_operator)' if operator else 'not started'}\n"
        f"  kubeconfig: {kubeconfig}\n"
        f"Point kubectl at it:\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        f"  kubectl get nodes\n"
        f"Stop with Ctrl-C.",
        file=out,
        flush=True,
    )
