"""Objects nested deeper than Python's default recursion limit are stored, read and watched as a real API
server stores them; a body nested past the real limit answers the real 400, never a 500 with a traceback.

The real limit is encoding/json's maxNestingDepth (10000), which the API server's decoders inherit
(golang/go src/encoding/json/scanner.go: ``invalid character '{' exceeded max depth``; the serializer adds
``couldn't get version/kind; json parse error``, k8s.io/apimachinery/pkg/runtime/serializer/json/meta.go).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.local_cluster.apiserver.conftest import Http, crd_manifest


def nested(depth: int) -> Any:
    """A value whose objects nest ``depth`` levels (built without recursion)."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, dict):
        value, depth = value["a"], depth + 1
    return depth


@pytest.fixture(scope="module")
def deep_crd(http: Http) -> str:
    reply = http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd_manifest(group="deep.dev", plural="deeps", kind="Deep"),
    )
    assert reply.status == 201, reply.body
    return "/apis/deep.dev/v1"


def raw_body(name: str, inputs_depth: int) -> bytes:
    # spec.inputs sits at depth 2 of the body (body {, spec {), so the body nests inputs_depth + 2 levels.
    inner = '{"a":' * inputs_depth + '"leaf"' + "}" * inputs_depth
    return f'{{"metadata":{{"name":"{name}"}},"spec":{{"inputs":{inner}}}}}'.encode()


@pytest.mark.parametrize("depth", [pytest.param(1000, id="1000"), pytest.param(9998, id="10000-in-all")])
def test_deep_objects_are_stored_read_and_watched(
    http: Http, deep_crd: str, namespace: str, depth: int
) -> None:
    base = f"{deep_crd}/namespaces/{namespace}/deeps"
    created = http.post(base, raw_body("d", depth))
    assert created.status == 201, str(created.body)[:300]
    assert depth_of(created.body["spec"]["inputs"]) == depth
    assert depth_of(http.get(f"{base}/d").body["spec"]["inputs"]) == depth
    _, events = http.watch_lines(f"{base}?watch=true&resourceVersion=0&timeoutSeconds=1", timeout=30)
    assert [event["type"] for event in events] == ["ADDED"]
    assert depth_of(events[0]["object"]["spec"]["inputs"]) == depth
    listed = http.get(base).body["items"]
    assert depth_of(listed[0]["spec"]["inputs"]) == depth


def test_bodies_nested_past_the_real_limit_are_a_400(http: Http, deep_crd: str, namespace: str) -> None:
    base = f"{deep_crd}/namespaces/{namespace}/deeps"
    reply = http.post(base, raw_body("too-deep", 9999))  # 10001 levels in all
    assert reply.status == 400, str(reply.body)[:300]
    assert reply.body["message"] == (
        "couldn't get version/kind; json parse error: invalid character '{' exceeded max depth"
    )
    assert http.get(f"{base}/too-deep").status == 404


def test_far_deeper_bodies_are_a_400_too(http: Http, deep_crd: str, namespace: str) -> None:
    body = '{"metadata":{"name":"x"},"spec":' + "[" * 200_000 + "]" * 200_000 + "}"
    reply = http.post(f"{deep_crd}/namespaces/{namespace}/deeps", body.encode())
    assert reply.status == 400, str(reply.body)[:300]
    assert "exceeded max depth" in reply.body["message"]
    assert "Traceback" not in json.dumps(reply.body)


def test_deep_objects_pass_crds_with_cel_rules(http: Http, namespace: str) -> None:
    # cel-python's Environment() sets the process's recursion limit to 2500; compiling a CEL rule must not
    # make deep objects unstorable afterwards (the TaskRun CRD has CEL rules).
    rule = f"self.image != 'never-{namespace}'"
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": rule}],
                "properties": {
                    "image": {"type": "string"},
                    "inputs": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    crd = crd_manifest(
        group=f"cel{namespace.replace('-', '')}.dev", plural="celdeeps", kind="CelDeep", schema=schema
    )
    assert http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201
    base = f"/apis/{crd['spec']['group']}/v1/namespaces/{namespace}/celdeeps"
    inner = '{"a":' * 9000 + '"leaf"' + "}" * 9000
    for name in ("one", "two"):  # the second create runs after the rule was compiled
        body = f'{{"metadata":{{"name":"{name}"}},"spec":{{"image":"x","inputs":{inner}}}}}'.encode()
        reply = http.post(base, body)
        assert reply.status == 201, str(reply.body)[:300]
    refused = http.post(
        base, b'{"metadata":{"name":"bad"},"spec":{"image":"never-' + namespace.encode() + b'"}}'
    )
    assert refused.status == 422, refused.body
