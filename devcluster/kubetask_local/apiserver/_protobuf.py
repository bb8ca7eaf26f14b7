"""The Kubernetes protobuf encoding, for the kinds typed Go clients send that way.

Helm's release storage writes Secrets (or ConfigMaps) and deletes them with protobuf bodies and has no JSON
fallback, and ``kubectl create job|deployment|cronjob|role|rolebinding|quota`` send protobuf; those kinds are
decoded here. Field types come from the official schemas (``_typed``); what protobuf adds, the field numbers,
is the table below, after k8s.io/api's generated.proto files. A field number the table does not know answers
415 naming it, so nothing is ever dropped silently; other kinds answer 415 naming the kind.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable, Iterator
from typing import Any

from kubetask_local.apiserver._errors import ApiError, bad_request
from kubetask_local.apiserver._typed import definition_of_kind, definitions

MAGIC = b"k8s\x00"
Fields = list[tuple[int, int, Any]]  # (field number, wire type, value)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise bad_request("the protobuf body ends inside a varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    position = 0
    value: int | bytes
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise bad_request(f"unsupported protobuf wire type {wire} in field {number}")
        yield number, wire, value


def _text(value: bytes) -> str:
    return value.decode("utf-8")


def _map(entries: list[bytes], *, as_base64: bool = False) -> dict[str, str]:
    result = {}
    for entry in entries:
        key, value = "", b""
        for number, _, item in _fields(entry):
            if number == 1:
                key = _text(item)
            elif number == 2:
                value = item
        result[key] = base64.b64encode(value).decode() if as_base64 else _text(value)
    return result


def _grouped(data: bytes) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for number, _, value in _fields(data):
        grouped.setdefault(number, []).append(value)
    return grouped


def _time(data: bytes) -> str:
    seconds = _grouped(data).get(1, [0])[0]
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_reference(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    reference: dict[str, Any] = {}
    for number, name in ((5, "apiVersion"), (1, "kind"), (3, "name"), (4, "uid")):
        if number in fields:
            reference[name] = _text(fields[number][0])
    for number, name in ((6, "controller"), (7, "blockOwnerDeletion")):
        if number in fields:
            reference[name] = bool(fields[number][0])
    return reference


def _object_meta(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    meta: dict[str, Any] = {}
    for number, name in (
        (1, "name"),
        (2, "generateName"),
        (3, "namespace"),
        (5, "uid"),
        (6, "resourceVersion"),
    ):
        if number in fields and fields[number][0]:
            meta[name] = _text(fields[number][0])
    if 7 in fields and fields[7][0]:  # protobuf always carries the int; JSON omits a zero generation
        meta["generation"] = fields[7][0]
    if 8 in fields and _grouped(fields[8][0]).get(1, [0])[0]:  # a zero Time is JSON's null: left out
        meta["creationTimestamp"] = _time(fields[8][0])
    if 11 in fields:
        meta["labels"] = _map(fields[11])
    if 12 in fields:
        meta["annotations"] = _map(fields[12])
    if 13 in fields:
        meta["ownerReferences"] = [_owner_reference(item) for item in fields[13]]
    if 14 in fields:
        meta["finalizers"] = [_text(item) for item in fields[14]]
    return meta


def _secret(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    secret: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 2 in fields:
        secret["data"] = _map(fields[2], as_base64=True)
    if 3 in fields:
        secret["type"] = _text(fields[3][0])
    if 4 in fields:
        secret["stringData"] = _map(fields[4])
    if 5 in fields:
        secret["immutable"] = bool(fields[5][0])
    return secret


def _config_map(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    config_map: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 2 in fields:
        config_map["data"] = _map(fields[2])
    if 3 in fields:
        config_map["binaryData"] = _map(fields[3], as_base64=True)
    if 4 in fields:
        config_map["immutable"] = bool(fields[4][0])
    return config_map


def _namespace(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    namespace: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 2 in fields:
        spec = _grouped(fields[2][0])
        namespace["spec"] = {"finalizers": [_text(item) for item in spec.get(1, [])]}
    return namespace


def _service_account(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    account: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 3 in fields:
        account["imagePullSecrets"] = [{"name": _text(_grouped(item).get(1, [b""])[0])} for item in fields[3]]
    if 4 in fields:
        account["automountServiceAccountToken"] = bool(fields[4][0])
    return account


def _delete_options(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    options: dict[str, Any] = {}
    if 1 in fields:
        options["gracePeriodSeconds"] = fields[1][0]
    if 2 in fields:
        conditions = _grouped(fields[2][0])
        options["preconditions"] = {
            name: _text(conditions[number][0])
            for number, name in ((1, "uid"), (2, "resourceVersion"))
            if number in conditions
        }
    if 3 in fields:
        options["orphanDependents"] = bool(fields[3][0])
    if 4 in fields:
        options["propagationPolicy"] = _text(fields[4][0])
    if 5 in fields:
        options["dryRun"] = [_text(item) for item in fields[5]]
    return options


# Field numbers of the messages kubectl sends (generated.proto of k8s.io/api core, apps, batch, rbac,
# authorization and authentication v1, and of k8s.io/apimachinery meta/v1), by official definition name.
_CORE, _APPS, _BATCH, _RBAC = (
    "io.k8s.api.core.v1.",
    "io.k8s.api.apps.v1.",
    "io.k8s.api.batch.v1.",
    "io.k8s.api.rbac.v1.",
)
_AUTHZ = "io.k8s.api.authorization.v1."
_AUTHN = "io.k8s.api.authentication.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
FIELD_NUMBERS: dict[str, dict[int, str]] = {
    _BATCH + "Job": {1: "metadata", 2: "spec", 3: "status"},
    _BATCH + "JobSpec": {
        1: "parallelism", 2: "completions", 3: "activeDeadlineSeconds", 4: "selector", 5: "manualSelector",
        6: "template", 7: "backoffLimit", 8: "ttlSecondsAfterFinished", 9: "completionMode", 10: "suspend",
        12: "backoffLimitPerIndex", 13: "maxFailedIndexes", 14: "podReplacementPolicy", 15: "managedBy",
    },
    _BATCH + "JobStatus": {4: "active", 5: "succeeded", 6: "failed", 7: "completedIndexes", 9: "ready"},
    _BATCH + "CronJob": {1: "metadata", 2: "spec", 3: "status"},
    _BATCH + "CronJobSpec": {
        1: "schedule", 2: "startingDeadlineSeconds", 3: "concurrencyPolicy", 4: "suspend", 5: "jobTemplate",
        6: "successfulJobsHistoryLimit", 7: "failedJobsHistoryLimit", 8: "timeZone",
    },
    _BATCH + "CronJobStatus": {},
    _BATCH + "JobTemplateSpec": {1: "metadata", 2: "spec"},
    _APPS + "Deployment": {1: "metadata", 2: "spec", 3: "status"},
    _APPS + "DeploymentSpec": {
        1: "replicas", 2: "selector", 3: "template", 4: "strategy", 5: "minReadySeconds",
        6: "revisionHistoryLimit", 7: "paused", 9: "progressDeadlineSeconds",
    },
    _APPS + "DeploymentStrategy": {1: "type", 2: "rollingUpdate"},
    _APPS + "DeploymentStatus": {
        1: "observedGeneration", 2: "replicas", 3: "updatedReplicas", 4: "availableReplicas",
        5: "unavailableReplicas", 7: "readyReplicas",
    },
    _CORE + "PodTemplateSpec": {1: "metadata", 2: "spec"},
    _CORE + "PodSpec": {
        2: "containers", 3: "restartPolicy", 4: "terminationGracePeriodSeconds", 5: "activeDeadlineSeconds",
        6: "dnsPolicy", 7: "nodeSelector", 8: "serviceAccountName", 9: "serviceAccount", 10: "nodeName",
        11: "hostNetwork", 12: "hostPID", 13: "hostIPC", 16: "hostname", 17: "subdomain", 19: "schedulerName",
        20: "initContainers", 24: "priorityClassName", 29: "runtimeClassName", 31: "preemptionPolicy",
    },
    _CORE + "Container": {
        1: "name", 2: "image", 3: "command", 4: "args", 5: "workingDir", 6: "ports", 8: "resources",
        13: "terminationMessagePath", 14: "imagePullPolicy", 16: "stdin", 17: "stdinOnce", 18: "tty",
        20: "terminationMessagePolicy", 24: "restartPolicy",
    },
    _CORE + "ResourceRequirements": {1: "limits", 2: "requests"},
    _CORE + "ContainerPort": {1: "name", 2: "hostPort", 3: "containerPort", 4: "protocol", 5: "hostIP"},
    _CORE + "ResourceQuota": {1: "metadata", 2: "spec", 3: "status"},
    _CORE + "ResourceQuotaSpec": {1: "hard", 2: "scopes"},
    _CORE + "ResourceQuotaStatus": {1: "hard", 2: "used"},
    _RBAC + "Role": {1: "metadata", 2: "rules"},
    _RBAC + "ClusterRole": {1: "metadata", 2: "rules"},
    _RBAC + "PolicyRule": {
        1: "verbs", 2: "apiGroups", 3: "resources", 4: "resourceNames", 5: "nonResourceURLs",
    },
    _RBAC + "RoleBinding": {1: "metadata", 2: "subjects", 3: "roleRef"},
    _RBAC + "ClusterRoleBinding": {1: "metadata", 2: "subjects", 3: "roleRef"},
    _RBAC + "Subject": {1: "kind", 2: "apiGroup", 3: "name", 4: "namespace"},
    _RBAC + "RoleRef": {1: "apiGroup", 2: "kind", 3: "name"},
    _AUTHZ + "SelfSubjectAccessReview": {1: "metadata", 2: "spec", 3: "status"},
    _AUTHZ + "SelfSubjectAccessReviewSpec": {1: "resourceAttributes", 2: "nonResourceAttributes"},
    _AUTHZ + "SubjectAccessReview": {1: "metadata", 2: "spec", 3: "status"},
    _AUTHZ + "SubjectAccessReviewSpec": {
        1: "resourceAttributes", 2: "nonResourceAttributes", 3: "user", 4: "groups", 6: "uid",
    },
    _AUTHZ + "ResourceAttributes": {
        1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name",
    },
    _AUTHZ + "NonResourceAttributes": {1: "path", 2: "verb"},
    _AUTHZ + "SelfSubjectRulesReview": {1: "metadata", 2: "spec", 3: "status"},
    _AUTHZ + "SelfSubjectRulesReviewSpec": {1: "namespace"},
    _AUTHZ + "SubjectRulesReviewStatus": {
        1: "resourceRules", 2: "nonResourceRules", 3: "incomplete", 4: "evaluationError",
    },
    _AUTHZ + "SubjectAccessReviewStatus": {1: "allowed", 2: "reason", 3: "evaluationError", 4: "denied"},
    _AUTHN + "TokenRequest": {1: "metadata", 2: "spec", 3: "status"},
    _AUTHN + "TokenRequestSpec": {1: "audiences", 3: "boundObjectRef", 4: "expirationSeconds"},
    _AUTHN + "TokenRequestStatus": {1: "token", 2: "expirationTimestamp"},
    _AUTHN + "BoundObjectReference": {1: "kind", 2: "apiVersion", 3: "name", 4: "uid"},
    _META + "LabelSelector": {1: "matchLabels", 2: "matchExpressions"},
    _META + "LabelSelectorRequirement": {1: "key", 2: "operator", 3: "values"},
}  # fmt: skip
_REF = "#/$defs/"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_TIMES = ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")


def _unsupported_field(definition: str, number: int) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"protobuf field {number} of {definition} is not supported by this emulator; send JSON",
    )


def _kind_of(schema: Any) -> tuple[str, Any]:
    """(``ref``|``array``|``map``|scalar type, detail) of a property schema."""
    if "$ref" in schema:
        return "ref", schema["$ref"][len(_REF) :]
    kind = schema.get("type")
    kind = next((item for item in kind if item != "null"), None) if isinstance(kind, list) else kind
    if kind == "array":
        return "array", schema.get("items") or {}
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map", schema["additionalProperties"]
    return str(kind), None


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind == "string":
        return _text(value)
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return value - (1 << 64) if value >= 1 << 63 else value  # varints carry negatives as 64-bit
    raise bad_request(f"unsupported protobuf scalar of type {kind} (wire type {wire})")


def _value(schema: Any, wire: int, value: Any) -> Any:
    kind, detail = _kind_of(schema)
    if kind == "ref":
        if detail == _QUANTITY:
            return _text(_grouped(value).get(1, [b""])[0])
        if detail in _TIMES:
            return _time(value)
        if detail == _INT_OR_STRING:
            fields = _grouped(value)
            return _text(fields[3][0]) if fields.get(1, [0])[0] == 1 else fields.get(2, [0])[0]
        if detail == _META + "ObjectMeta":
            return _object_meta(value)
        return _message(detail, value)
    return _scalar(kind, wire, value)


def _is_zero(value: Any) -> bool:
    """What JSON's omitempty leaves out: Go's protobuf encoding writes zero values of non-pointer fields."""
    return not isinstance(value, float) and value in ("", 0, False, None, {}, [])


def _message(definition: str, data: bytes) -> dict[str, Any]:
    numbers = FIELD_NUMBERS.get(definition)
    if numbers is None:
        if data:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"protobuf messages of type {definition} are not supported by this emulator; send JSON",
            )
        return {}
    properties = definitions()[definition].get("properties") or {}
    result: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        name = numbers.get(number)
        if name is None:
            raise _unsupported_field(definition, number)
        kind, detail = _kind_of(properties[name])
        if kind == "array":
            result.setdefault(name, []).append(_value(detail, wire, value))
        elif kind == "map":
            entry = _grouped(value)
            key = _text(entry.get(1, [b""])[0])
            result.setdefault(name, {})[key] = _value(detail, 2, entry.get(2, [b""])[0])
        else:
            result[name] = _value(properties[name], wire, value)
    return {key: item for key, item in result.items() if not _is_zero(item) or isinstance(item, list)}


def _typed_message(api_version: str, kind: str) -> Callable[[bytes], dict[str, Any]] | None:
    group, _, version = api_version.rpartition("/")
    definition = definition_of_kind(group, version, kind)
    if definition is None or definition not in FIELD_NUMBERS:
        return None
    return lambda data: _message(definition, data)


_DECODERS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "Secret": _secret,
    "ConfigMap": _config_map,
    "Namespace": _namespace,
    "ServiceAccount": _service_account,
    "DeleteOptions": _delete_options,
}


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded Kubernetes object as the JSON-shaped dict the rest of the server works with."""
    if not body.startswith(MAGIC):
        raise bad_request("a protobuf body must start with the Kubernetes magic bytes 'k8s\\x00'")
    envelope = _grouped(body[len(MAGIC) :])
    type_meta = _grouped(envelope.get(1, [b""])[0])
    api_version = _text(type_meta.get(1, [b""])[0])
    kind = _text(type_meta.get(2, [b""])[0])
    decoder = _DECODERS.get(kind) or _typed_message(api_version, kind)
    if decoder is None:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"protobuf bodies of kind {kind!r} are not supported by this emulator; send JSON "
            f"(supported protobuf kinds: {sorted(_supported_kinds())})",
        )
    obj = decoder(envelope.get(2, [b""])[0])
    if kind != "DeleteOptions":
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj


def _supported_kinds() -> set[str]:
    return set(_DECODERS) | {
        name.rsplit(".", 1)[-1]
        for name, schema in definitions().items()
        if name in FIELD_NUMBERS and schema.get("x-kubernetes-group-version-kind")
    }
