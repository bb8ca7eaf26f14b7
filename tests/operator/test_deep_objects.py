"""Objects nested deeper than Python's recursion reaches (a real API server stores them 10000 deep): decoded
without RecursionError wherever the operator reads the API (kopf's watches and listings, its own client), and
refused by name when they are a TaskRun's spec. No cluster: kopf's API layer runs against a small HTTP server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import kopf
import pytest
from aiohttp import web
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import auth as kopf_auth
from kopf._cogs.structs import credentials as kopf_credentials

from kubetask_operator._client import KubeClient
from kubetask_operator._kopf_adapter import install_tolerant_json
from kubetask_operator._nesting import DECODE_DEPTH, MAX_NESTING, TOO_DEEP, path_too_deep, tolerant_loads
from kubetask_operator._reconcile import plan
from kubetask_operator._settings import Settings

from ._factories import NOW, taskrun

SETTINGS = Settings()


def _nested(depth: int, leaf: str = "1") -> str:
    """JSON text of ``depth`` arrays nested in one another."""
    return "[" * depth + leaf + "]" * depth


def _taskrun_text(field: str, depth: int) -> str:
    """A TaskRun as the API server sends it, with ``field`` (a place in its spec) nested ``depth`` levels."""
    marker = "__DEEP__"
    spec: dict[str, Any] = {
        "inputs": {"a": 1},
        "podTemplate": {},
        "env": [{"name": "A", "value": "b"}],
    }
    if field == "inputs":
        spec["inputs"] = {"deep": marker}
    elif field == "affinity":
        spec["podTemplate"]["affinity"] = {"nodeAffinity": marker}
    elif field in ("tolerations", "volumes"):
        spec["podTemplate"][field] = [{"name": "v", "x": marker}]
    elif field == "valueFrom":
        spec["env"] = [{"name": "A", "valueFrom": marker}]
    text = json.dumps(taskrun(spec))
    # Also as kubectl leaves it: the managed fields mirror the object's shape, as deep as it is.
    return text.replace(f'"{marker}"', _nested(depth)).replace(
        '"metadata": {', f'"metadata": {{"managedFields": [{{"fieldsV1": {_nested(depth, "{}")}}}], ', 1
    )


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"a": [1, 2.5, -3e2, "x\\"y\\u00e9", true, false, null, {}, []]}', id="every-kind"),
        pytest.param('  {"k": {"k2": [1, {"z": "]}[{"}]}} ', id="brackets-in-strings"),
        pytest.param('"text"', id="string"),
        pytest.param("[[], [[]], {}]", id="empty-containers"),
        pytest.param(_nested(500), id="500-deep"),
    ],
)
def test_json_python_can_decode_decodes_as_the_standard_library_does(text: str) -> None:
    assert tolerant_loads(text) == json.loads(text)
    assert tolerant_loads(text.encode()) == json.loads(text)


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    """Python's default limit, as the operator's process has it: other tests' imports raise it for the whole
    test process (cel-python sets 2500; the local API server more, to store what a real one stores)."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(before)


@pytest.mark.usefixtures("default_recursion_limit")
@pytest.mark.parametrize("depth", [1000, 10000], ids=["1000-deep", "10000-deep"])
def test_json_nested_past_python_decodes_with_the_deep_part_cut_off(depth: int) -> None:
    text = '{"before": 1, "deep": ' + _nested(depth) + ', "after": {"x": "y"}}'
    with pytest.raises(RecursionError):
        json.loads(text)
    decoded = tolerant_loads(text)
    assert decoded["before"] == 1
    assert decoded["after"] == {"x": "y"}
    path = path_too_deep(decoded, DECODE_DEPTH - 1)
    assert path is not None
    assert len(path) == DECODE_DEPTH - 1
    assert path_too_deep(decoded, DECODE_DEPTH) is None, "nothing decoded is deeper than DECODE_DEPTH"
    inner = decoded["deep"]
    while isinstance(inner, list):
        inner = inner[0]
    assert inner == TOO_DEEP


@pytest.mark.parametrize("text", ["[" * 1200 + "1", "[" * 1200 + "1]] x", '[{"a" 1}' + "]" * 1200])
def test_malformed_deep_json_is_a_decode_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        tolerant_loads(text)


# ---------------------------------------------------------------- the spec check


