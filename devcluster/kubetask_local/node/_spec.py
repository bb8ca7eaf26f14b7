"""Pure reading of a pod spec as the kubelet and the scheduler would: image names, placement, quantities.

Nothing here does I/O; the node's workers call these functions and act on the answers.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubetask_local.node._errors import QuantityError

# The distribution/reference grammar that container runtimes use to parse image names (lower-case repository
# path components, optional registry host with port, optional tag, optional digest).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_IMAGE_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


def invalid_image_message(image: object) -> str | None:
    """The kubelet's InvalidImageName message for a malformed image reference, or None when it parses."""
    if isinstance(image, str) and len(image) <= 255 and _IMAGE_REFERENCE.match(image):
        return None
    return (
        f"Failed to apply default image tag {image!r}: couldn't parse image name {image!r}: "
        "invalid reference format"
    )


def image_repository(image: str) -> str:
    """The image name without tag or digest: ``reg:5000/a/b:1.0@sha256:..`` -> ``reg:5000/a/b``."""
    name = image.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > last_slash else name


def pull_fails(image: str, failing_images: Collection[str]) -> bool:
    """Whether the simulated registry refuses this image: listed by exact reference or by repository,
    or hosted on a registry under the reserved ``.invalid`` top-level domain (never resolvable, RFC 2606)."""
    repository = image_repository(image)
    host = repository.split("/", 1)[0] if "/" in repository else ""
    return (
        image in failing_images or repository in failing_images or host.split(":", 1)[0].endswith(".invalid")
    )


# ---------------------------------------------------------------- placement


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def as_dict(self) -> dict[str, str]:
        return (
            {"key": self.key, "value": self.value, "effect": self.effect}
            if self.value
            else {"key": self.key, "effect": self.effect}
        )


def unschedulable_message(
    pod: Mapping[str, Any], *, node_name: str, labels: Mapping[str, str], taints: Sequence[Taint]
) -> str | None:
    """The scheduler's FailedScheduling message when the one local node does not fit the pod, else None."""
    spec = pod.get("spec") or {}
    selector = spec.get("nodeSelector") or {}
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    selector_ok = all(labels.get(key) == value for key, value in selector.items())
    affinity_ok = affinity is None or _node_selector_matches(affinity, node_name=node_name, labels=labels)
    if not (selector_ok and affinity_ok):
        return "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
    tolerations = spec.get("tolerations") or []
    for taint in taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not any(
            _tolerates(toleration, taint) for toleration in tolerations
        ):
            shown = f"{taint.key}: {taint.value}" if taint.value else taint.key
            return f"0/1 nodes are available: 1 node(s) had untolerated taint {{{shown}}}."
    return None


# DefaultTolerationSeconds' 300 s: the toleration every pod gets for the not-ready and unreachable taints.
DEFAULT_TOLERATION_SECONDS = 300


def eviction_delay(
    pod: Mapping[str, Any], taints: Sequence[Taint], *, default_toleration: float
) -> float | None:
    """When the taint-eviction controller deletes the pod after NoExecute ``taints`` appear, in local
    seconds; None when it never does. As ``processPodOnNode`` and ``getMinTolerationTime`` of
    pkg/controller/tainteviction/taint_eviction.go: a taint no toleration matches evicts at once; otherwise
    the smallest ``tolerationSeconds`` of the matching tolerations (<= 0 is at once), and none set is never.
    The local clock is compressed: ``default_toleration`` local seconds stand for the default 300 s."""
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, Mapping)]
    used: list[Mapping[str, Any]] = []
    for taint in taints:
        if taint.effect != "NoExecute":
            continue
        matching = [toleration for toleration in tolerations if _tolerates(toleration, taint)]
        if not matching:
            return 0.0
        used.extend(matching)
    if not used:
        return 0.0
    seconds: list[int] = [t["tolerationSeconds"] for t in used if isinstance(t.get("tolerationSeconds"), int)]
    if not seconds:
        return None
    return max(min(seconds), 0) * default_toleration / DEFAULT_TOLERATION_SECONDS


def _tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key") or ""
    if (toleration.get("operator") or "Equal") == "Exists":
        return not key or key == taint.key
    return key == taint.key and (toleration.get("value") or "") == taint.value


def _node_selector_matches(selector: Mapping[str, Any], *, node_name: str, labels: Mapping[str, str]) -> bool:
    terms = selector.get("nodeSelectorTerms") or []
    for term in terms:
        expressions = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if not expressions and not fields:
            continue  # an empty term matches nothing, as in the scheduler
        if all(_requirement_matches(expr, labels) for expr in expressions) and all(
            _requirement_matches(field, {"metadata.name": node_name}) for field in fields
        ):
            return True
    return False


def _requirement_matches(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = requirement.get("key", "")
    operator = requirement.get("operator", "")
    values = [str(value) for value in requirement.get("values") or []]
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            label, bound = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return label > bound if operator == "Gt" else label < bound
    return False


# ---------------------------------------------------------------- quantities

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    suffix: decimal.Decimal(10) ** power
    for suffix, power in (
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("", 0),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    )
}
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)


def parse_quantity(value: object, *, field: str) -> decimal.Decimal:
    """A Kubernetes resource quantity (``"64Mi"``, ``"1.5G"``, ``"250m"``, ``"1e3"``, ``128``) as a number."""
    text = str(value).strip() if isinstance(value, (str, int, float)) else None
    match = _QUANTITY.match(text) if text is not None else None
    if match is None:
        raise QuantityError(
            f"{field}: {value!r} is not a Kubernetes quantity (expected e.g. '64Mi', '1G', '500m')"
        )
    number = decimal.Decimal(match.group(1))
    suffix = match.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return number * decimal.Decimal(10) ** int(suffix[1:])
    return number * _DECIMAL[suffix]


def memory_limit_bytes(container: Mapping[str, Any]) -> int | None:
    """The container's ``resources.limits.memory`` in bytes (rounded up), or None when it has no limit."""
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit is None:
        return None
    name = container.get("name", "?")
    quantity = parse_quantity(limit, field=f"containers[{name}].resources.limits.memory")
    return int(quantity.to_integral_value(rounding=decimal.ROUND_CEILING))


def qos_class(pod: Mapping[str, Any]) -> str:
    """The pod's QoS class as the kubelet computes it from requests and limits."""
    containers = list((pod.get("spec") or {}).get("containers") or [])
    resources = [container.get("resources") or {} for container in containers]
    if not any((res.get("requests") or res.get("limits")) for res in resources):
        return "BestEffort"
    for res in resources:
        limits = res.get("limits") or {}
        requests = {**limits, **(res.get("requests") or {})}
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name)) != str(limits[name]):
                return "Burstable"
    return "Guaranteed"
