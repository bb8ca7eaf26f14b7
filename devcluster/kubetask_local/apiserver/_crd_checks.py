"""The checks a real kube-apiserver runs on a CustomResourceDefinition before storing it.

k8s.io/apiextensions-apiserver pkg/apis/apiextensions/validation/validation.go (versions, the OpenAPI schema
rules, x-kubernetes-validations compiled against the schema and their cost budget), pkg/apiserver/schema/
validation.go and complete.go (ValidateStructural) and pkg/apiserver/schema/defaulting/validation.go (defaults
valid against their schema). A CRD the real server refuses is refused here with the same field paths and
words, so a chart or operator that installs fine locally installs on a real cluster too.

The real server validates its internal form, in which a v1 CRD whose versions all carry the same schema has
that schema moved to ``spec.validation`` (apis/apiextensions/v1/conversion.go): its errors are reported under
``spec.validation.openAPIV3Schema``, and per version (``spec.versions[i].schema.openAPIV3Schema``) otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver import _cel, _cel_check, _schema

Causes = list[tuple[str, str]]
Schema = Mapping[str, Any]

# validation.go: StaticEstimatedCostLimit (per rule) and StaticEstimatedCRDCostLimit (the whole schema).
STATIC_ESTIMATED_COST_LIMIT = 10_000_000
STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000
_OPENAPI_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_VALIDATION_REASONS = (
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
)
_META_FIELDS = ("metadata", "kind", "apiVersion")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
# Value validations (anyOf/allOf/oneOf/not) may only restrict: these keys describe structure instead.
_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def _key(path: str, key: str) -> str:
    return f"{path}.properties[{key}]"


def go_quote(value: str) -> str:
    """Go's %q of a string, which field errors use to show a bad value."""
    return json.dumps(value, ensure_ascii=False)


def _go_pointer(type_name: str, value: Any) -> str:
    # A non-nil pointer prints as its address in the real server; any address is as good as another.
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000a00000)"


def _go_versions(versions: list[Mapping[str, Any]], *, hoisted: bool) -> str:
    """%#v of []apiextensions.CustomResourceDefinitionVersion, as field.Invalid shows spec.versions."""
    shown = []
    for version in versions:
        schema = None if hoisted else version.get("schema")
        columns = version.get("additionalPrinterColumns")
        selectable = version.get("selectableFields")
        shown.append(
            "apiextensions.CustomResourceDefinitionVersion{"
            f"Name:{go_quote(str(version.get('name', '')))}, "
            f"Served:{str(bool(version.get('served'))).lower()}, "
            f"Storage:{str(bool(version.get('storage'))).lower()}, "
            f"Deprecated:{str(bool(version.get('deprecated'))).lower()}, "
            f"DeprecationWarning:{_go_pointer('string', version.get('deprecationWarning'))}, "
            f"Schema:{_go_pointer('apiextensions.CustomResourceValidation', schema)}, "
            "Subresources:"
            f"{_go_pointer('apiextensions.CustomResourceSubresources', version.get('subresources'))}, "
            "AdditionalPrinterColumns:[]apiextensions.CustomResourceColumnDefinition"
            f"{'{...}' if columns else '(nil)'}, "
            f"SelectableFields:[]apiextensions.SelectableField{'{...}' if selectable else '(nil)'}}}"
        )
    return "[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(shown) + "}"


def go_validation_rule(rule: Mapping[str, Any]) -> str:
    """%#v of apiextensions.ValidationRule: how a CEL compilation error shows the rule."""
    reason = _go_pointer("apiextensions.FieldValueErrorReason", rule.get("reason"))
    optional = _go_pointer("bool", rule.get("optionalOldSelf"))
    return (
        f"apiextensions.ValidationRule{{Rule:{go_quote(str(rule.get('rule', '')))}, "
        f"Message:{go_quote(str(rule.get('message', '')))}, "
        f"MessageExpression:{go_quote(str(rule.get('messageExpression', '')))}, Reason:{reason}, "
        f"FieldPath:{go_quote(str(rule.get('fieldPath', '')))}, OptionalOldSelf:{optional}}}"
    )


