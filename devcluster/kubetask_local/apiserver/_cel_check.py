"""CEL rules compiled against a CRD schema: the type check and the worst-case cost estimate of a real server.

cel-python parses and evaluates CEL but has no type checker and no cost estimator, so a CRD whose rule names
a field its schema does not declare, or whose rule could run for minutes on a large object, would be accepted
here and refused by a real kube-apiserver. This module walks cel-python's parse tree with the schema's CEL
types (k8s.io/apiserver/pkg/cel/common/schemas.go SchemaDeclType) and reproduces:

- cel-go's checker errors for the constructs CRD rules use: ``undefined field``, ``undeclared reference``,
  ``found no matching overload`` for operators and the common functions, misuse of ``has()``, and a rule
  whose result is not a bool (apiextensions-apiserver pkg/apiserver/schema/cel/compilation.go compileRule);
- cel-go's static cost estimator (checker/cost.go) with the Kubernetes size estimator: sizes come from
  maxLength (x4, bytes per code point), maxItems and maxProperties, or, when unbounded, from what fits in a
  3 MiB request (MaxRequestSizeBytes), as apiextensions' sizeEstimator and the DeclType estimates do.

What it cannot decide is listed in docs/local-cluster.md ("CRD checks").
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import celpy
import lark
from celpy.celparser import CELParseError

# k8s.io/apiserver/pkg/apis/cel/config.go: MaxRequestSizeBytes (3 MiB) bounds every unbounded size.
MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024
# cel-go common/cost.go
STRING_TRAVERSAL_COST_FACTOR = 0.1
REGEX_STRING_LENGTH_COST_FACTOR = 0.25
_CREATE_LIST_BASE_COST = 10
_CREATE_MAP_BASE_COST = 30
UNBOUNDED = 2**64 - 1
# k8s.io/apiserver/pkg/cel/types.go: the smallest JSON each type serialises to, and the largest fixed ones.
_MIN_STRING_SIZE = 2
_MIN_BOOL_SIZE = 4
_MIN_NUMBER_SIZE = 1
_MAX_DURATION_SIZE_JSON = 32
_JSON_DATE_SIZE = 12
_MAX_DATETIME_SIZE_JSON = 35

_SCALARS = frozenset({"bool", "int", "uint", "double", "duration", "timestamp", "null"})
_NUMBERS = frozenset({"int", "uint", "double"})


@dataclasses.dataclass(eq=False)
class CelType:
    """A CEL type declared from a schema (DeclType): kind, fields or element, and its size bounds."""

    kind: str  # object map list string bytes int uint double bool duration timestamp null dyn type
    fields: dict[str, CelType] = dataclasses.field(default_factory=dict)
    elem: CelType | None = None
    max_elements: int = 0
    min_size: int = 0

    def name(self) -> str:
        if self.kind == "list":
            return f"list({self.elem.name() if self.elem else 'dyn'})"
        if self.kind == "map":
            return f"map(string, {self.elem.name() if self.elem else 'dyn'})"
        return self.kind


DYN = CelType("dyn")
BOOL = CelType("bool", min_size=_MIN_BOOL_SIZE)
INT = CelType("int", min_size=_MIN_NUMBER_SIZE)
STRING = CelType("string", min_size=_MIN_STRING_SIZE)


def _saturate(value: float) -> int:
    return UNBOUNDED if value >= UNBOUNDED else int(value)


def _factor(size: int, factor: float) -> int:
    """cel-go multiplyByCostFactor: ceil(size * factor), saturating."""
    return UNBOUNDED if size >= UNBOUNDED else _saturate(math.ceil(size * factor))


def _add(*costs: int) -> int:
    return _saturate(sum(costs))


def _mul(left: int, right: int) -> int:
    return _saturate(left * right) if left and right else 0


def decl_type(schema: Mapping[str, Any]) -> CelType | None:
    """SchemaDeclType: the CEL type of values of a structural schema (None: rules cannot see it)."""
    if schema.get("x-kubernetes-int-or-string"):
        return CelType("dyn", max_elements=MAX_REQUEST_SIZE_BYTES - 2, min_size=1)
    kind = schema.get("type")
    if schema.get("x-kubernetes-embedded-resource"):
        kind = "object"
    if kind == "array":
        items = schema.get("items")
        elem = decl_type(items) if isinstance(items, Mapping) else None
        if elem is None:
            return None
        bound = schema.get("maxItems")
        limit = int(bound) if bound is not None else (MAX_REQUEST_SIZE_BYTES - 2) // (elem.min_size + 1)
        return CelType("list", elem=elem, max_elements=max(limit, 0), min_size=2)
    if kind == "object":
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            value = decl_type(additional)
            if value is None:
                return None
            bound = schema.get("maxProperties")
            limit = int(bound) if bound is not None else (MAX_REQUEST_SIZE_BYTES - 2) // (value.min_size + 6)
            return CelType("map", elem=value, max_elements=max(limit, 0), min_size=2)
        fields: dict[str, CelType] = {}
        required = set(schema.get("required") or [])
        min_size = 2
        properties = dict(schema.get("properties") or {})
        if schema.get("x-kubernetes-embedded-resource"):
            meta = {
                "type": "object",
                "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
            }
            properties = {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": meta,
                **properties,
            }
        for name, prop in properties.items():
            field_type = decl_type(prop) if isinstance(prop, Mapping) else None
            if field_type is None:
                continue
            fields[name] = field_type
            if name in required and "default" not in prop:
                min_size += len(name) + field_type.min_size + 4
        return CelType("object", fields=fields, min_size=min_size)
    if kind == "string":
        fmt = schema.get("format")
        result_kind = {"byte": "bytes", "duration": "duration", "date": "timestamp", "date-time": "timestamp"}
        if fmt in ("duration", "date", "date-time"):
            return CelType(result_kind[fmt], min_size=4)
        if schema.get("maxLength") is not None:
            limit = int(schema["maxLength"]) * 4
        elif schema.get("enum"):
            limit = max((len(item) for item in schema["enum"] if isinstance(item, str)), default=0)
        else:
            limit = MAX_REQUEST_SIZE_BYTES - 2
        return CelType(
            result_kind.get(str(fmt), "string"), max_elements=max(limit, 0), min_size=_MIN_STRING_SIZE
        )
    if kind == "integer":
        return CelType("int", min_size=_MIN_NUMBER_SIZE)
    if kind == "number":
        return CelType("double", min_size=_MIN_NUMBER_SIZE)
    if kind == "boolean":
        return CelType("bool", min_size=_MIN_BOOL_SIZE)
    return None


def max_cardinality(min_size: int) -> int:
    """compilation.go maxCardinality: how often a value this small fits in one request."""
    return MAX_REQUEST_SIZE_BYTES // (min_size + 1)


# ---------------------------------------------------------------------- the walk


@dataclasses.dataclass
class _Value:
    """What the checker knows of one sub-expression."""

    type: CelType
    cost: int = 0
    path: tuple[str, ...] | None = None  # self.a.b -> ("self", "a", "b"); sizes are looked up along it
    size: int | None = None  # a size known from the expression itself (literals, list literals)
    error: bool = False  # an error was reported below: do not cascade


@dataclasses.dataclass
class Compiled:
    """A rule's compilation: the error (None when it compiled), its max cost, and whether it reads oldSelf."""

    error: str | None
    max_cost: int
    uses_old_self: bool


