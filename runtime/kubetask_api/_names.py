"""The syntax Kubernetes requires of the names and values a TaskRun carries, checked before submitting.

Sources: k8s.io/apimachinery/pkg/util/validation (IsDNS1123Label, IsDNS1123Subdomain, IsQualifiedName,
IsValidLabelValue, IsEnvVarName) and k8s.io/apimachinery/pkg/api/resource (the quantity grammar).
"""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_NUMBER = r"(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
QUANTITY_PATTERN = rf"(\+|-)?{_NUMBER}(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?{_NUMBER}))?"
_QUANTITY = re.compile(QUANTITY_PATTERN)


def is_dns_label(text: object) -> bool:
    """A namespace or a label-like name: at most 63 lowercase letters, digits and '-'."""
    return isinstance(text, str) and len(text) <= 63 and _DNS_LABEL.fullmatch(text) is not None


def is_dns_subdomain(text: object) -> bool:
    """A TaskRun, Secret, ServiceAccount or PodTemplate name: dot-separated DNS labels, at most 253."""
    return isinstance(text, str) and len(text) <= 253 and _DNS_SUBDOMAIN.fullmatch(text) is not None


def is_label_key(text: object) -> bool:
    """``[prefix/]name``: a DNS subdomain prefix and a name of at most 63 characters."""
    if not isinstance(text, str):
        return False
    prefix, slash, name = text.rpartition("/")
    if slash and not is_dns_subdomain(prefix):
        return False
    return _LABEL_NAME.fullmatch(name) is not None


def is_label_value(text: object) -> bool:
    return isinstance(text, str) and (text == "" or _LABEL_NAME.fullmatch(text) is not None)


def is_env_name(text: object) -> bool:
    return isinstance(text, str) and _ENV_NAME.fullmatch(text) is not None


def is_quantity(value: object) -> bool:
    """A Kubernetes quantity (``500m``, ``4Gi``, ``2``), as a str or a number."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value >= 0 and value == value  # noqa: PLR0124 - NaN is not a quantity
    return isinstance(value, str) and _QUANTITY.fullmatch(value) is not None


def is_resource_name(text: object) -> bool:
    """``cpu``, ``memory``, ``ephemeral-storage`` or an extended resource (``nvidia.com/gpu``)."""
    return is_label_key(text)