# ---------------------------------------------------------------------- the spec


def crd_spec_causes(spec: Mapping[str, Any]) -> Causes:
    """validateCustomResourceDefinitionSpec's version and schema checks, in the real server's order."""
    causes: Causes = []
    versions = [version for version in spec.get("versions") or [] if isinstance(version, Mapping)]
    schemas = [(version.get("schema") or {}).get("openAPIV3Schema") for version in versions]
    hoisted = bool(versions) and all(
        json.dumps(version.get("schema"), sort_keys=True)
        == json.dumps(versions[0].get("schema"), sort_keys=True)
        for version in versions
    )
    for index, schema in enumerate(schemas):
        if schema is None:
            causes.append(
                (f"spec.versions[{index}].schema.openAPIV3Schema", "Required value: schemas are required")
            )
    names: set[str] = set()
    unique = True
    storage = 0
    for index, version in enumerate(versions):
        name = str(version.get("name") or "")
        storage += bool(version.get("storage"))
        unique = unique and name not in names
        names.add(name)
        if not _DNS1035_LABEL.fullmatch(name) or len(name) > 63:
            causes.append(
                (f"spec.versions[{index}].name", f"Invalid value: {go_quote(name)}: {_DNS1035_MESSAGE}")
            )
        own_schema = schemas[index]
        if not hoisted and isinstance(own_schema, Mapping):
            causes.extend(schema_causes(own_schema, f"spec.versions[{index}].schema.openAPIV3Schema"))
    shown = _go_versions(versions, hoisted=hoisted)
    if not unique:
        causes.append(("spec.versions", f"Invalid value: {shown}: must contain unique version names"))
    if storage != 1:
        causes.append(
            (
                "spec.versions",
                f"Invalid value: {shown}: must have exactly one version marked as storage version",
            )
        )
    if hoisted and isinstance(schemas[0], Mapping):
        causes.extend(schema_causes(schemas[0], "spec.validation.openAPIV3Schema"))
    return causes


def schema_causes(schema: Schema, path: str) -> Causes:
    """validateCustomResourceDefinitionValidation for one openAPIV3Schema."""
    causes: Causes = []
    if schema.get("nullable"):
        causes.append((f"{path}.nullable", "Forbidden: nullable cannot be true at the root"))
    structural = sorted(structural_causes(schema, path), key=lambda cause: f"{cause[0]}: {cause[1]}")
    causes.extend(structural)
    defaults_ok = False
    if not structural:
        default_causes = defaults_causes(schema, path, root=True)
        causes.extend(default_causes)
        defaults_ok = not default_causes
    costs = _CostTotal()
    schema_errors, cel_errors = openapi_causes(
        schema, path, root=True, cel=defaults_ok, cardinality=1, costs=costs
    )
    causes.extend(schema_errors + cel_errors)
    if defaults_ok and costs.total > STATIC_ESTIMATED_CRD_COST_LIMIT:
        for expensive_path, _cost in costs.most_expensive():
            causes.append(
                (
                    expensive_path,
                    "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire "
                    "OpenAPIv3 schema",
                )
            )
        message = cost_error_message(
            "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
            costs.total,
            STATIC_ESTIMATED_CRD_COST_LIMIT,
        )
        causes.append((path, f"Forbidden: {message}"))
    return causes


