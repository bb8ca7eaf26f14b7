"""Creating or updating a CRD runs the real server's checks and answers its 422 Invalid, field by field.

The real checks (kubernetes/kubernetes, staging/src/k8s.io/apiextensions-apiserver):
- pkg/apis/apiextensions/validation/validation.go: versions, the OpenAPI schema rules, CEL rules compiled
  against the schema and their estimated cost (StaticEstimatedCostLimit 10,000,000 per rule,
  StaticEstimatedCRDCostLimit 100,000,000 per schema, getCostErrorMessage);
- pkg/apiserver/schema/validation.go and complete.go: ValidateStructural;
- pkg/apiserver/schema/defaulting/validation.go: every default valid against its schema;
- pkg/apiserver/schema/cel/compilation.go: compileRule ("compilation failed: " + cel-go's issues), the
  size estimator and maxCardinality;
- pkg/apis/apiextensions/v1/conversion.go: a schema shared by every version is validated as
  ``spec.validation``, so its errors are reported under ``spec.validation.openAPIV3Schema``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_local.apiserver._cel_check import compile_rule
from kubetask_local.apiserver._crd_checks import (
    STATIC_ESTIMATED_COST_LIMIT,
    STATIC_ESTIMATED_CRD_COST_LIMIT,
    estimated_rule_costs,
)

from .conftest import Http, crd_manifest

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
ROOT = "spec.validation.openAPIV3Schema"
SPEC = f"{ROOT}.properties[spec]"
CHART_CRDS = Path(__file__).parents[3] / "charts" / "kubetask" / "files"
_KINDS = itertools.count(1)


def _schema(spec: dict[str, Any], **root: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "spec": spec,
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
        **root,
    }


def _manifest(schema: dict[str, Any]) -> dict[str, Any]:
    number = next(_KINDS)
    return crd_manifest(
        group="checks.example.dev", plural=f"checks{number}", kind=f"Check{number}", schema=schema
    )


def _with_versions(*versions: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        template = manifest["spec"]["versions"][0]
        manifest["spec"]["versions"] = [{**copy.deepcopy(template), **version} for version in versions]

    return change


def _refused(http: Http, manifest: dict[str, Any], field: str, message: str) -> None:
    reply = http.post(CRDS, manifest)
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid"
    causes = {(cause["field"], cause["message"]) for cause in reply.body["details"]["causes"]}
    matching = [cause for cause in causes if cause[0] == field and message in cause[1]]
    assert matching, f"no cause {field}: ...{message}... in {sorted(causes)}"
    assert reply.body["message"].startswith(
        f'CustomResourceDefinition.apiextensions.k8s.io "{manifest["metadata"]["name"]}" is invalid: '
    )
    assert f"{field}: " in reply.body["message"]
    assert http.get(f"{CRDS}/{manifest['metadata']['name']}").status == 404


STRUCTURAL = [
    # schema/validation.go validateStructuralInvariants
    pytest.param(
        _schema({"type": "object", "properties": {"image": {"maxLength": 3}}}),
        f"{SPEC}.properties[image].type",
        "Required value: must not be empty for specified object fields",
        id="field-without-type",
    ),
    pytest.param(
        _schema({"type": "object", "properties": {"args": {"type": "array", "items": {"maxLength": 3}}}}),
        f"{SPEC}.properties[args].items.type",
        "Required value: must not be empty for specified array items",
        id="items-without-type",
    ),
    pytest.param(
        _schema({"type": "object", "properties": {"args": {"type": "array"}}}),
        f"{SPEC}.properties[args].items",
        "Required value: must be specified",
        id="array-without-items",
    ),
    pytest.param(
        {**_schema({"type": "object"}), "type": "string"},
        f"{ROOT}.type",
        'Invalid value: "string": must be object at the root',
        id="root-not-object",
    ),
    pytest.param(
        {
            **_schema({"type": "object"}),
            "properties": {
                "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
                "spec": {"type": "object"},
            },
        },
        f"{ROOT}.properties[metadata]",
        "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly "
        "specified",
        id="metadata-beyond-name",
    ),
    pytest.param(
        _schema({"type": "object", "anyOf": [{"type": "object"}, {"required": ["image"]}]}),
        f"{SPEC}.anyOf[0].type",
        "Forbidden: must be empty to be structural",
        id="type-in-value-validation",
    ),
    # schema/complete.go validateStructuralCompleteness
    pytest.param(
        _schema({"type": "object", "anyOf": [{"properties": {"ghost": {"maxLength": 1}}}]}),
        f"{SPEC}.properties[ghost]",
        f"Required value: because it is defined in {SPEC}.anyOf[0].properties[ghost]",
        id="value-validation-names-undeclared-field",
    ),
    pytest.param(
        _schema({"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}),
        f"{SPEC}.x-kubernetes-preserve-unknown-fields",
        "Invalid value: true: must be false if x-kubernetes-int-or-string is true",
        id="int-or-string-preserving-unknown-fields",
    ),
    # validation.go ValidateCustomResourceDefinitionOpenAPISchema
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {"image": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            }
        ),
        f"{SPEC}.additionalProperties",
        "Forbidden: additionalProperties and properties are mutual exclusive",
        id="properties-and-additional-properties",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {"tags": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}},
            }
        ),
        f"{SPEC}.properties[tags].uniqueItems",
        "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        id="unique-items",
    ),
    pytest.param(
        _schema({"type": "object", "x-kubernetes-preserve-unknown-fields": False}),
        f"{SPEC}.x-kubernetes-preserve-unknown-fields",
        "Invalid value: false: must be true or undefined",
        id="preserve-unknown-fields-false",
    ),
    pytest.param(
        _schema({"type": "object", "properties": {"n": {"type": "int"}}}),
        f"{SPEC}.properties[n].type",
        'Unsupported value: "int": supported values: "array", "boolean", "integer", "number", "object", '
        '"string"',
        id="unknown-type",
    ),
]

DEFAULTS = [
    # schema/defaulting/validation.go: the default is validated as the custom resource would be
    pytest.param(
        _schema({"type": "object", "properties": {"replicas": {"type": "integer", "default": "two"}}}),
        f"{SPEC}.properties[replicas].default",
        f'Invalid value: "string": {SPEC}.properties[replicas].default in body must be of type integer: '
        '"string"',
        id="default-of-wrong-type",
    ),
    pytest.param(
        _schema(
            {"type": "object", "properties": {"replicas": {"type": "integer", "maximum": 5, "default": 9}}}
        ),
        f"{SPEC}.properties[replicas].default",
        f"Invalid value: 9: {SPEC}.properties[replicas].default in body should be less than or equal to 5",
        id="default-above-maximum",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {
                    "backoff": {
                        "type": "object",
                        "properties": {"seconds": {"type": "integer"}},
                        "default": {"seconds": 1, "bogus": 2},
                    }
                },
            }
        ),
        f"{SPEC}.properties[backoff].default",
        "must not have unknown fields",
        id="default-with-unknown-fields",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {
                    "retries": {
                        "type": "integer",
                        "default": 0,
                        "x-kubernetes-validations": [{"rule": "self >= 1"}],
                    }
                },
            }
        ),
        f"{SPEC}.properties[retries].default",
        'Invalid value: "integer": failed rule: self >= 1',
        id="default-failing-its-rule",
    ),
    # validation.go: withForbiddenDefaults(fmt.Sprintf("in top-level %s", property))
    pytest.param(
        {
            **_schema({"type": "object"}),
            "properties": {"metadata": {"type": "object", "default": {}}, "spec": {"type": "object"}},
        },
        f"{ROOT}.properties[metadata].default",
        "Forbidden: must not be set in top-level metadata",
        id="default-in-top-level-metadata",
    ),
]

CEL = [
    # cel/compilation.go compileRule: "compilation failed: " + cel-go's issues, shown with the rule
    pytest.param(
        _schema({"type": "object", "x-kubernetes-validations": [{"rule": "self.foo == 1"}]}),
        f"{SPEC}.x-kubernetes-validations[0].rule",
        'Invalid value: apiextensions.ValidationRule{Rule:"self.foo == 1", Message:"", MessageExpression:"", '
        'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", OptionalOldSelf:(*bool)(nil)}: '
        "compilation failed: ERROR: <input>:1:5: undefined field 'foo'\n | self.foo == 1\n | ....^",
        id="unknown-field",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {"image": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "has(self.image) && has(self.command)"}],
            }
        ),
        f"{SPEC}.x-kubernetes-validations[0].rule",
        "compilation failed: ERROR: <input>:1:28: undefined field 'command'",
        id="has-of-unknown-field",
    ),
    pytest.param(
        _schema({"type": "object", "x-kubernetes-validations": [{"rule": "self.image =="}]}),
        f"{SPEC}.x-kubernetes-validations[0].rule",
        "compilation failed: ERROR: <input>:1:",
        id="syntax-error",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {"image": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "self.image == 1"}],
            }
        ),
        f"{SPEC}.x-kubernetes-validations[0].rule",
        "compilation failed: ERROR: <input>:1:12: found no matching overload for '_==_' applied to "
        "'(string, int)'",
        id="type-mismatch",
    ),
    pytest.param(
        _schema({"type": "object", "x-kubernetes-validations": [{"rule": "isValid(self)"}]}),
        f"{SPEC}.x-kubernetes-validations[0].rule",
        "compilation failed: ERROR: <input>:1:8: undeclared reference to 'isValid' (in container '')",
        id="unknown-function",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {"image": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "self.image"}],
            }
        ),
        f"{SPEC}.x-kubernetes-validations[0].rule",
        "cel expression must evaluate to a bool",
        id="not-a-bool",
    ),
    # validation.go: forbidOldSelfValidations below the items of lists that are not map lists
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {
                    "names": {
                        "type": "array",
                        "maxItems": 8,
                        "items": {
                            "type": "string",
                            "maxLength": 20,
                            "x-kubernetes-validations": [{"rule": "self == oldSelf"}],
                        },
                    }
                },
            }
        ),
        f"{SPEC}.properties[names].items.x-kubernetes-validations[0].rule",
        'Invalid value: "self == oldSelf": oldSelf cannot be used on the uncorrelatable portion of the '
        f"schema within {SPEC}.properties[names]",
        id="old-self-under-atomic-list",
    ),
    pytest.param(
        _schema({"type": "object", "x-kubernetes-validations": [{"rule": " "}]}),
        f"{SPEC}.x-kubernetes-validations[0].rule",
        "Required value: rule is not specified",
        id="empty-rule",
    ),
    pytest.param(
        _schema({"type": "object", "x-kubernetes-validations": [{"rule": "true &&\ntrue"}]}),
        f"{SPEC}.x-kubernetes-validations[0].message",
        "Required value: message must be specified if rule contains line breaks",
        id="multiline-rule-without-message",
    ),
    pytest.param(
        _schema({"type": "object", "x-kubernetes-validations": [{"rule": "true", "reason": "Bad"}]}),
        f"{SPEC}.x-kubernetes-validations[0].reason",
        'Unsupported value: "Bad": supported values: "FieldValueDuplicate", "FieldValueForbidden", '
        '"FieldValueInvalid", "FieldValueRequired"',
        id="unknown-reason",
    ),
]

ACCEPTED = [
    # rules a real server compiles: the root sees metadata.name (SchemaDeclType isResourceRoot), the
    # Kubernetes libraries' functions, macros over lists and maps, transition rules on map-list items
    pytest.param(
        {
            **_schema({"type": "object"}),
            "x-kubernetes-validations": [{"rule": "self.metadata.name.size() < 20"}],
        },
        id="root-reads-metadata-name",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {
                    "ports": {"type": "array", "maxItems": 8, "items": {"type": "integer"}},
                    "limits": {
                        "type": "object",
                        "maxProperties": 4,
                        "additionalProperties": {"type": "string", "maxLength": 20},
                    },
                    "cpu": {"type": "string", "maxLength": 10},
                },
                "x-kubernetes-validations": [
                    {"rule": "self.ports.isSorted() && self.ports.all(p, p > 0 && p < 65536)"},
                    {"rule": "self.limits.all(k, quantity(self.limits[k]).isGreaterThan(quantity('0')))"},
                    {"rule": "!has(self.cpu) || isQuantity(self.cpu)"},
                    {"rule": "size(self.limits) <= 4 && self.ports.exists_one(p, p == 80)"},
                ],
            }
        ),
        id="libraries-and-macros",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {
                    "env": {
                        "type": "array",
                        "maxItems": 8,
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string", "maxLength": 20}},
                            "x-kubernetes-validations": [{"rule": "self.name == oldSelf.name"}],
                        },
                    }
                },
            }
        ),
        id="transition-rule-on-map-list-items",
    ),
]

_UNBOUNDED_WORDS = {"type": "array", "items": {"type": "string"}}
# One rule per item of a list of at most 4,000,000 strings: cel-go prices self.all(x, x == 'a') at
# 1 (self) + 1 (result) + n * (2 (loop condition) + 1 (accumulator) + 1 (x) + 1 (x == 'a', the smaller
# operand one character long)) = 20,000,002, twice StaticEstimatedCostLimit.
_TWICE_THE_BUDGET = {
    "type": "array",
    "maxItems": 4_000_000,
    "items": {"type": "string", "maxLength": 16},
    "x-kubernetes-validations": [{"rule": "self.all(x, x == 'a')"}],
}
# A rule on the items of an unbounded list runs once per item that fits in a 3 MiB request
# (maxCardinality: 3145728 / (2 + 1) = 1048576 objects "{}"); self.name.contains('x') costs 2 (self.name)
# + ceil(400 * 0.1) * ceil(1 * 0.1) = 42 with maxLength 100 (400 bytes): 44,040,192 in all, 4.4x the budget.
_PER_ITEM = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 100}},
    "x-kubernetes-validations": [{"rule": "self.name.contains('x')"}],
}
_HINT = (
    "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and "
    "strings are declared)"
)

COST = [
    # validation.go: expressionCost > StaticEstimatedCostLimit -> getCostErrorMessage("estimated rule cost")
    pytest.param(
        _schema({"type": "object", "properties": {"words": _TWICE_THE_BUDGET}}),
        f"{SPEC}.properties[words].x-kubernetes-validations[0].rule",
        f"Forbidden: estimated rule cost exceeds budget by factor of 2.0x {_HINT}",
        id="rule-twice-the-budget",
    ),
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {
                    "words": {
                        **_UNBOUNDED_WORDS,
                        "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}],
                    }
                },
            }
        ),
        f"{SPEC}.properties[words].x-kubernetes-validations[0].rule",
        f"Forbidden: estimated rule cost exceeds budget by factor of more than 100x {_HINT}",
        id="quadratic-rule-on-unbounded-list",
    ),
    # ... and the total over StaticEstimatedCRDCostLimit names the schema itself
    pytest.param(
        _schema(
            {
                "type": "object",
                "properties": {
                    "words": {
                        **_UNBOUNDED_WORDS,
                        "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}],
                    }
                },
            }
        ),
        ROOT,
        "Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds "
        f"budget by factor of more than 100x {_HINT}",
        id="schema-total-over-the-budget",
    ),
    # cel_validation.go: a rule under an unbounded list runs maxCardinality times
    pytest.param(
        _schema({"type": "object", "properties": {"people": {"type": "array", "items": _PER_ITEM}}}),
        f"{SPEC}.properties[people].items.x-kubernetes-validations[0].rule",
        f"Forbidden: estimated rule cost exceeds budget by factor of 4.4x {_HINT}",
        id="rule-under-unbounded-list",
    ),
]

VERSIONS = [
    # validation.go validateCustomResourceDefinitionSpec
    pytest.param(
        _with_versions({"name": "v1"}, {"name": "v2"}),
        "spec.versions",
        "must have exactly one version marked as storage version",
        id="two-storage-versions",
    ),
    pytest.param(
        _with_versions({"name": "v1", "storage": False}),
        "spec.versions",
        "must have exactly one version marked as storage version",
        id="no-storage-version",
    ),
    pytest.param(
        _with_versions({"name": "v1"}, {"name": "v1", "storage": False}),
        "spec.versions",
        "must contain unique version names",
        id="duplicate-version-names",
    ),
    pytest.param(
        _with_versions({"name": "V1"}),
        "spec.versions[0].name",
        "Invalid value: \"V1\": a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
        id="version-name-not-a-label",
    ),
    pytest.param(
        _with_versions({"name": "v1", "schema": None}),
        "spec.versions[0].schema.openAPIV3Schema",
        "Required value: schemas are required",
        id="no-schema",
    ),
    # conversion.go: schemas that differ between versions stay per version, and so do their errors
    pytest.param(
        _with_versions(
            {"name": "v1"},
            {
                "name": "v2",
                "storage": False,
                "schema": {
                    "openAPIV3Schema": _schema({"type": "object", "properties": {"n": {"maxLength": 1}}})
                },
            },
        ),
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[n].type",
        "Required value: must not be empty for specified object fields",
        id="per-version-schema-error",
    ),
]


@pytest.mark.parametrize(("schema", "field", "message"), STRUCTURAL)
def test_structural_schema_rules(http: Http, schema: dict[str, Any], field: str, message: str) -> None:
    _refused(http, _manifest(schema), field, message)


@pytest.mark.parametrize(("schema", "field", "message"), DEFAULTS)
def test_defaults_must_be_valid(http: Http, schema: dict[str, Any], field: str, message: str) -> None:
    _refused(http, _manifest(schema), field, message)


@pytest.mark.parametrize(("schema", "field", "message"), CEL)
def test_cel_rules_compile_against_the_schema(
    http: Http, schema: dict[str, Any], field: str, message: str
) -> None:
    _refused(http, _manifest(schema), field, message)


@pytest.mark.parametrize(("schema", "field", "message"), COST)
def test_cel_rules_fit_the_cost_budget(http: Http, schema: dict[str, Any], field: str, message: str) -> None:
    _refused(http, _manifest(schema), field, message)


@pytest.mark.parametrize(("change", "field", "message"), VERSIONS)
def test_versions(http: Http, change: Callable[[dict[str, Any]], None], field: str, message: str) -> None:
    manifest = _manifest(_schema({"type": "object"}))
    change(manifest)
    _refused(http, manifest, field, message)


@pytest.mark.parametrize("schema", ACCEPTED)
def test_rules_a_real_server_compiles_are_accepted(http: Http, schema: dict[str, Any]) -> None:
    reply = http.post(CRDS, _manifest(schema))
    assert reply.status == 201, reply.body


def test_bounding_the_list_brings_the_rule_within_budget(http: Http) -> None:
    """The fix the cost message suggests works: maxItems bounds how often the per-item rule runs."""
    bounded = {"type": "array", "maxItems": 100, "items": _PER_ITEM}
    reply = http.post(CRDS, _manifest(_schema({"type": "object", "properties": {"people": bounded}})))
    assert reply.status == 201, reply.body


def test_an_update_is_checked_as_a_creation_is(http: Http) -> None:
    manifest = _manifest(_schema({"type": "object", "properties": {"image": {"type": "string"}}}))
    created = http.post(CRDS, manifest)
    assert created.status == 201, created.body
    name = manifest["metadata"]["name"]
    rules = [{"rule": "self.imag == 'x'"}]
    reply = http.patch(
        f"{CRDS}/{name}",
        {
            "spec": {
                "versions": [
                    {
                        **manifest["spec"]["versions"][0],
                        "schema": {
                            "openAPIV3Schema": _schema(
                                {
                                    "type": "object",
                                    "properties": {"image": {"type": "string"}},
                                    "x-kubernetes-validations": rules,
                                }
                            )
                        },
                    }
                ]
            }
        },
    )
    assert reply.status == 422, reply.body
    assert reply.body["details"]["causes"][0]["field"] == f"{SPEC}.x-kubernetes-validations[0].rule"
    assert "undefined field 'imag'" in reply.body["details"]["causes"][0]["message"]
    stored = http.get(f"{CRDS}/{name}").body
    assert (
        "x-kubernetes-validations"
        not in stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    )


def test_kubectl_apply_shows_the_refusal(
    kubectl: Callable[..., Any],
) -> None:
    manifest = _manifest(_schema({"type": "object", "x-kubernetes-validations": [{"rule": "self.foo == 1"}]}))
    result = kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest), check=False)
    assert result.returncode != 0
    assert f'The CustomResourceDefinition "{manifest["metadata"]["name"]}" is invalid' in result.stderr
    assert f"{SPEC}.x-kubernetes-validations[0].rule: Invalid value:" in result.stderr
    assert "undefined field 'foo'" in result.stderr


@pytest.mark.parametrize("crd", ["taskrun", "taskmap", "taskqueue"])
def test_our_crds_fit_the_real_budget(http: Http, crd: str) -> None:
    """Every rule of our CRDs is under StaticEstimatedCostLimit and each CRD under StaticEstimatedCRDCostLimit
    (printed with -s: the estimated cost of each rule, already multiplied by how often it may run)."""
    manifest = yaml.safe_load((CHART_CRDS / f"{crd}-crd.yaml").read_text())
    schema = manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    costs = estimated_rule_costs(schema, ROOT)
    total = sum(cost for _path, cost in costs)
    print(
        f"\n{manifest['metadata']['name']}: {len(costs)} rules, estimated total {total:,} "
        f"(budget {STATIC_ESTIMATED_CRD_COST_LIMIT:,}; per rule {STATIC_ESTIMATED_COST_LIMIT:,})"
    )
    for path, cost in sorted(costs, key=lambda item: -item[1])[:5]:
        print(f"  {cost:>12,}  {path}")
    assert all(cost <= STATIC_ESTIMATED_COST_LIMIT for _path, cost in costs)
    assert total <= STATIC_ESTIMATED_CRD_COST_LIMIT
    if crd != "taskqueue":
        assert costs, "the CRD's rules were not found"
    reply = http.post(CRDS, manifest)
    assert reply.status == 201, reply.body


_FIELDS = {
    "type": "object",
    "properties": {
        "image": {"type": "string", "maxLength": 1024},
        "timeout": {"type": "string", "maxLength": 64},
        "name": {"type": "string", "maxLength": 256},
        "a": {"type": "integer"},
        "b": {"type": "integer"},
        "tags": {"type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 63}},
    },
}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # cel-go checker/cost.go: an identifier costs 1, a field selected from an object 1 more, a literal 0;
        # ==/!= traverse the smaller operand at 0.1 per byte (the Kubernetes size estimator: maxLength x 4)
        pytest.param("self.image == oldSelf.image", 4 + 410, id="string-equality"),
        pytest.param("self == oldSelf", 2, id="object-equality"),
        # has() costs 1 plus its operand; two booleans compare at ceil(1 x 0.1)
        pytest.param("has(self.a) != has(self.b)", 2 + 2 + 1, id="presence"),
        # O(1) calls cost 1 plus their arguments
        pytest.param("duration(self.timeout) > duration('0s')", 2 + 1 + 1 + 1, id="durations"),
        pytest.param("self.b >= self.a", 2 + 2 + 1, id="integers"),
        # startsWith traverses the prefix: ceil(9 x 0.1); ! costs 1
        pytest.param("!self.name.startsWith('KUBETASK_')", 1 + 2 + 1, id="starts-with"),
        # list literals cost 10 plus their elements; comparing them traverses ceil(2 x 0.1)
        pytest.param(
            "[has(self.a), has(self.b)] == [has(oldSelf.a), has(oldSelf.b)]", 14 + 14 + 1, id="lists"
        ),
        # all(): 1 (range) + 1 (result) + n x (2 loop condition + 1 accumulator + predicate); x.size() < 10
        # costs 1 (x) + 1 (size) + 1 (<)
        pytest.param("self.tags.all(x, x.size() < 10)", 2 + 1 + 64 * (3 + 3), id="all-over-bounded-list"),
    ],
)
def test_cost_estimates_follow_cel_go(rule: str, expected: int) -> None:
    """Pure logic: the estimator's arithmetic for the constructs our CRDs use, checked by hand."""
    compiled = compile_rule(rule, _FIELDS)
    assert compiled.error is None
    assert compiled.max_cost == expected
