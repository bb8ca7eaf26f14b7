"""CustomResourceDefinition objects: the checks and the status the real server gives them."""

from __future__ import annotations

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver._crd_checks import crd_spec_causes
from kubetask_local.apiserver._objects import Obj, object_meta, timestamp


def crd_with_status(crd: Obj) -> Obj:
    """Check a CRD as the real server does and give it the status it reports once names are accepted."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = object_meta(crd).get("name", "")
    causes = []
    for field in ("group", "names", "versions", "scope"):
        if not spec.get(field):
            causes.append((f"spec.{field}", "Required value"))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append((f"spec.names.{field}", "Required value"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if not causes and name != expected:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    causes.extend(crd_spec_causes(spec))
    if causes:
        raise errors.invalid(
            group="apiextensions.k8s.io", kind="CustomResourceDefinition", name=name, causes=causes
        )
    stamp = timestamp()
    accepted = {
        "plural": names["plural"],
        "singular": names.get("singular", names["kind"].lower()),
        "kind": names["kind"],
        "listKind": names.get("listKind", names["kind"] + "List"),
        **({"shortNames": names["shortNames"]} if names.get("shortNames") else {}),
        **({"categories": names["categories"]} if names.get("categories") else {}),
    }
    conditions = [
        {"type": kind, "status": "True", "lastTransitionTime": stamp, "reason": reason, "message": message}
        for kind, reason, message in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    stored = [version["name"] for version in spec.get("versions") or [] if version.get("storage")]
    return {**crd, "status": {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}}
