"""Built-in objects are decoded and validated as a real API server does: 400 from the typed decoder, 422
Invalid with the field paths in ``details.causes``, worded as the real server words them.

Sources (kubernetes/kubernetes):
- staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go (labels, annotations 256 KiB,
  ownerReferences, finalizers)
- staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go (RegexError, MaxLenError, name formats)
- staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go ("Too long: must have at most %d bytes")
- pkg/apis/core/validation/validation.go (validateRestartPolicy, validatePullPolicy, validateVolumeMounts,
  ValidateResourceRequirements, ValidateConfigMap(Update), ValidateSecret(Update), activeDeadlineSeconds)
- staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go (ErrFormatWrong)
- staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go (RFC3339Micro)
- https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation (Strict, Warn, Ignore)
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from tests.local_cluster.apiserver.conftest import Http


def pod(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
    }
    body["spec"].update(spec)
    return body


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "main", "image": "busybox:1.36", **fields}


def causes(reply: Any) -> list[tuple[str, str]]:
    return [(cause["field"], cause["message"]) for cause in reply.body["details"]["causes"]]


def test_wrong_json_type_is_400_naming_the_go_struct_field(http: Http, namespace: str) -> None:
    body = pod(containers=[{"name": 5, "image": "busybox"}])
    reply = http.post(f"/api/v1/namespaces/{namespace}/pods", body)
    assert reply.status == 400, reply.body
    assert reply.body["reason"] == "BadRequest"
    assert reply.body["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct '
        "field Container.spec.containers.name of type string"
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(
            {"metadata": {"name": "c"}, "data": {"a": 1}},
            "cannot unmarshal number into Go struct field ConfigMap.data of type string",
            id="configmap-data-number",
        ),
        pytest.param(
            {"metadata": {"name": "c", "labels": ["a"]}},
            "cannot unmarshal array into Go struct field ObjectMeta.metadata.labels "
            "of type map[string]string",
            id="labels-array",
        ),
        pytest.param(
            {"metadata": {"name": "c"}, "immutable": "yes"},
            "cannot unmarshal string into Go struct field ConfigMap.immutable of type bool",
            id="immutable-string",
        ),
    ],
)
def test_wrong_types_in_configmaps(http: Http, namespace: str, body: dict[str, Any], fragment: str) -> None:
    reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps", body)
    assert reply.status == 400, reply.body
    assert reply.body["message"].startswith('ConfigMap in version "v1" cannot be handled as a ConfigMap: ')
    assert fragment in reply.body["message"]


def test_unknown_fields_dropped_with_a_warning_by_default(http: Http, namespace: str) -> None:
    body = pod()
    body["spec"]["containers"][0]["colour"] = "blue"
    body["spec"]["bogus"] = 1
    reply = http.post(f"/api/v1/namespaces/{namespace}/pods", body)
    assert reply.status == 201, reply.body
    assert "bogus" not in reply.body["spec"]
    assert "colour" not in reply.body["spec"]["containers"][0]
    stored = http.get(f"/api/v1/namespaces/{namespace}/pods/p").body
    assert "bogus" not in stored["spec"]
    warning = reply.headers.get("Warning", "")
    assert (
        'unknown field \\"spec.bogus\\"' in warning
        or 'unknown field \\"spec.containers[0].colour\\"' in warning
    )


def test_unknown_fields_refused_with_strict_field_validation(http: Http, namespace: str) -> None:
    body = pod()
    body["spec"]["containers"][0]["colour"] = "blue"
    reply = http.post(f"/api/v1/namespaces/{namespace}/pods?fieldValidation=Strict", body)
    assert reply.status == 400, reply.body
    assert reply.body["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].colour"'
    )
    assert http.get(f"/api/v1/namespaces/{namespace}/pods/p").status == 404


def test_unknown_fields_ignored_silently_with_ignore(http: Http, namespace: str) -> None:
    body = {"metadata": {"name": "c"}, "extra": 1}
    reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps?fieldValidation=Ignore", body)
    assert reply.status == 201, reply.body
    assert "Warning" not in reply.headers
    assert "extra" not in reply.body


def test_kubectl_strict_validation_reports_unknown_fields(kubectl: Any, namespace: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata:\n  a: b\nimmutible: true\n"
    result = kubectl("apply", "-n", namespace, "--validate=strict", "-f", "-", input=manifest, check=False)
    assert result.returncode != 0
    assert 'unknown field "immutible"' in result.stderr


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"restartPolicy": "Sometimes"},
            (
                "spec.restartPolicy",
                'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
            ),
            id="restartPolicy",
        ),
        pytest.param(
            {"containers": [container(imagePullPolicy="Sometimes")]},
            (
                "spec.containers[0].imagePullPolicy",
                'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
            ),
            id="imagePullPolicy",
        ),
        pytest.param(
            {"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/data"}])]},
            ("spec.containers[0].volumeMounts[0].name", 'Not found: "data"'),
            id="undeclared-volume",
        ),
        pytest.param(
            {"containers": [container(), container()]},
            ("spec.containers[1].name", 'Duplicate value: "main"'),
            id="duplicate-container",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
            ("spec.volumes[1].name", 'Duplicate value: "v"'),
            id="duplicate-volume",
        ),
        pytest.param(
            {
                "volumes": [{"name": "v", "emptyDir": {}}],
                "containers": [
                    container(
                        volumeMounts=[{"name": "v", "mountPath": "/d"}, {"name": "v", "mountPath": "/d"}]
                    )
                ],
            },
            ("spec.containers[0].volumeMounts[1].mountPath", 'Invalid value: "/d": must be unique'),
            id="duplicate-mount-path",
        ),
        pytest.param(
            {"activeDeadlineSeconds": 0},
            ("spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive"),
            id="activeDeadlineSeconds",
        ),
        pytest.param(
            {"containers": [container(resources={"requests": {"cpu": "-1"}})]},
            (
                "spec.containers[0].resources.requests[cpu]",
                'Invalid value: "-1": must be greater than or equal to 0',
            ),
            id="negative-cpu",
        ),
        pytest.param(
            {
                "containers": [
                    container(resources={"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}})
                ]
            },
            (
                "spec.containers[0].resources.requests",
                'Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi',
            ),
            id="request-above-limit",
        ),
        pytest.param(
            {"containers": [{"name": "Main_1", "image": "busybox"}]},
            (
                "spec.containers[0].name",
                'Invalid value: "Main_1": a lowercase RFC 1123 label must consist of lower case '
                "alphanumeric characters or '-', and must start and end with an alphanumeric character "
                "(e.g. 'my-name',  or '123-abc', "
                "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ),
            id="container-name",
        ),
    ],
)
def test_pod_rules(http: Http, namespace: str, spec: dict[str, Any], expected: tuple[str, str]) -> None:
    reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(**spec))
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid"
    assert expected in causes(reply)
    assert reply.body["message"].startswith('Pod "p" is invalid: ')
    assert http.get(f"/api/v1/namespaces/{namespace}/pods/p").status == 404


def test_bad_quantity_is_a_decoding_error(http: Http, namespace: str) -> None:
    reply = http.post(
        f"/api/v1/namespaces/{namespace}/pods",
        pod(containers=[container(resources={"limits": {"cpu": "lots"}})]),
    )
    assert reply.status == 400, reply.body
    assert reply.body["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            {"labels": {"app": "x" * 70}},
            ("metadata.labels", f'Invalid value: "{"x" * 70}": must be no more than 63 characters'),
            id="label-value-too-long",
        ),
        pytest.param(
            {"labels": {"bad key!": "v"}},
            (
                "metadata.labels",
                'Invalid value: "bad key!": name part must consist of alphanumeric characters, '
                "'-', '_' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'MyName',  or 'my.name',  or '123-abc', "
                "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            id="label-key-syntax",
        ),
        pytest.param(
            {"annotations": {"a": "x" * (256 * 1024)}},
            ("metadata.annotations", "Too long: must have at most 262144 bytes"),
            id="annotations-256KiB",
        ),
        pytest.param(
            {
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Pod", "name": "a", "uid": "1", "controller": True},
                    {"apiVersion": "v1", "kind": "Pod", "name": "b", "uid": "2", "controller": True},
                ]
            },
            (
                "metadata.ownerReferences",
                'Invalid value: "array": Only one reference can have Controller set to true. '
                'Found "true" in references for Pod/a and Pod/b',
            ),
            id="two-controllers",
        ),
        pytest.param(
            {"ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "a", "uid": ""}]},
            ("metadata.ownerReferences.uid", 'Invalid value: "": must not be empty'),
            id="owner-without-uid",
        ),
    ],
)
def test_metadata_rules(
    http: Http, namespace: str, metadata: dict[str, Any], expected: tuple[str, str]
) -> None:
    reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "m", **metadata}})
    assert reply.status == 422, reply.body
    assert expected in causes(reply)


def test_annotations_just_under_the_limit_are_stored(http: Http, namespace: str) -> None:
    annotations = {"a": "x" * (256 * 1024 - 1)}
    reply = http.post(
        f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "m", "annotations": annotations}}
    )
    assert reply.status == 201, reply.body["message"][:200]


def test_configmap_key_and_size_limits(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    reply = http.post(path, {"metadata": {"name": "k"}, "data": {"a b": "1"}})
    assert reply.status == 422, reply.body
    assert (
        "data[a b]",
        "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
        "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    ) in causes(reply)
    big = http.post(path, {"metadata": {"name": "big"}, "data": {"a": "x" * (1024 * 1024 + 1)}})
    assert big.status == 422, big.body["message"][:200]
    assert big.body["details"]["causes"][0]["message"] == "Too long: must have at most 1048576 bytes"
    assert http.get(f"{path}/big").status == 404


def test_immutable_configmap_cannot_change(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    assert (
        http.post(path, {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}).status == 201
    )
    reply = http.patch(f"{path}/frozen", {"data": {"a": "2"}})
    assert reply.status == 422, reply.body
    assert ("data", "Forbidden: field is immutable when `immutable` is set") in causes(reply)
    unfreeze = http.patch(f"{path}/frozen", {"immutable": False})
    assert ("immutable", "Forbidden: field is immutable when `immutable` is set") in causes(unfreeze)
    assert http.get(f"{path}/frozen").body["data"] == {"a": "1"}
    labelled = http.patch(f"{path}/frozen", {"metadata": {"labels": {"x": "y"}}})
    assert labelled.status == 200, labelled.body  # metadata stays mutable


def test_secret_data_must_be_base64(http: Http, namespace: str) -> None:
    reply = http.post(
        f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "s"}, "data": {"k": "not base64!"}}
    )
    assert reply.status == 400, reply.body
    assert reply.body["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )


def test_secret_type_and_immutable_data(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/secrets"
    data = {"k": base64.b64encode(b"v").decode()}
    assert http.post(path, {"metadata": {"name": "s"}, "data": data, "immutable": True}).status == 201
    retyped = http.patch(f"{path}/s", {"type": "kubetask.dev/other"})
    assert retyped.status == 422, retyped.body
    assert ("type", 'Invalid value: "kubetask.dev/other": field is immutable') in causes(retyped)
    changed = http.patch(f"{path}/s", {"data": {"k": base64.b64encode(b"w").decode()}})
    assert ("data", "Forbidden: field is immutable when `immutable` is set") in causes(changed)


def test_secret_over_one_mebibyte(http: Http, namespace: str) -> None:
    data = {"k": base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()}
    reply = http.post(f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "s"}, "data": data})
    assert reply.status == 422
    assert ("data", "Too long: must have at most 1048576 bytes") in causes(reply)


def test_event_micro_time_needs_microseconds(http: Http, namespace: str) -> None:
    event = {
        "metadata": {"name": "e"},
        "eventTime": "2026-01-01T00:00:00Z",
        "reportingController": "kubetask.dev/test",
        "reportingInstance": "x",
        "action": "Test",
        "reason": "Test",
        "type": "Normal",
        "regarding": {"kind": "Pod", "name": "p", "namespace": namespace},
    }
    reply = http.post(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", event)
    assert reply.status == 400, reply.body
    assert reply.body["message"] == (
        'Event in version "v1" cannot be handled as a Event: parsing time "2026-01-01T00:00:00Z" as '
        '"2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"'
    )
    good = copy.deepcopy(event)
    good["eventTime"] = "2026-01-01T00:00:00.123456Z"
    assert http.post(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", good).status == 201


def test_lease_micro_time(http: Http, namespace: str) -> None:
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me", "renewTime": "yesterday"}}
    reply = http.post(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", lease)
    assert reply.status == 400, reply.body
    assert 'parsing time "yesterday"' in reply.body["message"]


def test_objects_over_the_etcd_limit_are_refused(http: Http, namespace: str) -> None:
    # Many keys under 1 MiB in total per ConfigMap rules would pass; annotations of a CR are not size-checked
    # by kind rules, so a custom-resource-free way to cross 1.5 MiB is a large Event message.
    event = {
        "metadata": {"name": "big"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "message": "x" * (1600 * 1024),
    }
    reply = http.post(f"/api/v1/namespaces/{namespace}/events", event)
    assert reply.status == 500, reply.body["message"][:200]
    assert reply.body["message"] == "etcdserver: request is too large"
    assert http.get(f"/api/v1/namespaces/{namespace}/events/big").status == 404


def test_dry_run_other_than_all_is_refused(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    reply = http.post(f"{path}?dryRun=Maybe", {"metadata": {"name": "d"}})
    assert reply.status == 422, reply.body
    assert reply.body["details"]["causes"][0]["field"] == "dryRun"
    assert http.get(f"{path}/d").status == 404


def test_dry_run_create_has_no_resource_version_and_stores_nothing(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    reply = http.post(f"{path}?dryRun=All", {"metadata": {"name": "d"}})
    assert reply.status == 201, reply.body
    assert "resourceVersion" not in reply.body["metadata"]
    assert http.get(f"{path}/d").status == 404


class TestListOptionMisuse:
    """ValidateListOptions (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go) and
    the etcd3 store's answers to Exact lists (storage/etcd3/store.go: too old: 410 Expired; future: 504)."""

    def test_resource_version_match_without_resource_version(self, http: Http, namespace: str) -> None:
        reply = http.get(f"/api/v1/namespaces/{namespace}/configmaps?resourceVersionMatch=NotOlderThan")
        assert reply.status == 422, reply.body
        assert reply.body["message"] == (
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is '
            "forbidden unless resourceVersion is provided"
        )

    def test_exact_zero_and_unknown_values(self, http: Http, namespace: str) -> None:
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        assert http.get(f"{path}?resourceVersion=0&resourceVersionMatch=Exact").status == 422
        assert http.get(f"{path}?resourceVersion=1&resourceVersionMatch=Newest").status == 422
        assert http.get(f"{path}?watch=true&resourceVersion=1&resourceVersionMatch=Exact").status == 422

    def test_exact_lists_the_past_until_it_is_compacted(self, http: Http, namespace: str) -> None:
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        first = http.post(path, {"metadata": {"name": "a"}, "data": {"v": "1"}}).body["metadata"][
            "resourceVersion"
        ]
        http.post(path, {"metadata": {"name": "b"}})
        http.patch(f"{path}/a", {"data": {"v": "2"}})
        past = http.get(f"{path}?resourceVersion={first}&resourceVersionMatch=Exact")
        assert past.status == 200, past.body
        assert [(item["metadata"]["name"], item["data"]) for item in past.body["items"]] == [
            ("a", {"v": "1"})
        ]
        assert past.body["metadata"]["resourceVersion"] == first
        assert http.post("/kubetask-local/compact", {}).status == 200
        gone = http.get(f"{path}?resourceVersion={first}&resourceVersionMatch=Exact")
        assert gone.status == 410, gone.body
        assert gone.body["reason"] == "Expired"
        assert gone.body["message"].startswith(f"too old resource version: {first} (")

    def test_future_versions_time_out(self, http: Http, namespace: str) -> None:
        reply = http.get(
            f"/api/v1/namespaces/{namespace}/configmaps?resourceVersion=99999999&resourceVersionMatch=NotOlderThan"
        )
        assert reply.status == 504, reply.body
        assert reply.body["message"].startswith("Too large resource version: 99999999, current: ")
