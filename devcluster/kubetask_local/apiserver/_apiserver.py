"""``ApiServer``: the emulated Kubernetes API server on 127.0.0.1, served with aiohttp directly.

Request intake, the request log (``ApiServer.requests``), the object store, every verb, watches, discovery,
OpenAPI, tables and logs are our own. kmock was its base until its private members were all that was left in
use; dropping it also drops the pytest plugin kmock registers (which needs pytest-asyncio and forced
``-p no:kmock`` on this project and on users of ``kubetask_local.testing``).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import json
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import aiohttp.web
import yarl
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from kubetask_local.apiserver import _access, _discovery, _openapi, _rbac
from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver._errors import ApiError, bad_request, not_found
from kubetask_local.apiserver._faults import FaultConfig, FaultInjector
from kubetask_local.apiserver._handlers import ResourceHandlers
from kubetask_local.apiserver._logs import LogSource
from kubetask_local.apiserver._resources import Registry
from kubetask_local.apiserver._schema import admit
from kubetask_local.apiserver._store import Store
from kubetask_local.apiserver._targets import Target, parse_target
from kubetask_local.apiserver._tls import ServingCertificates, make_certificates
from kubetask_local.apiserver._wire import RECURSION_LIMIT, decode_body, json_response

# kube-apiserver's own limit on a request body (MaxRequestBodyBytes); aiohttp's default is 1 MiB.
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024

AdminHandler = Callable[[aiohttp.web.BaseRequest], Awaitable[aiohttp.web.StreamResponse]]
ADMIN_PREFIX = "/kubetask-local/"
logger = logging.getLogger("kubetask_local.apiserver")
_REQUEST_LOG_LIMIT = 1000


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request as it reached the server: what tests inspect after driving a client against it."""

    method: str
    url: yarl.URL
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


class _Intake:
    """Reads each request, records it, routes it, and renders an unexpected error as a ``Status``."""

    def __init__(
        self, route: Callable[[aiohttp.web.BaseRequest, bytes], Awaitable[aiohttp.web.StreamResponse]]
    ) -> None:
        self.route = route
        self.requests: collections.deque[RecordedRequest] = collections.deque(maxlen=_REQUEST_LOG_LIMIT)
        self.errors: collections.deque[BaseException] = collections.deque(maxlen=_REQUEST_LOG_LIMIT)

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            body = await raw_request.read()
        except aiohttp.web.HTTPRequestEntityTooLarge:
            error = ApiError(
                413,
                "RequestEntityTooLarge",
                f"the request body is larger than the limit of {MAX_REQUEST_BODY_BYTES} bytes",
            )
            return json_response(error.status(), status=error.code)
        self.requests.append(
            RecordedRequest(
                method=raw_request.method,
                url=raw_request.url,
                params=dict(raw_request.query),
                headers=dict(raw_request.headers),
                body=body,
            )
        )
        try:
            return await self.route(raw_request, body)
        except Exception as error:
            if isinstance(error, ConnectionError) and _client_gone(raw_request):
                # The client hung up while we answered (kopf stops a watch it had just sent as Ctrl-C
                # reaches it; kubectl quits a follow): no emulator bug, and nobody left to answer. A real
                # server cancels the request's context and logs nothing. aiohttp, sending this reply,
                # finds the connection closing and drops it quietly.
                logger.debug("the client of %s %s hung up: %s", raw_request.method, raw_request.path, error)
                return aiohttp.web.Response(status=499, reason="Client Closed Request")
            # A bug of the emulator: a 500 Status as a real server answers its own failures, without the
            # traceback (that goes to the log, and to ``ApiServer.errors`` for tests).
            self.errors.append(error)
            logger.exception("unexpected error serving %s %s", raw_request.method, raw_request.path)
            failure = errors.internal(
                f"an error on the server ({type(error).__name__}: {error}) has prevented the request "
                "from succeeding"
            )
            return json_response(failure.status(), status=500)