class _Issue(Exception):
    pass


_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_MACRO_STEP = {"all": "_&&_", "exists": "_||_"}
# Functions of the Kubernetes CEL libraries and cel-go's extensions that this checker does not type: a rule
# using them is accepted with an unknown result type and a nominal cost rather than wrongly refused.
_LIBRARY_FUNCTIONS = frozenset(
    {"quantity", "isQuantity", "url", "isURL", "ip", "isIP", "cidr", "isCIDR", "semver", "isSemver"}
)
_LIBRARY_METHODS = frozenset(
    {
        "isSorted",
        "sum",
        "min",
        "max",
        "indexOf",
        "lastIndexOf",
        "find",
        "findAll",
        "getScheme",
        "getHost",
        "getHostname",
        "getPort",
        "getEscapedPath",
        "getQuery",
        "sign",
        "asInteger",
        "isInteger",
        "asApproximateFloat",
        "add",
        "sub",
        "isGreaterThan",
        "isLessThan",
        "compareTo",
        "family",
        "isUnspecified",
        "isLoopback",
        "isLinkLocalMulticast",
        "isLinkLocalUnicast",
        "isGlobalUnicast",
        "containsIP",
        "containsCIDR",
        "masked",
        "prefixLength",
        "isCanonical",
        "major",
        "minor",
        "patch",
        "charAt",
        "join",
        "split",
        "replace",
        "substring",
        "format",
        "reverse",
        "quote",
        "flatten",
        "slice",
        "sort",
        "sortBy",
        "distinct",
        "first",
        "last",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
        "getDayOfWeek",
        "getDayOfMonth",
        "getDayOfYear",
        "getMonth",
        "getFullYear",
        "getDate",
        "hasValue",
        "value",
        "orValue",
        "or",
        "ip",
        "string",
    }
)
_NAMESPACES = frozenset({"sets", "math", "strings", "base64", "optional", "lists"})
_TYPE_IDENTS = frozenset(
    {"bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type", "type"}
)
_CONVERSIONS: dict[str, tuple[frozenset[str], str]] = {
    "int": (frozenset({"int", "uint", "double", "string", "timestamp", "dyn"}), "int"),
    "uint": (frozenset({"int", "uint", "double", "string", "dyn"}), "uint"),
    "double": (frozenset({"int", "uint", "double", "string", "dyn"}), "double"),
    "string": (
        frozenset({"int", "uint", "double", "string", "bytes", "bool", "duration", "timestamp", "dyn"}),
        "string",
    ),
    "bytes": (frozenset({"bytes", "string", "dyn"}), "bytes"),
    "bool": (frozenset({"bool", "string", "dyn"}), "bool"),
    "duration": (frozenset({"string", "duration", "dyn"}), "duration"),
    "timestamp": (frozenset({"string", "int", "timestamp", "dyn"}), "timestamp"),
    "dyn": (frozenset(), "dyn"),
}
# Member functions on strings (cel-go standard library and the Kubernetes string extensions).
_STRING_METHODS: dict[str, tuple[tuple[str, ...], str]] = {
    "startsWith": (("string",), "bool"),
    "endsWith": (("string",), "bool"),
    "contains": (("string",), "bool"),
    "matches": (("string",), "bool"),
    "lowerAscii": ((), "string"),
    "upperAscii": ((), "string"),
    "trim": ((), "string"),
    "size": ((), "int"),
}


