"""CRDs served at run time; custom resources defaulted, pruned and validated (schema and CEL rules)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Http, crd_manifest

GROUP = "schema.example.dev"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.command) && has(self.script))",
                    "message": "command and script are exclusive",
                },
                {
                    "rule": "!has(oldSelf.paused) || !oldSelf.paused || self.paused",
                    "message": "cannot unpause",
                },
            ],
            "properties": {
                "image": {
                    "type": "string",
                    "minLength": 1,
                    "pattern": "^[^\\s]+$",
                    "x-kubernetes-validations": [
                        {"rule": "self == oldSelf", "message": "image is immutable"}
                    ],
                },
                "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
                "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                "deadline": {"type": "string", "format": "date-time"},
                "command": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "script": {"type": "string", "maxLength": 10},
                "paused": {"type": "boolean"},
                "port": {"x-kubernetes-int-or-string": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"level": {"type": "integer", "default": 3}},
                },
                "choice": {
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                },
                # A value validation may not declare types (a real server refuses the CRD: "must be empty
                # to be structural"), so the string branch is told apart by a pattern ints never meet.
                "either": {
                    "anyOf": [{"pattern": "^[0-9]+$"}, {"enum": ["auto"]}],
                    "x-kubernetes-int-or-string": True,
                },
                "never": {"type": "string", "not": {"enum": ["forbidden"]}},
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}
COLUMNS = [
    {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


@pytest.fixture(scope="module")
def engines(http: Http) -> str:
    manifest = crd_manifest(group=GROUP, plural="engines", kind="Engine", schema=SCHEMA, columns=COLUMNS)
    reply = http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", manifest)
    assert reply.status == 201, reply.body
    return f"/apis/{GROUP}/v1"


def _engine(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Engine",
        "metadata": {"name": name},
        "spec": {"image": "python:3.11", **spec},
    }


class TestServing:
    def test_crd_becomes_a_served_resource_in_discovery(self, http: Http, engines: str) -> None:
        groups = http.get("/apis").body["groups"]
        assert any(group["name"] == GROUP for group in groups)
        resources = http.get(engines).body["resources"]
        main = next(r for r in resources if r["name"] == "engines")
        assert main["kind"] == "Engine"
        assert main["namespaced"] is True
        assert main["shortNames"] == ["eng"]
        assert main["categories"] == ["examples"]
        assert any(r["name"] == "engines/status" for r in resources)

    def test_crd_status_reports_established(self, http: Http, engines: str) -> None:
        crd = http.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/engines.{GROUP}").body
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True"
        assert crd["status"]["acceptedNames"]["plural"] == "engines"

    def test_cluster_scoped_custom_resources(self, http: Http) -> None:
        http.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd_manifest(group="cluster.example.dev", plural="realms", kind="Realm", scope="Cluster"),
        )
        reply = http.post("/apis/cluster.example.dev/v1/realms", {"metadata": {"name": "r"}, "spec": {}})
        assert reply.status == 201
        assert "namespace" not in reply.body["metadata"]

    def test_deleting_the_crd_stops_serving_and_drops_the_objects(self, http: Http, namespace: str) -> None:
        http.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd_manifest(group="gone.example.dev", plural="ghosts", kind="Ghost"),
        )
        http.post(f"/apis/gone.example.dev/v1/namespaces/{namespace}/ghosts", {"metadata": {"name": "g"}})
        http.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ghosts.gone.example.dev")
        assert http.get(f"/apis/gone.example.dev/v1/namespaces/{namespace}/ghosts").status == 404
        assert all(group["name"] != "gone.example.dev" for group in http.get("/apis").body["groups"])

    def test_crd_deletion_waits_for_the_finalizers_of_its_objects(self, http: Http, namespace: str) -> None:
        crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        http.post(crds, crd_manifest(group="held.example.dev", plural="anchors", kind="Anchor"))
        base = f"/apis/held.example.dev/v1/namespaces/{namespace}/anchors"
        http.post(base, {"metadata": {"name": "a", "finalizers": ["example.dev/hold"]}})
        reply = http.delete(f"{crds}/anchors.held.example.dev")
        assert reply.status == 202
        assert reply.body["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
        assert http.get(f"{base}/a").body["metadata"]["deletionTimestamp"]
        refused = http.post(base, {"metadata": {"name": "late"}})
        assert refused.status == 405
        http.patch(f"{base}/a", {"metadata": {"finalizers": None}})
        assert http.get(f"{crds}/anchors.held.example.dev").status == 404
        assert http.get(base).status == 404


class TestDefaultingAndPruning:
    def test_schema_defaults_are_applied_recursively(self, http: Http, engines: str, namespace: str) -> None:
        created = http.post(f"{engines}/namespaces/{namespace}/engines", _engine("d")).body
        assert created["spec"]["replicas"] == 1
        assert created["spec"]["mode"] == "fast"
        assert created["spec"]["nested"] == {"level": 3}

    def test_unknown_fields_are_pruned_except_where_preserved(
        self, http: Http, engines: str, namespace: str
    ) -> None:
        body = _engine("p", unknown="x", extra={"anything": {"goes": 1}}, labels={"k": "v"})
        created = http.post(f"{engines}/namespaces/{namespace}/engines", body).body
        assert "unknown" not in created["spec"]
        assert created["spec"]["extra"] == {"anything": {"goes": 1}}
        assert created["spec"]["labels"] == {"k": "v"}

    def test_strict_field_validation_refuses_unknown_fields(
        self, http: Http, engines: str, namespace: str
    ) -> None:
        reply = http.post(
            f"{engines}/namespaces/{namespace}/engines?fieldValidation=Strict", _engine("s", bogus=1)
        )
        assert reply.status == 400
        assert reply.body["message"] == 'strict decoding error: unknown field "spec.bogus"'

    @pytest.mark.parametrize("port", [pytest.param(8080, id="int"), pytest.param("http", id="string")])
    def test_int_or_string(self, http: Http, engines: str, namespace: str, port: Any) -> None:
        assert http.post(f"{engines}/namespaces/{namespace}/engines", _engine("i", port=port)).status == 201


INVALID = [
    pytest.param({"spec": {}}, "spec.image: Required value", id="required"),
    pytest.param(
        {"spec": {"image": "x", "replicas": "two"}},
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        id="type",
    ),
    pytest.param(
        {"spec": {"image": "x", "replicas": 9}},
        "spec.replicas: Invalid value: 9: spec.replicas in body should be less than or equal to 5",
        id="max",
    ),
    pytest.param(
        {"spec": {"image": "x", "replicas": 0}},
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        id="min",
    ),
    pytest.param(
        {"spec": {"image": "x", "mode": "warp"}},
        'spec.mode: Unsupported value: "warp": supported values: "fast", "slow"',
        id="enum",
    ),
    pytest.param(
        {"spec": {"image": "has space"}},
        "spec.image: Invalid value: \"has space\": spec.image in body should match '^[^\\s]+$'",
        id="pattern",
    ),
    pytest.param(
        {"spec": {"image": "x", "deadline": "tomorrow"}},
        'spec.deadline: Invalid value: "tomorrow": spec.deadline in body must be of type date-time: '
        '"tomorrow"',
        id="format",
    ),
    pytest.param(
        {"spec": {"image": "x", "command": ["a", "b", "c", "d"]}},
        "spec.command: Too many: 4: must have at most 3 items",
        id="max-items",
    ),
    pytest.param(
        {"spec": {"image": "x", "script": "much too long"}},
        "spec.script: Too long: may not be more than 10 bytes",
        id="max-length",
    ),
    pytest.param(
        {"spec": {"image": "x", "choice": {"a": "1", "b": "2"}}},
        'spec.choice: Invalid value: "object": spec.choice in body must validate one and only one schema '
        "(oneOf)",
        id="one-of",
    ),
    pytest.param(
        {"spec": {"image": "x", "either": "manual"}},
        'spec.either: Invalid value: "manual": spec.either in body must validate at least one schema (anyOf)',
        id="any-of",
    ),
    pytest.param(
        {"spec": {"image": "x", "never": "forbidden"}},
        'spec.never: Invalid value: "forbidden": spec.never in body must not validate the schema (not)',
        id="not",
    ),
    pytest.param(
        {"spec": {"image": "x", "command": ["a"], "script": "b"}},
        'spec: Invalid value: "object": command and script are exclusive',
        id="cel",
    ),
]


class TestValidation:
    @pytest.mark.parametrize(("body", "message"), INVALID)
    def test_invalid_custom_resources_answer_422_naming_the_field(
        self,
        http: Http,
        engines: str,
        namespace: str,
        body: dict[str, Any],
        message: str,
    ) -> None:
        reply = http.post(
            f"{engines}/namespaces/{namespace}/engines",
            {"apiVersion": f"{GROUP}/v1", "kind": "Engine", "metadata": {"name": "bad"}, **body},
        )
        assert reply.status == 422, reply.body
        assert reply.body["reason"] == "Invalid"
        assert reply.body["message"] == f'Engine.{GROUP} "bad" is invalid: {message}'
        assert reply.body["details"]["causes"][0]["field"] == message.split(":", maxsplit=1)[0]

    def test_transition_rules_compare_with_the_old_object(
        self, http: Http, engines: str, namespace: str
    ) -> None:
        http.post(f"{engines}/namespaces/{namespace}/engines", _engine("t", paused=True))
        path = f"{engines}/namespaces/{namespace}/engines/t"
        changed = http.patch(path, {"spec": {"image": "python:3.12"}})
        assert changed.status == 422
        assert changed.body["message"] == (
            f'Engine.{GROUP} "t" is invalid: spec.image: Invalid value: "string": image is immutable'
        )
        unpaused = http.patch(path, {"spec": {"paused": False}})
        assert unpaused.status == 422
        assert "cannot unpause" in unpaused.body["message"]
        assert http.patch(path, {"spec": {"replicas": 2}}).status == 200

    def test_unchanged_values_are_ratcheted_under_new_rules(self, http: Http, namespace: str) -> None:
        crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        spec_schema: dict[str, Any] = {
            "type": "object",
            "properties": {"note": {"type": "string"}, "size": {"type": "integer"}},
        }
        schema = {"type": "object", "properties": {"spec": spec_schema}}
        manifest = crd_manifest(group="ratchet.example.dev", plural="notes", kind="Note", schema=schema)
        created_crd = http.post(crds, manifest).body
        base = f"/apis/ratchet.example.dev/v1/namespaces/{namespace}/notes"
        http.post(base, {"metadata": {"name": "n"}, "spec": {"note": "far too long", "size": 1}})
        spec_schema["properties"]["note"]["x-kubernetes-validations"] = [
            {"rule": "self.size() <= 5", "message": "notes are short"}
        ]
        updated = http.put(f"{crds}/notes.ratchet.example.dev", {**created_crd, "spec": manifest["spec"]})
        assert updated.status == 200, updated.body
        assert http.patch(f"{base}/n", {"spec": {"size": 2}}).status == 200
        changed = http.patch(f"{base}/n", {"spec": {"note": "still too long"}})
        assert changed.status == 422
        assert 'spec.note: Invalid value: "string": notes are short' in changed.body["message"]

    def test_several_bad_fields_are_all_named(self, http: Http, engines: str, namespace: str) -> None:
        reply = http.post(f"{engines}/namespaces/{namespace}/engines", _engine("m", replicas=0, mode="warp"))
        fields = [cause["field"] for cause in reply.body["details"]["causes"]]
        assert fields == ["spec.replicas", "spec.mode"]