def _shutting_down() -> ApiError:
    """The answer to a watch asked for while the server stops: kube-apiserver's watch termination filter
    refuses it with a retryable 503 (staging/src/k8s.io/apiserver/pkg/server/filters/watch_termination.go,
    waitGroupWriteRetryAfterToResponse in waitgroup.go: NewServiceUnavailable, Retry-After: 1)."""
    return ApiError(503, "ServiceUnavailable", "apiserver is shutting down", headers={"Retry-After": "1"})


def _client_gone(raw_request: aiohttp.web.BaseRequest) -> bool:
    """Whether the request's connection is closed or closing: a TLS close_notify or a FIN that came in with
    the request marks the transport closing before its handler runs, and before aiohttp cancels it."""
    transport = raw_request.transport
    return transport is None or transport.is_closing()


class ApiServer:
    """An in-memory Kubernetes API server over HTTP.

    Use inside one asyncio loop (``async with ApiServer() as api: api.url``) or from synchronous code
    with ``ApiServer.run_in_thread()``. ``port=0`` (the default) takes a free port.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 30.0,
        token: str | None = None,
        tls: bool = False,
    ) -> None:
        self.host = host
        self._port = port
        # With a token, every request but the public health and version paths must carry it (401 otherwise).
        self.token = token
        self.service_account_tokens = _access.ServiceAccountTokens()
        # With TLS, ``url`` is HTTPS with a CA made at start (``ca_pem``), and an in-process component whose
        # client cannot take that CA reaches a second, plain listener at ``url_with_credentials``.
        self.tls = tls
        self.certificates: ServingCertificates | None = None
        self._internal_port: int | None = None
        self.registry = Registry()
        self.store = Store(self.registry)
        self.store.validator = admit
        self.faults = FaultInjector()
        self._handlers = ResourceHandlers(self.store, bookmark_interval=bookmark_interval)
        self._handlers.watch_drop_after = lambda: self.faults.config.watch_drop_after
        self._admin_routes: dict[tuple[str, str], AdminHandler] = {}
        self._intake: _Intake | None = None
        self._runner: aiohttp.web.ServerRunner | None = None
        self._bound_port: int | None = None
        self._draining = False  # set as stop() begins: open watches end, new ones are turned away
        self._add_builtin_admin_routes()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("the API server is not started; call `await start()` first")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self._bound_port}"

    @property
    def ca_pem(self) -> bytes | None:
        """The PEM of the CA that signed the serving certificate (None without TLS)."""
        return self.certificates.ca_pem if self.certificates is not None else None

    @property
    def url_with_credentials(self) -> str:
        """A plain-HTTP URL carrying the token as HTTP credentials, for in-process components whose HTTP
        client takes only a URL (the local node): aiohttp sends the URL's userinfo as an ``Authorization``
        header. Without TLS it is ``url`` itself; with TLS a second listener on 127.0.0.1."""
        port = self._internal_port if self.tls else self.port
        if port is None:
            raise RuntimeError("the API server is not started; call `await start()` first")
        credentials = f"kubelet:{self.token}@" if self.token is not None else ""
        return f"http://{credentials}{self.host}:{port}"

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the API server is not started; call `await start()` first")
        return self._bound_port

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the API server is already started")
        # A real server stores objects nested up to 10000 levels; Python's default limit of 1000 frames
        # would turn such a body into a RecursionError (a 500) or a refusal the real server never gives.
        sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
        self._draining = False
        intake = _Intake(self._route)
        self._intake = intake
        loop = asyncio.get_running_loop()

        def make_request(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> aiohttp.web.BaseRequest:
            return aiohttp.web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=MAX_REQUEST_BODY_BYTES
            )

        server = aiohttp.web.Server(
            intake, request_factory=make_request, handler_cancellation=True, access_log=None
        )
        runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        ssl_context = None
        if self.tls:
            self.certificates = make_certificates(host=self.host)
            ssl_context = self.certificates.server_context()
            self.store.publish_root_ca(self.certificates.ca_pem.decode())
        site = aiohttp.web.TCPSite(runner, self.host, self._port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        self._bound_port = _bound_port(site) or self._port
        if self.tls:
            internal = aiohttp.web.TCPSite(runner, self.host, 0, reuse_address=True)
            await internal.start()
            self._internal_port = _bound_port(internal)

    async def stop(self) -> None:
        """Drain as kube-apiserver does at shutdown: open watches end properly at once, a watch asked for
        from now on is answered 503 (it would only be cut when the connections close), and the other
        requests in flight finish (up to the runner's shutdown timeout) before the connections close."""
        self._draining = True  # before the watches close, so that no watch opens after them
        self.store.close_all_watches(graceful=True)
        await asyncio.sleep(0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._bound_port = None
        self._internal_port = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Start, then serve until cancelled (for a standalone process)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    @classmethod
    def run_in_thread(cls, **kwargs: Any) -> ThreadedApiServer:
        """Start a server in a background thread with its own loop; stop it with ``.stop()`` (or ``with``)."""
        return ThreadedApiServer(cls(**kwargs))

    @property
    def requests(self) -> list[RecordedRequest]:
        """The latest requests (method, url, params, headers, body), oldest first."""
        return list(self._intake.requests) if self._intake is not None else []

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected errors of the emulator itself (each answered 500), oldest first."""
        return list(self._intake.errors) if self._intake is not None else []

    # ------------------------------------------------------------------ hooks for other components

    def set_log_source(self, source: LogSource | None) -> None:
        """Plug in where ``pods/log`` reads container output: ``async fn(namespace, pod, container, params)
        -> bytes | None`` (None: the container has not started). ``params`` are the query parameters of
        the request (``tailLines``, ``sinceSeconds``, ``timestamps``, ``previous``, ``limitBytes``) except
        ``follow``, which the server implements by polling the source until the container terminates."""
        self._handlers.log_source = source

    def add_admin_route(self, method: str, path: str, handler: AdminHandler) -> None:
        """Serve ``handler`` at ``/kubetask-local/<path>`` (e.g. ``node/stop``); never faulted."""
        self._admin_routes[(method.upper(), path.strip("/"))] = handler

    def set_faults(self, config: FaultConfig) -> None:
        self.faults.configure(config)

    def reset_faults(self) -> None:
        self.faults.reset()

    def drop_watches(self) -> int:
        """Cut every open watch stream mid-stream now; answers how many were cut."""
        return self.store.close_all_watches(graceful=False)

    # ------------------------------------------------------------------ routing

    async def _route(self, raw: aiohttp.web.BaseRequest, body: bytes) -> aiohttp.web.StreamResponse:
        path = raw.path
        try:
            public = path in _access.PUBLIC_PATHS
            identity = _rbac.ADMIN if public else self._identify(raw)
            _access.check_body_type(raw.method, raw.headers.get("Content-Type", ""), has_body=bool(body))
            if path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/"):
                if not identity.is_admin:
                    raise _rbac.forbidden(identity, _rbac.Attributes(raw.method.lower(), path, False))
                return await self._admin(raw)
            if path.startswith(("/api/", "/apis")) or path == "/api":
                fault = self.faults.pick(method=raw.method, path=path, name=path.rsplit("/", 1)[-1])
                if fault is not None:
                    raise fault
            target = parse_target(self.registry, path)
            attributes = _request_attributes(raw, target)
            if self._draining and attributes.verb == "watch":
                raise _shutting_down()
            if not public and not _rbac.allowed(identity, attributes, self.store.rbac_objects()):
                raise _rbac.forbidden(identity, attributes)
            if target is not None:
                self._check_rbac_write(raw, target, body, identity)
                special = self._special(raw, target, body, identity)
                if special is not None:
                    return special
                return await self._handlers.handle(raw, target, body)
            return self._meta(path, raw.headers.get("Accept", ""))
        except ApiError as error:
            return json_response(error.status(), status=error.code, headers=error.headers)

    def _identify(self, raw: aiohttp.web.BaseRequest) -> _rbac.Identity:
        """Who sends the request: a ServiceAccount token's account, the admin token's admin (anyone, on a
        server without a token), then whoever an admin impersonates; 401 for an unknown token."""
        presented = _access.presented_token(raw.headers.get("Authorization", ""))
        issued = self.service_account_tokens.find(presented)
        identity: _rbac.Identity | None = None
        if issued is not None:
            accounts = self.registry.get("", "v1", "serviceaccounts")
            assert accounts is not None
            account = self.store.find(accounts, issued.namespace, issued.service_account)
            if (
                account is not None
                and account["metadata"]["uid"] == issued.uid
                and self._bound_pod_present(issued)
            ):
                identity = _rbac.service_account_identity(
                    issued.namespace, issued.service_account, issued.uid
                )
        if identity is None:
            if self.token is not None and not _access.token_matches(presented, self.token):
                raise _access.unauthorized()
            identity = _rbac.ADMIN
        return _rbac.impersonated(identity, raw.headers, raw.headers.getall("Impersonate-Group", []))

    def _bound_pod_present(self, issued: _access.IssuedToken) -> bool:
        """A token bound to a pod is valid while that pod (same uid) exists (the token authenticator's
        check of its pod claim, pkg/serviceaccount/claims.go)."""
        if issued.bound_pod is None:
            return True
        pods = self.registry.get("", "v1", "pods")
        assert pods is not None
        pod = self.store.find(pods, issued.namespace, issued.bound_pod[0])
        return pod is not None and pod["metadata"]["uid"] == issued.bound_pod[1]

    def _check_rbac_write(
        self, raw: aiohttp.web.BaseRequest, target: Target, body: bytes, identity: _rbac.Identity
    ) -> None:
        """The escalation check of RBAC writes (create and update; a patch is checked as the object it
        produces only by the authorizer)."""
        resource = target.resource
        if (
            identity.is_admin
            or resource.group != _rbac.RBAC_GROUP
            or raw.method.upper() not in ("POST", "PUT")
        ):
            return
        obj = decode_body(body, raw.headers.get("Content-Type", "application/json"))
        if isinstance(obj, dict):
            _rbac.check_rbac_write(
                identity, resource.plural, obj, target.namespace or "", self.store.rbac_objects()
            )

    def _special(
        self, raw: aiohttp.web.BaseRequest, target: Target, body: bytes, identity: _rbac.Identity
    ) -> aiohttp.web.Response | None:
        """Verbs that are computations, not stored objects: access reviews and TokenRequests."""
        resource = target.resource
        if raw.method.upper() != "POST":
            return None
        if resource.group == "authorization.k8s.io" and resource.plural == "selfsubjectrulesreviews":
            review = decode_body(body, raw.headers.get("Content-Type", "application/json"))
            spec = (review.get("spec") or {}) if isinstance(review, dict) else {}
            namespace = str(spec.get("namespace") or "")
            return json_response(
                {
                    "kind": resource.kind,
                    "apiVersion": resource.api_version,
                    "metadata": {"creationTimestamp": None},
                    "spec": spec,
                    "status": _rbac.rules_review(identity, namespace, self.store.rbac_objects()),
                },
                status=201,
            )
        if resource.group == "authorization.k8s.io" and resource.plural in (
            "selfsubjectaccessreviews",
            "subjectaccessreviews",
        ):
            review = decode_body(body, raw.headers.get("Content-Type", "application/json"))
            if not isinstance(review, dict):
                raise bad_request("the body must be an access review object")
            spec = review.get("spec") or {}
            subject = identity
            if resource.plural == "subjectaccessreviews":
                subject = _rbac.Identity(str(spec.get("user") or ""), tuple(spec.get("groups") or ()))
            verdict = _rbac.allowed(subject, _rbac.access_review_attributes(spec), self.store.rbac_objects())
            status: dict[str, Any] = {"allowed": verdict}
            if verdict:
                status["reason"] = "allowed by the RBAC rules of the kubetask local cluster"
            return json_response(
                {
                    "kind": resource.kind,
                    "apiVersion": resource.api_version,
                    "metadata": {"creationTimestamp": None},
                    "spec": spec,
                    "status": status,
                },
                status=201,
            )
        if resource.plural == "serviceaccounts" and not resource.group and target.subresource == "token":
            return self._token_request(target, decode_body(body, raw.headers.get("Content-Type", "")))
        return None

    def _token_request(self, target: Target, request: Any) -> aiohttp.web.Response:
        """``POST serviceaccounts/<name>/token``: a token that authenticates as the account."""
        assert target.name is not None
        assert target.namespace is not None
        account = self.store.get(target.resource, target.namespace, target.name)
        spec = dict((request or {}).get("spec") or {}) if isinstance(request, dict) else {}
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise errors.invalid(
                group="authentication.k8s.io",
                kind="TokenRequest",
                name=target.name,
                causes=[
                    (
                        "spec.expirationSeconds",
                        f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                    )
                ],
            )
        token, expires = self.service_account_tokens.issue(
            namespace=target.namespace,
            service_account=target.name,
            uid=account["metadata"]["uid"],
            seconds=seconds,
            bound_pod=self._token_pod(target, spec.get("boundObjectRef")),
        )
        spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
        spec["expirationSeconds"] = seconds
        return json_response(
            {
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": target.name, "namespace": target.namespace, "creationTimestamp": None},
                "spec": spec,
                "status": {
                    "token": token,
                    "expirationTimestamp": datetime.datetime.fromtimestamp(expires, datetime.UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                },
            },
            status=201,
        )

    def _token_pod(self, target: Target, reference: Any) -> tuple[str, str] | None:
        """The pod a TokenRequest's ``boundObjectRef`` binds the token to, checked as the token REST
        storage does (pkg/registry/core/serviceaccount/storage/token.go): the pod must exist (404), run as
        this account (400) and carry the given uid (409)."""
        if not isinstance(reference, dict) or reference.get("kind") != "Pod":
            return None
        assert target.namespace is not None
        assert target.name is not None
        pods = self.registry.get("", "v1", "pods")
        assert pods is not None
        name = str(reference.get("name") or "")
        pod = self.store.get(pods, target.namespace, name)
        if (pod.get("spec") or {}).get("serviceAccountName") != target.name:
            raise bad_request(
                f"cannot bind token for serviceaccount {json.dumps(target.name)} to pod running with "
                "different serviceaccount name."
            )
        uid = str(pod["metadata"]["uid"])
        if reference.get("uid") and reference["uid"] != uid:
            raise errors.ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on Pod "{name}": the UID in the bound object reference '
                f"({reference['uid']}) does not match the UID in record. The object might have been deleted "
                "and then recreated",
                details={"name": name, "kind": "Pod"},
            )
        return name, uid

    def _meta(self, path: str, accept: str) -> aiohttp.web.Response:
        """Discovery, version, health and OpenAPI documents."""
        segments = [segment for segment in path.split("/") if segment]
        if segments in (["api"], ["apis"]) and _discovery.wants_aggregated(accept):
            document = _discovery.aggregated(self.registry, core=segments == ["api"])
            return json_response(document, headers={"Content-Type": _discovery.AGGREGATED_CONTENT_TYPE})
        body: Any = None
        if not segments:
            body = _discovery.root_paths(self.registry)
        elif path in ("/healthz", "/livez", "/readyz"):
            return aiohttp.web.Response(text="ok")
        elif path == "/version":
            body = _discovery.SERVER_VERSION
        elif segments == ["api"]:
            body = _discovery.api_versions()
        elif segments[0] == "api" and len(segments) == 2:
            body = _discovery.api_resource_list(self.registry, "", segments[1])
        elif segments == ["apis"]:
            body = _discovery.api_group_list(self.registry)
        elif segments[0] == "apis" and len(segments) == 2:
            body = _discovery.api_group(self.registry, segments[1])
        elif segments[0] == "apis" and len(segments) == 3:
            body = _discovery.api_resource_list(self.registry, segments[1], segments[2])
        elif segments[:2] == ["openapi", "v3"]:
            body = (
                _openapi.index(self.registry)
                if len(segments) == 2
                else _openapi.group_version_document(self.registry, "/".join(segments[2:]))
            )
        if body is None:
            raise ApiError(
                404,
                "NotFound",
                "the server could not find the requested resource",
                details={"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]},
            )
        return json_response(body)

    # ------------------------------------------------------------------ admin routes

    def _add_builtin_admin_routes(self) -> None:
        self.add_admin_route("GET", "", self._admin_index)
        self.add_admin_route("GET", "faults", self._get_faults)
        self.add_admin_route("PUT", "faults", self._put_faults)
        self.add_admin_route("POST", "faults", self._put_faults)
        self.add_admin_route("DELETE", "faults", self._delete_faults)
        self.add_admin_route("POST", "watches/drop", self._drop_watches)
        self.add_admin_route("POST", "compact", self._compact)
        self.add_admin_route("GET", "stats", self._stats)

    async def _admin(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        key = (raw.method.upper(), raw.path[len(ADMIN_PREFIX) :].strip("/"))
        handler = self._admin_routes.get(key)
        if handler is None:
            raise not_found(group="kubetask-local", plural="admin routes", name=f"{key[0]} {raw.path}")
        return await handler(raw)

    async def _admin_index(self, _raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        routes = sorted(f"{method} {ADMIN_PREFIX}{path}" for method, path in self._admin_routes)
        return json_response({"routes": routes})

    async def _get_faults(self, _raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        return json_response({**self.faults.config.to_json(), "injected": self.faults.injected})

    async def _put_faults(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            config = FaultConfig.from_json(json.loads(await raw.read() or b"{}"))
        except (ValueError, TypeError) as error:
            raise bad_request(f"bad fault configuration: {error}") from error
        self.faults.configure(config)
        return json_response(config.to_json())

    async def _delete_faults(self, _raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        self.faults.reset()
        return json_response(self.faults.config.to_json())

    async def _drop_watches(self, _raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        return json_response({"dropped": self.drop_watches()})

    async def _compact(self, _raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        self.store.compact()
        return json_response({"compactedTo": str(self.store.resource_version)})

    async def _stats(self, _raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        return json_response(self.store.stats())


def _request_attributes(raw: aiohttp.web.BaseRequest, target: Target | None) -> _rbac.Attributes:
    """What the request does, for the authorizer (the real server's RequestInfo)."""
    if target is None:
        return _rbac.Attributes(
            verb=raw.method.lower() if raw.method != "HEAD" else "get", path=raw.path, resource_request=False
        )
    resource = target.resource
    watch = target.watch_path or raw.query.get("watch", "").lower() in ("true", "1")
    namespace = target.namespace or ""
    if resource.plural == "namespaces" and not resource.group and target.name:
        namespace = target.name  # the real RequestInfo counts a namespace as its own namespace
    return _rbac.Attributes(
        verb=_rbac.verb_of(raw.method, named=target.name is not None, watch=watch),
        path=raw.path,
        resource_request=True,
        api_group=resource.group,
        resource=resource.plural,
        subresource=target.subresource or "",
        namespace=namespace,
        name=target.name or "",
    )


def _bound_port(site: aiohttp.web.TCPSite) -> int | None:
    sockets = getattr(site._server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else None


class ThreadedApiServer:
    """An ApiServer running in its own thread and event loop, for synchronous callers (tests, scripts)."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kubetask-local-apiserver", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout=30):
            raise RuntimeError("the API server thread did not start within 30 seconds")
        if self._error is not None:
            raise RuntimeError(f"the API server failed to start: {self._error!r}") from self._error

    @property
    def url(self) -> str:
        return self.api.url

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        try:
            await self.api.start()
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            await self._stopping.wait()
        finally:
            await self.api.stop()

    def call(self, function: Callable[[], Any]) -> Any:
        """Run a plain function in the server's loop (the store is not thread-safe) and return its result."""

        async def runner() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout=30)

    def stop(self) -> None:
        if self._thread.is_alive() and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout=30)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