def _start(token: lark.Token) -> int:
    return token.start_pos or 0


def _end(token: lark.Token) -> int:
    return token.end_pos or 0


def _tokens(tree: Any) -> list[lark.Token]:
    if isinstance(tree, lark.Token):
        return [tree]
    return list(tree.scan_values(lambda value: isinstance(value, lark.Token)))


class _Checker:
    def __init__(self, source: str, root: CelType) -> None:
        self.source = source
        self.root = root
        self.issues: list[tuple[int, str]] = []  # (offset, message)
        self.scopes: list[dict[str, _Value]] = []
        self.uses_old_self = False

    # -------------------------------------------------------------- reporting

    def report(self, offset: int, message: str) -> None:
        self.issues.append((offset, message))

    def offset_after(self, tree: Any, text: str) -> int:
        """Where an operator token sits: cel-go locates a call at its operator or its opening parenthesis."""
        tokens = _tokens(tree)
        start = _end(tokens[-1]) if tokens else 0
        found = self.source.find(text, start)
        return found if found >= 0 else start

    def render(self) -> str:
        """cel-go Errors.ToDisplayString: every issue with its line, column and a caret under it."""
        parts = []
        for offset, message in sorted(self.issues, key=lambda issue: issue[0]):
            line_start = self.source.rfind("\n", 0, offset) + 1
            line_end = self.source.find("\n", offset)
            line_text = self.source[line_start : line_end if line_end >= 0 else len(self.source)]
            line = self.source.count("\n", 0, offset) + 1
            column = offset - line_start
            parts.append(f"ERROR: <input>:{line}:{column + 1}: {message}\n | {line_text}\n | {'.' * column}^")
        return "\n".join(parts)

    # -------------------------------------------------------------- sizes

    def size_of(self, value: _Value) -> int:
        """cel-go sizeEstimate: a computed size, the bound along the path, 1 for scalars, or unknown."""
        if value.size is not None:
            return value.size
        if value.path:
            node: CelType | None = self.root
            for name in value.path[1:]:
                if node is None:
                    break
                if name in ("@items", "@values"):
                    node = node.elem
                elif name == "@keys":
                    node = STRING if node.kind == "map" else None
                else:
                    node = node.fields.get(name)
            if node is not None:
                return node.max_elements
        if value.type.kind in _SCALARS:
            return 1
        return UNBOUNDED

    # -------------------------------------------------------------- expressions

    def check(self, tree: Any) -> _Value:
        handler: Callable[[Any], _Value] | None = getattr(self, f"_{tree.data}", None)
        if handler is None:
            if len(tree.children) == 1 and isinstance(tree.children[0], lark.Tree):
                return self.check(tree.children[0])
            raise _Issue(f"unsupported construct {tree.data}")
        return handler(tree)

    def _expr(self, tree: Any) -> _Value:
        if len(tree.children) == 1 or tree.children[1] is None:
            return self.check(tree.children[0])
        condition, if_true, if_false = (self.check(child) for child in tree.children)
        self.expect_bool(
            condition, self.offset_after(tree.children[0], "?"), "_?_:_", [condition, if_true, if_false]
        )
        result_type = if_true.type if if_true.type.kind == if_false.type.kind else DYN
        return _Value(result_type, _add(condition.cost, max(if_true.cost, if_false.cost)))

    def _logical(self, tree: Any, operator: str, name: str) -> _Value:
        if len(tree.children) == 1 or tree.children[0] is None:
            return self.check(tree.children[-1])
        left, right = self.check(tree.children[0]), self.check(tree.children[1])
        for operand in (left, right):
            if operand.type.kind not in ("bool", "dyn") and not operand.error:
                self.no_overload(self.offset_after(tree.children[0], operator), name, [left, right])
                break
        return _Value(BOOL, _add(left.cost, right.cost))

    def _conditionalor(self, tree: Any) -> _Value:
        return self._logical(tree, "||", "_||_")

    def _conditionaland(self, tree: Any) -> _Value:
        return self._logical(tree, "&&", "_&&_")

    def _relation(self, tree: Any) -> _Value:
        if len(tree.children) == 1:
            return self.check(tree.children[0])
        operator_tree, right_tree = tree.children
        if operator_tree is None:
            return self.check(right_tree)
        symbol = {
            "relation_lt": ("<", "_<_"),
            "relation_le": ("<=", "_<=_"),
            "relation_gt": (">", "_>_"),
            "relation_ge": (">=", "_>=_"),
            "relation_eq": ("==", "_==_"),
            "relation_ne": ("!=", "_!=_"),
            "relation_in": ("in", "@in"),
        }[operator_tree.data]
        left_tree = operator_tree.children[0]
        left, right = self.check(left_tree), self.check(right_tree)
        offset = self.offset_after(left_tree, symbol[0])
        args = _add(left.cost, right.cost)
        if symbol[0] == "in":
            if right.type.kind not in ("list", "map", "dyn") and not (left.error or right.error):
                self.no_overload(offset, symbol[1], [left, right])
            if right.type.kind == "list":
                return _Value(BOOL, _add(self.size_of(right), args))
            return _Value(BOOL, _add(1, args))
        if not self.comparable(left.type, right.type, equality=symbol[0] in ("==", "!=")):
            if not (left.error or right.error):
                self.no_overload(offset, symbol[1], [left, right])
            return _Value(BOOL, _add(1, args), error=True)
        if symbol[0] in ("==", "!=") or left.type.kind in ("string", "bytes"):
            smallest = min(self.size_of(left), self.size_of(right))
            return _Value(BOOL, _add(_factor(smallest, STRING_TRAVERSAL_COST_FACTOR), args))
        return _Value(BOOL, _add(1, args))

    @staticmethod
    def comparable(left: CelType, right: CelType, *, equality: bool) -> bool:
        if "dyn" in (left.kind, right.kind):
            return True
        if left.kind in _NUMBERS and right.kind in _NUMBERS:
            return True
        if equality and "null" in (left.kind, right.kind):
            return left.kind in ("null", "object", "map", "list", "dyn") or right.kind in ("null", "dyn")
        if left.kind != right.kind:
            return False
        if equality:
            return True
        return left.kind in ("string", "bytes", "bool", "duration", "timestamp")

    def _addition(self, tree: Any) -> _Value:
        return self._arithmetic(tree, {"addition_add": ("+", "_+_"), "addition_sub": ("-", "_-_")})

    def _multiplication(self, tree: Any) -> _Value:
        return self._arithmetic(
            tree,
            {
                "multiplication_mul": ("*", "_*_"),
                "multiplication_div": ("/", "_/_"),
                "multiplication_mod": ("%", "_%_"),
            },
        )

    def _arithmetic(self, tree: Any, operators: dict[str, tuple[str, str]]) -> _Value:
        if len(tree.children) == 1:
            return self.check(tree.children[0])
        operator_tree, right_tree = tree.children
        if operator_tree is None:
            return self.check(right_tree)
        symbol, name = operators[operator_tree.data]
        left_tree = operator_tree.children[0]
        left, right = self.check(left_tree), self.check(right_tree)
        args = _add(left.cost, right.cost)
        kinds = {left.type.kind, right.type.kind}
        if "dyn" in kinds:
            return _Value(DYN, _add(1, args))
        if left.type.kind == right.type.kind and left.type.kind in _NUMBERS:
            return _Value(left.type, _add(1, args))
        if symbol == "+" and left.type.kind == right.type.kind and left.type.kind in ("string", "bytes"):
            size = _add(self.size_of(left), self.size_of(right))
            return _Value(left.type, _add(_factor(size, STRING_TRAVERSAL_COST_FACTOR), args), size=size)
        if symbol == "+" and left.type.kind == right.type.kind == "list":
            size = _add(self.size_of(left), self.size_of(right))
            return _Value(left.type, _add(1, args), size=size)
        if kinds <= {"duration", "timestamp"} and symbol in ("+", "-"):
            result = CelType("duration" if left.type.kind == right.type.kind else "timestamp")
            return _Value(result, _add(1, args))
        if not (left.error or right.error):
            self.no_overload(self.offset_after(left_tree, symbol), name, [left, right])
        return _Value(DYN, _add(1, args), error=True)

    def _unary(self, tree: Any) -> _Value:
        if len(tree.children) == 1:
            return self.check(tree.children[0])
        operator, operand_tree = tree.children
        operand = self.check(operand_tree)
        offset = _start(_tokens(operand_tree)[0]) - 1 if _tokens(operand_tree) else 0
        if operator.data == "unary_not":
            if operand.type.kind not in ("bool", "dyn") and not operand.error:
                self.no_overload(max(offset, 0), "!_", [operand])
            return _Value(BOOL, _add(1, operand.cost))
        if operand.type.kind not in ("int", "double", "dyn", "duration") and not operand.error:
            self.no_overload(max(offset, 0), "-_", [operand])
        return _Value(operand.type, _add(1, operand.cost))

    def _member(self, tree: Any) -> _Value:
        return self.check(tree.children[0])

    def _primary(self, tree: Any) -> _Value:
        return self.check(tree.children[0])

    def _paren_expr(self, tree: Any) -> _Value:
        return self.check(tree.children[0])

    def _literal(self, tree: Any) -> _Value:
        token: lark.Token = tree.children[0]
        kinds = {
            "INT_LIT": "int",
            "UINT_LIT": "uint",
            "FLOAT_LIT": "double",
            "BOOL_LIT": "bool",
            "NULL_LIT": "null",
            "STRING_LIT": "string",
            "MLSTRING_LIT": "string",
            "BYTES_LIT": "bytes",
        }
        kind = kinds.get(token.type, "dyn")
        size = None
        if kind in ("string", "bytes"):
            text = str(token)
            text = text[1:] if kind == "bytes" else text
            text = text.lstrip("rR")
            quote = 3 if text[:3] in ('"""', "'''") else 1
            size = len(text[quote:-quote])
        return _Value(CelType(kind), 0, size=size)

    def _ident(self, tree: Any) -> _Value:
        token: lark.Token = tree.children[0]
        name = str(token)
        for scope in reversed(self.scopes):
            if name in scope:
                local = scope[name]
                return _Value(local.type, 1, path=local.path)
        if name in ("self", "oldSelf"):
            if name == "oldSelf":
                self.uses_old_self = True
            return _Value(self.root, 1, path=(name,))
        if name in _TYPE_IDENTS:
            return _Value(CelType("type"), 1)
        self.report(_start(token), f"undeclared reference to '{name}' (in container '')")
        return _Value(DYN, 1, error=True)

    def declared(self, name: str) -> bool:
        return name in ("self", "oldSelf") or any(name in scope for scope in self.scopes)

    def select(self, operand: _Value, field: lark.Token) -> _Value:
        offset = max(_start(field) - 1, 0)
        name = str(field)
        kind = operand.type.kind
        path = (*operand.path, name) if operand.path is not None else None
        if kind == "object":
            field_type = operand.type.fields.get(name)
            if field_type is None:
                self.report(offset, f"undefined field '{name}'")
                return _Value(DYN, operand.cost, error=True)
            return _Value(field_type, operand.cost, path=path)
        if kind == "map":
            return _Value(operand.type.elem or DYN, operand.cost, path=path)
        if kind == "dyn" or operand.error:
            return _Value(DYN, operand.cost, error=operand.error)
        self.report(offset, f"type '{operand.type.name()}' does not support field selection")
        return _Value(DYN, operand.cost, error=True)

    def _member_dot(self, tree: Any) -> _Value:
        operand_tree, field = tree.children
        operand = self.check(operand_tree)
        value = self.select(operand, field)
        if operand.type.kind in ("object", "map"):
            value.cost = _add(value.cost, 1)  # costSelect: one per field selected from a map or object
        return value

    def _member_index(self, tree: Any) -> _Value:
        operand_tree, index_tree = tree.children
        operand, index = self.check(operand_tree), self.check(index_tree)
        cost = _add(1, operand.cost, index.cost)
        kind = operand.type.kind
        if kind == "list" and index.type.kind in ("int", "uint", "dyn"):
            path = (*operand.path, "@items") if operand.path is not None else None
            return _Value(operand.type.elem or DYN, cost, path=path)
        if kind == "map" and index.type.kind in ("string", "dyn"):
            path = (*operand.path, "@values") if operand.path is not None else None
            return _Value(operand.type.elem or DYN, cost, path=path)
        if kind == "dyn" or operand.error or index.error:
            return _Value(DYN, cost, error=operand.error or index.error)
        self.no_overload(self.offset_after(operand_tree, "["), "_[_]", [operand, index])
        return _Value(DYN, cost, error=True)

    def _list_lit(self, tree: Any) -> _Value:
        elements = [self.check(child) for child in tree.children[0].children] if tree.children else []
        kinds = {element.type.kind for element in elements}
        elem = elements[0].type if len(kinds) == 1 else DYN
        cost = _add(_CREATE_LIST_BASE_COST, *(element.cost for element in elements))
        return _Value(CelType("list", elem=elem), cost, size=len(elements))

    def _map_lit(self, tree: Any) -> _Value:
        parts = [self.check(child) for child in tree.children[0].children] if tree.children else []
        values = parts[1::2]
        kinds = {value.type.kind for value in values}
        elem = values[0].type if len(kinds) == 1 else DYN
        cost = _add(_CREATE_MAP_BASE_COST, *(part.cost for part in parts))
        return _Value(CelType("map", elem=elem), cost, size=len(values))

    def _args(self, exprlist: Any) -> list[Any]:
        return list(exprlist.children) if exprlist is not None else []

    def _ident_arg(self, tree: Any) -> _Value:
        name_token, exprlist = (*tree.children, None)[:2]
        name = str(name_token)
        arg_trees = self._args(exprlist)
        offset = _end(name_token)
        if name == "has":
            return self.has(arg_trees, offset)
        args = [self.check(arg) for arg in arg_trees]
        arg_cost = _add(*(arg.cost for arg in args))
        if name == "size" and len(args) == 1:
            return self.size_call(args[0], offset, arg_cost, member=False)
        if name in _CONVERSIONS and len(args) == 1:
            accepted, result = _CONVERSIONS[name]
            if name != "dyn" and args[0].type.kind not in accepted | {result} and not args[0].error:
                self.no_overload(offset, name, args)
            result_type = args[0].type if name == "dyn" else CelType(result)
            return _Value(result_type, _add(1, arg_cost), path=args[0].path if name == "dyn" else None)
        if name == "type" and len(args) == 1:
            return _Value(CelType("type"), _add(1, arg_cost))
        if name in ("matches",) and len(args) == 2:
            return self.string_method(name, args[0], args[1:], offset, arg_cost)
        if name in _LIBRARY_FUNCTIONS:
            return _Value(DYN, _add(1, arg_cost))
        # cel-go locates a call at its opening parenthesis
        self.report(offset, f"undeclared reference to '{name}' (in container '')")
        return _Value(DYN, _add(1, arg_cost), error=True)

    def has(self, arg_trees: list[Any], offset: int) -> _Value:
        select_tree = _unwrap(arg_trees[0]) if len(arg_trees) == 1 else None
        if select_tree is None or select_tree.data != "member_dot":
            self.report(offset, "invalid argument to has() macro")
            return _Value(BOOL, 1, error=True)
        operand_tree, field = select_tree.children
        operand = self.check(operand_tree)
        value = self.select(operand, field)
        return _Value(BOOL, _add(1, operand.cost), error=value.error)

    def size_call(self, target: _Value, offset: int, arg_cost: int, *, member: bool) -> _Value:
        if target.type.kind not in ("string", "bytes", "list", "map", "dyn") and not target.error:
            self.no_overload(offset, "size", [target], member=member)
        return _Value(INT, _add(1, arg_cost))

    def _member_dot_arg(self, tree: Any) -> _Value:
        target_tree, name_token, exprlist = (*tree.children, None)[:3]
        name = str(name_token)
        arg_trees = self._args(exprlist)
        offset = _end(name_token)
        if name in _MACROS and arg_trees and _unwrap_ident(arg_trees[0]) is not None:
            return self.macro(name, target_tree, arg_trees, offset)
        namespace = _unwrap_ident(target_tree)
        if namespace is not None and str(namespace) in _NAMESPACES and not self.declared(str(namespace)):
            args = [self.check(arg) for arg in arg_trees]
            return _Value(DYN, _add(1, *(arg.cost for arg in args)))
        target = self.check(target_tree)
        args = [self.check(arg) for arg in arg_trees]
        arg_cost = _add(*(arg.cost for arg in args))
        if name == "size" and not args:
            value = self.size_call(target, offset, arg_cost, member=True)
            value.cost = _add(value.cost, target.cost)
            return value
        if target.type.kind in ("string", "dyn") and name in _STRING_METHODS:
            value = self.string_method(name, target, args, offset, arg_cost)
            value.cost = _add(value.cost, target.cost)
            return value
        if name in _LIBRARY_METHODS:
            return _Value(DYN, _add(1, target.cost, arg_cost))
        if name not in _STRING_METHODS and name not in _MACROS:
            self.report(offset, f"undeclared reference to '{name}' (in container '')")
        elif not target.error:
            self.no_overload(offset, name, args, member_of=target)
        return _Value(DYN, _add(1, target.cost, arg_cost), error=True)

    def string_method(
        self, name: str, target: _Value, args: list[_Value], offset: int, arg_cost: int
    ) -> _Value:
        parameters, result = _STRING_METHODS[name]
        if len(args) != len(parameters) or any(
            arg.type.kind not in (expected, "dyn") for arg, expected in zip(args, parameters, strict=False)
        ):
            if not any(arg.error for arg in args):
                self.no_overload(offset, name, args, member_of=target)
            return _Value(CelType(result), _add(1, arg_cost), error=True)
        target_size = self.size_of(target)
        if name in ("startsWith", "endsWith"):
            cost = _factor(self.size_of(args[0]), STRING_TRAVERSAL_COST_FACTOR)
        elif name == "contains":
            cost = _mul(
                _factor(target_size, STRING_TRAVERSAL_COST_FACTOR),
                _factor(self.size_of(args[0]), STRING_TRAVERSAL_COST_FACTOR),
            )
        elif name == "matches":
            cost = _mul(
                _factor(_add(target_size, 1), STRING_TRAVERSAL_COST_FACTOR),
                _factor(self.size_of(args[0]), REGEX_STRING_LENGTH_COST_FACTOR),
            )
        elif name in ("lowerAscii", "upperAscii", "trim"):
            cost = _factor(target_size, STRING_TRAVERSAL_COST_FACTOR)
        else:
            cost = 1
        size = target_size if result == "string" else None
        return _Value(CelType(result), _add(cost, arg_cost), size=size)

    def macro(self, name: str, target_tree: Any, arg_trees: list[Any], offset: int) -> _Value:
        """all/exists/exists_one/map/filter expand to comprehensions: cel-go's cost of the expansion."""
        target = self.check(target_tree)
        variable = _unwrap_ident(arg_trees[0])
        assert variable is not None
        kind = target.type.kind
        if kind == "list":
            item = _Value(target.type.elem or DYN, path=(*target.path, "@items") if target.path else None)
        elif kind == "map":
            item = _Value(STRING, path=(*target.path, "@keys") if target.path else None)
        else:
            if not target.error and kind != "dyn":
                self.report(
                    offset,
                    f"expression of type '{target.type.name()}' cannot be range of a comprehension "
                    "(must be list, map, or dynamic)",
                )
            item = _Value(DYN)
        expected_args = 3 if name in ("map",) and len(arg_trees) == 3 else 2
        if len(arg_trees) != expected_args:
            self.report(offset, f"no matching overload for '{name}'")
            return _Value(DYN, target.cost, error=True)
        self.scopes.append({str(variable): item})
        try:
            bodies = [self.check(body) for body in arg_trees[1:]]
        finally:
            self.scopes.pop()
        body = bodies[-1]
        predicate_cost = _add(*(part.cost for part in bodies))
        if name in ("all", "exists", "exists_one", "filter") or len(bodies) == 2:
            predicate = bodies[0]
            if predicate.type.kind not in ("bool", "dyn") and not predicate.error:
                self.report(
                    offset,
                    f"found no matching overload for '{_MACRO_STEP.get(name, '_?_:_')}' "
                    f"applied to '(bool, {predicate.type.name()})'",
                )
        range_count = self.size_of(target)
        # per item: loop condition + loop step; once: accumulator init and result (cel-go costComprehension)
        per_item, fixed = {
            "all": (_add(2, 1, predicate_cost), 1),
            "exists": (_add(3, 1, predicate_cost), 1),
            "exists_one": (_add(predicate_cost, 2), 2),
            "map": (_add(12, predicate_cost), _CREATE_LIST_BASE_COST + 1),
            "filter": (_add(predicate_cost, 13), _CREATE_LIST_BASE_COST + 1),
        }[name]
        cost = _add(target.cost, fixed, _mul(range_count, per_item))
        if name in ("map", "filter"):
            elem = body.type if name == "map" else item.type
            return _Value(CelType("list", elem=elem), cost, size=range_count)
        return _Value(BOOL, cost)

    def expect_bool(self, value: _Value, offset: int, name: str, args: list[_Value]) -> None:
        if value.type.kind not in ("bool", "dyn") and not value.error:
            self.no_overload(offset, name, args)

    def no_overload(
        self,
        offset: int,
        name: str,
        args: list[_Value],
        *,
        member: bool = False,
        member_of: _Value | None = None,
    ) -> None:
        names = ", ".join(arg.type.name() for arg in args)
        if member_of is not None:
            signature = f"{member_of.type.name()}.({names})"
        elif member:
            signature = f"{args[0].type.name()}.()"
        else:
            signature = f"({names})"
        self.report(offset, f"found no matching overload for '{name}' applied to '{signature}'")