def cost_error_message(cost_name: str, cost: int, limit: int) -> str:
    """validation.go getCostErrorMessage."""
    factor = cost / limit
    if factor > 100.0:
        shown = "more than 100x"
    elif factor < 1.5:
        shown = f"{factor:f}x"
    else:
        shown = f"{factor:.1f}x"
    return (
        f"{cost_name} exceeds budget by factor of {shown} (try simplifying the rule, or adding maxItems, "
        "maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )


# ---------------------------------------------------------------------- structural (schema/validation.go)


def structural_causes(schema: Schema, path: str, level: str = "root") -> Causes:
    """validateStructuralInvariants and validateStructuralCompleteness."""
    causes: Causes = []
    kind = schema.get("type")
    items = schema.get("items")
    if kind == "array" and not isinstance(items, Mapping):
        causes.append((f"{path}.items", "Required value: must be specified"))
    if isinstance(items, Mapping):
        causes.extend(structural_causes(items, f"{path}.items", "item"))
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            causes.extend(structural_causes(sub, _key(path, key), "field"))
    additional = schema.get("additionalProperties")
    if additional is not None and additional is not True:
        if level == "root":
            causes.append((f"{path}.additionalProperties", "Forbidden: must not be used at the root"))
        if isinstance(additional, Mapping):
            causes.extend(structural_causes(additional, f"{path}.additionalProperties", "field"))
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    if int_or_string and preserve:
        causes.append(
            (
                f"{path}.x-kubernetes-preserve-unknown-fields",
                "Invalid value: true: must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        causes.append(
            (
                f"{path}.x-kubernetes-embedded-resource",
                "Invalid value: true: must be false if x-kubernetes-int-or-string is true",
            )
        )
    skip_any_of = schema.get("anyOf") == _INT_OR_STRING_ANY_OF
    all_of = schema.get("allOf") or []
    skip_first_all_of = (
        bool(all_of) and isinstance(all_of[0], Mapping) and all_of[0].get("anyOf") == _INT_OR_STRING_ANY_OF
    )
    causes.extend(
        _value_validation_causes(
            schema, path, skip_any_of=skip_any_of, skip_first_all_of_any_of=skip_first_all_of
        )
    )
    if embedded and kind != "object":
        if not kind:
            causes.append(
                (f"{path}.type", "Required value: must be object if x-kubernetes-embedded-resource is true")
            )
        else:
            causes.append(
                (
                    f"{path}.type",
                    f"Invalid value: {go_quote(str(kind))}: "
                    "must be object if x-kubernetes-embedded-resource is true",
                )
            )
    elif not kind and not int_or_string and not preserve:
        where = {
            "root": "at the root",
            "item": "for specified array items",
            "field": "for specified object fields",
        }
        causes.append((f"{path}.type", f"Required value: must not be empty {where[level]}"))
    if embedded and additional is not None:
        causes.append(
            (
                f"{path}.additionalProperties",
                "Forbidden: must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if level == "root" and kind and kind != "object":
        causes.append((f"{path}.type", f"Invalid value: {go_quote(str(kind))}: must be object at the root"))
    properties = schema.get("properties") or {}
    check_metadata = level == "root" or embedded
    for meta_key in ("kind", "apiVersion"):
        sub = properties.get(meta_key)
        if check_metadata and isinstance(sub, Mapping) and sub.get("type") != "string":
            causes.append(
                (
                    f"{_key(path, meta_key)}.type",
                    f"Invalid value: {go_quote(str(sub.get('type', '')))}: must be string",
                )
            )
    metadata = properties.get("metadata")
    if isinstance(metadata, Mapping):
        causes.extend(
            _metadata_causes(
                metadata, _key(path, "metadata"), check_metadata=check_metadata, root=level == "root"
            )
        )
    if embedded and not preserve and not properties:
        causes.append(
            (
                f"{path}.properties",
                "Required value: must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )
    causes.extend(_completeness_causes(schema, schema, path, path))
    return causes


def _metadata_causes(metadata: Schema, path: str, *, check_metadata: bool, root: bool) -> Causes:
    causes: Causes = []
    if check_metadata and metadata.get("type") != "object":
        causes.append(
            (f"{path}.type", f"Invalid value: {go_quote(str(metadata.get('type', '')))}: must be object")
        )
    if root:
        properties = set((metadata.get("properties") or {}).keys())
        rest = {key for key in metadata if key not in ("type", "default", "properties")}
        if (properties and not properties <= {"name", "generateName"}) or rest:
            causes.append(
                (
                    path,
                    "Forbidden: must not specify anything other than name and generateName, but metadata is "
                    "implicitly specified",
                )
            )
    return causes


def _value_validation_causes(
    schema: Schema, path: str, *, skip_any_of: bool, skip_first_all_of_any_of: bool
) -> Causes:
    causes: Causes = []
    if not skip_any_of:
        for index, option in enumerate(schema.get("anyOf") or []):
            causes.extend(_nested_causes(option, f"{path}.anyOf[{index}]"))
    for index, option in enumerate(schema.get("allOf") or []):
        skip = skip_first_all_of_any_of and index == 0
        causes.extend(_nested_causes(option, f"{path}.allOf[{index}]", skip_any_of=skip))
    for index, option in enumerate(schema.get("oneOf") or []):
        causes.extend(_nested_causes(option, f"{path}.oneOf[{index}]"))
    if isinstance(schema.get("not"), Mapping):
        causes.extend(_nested_causes(schema["not"], f"{path}.not"))
    pattern = schema.get("pattern")
    if pattern:
        try:
            re.compile(str(pattern))
        except re.error as error:
            causes.append(
                (
                    f"{path}.pattern",
                    f"Invalid value: {go_quote(str(pattern))}: "
                    f"must be a valid regular expression, but isn't: {error}",
                )
            )
    return causes


def _nested_causes(schema: Any, path: str, *, skip_any_of: bool = False) -> Causes:
    if not isinstance(schema, Mapping):
        return []
    causes = _value_validation_causes(schema, path, skip_any_of=skip_any_of, skip_first_all_of_any_of=False)
    if isinstance(schema.get("items"), Mapping):
        causes.extend(_nested_causes(schema["items"], f"{path}.items"))
    for key, sub in (schema.get("properties") or {}).items():
        causes.extend(_nested_causes(sub, _key(path, key)))
    for key, message in _NESTED_FORBIDDEN:
        if schema.get(key) not in (None, False, "", [], {}) or (key == "default" and "default" in schema):
            causes.append((f"{path}.{key}", f"Forbidden: {message}"))
    if "metadata" in (schema.get("properties") or {}):
        causes.append((_key(path, "metadata"), "Forbidden: must not be specified in a nested context"))
    return causes


def _completeness_causes(value_schema: Schema, structural: Schema | None, s_path: str, v_path: str) -> Causes:
    """Every field a value validation names must be specified in the structural schema too (complete.go)."""
    causes: Causes = []
    junctors = [("not", value_schema.get("not"))] if isinstance(value_schema.get("not"), Mapping) else []
    for word in ("allOf", "anyOf", "oneOf"):
        junctors.extend(
            (f"{word}[{index}]", option) for index, option in enumerate(value_schema.get(word) or [])
        )
    for suffix, nested in junctors:
        if isinstance(nested, Mapping):
            causes.extend(_nested_completeness(nested, structural, s_path, f"{v_path}.{suffix}"))
    return causes


def _nested_completeness(nested: Schema, structural: Schema | None, s_path: str, v_path: str) -> Causes:
    if structural is None:
        return [(s_path, f"Required value: because it is defined in {v_path}")]
    causes = _completeness_causes(nested, structural, s_path, v_path)
    if isinstance(nested.get("items"), Mapping):
        items = structural.get("items")
        causes.extend(
            _nested_completeness(
                nested["items"],
                items if isinstance(items, Mapping) else None,
                f"{s_path}.items",
                f"{v_path}.items",
            )
        )
    for key, sub in (nested.get("properties") or {}).items():
        known = (structural.get("properties") or {}).get(key)
        if known is None:
            causes.append(
                (_key(s_path, key), f"Required value: because it is defined in {_key(v_path, key)}")
            )
        elif isinstance(sub, Mapping):
            causes.extend(_nested_completeness(sub, known, _key(s_path, key), _key(v_path, key)))
    return causes


# ---------------------------------------------------------------------- defaults (defaulting/validation.go)


def defaults_causes(schema: Schema, path: str, *, root: bool = False) -> Causes:
    """Every default is pruned (no unknown fields) and valid against the schema it sits in, rules included."""
    causes: Causes = []
    if schema.get("default") is not None and not root:  # a null default is no default (Default.Object nil)
        value = schema["default"]
        default_path = f"{path}.default"
        pruned = _schema.prune(schema, value)
        if pruned != value:
            causes.append((default_path, f"Invalid value: {_shown(value)}: must not have unknown fields"))
        else:
            own: Causes = []
            _schema.validate(schema, value, default_path, own)
            if not own:
                own.extend(_cel.check_rules(schema, value, None, path=default_path))
            causes.extend(own)
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, Mapping) and not (root and key in _META_FIELDS):
            causes.extend(defaults_causes(sub, _key(path, key)))
    if isinstance(schema.get("items"), Mapping):
        causes.extend(defaults_causes(schema["items"], f"{path}.items"))
    if isinstance(schema.get("additionalProperties"), Mapping):
        causes.extend(defaults_causes(schema["additionalProperties"], f"{path}.additionalProperties"))
    return causes


def _shown(value: Any) -> str:
    """field.Invalid shows JSON objects and arrays as Go maps and slices; scalars as themselves."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Mapping):
        return (
            "map[string]interface {}{"
            + ", ".join(f"{go_quote(str(k))}:{_shown(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_shown(item) for item in value) + "}"
    return json.dumps(value)


# ---------------------------------------------------------------------- the OpenAPI rules and CEL


@dataclasses.dataclass
class _CostTotal:
    """celContext.TotalCost: the sum of every rule's cost and the rules that contributed most."""

    total: int = 0
    costs: list[tuple[str, int]] = dataclasses.field(default_factory=list)

    def observe(self, path: str, cost: int) -> None:
        self.total = min(self.total + cost, _cel_check.UNBOUNDED)
        self.costs.append((path, cost))

    def most_expensive(self) -> list[tuple[str, int]]:
        # cel_validation.go keeps the 4 most expensive rules whose cost is at least 1% of the limit
        floor = STATIC_ESTIMATED_CRD_COST_LIMIT // 100
        ranked = sorted((item for item in self.costs if item[1] >= floor), key=lambda item: -item[1])
        return ranked[:4]


def _max_elements(schema: Schema) -> int | None:
    """cel_validation.go extractMaxElements: how many children one value has (None: unbounded)."""
    kind = schema.get("type")
    if kind == "object" and schema.get("additionalProperties") not in (None, False):
        bound = schema.get("maxProperties")
        return int(bound) if bound is not None else None
    if kind == "array":
        bound = schema.get("maxItems")
        return int(bound) if bound is not None else None
    return 1


def openapi_causes(
    schema: Schema,
    path: str,
    *,
    root: bool = False,
    cel: bool,
    cardinality: int | None,
    costs: _CostTotal,
    inside_meta: bool = False,
    forbidden_default: str | None = None,
    uncorrelatable: str | None = None,
) -> tuple[Causes, Causes]:
    """ValidateCustomResourceDefinitionOpenAPISchema: (schema errors, CEL errors) of a schema and below."""
    errors: Causes = []
    cel_errors: Causes = []
    kind = schema.get("type")
    if kind and kind not in _OPENAPI_TYPES:
        supported = ", ".join(go_quote(item) for item in _OPENAPI_TYPES)
        errors.append(
            (f"{path}.type", f"Unsupported value: {go_quote(str(kind))}: supported values: {supported}")
        )
    if "default" in schema and forbidden_default is not None:
        errors.append((f"{path}.default", f"Forbidden: must not be set {forbidden_default}"))
    for key, word in (
        ("id", "id"),
        ("additionalItems", "additionalItems"),
        ("patternProperties", "patternProperties"),
        ("definitions", "definitions"),
        ("dependencies", "dependencies"),
        ("$ref", "$ref"),
    ):
        if schema.get(key):
            errors.append((f"{path}.{key}", f"Forbidden: {word} is not supported"))
    if kind == "null":
        errors.append(
            (f"{path}.type", "Forbidden: type cannot be set to null, use nullable as an alternative")
        )
    if isinstance(schema.get("items"), list):
        errors.append((f"{path}.items", "Forbidden: items must be a schema object and not an array"))
    if inside_meta and schema.get("x-kubernetes-embedded-resource"):
        errors.append(
            (f"{path}.x-kubernetes-embedded-resource", "Forbidden: must not be used inside of resource meta")
        )
    if schema.get("uniqueItems") is True:
        errors.append(
            (
                f"{path}.uniqueItems",
                "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    additional = schema.get("additionalProperties")
    properties = schema.get("properties") or {}
    own_elements = _max_elements(schema)
    child_cardinality = (
        cardinality * own_elements if cardinality is not None and own_elements is not None else None
    )
    if additional is not None and properties and (additional is False or isinstance(additional, Mapping)):
        errors.append(
            (
                f"{path}.additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive",
            )
        )
    if isinstance(additional, Mapping):
        sub_errors, sub_cel = openapi_causes(
            additional,
            f"{path}.additionalProperties",
            cel=cel,
            cardinality=child_cardinality,
            costs=costs,
            inside_meta=inside_meta,
            forbidden_default="inside additionalProperties applying to object metadata"
            if inside_meta
            else forbidden_default,
            uncorrelatable=uncorrelatable,
        )
        errors.extend(sub_errors)
        cel_errors.extend(sub_cel)
    for key, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        meta = (root or bool(schema.get("x-kubernetes-embedded-resource"))) and key in _META_FIELDS
        sub_errors, sub_cel = openapi_causes(
            sub,
            _key(path, key),
            cel=cel,
            cardinality=cardinality,
            costs=costs,
            inside_meta=inside_meta or meta,
            forbidden_default=f"in top-level {key}" if root and key in _META_FIELDS else forbidden_default,
            uncorrelatable=uncorrelatable,
        )
        errors.extend(sub_errors)
        cel_errors.extend(sub_cel)
    if isinstance(schema.get("items"), Mapping):
        sub_errors, sub_cel = openapi_causes(
            schema["items"],
            f"{path}.items",
            cel=cel,
            cardinality=child_cardinality,
            costs=costs,
            inside_meta=inside_meta,
            forbidden_default=forbidden_default,
            # only the items of map lists can be matched with their old selves (validation.go)
            uncorrelatable=uncorrelatable
            or (path if schema.get("x-kubernetes-list-type") != "map" else None),
        )
        errors.extend(sub_errors)
        cel_errors.extend(sub_cel)
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        errors.append(
            (
                f"{path}.x-kubernetes-preserve-unknown-fields",
                "Invalid value: false: must be true or undefined",
            )
        )
    errors.extend(_list_type_causes(schema, path))
    rules = schema.get("x-kubernetes-validations") or []
    for index, rule in enumerate(rules):
        errors.extend(_rule_shape_causes(rule, f"{path}.x-kubernetes-validations[{index}]"))
    if rules and cel and not errors:
        # the root's rules see the object's apiVersion, kind and metadata.name (SchemaDeclType isResourceRoot)
        seen = {**schema, "x-kubernetes-embedded-resource": True} if root else schema
        cel_errors.extend(
            _compile_rules(
                seen, rules, path, cardinality=cardinality, costs=costs, uncorrelatable=uncorrelatable
            )
        )
    return errors, cel_errors


def _list_type_causes(schema: Schema, path: str) -> Causes:
    causes: Causes = []
    list_type = schema.get("x-kubernetes-list-type")
    kind = schema.get("type")
    if list_type is not None and kind != "array":
        if not kind:
            causes.append(
                (f"{path}.type", "Required value: must be array if x-kubernetes-list-type is specified")
            )
        else:
            causes.append(
                (
                    f"{path}.type",
                    f"Invalid value: {go_quote(str(kind))}: "
                    "must be array if x-kubernetes-list-type is specified",
                )
            )
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        causes.append(
            (
                f"{path}.x-kubernetes-list-type",
                f'Unsupported value: {go_quote(str(list_type))}: supported values: "atomic", "set", "map"',
            )
        )
    if list_type == "map" and not schema.get("x-kubernetes-list-map-keys"):
        causes.append(
            (
                f"{path}.x-kubernetes-list-map-keys",
                "Required value: must not be empty if x-kubernetes-list-type is map",
            )
        )
    map_type = schema.get("x-kubernetes-map-type")
    if map_type is not None and map_type not in ("atomic", "granular"):
        causes.append(
            (
                f"{path}.x-kubernetes-map-type",
                f'Unsupported value: {go_quote(str(map_type))}: supported values: "atomic", "granular"',
            )
        )
    return causes


def _rule_shape_causes(rule: Any, path: str) -> Causes:
    causes: Causes = []
    if not isinstance(rule, Mapping):
        return [(f"{path}.rule", "Required value: rule is not specified")]
    text = str(rule.get("rule") or "").strip()
    message = str(rule.get("message") or "")
    if not text:
        causes.append((f"{path}.rule", "Required value: rule is not specified"))
    elif message and not message.strip():
        causes.append(
            (f"{path}.message", f"Invalid value: {go_quote(message)}: message must be non-empty if specified")
        )
    elif re.search(r"[\n\r]", message.strip()):
        causes.append(
            (f"{path}.message", f"Invalid value: {go_quote(message)}: message must not contain line breaks")
        )
    elif re.search(r"[\n\r]", text) and not message.strip():
        causes.append(
            (f"{path}.message", "Required value: message must be specified if rule contains line breaks")
        )
    reason = rule.get("reason")
    if reason is not None and reason not in _VALIDATION_REASONS:
        supported = ", ".join(go_quote(item) for item in _VALIDATION_REASONS)
        causes.append(
            (f"{path}.reason", f"Unsupported value: {go_quote(str(reason))}: supported values: {supported}")
        )
    return causes


def _compile_rules(
    schema: Schema,
    rules: list[Any],
    path: str,
    *,
    cardinality: int | None,
    costs: _CostTotal,
    uncorrelatable: str | None,
) -> Causes:
    causes: Causes = []
    declared = _cel_check.decl_type(schema)
    for index, rule in enumerate(rules):
        rule_path = f"{path}.x-kubernetes-validations[{index}].rule"
        compiled = _cel_check.compile_rule(str(rule.get("rule", "")), schema)
        times = (
            cardinality
            if cardinality is not None
            else _cel_check.max_cardinality(declared.min_size if declared else 0)
        )
        cost = min(compiled.max_cost * times, _cel_check.UNBOUNDED) if compiled.max_cost else 0
        if cost > STATIC_ESTIMATED_COST_LIMIT:
            causes.append(
                (
                    rule_path,
                    "Forbidden: "
                    + cost_error_message("estimated rule cost", cost, STATIC_ESTIMATED_COST_LIMIT),
                )
            )
        costs.observe(rule_path, cost)
        if compiled.error is not None:
            causes.append((rule_path, f"Invalid value: {go_validation_rule(rule)}: {compiled.error}"))
        if compiled.error is None and compiled.uses_old_self and uncorrelatable is not None:
            text = go_quote(str(rule.get("rule", "")))
            causes.append(
                (
                    rule_path,
                    f"Invalid value: {text}: oldSelf cannot be used on the uncorrelatable portion of the "
                    f"schema within {uncorrelatable}",
                )
            )
    return causes


def estimated_rule_costs(schema: Schema, path: str) -> list[tuple[str, int]]:
    """Every rule's estimated cost, multiplied by how often it runs: what the budgets are checked on."""
    costs = _CostTotal()
    openapi_causes(schema, path, root=True, cel=True, cardinality=1, costs=costs)
    return costs.costs