FIELDS = [
    pytest.param("inputs", "spec.inputs.deep", id="inputs"),
    pytest.param("affinity", "spec.podTemplate.affinity.nodeAffinity", id="affinity"),
    pytest.param("tolerations", "spec.podTemplate.tolerations[0].x", id="tolerations"),
    pytest.param("volumes", "spec.podTemplate.volumes[0].x", id="volumes"),
    pytest.param("valueFrom", "spec.env[0].valueFrom", id="env-value-from"),
]


@pytest.mark.parametrize("depth", [MAX_NESTING + 5, 1000, 10000], ids=["past-the-limit", "1000", "10000"])
@pytest.mark.parametrize(("field", "named"), FIELDS)
def test_a_taskrun_nested_past_the_limit_fails_invalid_spec_naming_the_field(
    field: str, named: str, depth: int
) -> None:
    body = tolerant_loads(_taskrun_text(field, depth))
    result = plan(body, pod="unknown", now=NOW, settings=SETTINGS)
    assert result.create_attempt is None
    assert result.status is not None
    assert result.status["phase"] == "Failed"
    (condition,) = result.status["conditions"]
    assert condition["reason"] == "InvalidSpec"
    assert named in condition["message"]
    assert f"at most {MAX_NESTING} levels" in condition["message"]
    json.dumps(result.status)  # the status itself is shallow enough to write


@pytest.mark.parametrize(("field", "named"), FIELDS)
def test_the_limit_counts_levels_from_the_spec_field(field: str, named: str) -> None:
    # The level of the deep arrays' outermost one, counting the top-level spec field as level 1.
    first = {"inputs": 2, "affinity": 3, "tolerations": 4, "volumes": 4, "valueFrom": 3}[field]
    at_limit = tolerant_loads(_taskrun_text(field, MAX_NESTING - first + 1))
    assert plan(at_limit, pod="unknown", now=NOW, settings=SETTINGS).create_attempt == 1
    past = plan(
        tolerant_loads(_taskrun_text(field, MAX_NESTING - first + 2)),
        pod="unknown",
        now=NOW,
        settings=SETTINGS,
    )
    assert past.status is not None
    assert named in past.status["conditions"][0]["message"]


# ---------------------------------------------------------------- where the operator reads the API


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _with_server(handler: Handler, scenario: Callable[[str], Awaitable[Any]]) -> Any:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        return await scenario(f"http://127.0.0.1:{runner.addresses[0][1]}")
    finally:
        await runner.cleanup()


DEEP_TASKRUN = _taskrun_text("inputs", 5000)


async def _serve_deep(request: web.Request) -> web.StreamResponse:
    """A listing holding the deep TaskRun, or (``?watch=true``) a watch stream with one event of it."""
    if request.query.get("watch") == "true":
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(('{"type": "ADDED", "object": ' + DEEP_TASKRUN + "}\n").encode())
        await response.write_eof()
        return response
    listing = '{"kind": "TaskRunList", "metadata": {"resourceVersion": "7"}, "items": [' + DEEP_TASKRUN + "]}"
    return web.Response(text=listing, content_type="application/json")


async def _kopf_reads(server: str) -> tuple[Any, list[Any]]:
    vault = kopf_credentials.Vault()
    await vault.populate({"test": kopf.ConnectionInfo(server=server)})
    kopf_auth.vault_var.set(vault)
    settings = kopf.OperatorSettings()
    logger = logging.getLogger("test")
    try:
        listing = await kopf_api.get("/apis/kubetask.dev/v1alpha1/taskruns", settings=settings, logger=logger)
        stream: AsyncIterator[Any] = kopf_api.stream(
            "/apis/kubetask.dev/v1alpha1/taskruns?watch=true", settings=settings, logger=logger
        )
        events = [event async for event in stream]
    finally:
        await vault.close()
    return listing, events


def test_kopf_lists_and_watches_deep_taskruns_through_the_adapter() -> None:
    install_tolerant_json()
    listing, events = asyncio.run(_with_server(_serve_deep, _kopf_reads))
    (item,) = listing["items"]
    ((event),) = events
    for body in (item, event["object"]):
        assert body["metadata"]["name"] == "demo"
        assert plan(body, pod="unknown", now=NOW, settings=SETTINGS).status is not None


def test_the_operators_own_client_reads_deep_objects() -> None:
    async def read(server: str) -> Any:
        client = KubeClient(credentials=lambda: kopf.ConnectionInfo(server=server), retry_for=0)
        try:
            return await client.get("/apis/kubetask.dev/v1alpha1/taskruns")
        finally:
            await client.close()

    listing = asyncio.run(_with_server(_serve_deep, read))
    assert listing["items"][0]["metadata"]["name"] == "demo"