def _unwrap(tree: Any) -> Any:
    """The single meaningful node under the grammar's chain of one-child precedence levels."""
    while isinstance(tree, lark.Tree) and tree.data in (
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
        "paren_expr",
    ):
        meaningful = [child for child in tree.children if child is not None]
        if len(meaningful) != 1 or not isinstance(meaningful[0], lark.Tree):
            return tree
        tree = meaningful[0]
    return tree


def _unwrap_ident(tree: Any) -> lark.Token | None:
    node = _unwrap(tree)
    if isinstance(node, lark.Tree) and node.data == "ident":
        token = node.children[0]
        return token if isinstance(token, lark.Token) else None
    return None


_ENVIRONMENT: list[celpy.Environment] = []


@functools.lru_cache(maxsize=1024)
def _parse(rule: str) -> Any:
    """The parse tree of a rule (read only): the same rules come back with every CRD update and install."""
    if not _ENVIRONMENT:
        # celpy.Environment() lowers the recursion limit the API server raised: keep the higher one.
        limit = sys.getrecursionlimit()
        _ENVIRONMENT.append(celpy.Environment())
        sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    return _ENVIRONMENT[0].compile(rule)


def _syntax_error(rule: str, error: CELParseError) -> str:
    context = error.__context__
    offset = 0
    if error.line is not None and error.column is not None:
        lines = rule.split("\n")
        offset = sum(len(line) + 1 for line in lines[: error.line - 1]) + max(error.column - 1, 0)
    if isinstance(context, lark.exceptions.UnexpectedCharacters):
        detail = f"Syntax error: token recognition error at: '{rule[offset : offset + 1]}'"
    elif isinstance(context, lark.exceptions.UnexpectedToken):
        token = context.token
        shown = "<EOF>" if token.type == "$END" else str(token)
        detail = f"Syntax error: mismatched input '{shown}'"
    else:
        detail = "Syntax error: " + str(error).splitlines()[0]
    checker = _Checker(rule, DYN)
    checker.report(min(offset, len(rule)), detail)
    return checker.render()


def compile_rule(rule: str, schema: Mapping[str, Any]) -> Compiled:
    """Parse and type-check a rule against the schema it sits on; estimate its worst-case cost (unscaled)."""
    root = decl_type(schema)
    try:
        tree = _parse(rule)
    except CELParseError as error:
        return Compiled(
            error=f"compilation failed: {_syntax_error(rule, error)}", max_cost=0, uses_old_self=False
        )
    checker = _Checker(rule, root or DYN)
    try:
        result = checker.check(tree)
    except _Issue:
        # a construct this checker does not model (message literals, leading-dot names): accept, as
        # documented, rather than refuse what a real server may accept
        return Compiled(None, 0, "oldSelf" in rule)
    if checker.issues:
        return Compiled(f"compilation failed: {checker.render()}", 0, checker.uses_old_self)
    if result.type.kind not in ("bool", "dyn"):
        return Compiled("cel expression must evaluate to a bool", 0, checker.uses_old_self)
    return Compiled(None, result.cost, checker.uses_old_self)
