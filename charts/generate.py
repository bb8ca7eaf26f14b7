"""Generate the chart's derived files: ``values.schema.json``, ``files/taskmap-crd.yaml`` and the plain
manifests in ``manifests/``.

Both are committed (users read and apply them without Python) and both are derived, so they are written by
this one script and ``tests/chart`` fails when the committed files drift from what it would write now:

    .venv/bin/python charts/generate.py           # rewrite both
    .venv/bin/python charts/generate.py --check   # exit 1 and name the stale files

The schema closes every object (``additionalProperties: false``), so a mistyped value fails at install.
Values that take Kubernetes types (affinity, tolerations, resources, env, securityContext) reuse the official
strict schemas bundled with ``kubernetes-validate``, rather than accepting any object.

The manifests are ``helm template`` of the chart with its default values, in the namespace ``kubetask``,
split into files applied in order by ``kubectl apply -f manifests/`` (and listed in
``manifests/Kustomization`` for ``kubectl apply -k manifests/``: that name has no .yaml suffix, so ``-f``
skips it, where a kustomization.yaml would make ``-f`` fail on a file that is not an API object).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "kubetask"
SCHEMA_PATH = CHART / "values.schema.json"
MANIFESTS = REPO / "manifests"

#: The Kubernetes version whose official schemas type the Kubernetes-shaped values (the newest we support).
SCHEMA_KUBERNETES_VERSION = "1.37.0"
#: Release name and namespace of the plain manifests.
MANIFEST_RELEASE = "kubetask"
MANIFEST_NAMESPACE = "kubetask"

JsonObject = dict[str, Any]


# ---------------------------------------------------------------- values.schema.json


def _closed(properties: Mapping[str, JsonObject], *, description: str = "") -> JsonObject:
    schema: JsonObject = {"type": "object", "additionalProperties": False, "properties": dict(properties)}
    if description:
        schema["description"] = description
    return schema


def _string(description: str, **extra: Any) -> JsonObject:
    return {"type": "string", "description": description, **extra}


def _k8s(definition: str, description: str) -> JsonObject:
    return {"description": description, "$ref": f"#/definitions/{definition}"}


def _string_map(description: str) -> JsonObject:
    return {"type": "object", "description": description, "additionalProperties": {"type": "string"}}


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
WHOLE_SECONDS = r"^([0-9]+(h|m|s))+$"
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SERVICE_ACCOUNT = rf"^({_LABEL}/)?{_LABEL}(\.{_LABEL})*$"
SECRET_DATA = {
    "type": "object",
    "description": "Environment variables of the created Secret.",
    "propertyNames": {"pattern": ENV_NAME},
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
#: The Pod Security Standards levels, as the operator's settings take them.
LEVELS = ("privileged", "baseline", "restricted")


def values_properties() -> JsonObject:
    """The schema of values.yaml, key by key (values.yaml documents the same keys in prose)."""
    probe_seconds = {"type": "integer", "minimum": 1}
    return {
        "nameOverride": _string("Replaces the chart name in object names."),
        "fullnameOverride": _string("Replaces the whole object name prefix."),
        "crds": _closed(
            {
                "enabled": {"type": "boolean", "description": "Install the TaskRun CRD from the chart."},
                "keep": {"type": "boolean", "description": "Keep the CRD on helm uninstall."},
                "takeOwnership": {"type": "boolean", "description": "Manage a CRD another owner applied."},
            }
        ),
        "image": _closed(
            {
                "repository": _string("Operator image repository.", minLength=1),
                "tag": _string("Image tag; empty means the chart's appVersion."),
                "digest": _string("Image digest; wins over the tag.", pattern=r"^(sha256:[a-f0-9]{64})?$"),
                "pullPolicy": _string("imagePullPolicy.", enum=["Always", "IfNotPresent", "Never"]),
            }
        ),
        "imagePullSecrets": {
            "type": "array",
            "description": "Secrets for pulling the operator image.",
            "items": _k8s("io.k8s.api.core.v1.LocalObjectReference", "A Secret name."),
        },
        # More than one needs leader election; the Deployment template refuses it otherwise, naming both.
        "replicas": {"type": "integer", "minimum": 0, "description": "Operator pods (0 pauses it)."},
        "leaderElection": _closed(
            {
                "enabled": {"type": "boolean", "description": "Elect one active operator by a Lease."},
                "leaseDuration": _string("Lease duration (whole seconds).", pattern=WHOLE_SECONDS),
                "renewDeadline": _string("Leader's renew deadline (duration).", pattern=DURATION),
                "retryPeriod": _string("Between tries (duration).", pattern=DURATION),
            }
        ),
        "serviceAccount": _closed(
            {
                "create": {"type": "boolean", "description": "Create the operator's ServiceAccount."},
                "name": _string("ServiceAccount name.", pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"),
                "annotations": _string_map("ServiceAccount annotations."),
            }
        ),
        "rbac": _closed(
            {
                "create": {"type": "boolean", "description": "Create the operator's RBAC objects."},
                "aggregateToDefaultRoles": {
                    "type": "boolean",
                    "description": "Add TaskRuns to the default admin, edit and view roles.",
                },
            }
        ),
        "watchNamespaces": {
            "type": "array",
            "description": "Namespaces to watch; empty means all, with a ClusterRole.",
            "items": {"type": "string", "pattern": DNS_LABEL, "maxLength": 63},
        },
        "operator": _closed(
            {
                "logLevel": _string("Log level.", enum=["debug", "info", "warning", "error"]),
                "logFormat": _string("Log format.", enum=["plain", "full", "json"]),
                "systemRetries": {"type": "integer", "minimum": 0, "description": "System retry budget."},
                "imagePullGracePeriod": _string("Image pull grace period (duration).", pattern=DURATION),
                "defaultTaskResources": _k8s(
                    "io.k8s.api.core.v1.ResourceRequirements", "Default task container resources."
                ),
                "defaultQueueMaxRunning": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "Per-namespace limit of running TaskRuns naming no queue (null: none).",
                },
                "inlineInputsMaxBytes": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 96 * 1024,
                    "description": "Largest inputs passed inline as a data: URI.",
                },
                "apiConcurrency": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1024,
                    "description": "Most API requests in flight.",
                },
                "livenessPort": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "Port."},
                "metricsPort": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 65535,
                    "description": "Metrics port; 0 is off.",
                },
                "bindAddress": _string(
                    "IP address the endpoints listen on.", anyOf=[{"format": "ipv4"}, {"format": "ipv6"}]
                ),
            }
        ),
        "taskPods": _closed(
            {
                "podSecurityLevel": _string("Pod Security Standards level of task pods.", enum=list(LEVELS)),
                "namespacePodSecurityLevels": {
                    "type": "object",
                    "description": "Levels for some namespaces (namespace: level).",
                    "propertyNames": {"pattern": DNS_LABEL, "maxLength": 63},
                    "additionalProperties": {"type": "string", "enum": list(LEVELS)},
                },
                "serviceAccounts": {
                    "type": "array",
                    "description": "ServiceAccounts TaskRuns may name: name or namespace/name.",
                    "items": {"type": "string", "pattern": SERVICE_ACCOUNT},
                },
            }
        ),
        "storage": _closed(
            {
                "prefix": _string("Default output URI prefix.", pattern=r"^([a-z][a-z0-9+.-]*://.+)?$"),
                "confinement": _string("Confine TaskRuns' storage URIs.", enum=["namespace", "none"]),
                "credentials": _closed(
                    {
                        "secretName": _string("Secret task pods get as env.", pattern=r"^([-a-z0-9.]*)$"),
                        "create": {"type": "boolean", "description": "Create that Secret from data."},
                        "data": SECRET_DATA,
                        "perNamespace": {
                            "type": "object",
                            "description": "Each namespace's own Secret variables.",
                            "propertyNames": {"pattern": DNS_LABEL, "maxLength": 63},
                            "additionalProperties": SECRET_DATA,
                        },
                    }
                ),
            }
        ),
        "extraEnv": {
            "type": "array",
            "description": "Extra operator environment variables.",
            "items": _k8s("io.k8s.api.core.v1.EnvVar", "An environment variable."),
        },
        "podAnnotations": _string_map("Operator pod annotations."),
        "podLabels": _string_map("Operator pod labels."),
        "podSecurityContext": _k8s("io.k8s.api.core.v1.PodSecurityContext", "Pod securityContext."),
        "securityContext": _k8s("io.k8s.api.core.v1.SecurityContext", "Container securityContext."),
        "resources": _k8s("io.k8s.api.core.v1.ResourceRequirements", "Operator container resources."),
        "livenessProbe": _closed(
            {
                "initialDelaySeconds": {"type": "integer", "minimum": 0, "description": "First probe delay."},
                "periodSeconds": {**probe_seconds, "description": "Seconds between probes."},
                "timeoutSeconds": {**probe_seconds, "description": "Probe timeout."},
                "failureThreshold": {**probe_seconds, "description": "Failures before restart."},
            }
        ),
        "nodeSelector": _string_map("Node labels the operator pods must match."),
        "tolerations": {
            "type": "array",
            "description": "Operator pod tolerations.",
            "items": _k8s("io.k8s.api.core.v1.Toleration", "A toleration."),
        },
        "affinity": _k8s("io.k8s.api.core.v1.Affinity", "Operator pod affinity."),
        "priorityClassName": _string("Operator pod PriorityClass."),
        "test": _closed(
            {
                "enabled": {"type": "boolean", "description": "Ship the helm test hook."},
                "timeoutSeconds": {"type": "integer", "minimum": 10, "description": "Test timeout."},
            }
        ),
    }


def _kubernetes_definitions() -> JsonObject:
    folder = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{SCHEMA_KUBERNETES_VERSION}-local-strict"
    )
    document: JsonObject = json.loads((folder / "_definitions.json").read_text())
    definitions: JsonObject = document["$defs"]
    return definitions


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _trimmed(node: Any) -> Any:
    """Drop prose and Kubernetes extensions, and point refs at this document's ``definitions``."""
    if isinstance(node, dict):
        trimmed: JsonObject = {}
        for key, value in node.items():
            if key == "description" or key.startswith("x-kubernetes-"):
                continue
            if key == "$ref":
                trimmed[key] = "#/definitions/" + value.rsplit("/", 1)[-1]
            else:
                trimmed[key] = _trimmed(value)
        return trimmed
    if isinstance(node, list):
        return [_trimmed(item) for item in node]
    return node


def values_schema() -> JsonObject:
    """The whole values.schema.json document (draft-07, understood by Helm 3 and Helm 4)."""
    properties = values_properties()
    available = _kubernetes_definitions()
    needed: dict[str, JsonObject] = {}
    pending = sorted(set(_refs(properties)))
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed[name] = _trimmed(available[name])
        pending.extend(ref for ref in _refs(available[name]) if ref not in needed)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Values of the kubetask chart",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "definitions": dict(sorted(needed.items())),
    }


def render_schema() -> str:
    return json.dumps(values_schema(), indent=2, sort_keys=False) + "\n"


# ---------------------------------------------------------------- files/taskmap-crd.yaml

TASKRUN_CRD_PATH = CHART / "files" / "taskrun-crd.yaml"
TASKMAP_CRD_PATH = CHART / "files" / "taskmap-crd.yaml"

#: TaskRun spec fields a TaskMap does not pass to its items as they are: the map has its own.
_MAP_OWN_FIELDS = ("inputs", "inputsFrom", "cancelled", "ttlSecondsAfterFinished")


def _immutable(field: str, schema: JsonObject) -> JsonObject:
    rule = {"rule": "self == oldSelf", "message": f"spec.{field} is immutable"}
    return {**schema, "x-kubernetes-validations": [*schema.get("x-kubernetes-validations", []), rule]}


def taskmap_crd(taskrun_crd: Mapping[str, Any]) -> JsonObject:
    """The TaskMap CRD, built from the TaskRun CRD: every TaskRun spec field (but its inputs, cancel and TTL)
    is the template of the items with the TaskRun's own schema and rules, so a field added to TaskRuns is a
    field of maps at the next ``charts/generate.py``; the map adds its items, shared inputs and limits."""
    version = taskrun_crd["spec"]["versions"][0]
    taskrun_spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    template = {
        name: schema for name, schema in taskrun_spec["properties"].items() if name not in _MAP_OWN_FIELDS
    }
    own: JsonObject = {
        "items": _immutable(
            "items",
            {
                "type": "array",
                "description": "The items' inputs, one object of JSON values by parameter name per item "
                "(item i is the TaskRun <map>-<i>). Exactly one of items and itemsFrom.",
                "maxItems": 100000,
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        ),
        "itemsFrom": _immutable(
            "itemsFrom",
            {
                **taskrun_spec["properties"]["inputsFrom"],
                "description": "URI of a JSON-lines document, one inputs object per line, for lists too "
                "large for an object (s3://, gs://, file://, data:, ...).",
                "x-kubernetes-validations": [],
            },
        ),
        "inputs": _immutable(
            "inputs",
            {
                "type": "object",
                "description": "Inputs shared by every item; an item's own value for a name wins.",
                "x-kubernetes-preserve-unknown-fields": True,
            },
        ),
        "parallelism": {
            "type": "integer",
            "description": "The most items unfinished at once (may be changed while the map runs).",
            "minimum": 1,
            "maximum": 10000,
            "default": 10,
        },
        "maxFailedItems": _immutable(
            "maxFailedItems",
            {
                "type": "integer",
                "description": "The map succeeds when at most this many items failed (status.failedItems "
                "names them); past it the map fails and starts no new item, letting running ones finish.",
                "minimum": 0,
                "default": 0,
            },
        ),
        "cancelled": {
            "type": "boolean",
            "description": "Set to true to stop the map: no new item starts, unfinished items are cancelled.",
            "default": False,
        },
        "ttlSecondsAfterFinished": _immutable(
            "ttlSecondsAfterFinished",
            {
                "type": "integer",
                "description": "Delete the TaskMap (and its items) this long after it finished.",
                "minimum": 0,
                "maximum": 31536000,
            },
        ),
    }
    fields = sorted(name for name in {**template, **own} if name not in ("cancelled", "parallelism"))
    presence = ", ".join(f"has(self.{name})" for name in fields)
    spec: JsonObject = {
        "type": "object",
        "description": "What each item runs (a TaskRun's fields) and over which inputs. Immutable after "
        "creation, except `cancelled` and `parallelism`.",
        "required": ["image"],
        "x-kubernetes-validations": [
            *(
                rule
                for rule in taskrun_spec.get("x-kubernetes-validations", [])
                if "inputsFrom" not in rule["rule"] and "oldSelf" not in rule["rule"]
            ),
            {
                "rule": "has(self.items) != has(self.itemsFrom)",
                "message": "exactly one of spec.items and spec.itemsFrom must be set",
            },
            {
                "rule": f"[{presence}] == [{presence.replace('self.', 'oldSelf.')}]",
                "message": "spec is immutable after creation: fields cannot be added or removed "
                "(only spec.cancelled and spec.parallelism may change)",
            },
            {
                "rule": "!has(oldSelf.cancelled) || !oldSelf.cancelled "
                "|| (has(self.cancelled) && self.cancelled)",
                "message": "spec.cancelled cannot be undone once true",
            },
        ],
        "properties": {**template, **own},
    }
    count = {"type": "integer", "minimum": 0}
    status: JsonObject = {
        "type": "object",
        "properties": {
            "phase": {"type": "string", "enum": ["Pending", "Running", "Succeeded", "Failed", "Cancelled"]},
            "observedGeneration": {"type": "integer", "format": "int64"},
            "total": {**count, "description": "Items in the map."},
            "pending": {**count, "description": "Items not started yet (including those not created)."},
            "running": {**count, "description": "Items whose TaskRun is Running or Retrying."},
            "succeeded": count,
            "failed": count,
            "cancelled": count,
            "cached": {**count, "description": "Items that reused a cached run's outputs."},
            "progress": {"type": "string", "description": "Finished items of all: done/total."},
            "failedItems": {"type": "string", "description": 'Indexes of failed items, as "3,7-9".'},
            "startTime": {"type": "string", "format": "date-time"},
            "completionTime": {"type": "string", "format": "date-time"},
            "conditions": version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"][
                "conditions"
            ],
            "outputs": {
                "type": "array",
                "description": "Small maps only: one entry per item, in item order (as in outputsUri).",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "outputsUri": {
                "type": "string",
                "description": "The JSON-lines document of every item's result.",
            },
            "outputsMessage": {"type": "string", "description": "Why the outputs were not collected."},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "taskmaps.kubetask.dev",
            "labels": dict(taskrun_crd["metadata"].get("labels") or {}),
        },
        "spec": {
            "group": taskrun_crd["spec"]["group"],
            "scope": "Namespaced",
            "names": {
                "kind": "TaskMap",
                "listKind": "TaskMapList",
                "plural": "taskmaps",
                "singular": "taskmap",
                "shortNames": ["ktm"],
                "categories": list(taskrun_crd["spec"]["names"].get("categories") or []),
            },
            "versions": [
                {
                    "name": version["name"],
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Done", "type": "string", "jsonPath": ".status.progress"},
                        {"name": "Failed", "type": "integer", "jsonPath": ".status.failed"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                        {
                            "name": "Failed-Items",
                            "type": "string",
                            "jsonPath": ".status.failedItems",
                            "priority": 1,
                        },
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A task run over many inputs: one TaskRun per item, at most "
                            "`parallelism` unfinished at once.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def render_taskmap_crd() -> str:
    crd = taskmap_crd(yaml.safe_load(TASKRUN_CRD_PATH.read_text()))
    header = (
        "# The TaskMap custom resource. Generated by charts/generate.py from taskrun-crd.yaml (the items'\n"
        "# template fields are the TaskRun's, with their rules): do not edit by hand.\n"
    )
    return header + yaml.safe_dump(crd, sort_keys=False, width=110)


# ---------------------------------------------------------------- manifests/


def helm_binary() -> str:
    """helm from PATH, else the one .ci/install-helm put beside this interpreter."""
    beside = Path(sys.executable).parent / "helm"
    found = shutil.which("helm") or (str(beside) if beside.exists() else None)
    if found is None:
        raise SystemExit("helm not found on PATH nor beside Python: run `bash .ci/install-helm .venv/bin`")
    return found


def helm_template(*, helm: str, args: Iterable[str] = (), namespace: str = MANIFEST_NAMESPACE) -> str:
    env = {**os.environ, "HELM_NAMESPACE": namespace}
    completed = subprocess.run(
        [helm, "template", MANIFEST_RELEASE, str(CHART), "--namespace", namespace, *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"helm template failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout


#: Which file of manifests/ each kind goes to; files apply in name order, so the CRD and RBAC come first.
MANIFEST_FILES = {
    "Namespace": "00-namespace.yaml",
    "CustomResourceDefinition": "01-crd.yaml",
    "ServiceAccount": "02-rbac.yaml",
    "ClusterRole": "02-rbac.yaml",
    "ClusterRoleBinding": "02-rbac.yaml",
    "Role": "02-rbac.yaml",
    "RoleBinding": "02-rbac.yaml",
    "Deployment": "03-operator.yaml",
}

_HELM_ONLY_LABELS = ("helm.sh/chart",)
_HELM_ONLY_ANNOTATIONS = ("helm.sh/resource-policy",)


def _as_plain_manifest(document: JsonObject) -> JsonObject:
    """Say kubectl manages it, and drop what only means something to Helm."""

    def clean(metadata: JsonObject) -> None:
        labels = metadata.get("labels") or {}
        for label in _HELM_ONLY_LABELS:
            labels.pop(label, None)
        if "app.kubernetes.io/managed-by" in labels:
            labels["app.kubernetes.io/managed-by"] = "kubectl"
        annotations = metadata.get("annotations")
        if annotations is not None:
            for annotation in _HELM_ONLY_ANNOTATIONS:
                annotations.pop(annotation, None)
            if not annotations:
                del metadata["annotations"]

    clean(document["metadata"])
    template = document.get("spec", {}).get("template", {})
    if isinstance(template, dict) and "metadata" in template:
        clean(template["metadata"])
    return document


def render_manifests(*, helm: str) -> dict[str, str]:
    """File name -> content of every file in manifests/."""
    rendered = helm_template(helm=helm, args=["--skip-tests"])
    namespace: JsonObject = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": MANIFEST_NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": "kubetask",
                "app.kubernetes.io/part-of": "kubetask",
                "app.kubernetes.io/managed-by": "kubectl",
                # The operator's pods meet the restricted Pod Security Standard; enforce it.
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        },
    }
    documents = [namespace] + [
        _as_plain_manifest(document) for document in yaml.safe_load_all(rendered) if document
    ]
    by_file: dict[str, list[JsonObject]] = {}
    for document in documents:
        kind = document["kind"]
        if kind not in MANIFEST_FILES:
            raise RuntimeError(f"no manifests/ file for kind {kind!r}: add it to MANIFEST_FILES")
        by_file.setdefault(MANIFEST_FILES[kind], []).append(document)
    header = (
        "# Generated by charts/generate.py from the Helm chart's default values: do not edit by hand.\n"
        "# Apply all with: kubectl apply -f manifests/  (or -k manifests/)\n"
    )
    files = {
        name: header + yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True, width=110)
        for name, docs in sorted(by_file.items())
    }
    files["Kustomization"] = (
        "# Generated by charts/generate.py: `kubectl apply -k manifests/` applies the same objects as -f.\n"
        + yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": sorted(name for name in files),
            },
            sort_keys=False,
        )
    )
    return files


# ---------------------------------------------------------------- entry point


def expected_files(*, helm: str) -> dict[Path, str]:
    files = {SCHEMA_PATH: render_schema(), TASKMAP_CRD_PATH: render_taskmap_crd()}
    files.update({MANIFESTS / name: text for name, text in render_manifests(helm=helm).items()})
    return files


def stale_files(expected: Mapping[Path, str]) -> list[Path]:
    """Files whose content differs from what the generator writes, plus stray files in manifests/."""
    stale = [path for path, text in expected.items() if not path.exists() or path.read_text() != text]
    if MANIFESTS.exists():
        stale.extend(p for p in sorted(MANIFESTS.iterdir()) if p.is_file() and p not in expected)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale files instead of writing them")
    args = parser.parse_args(argv)
    helm = helm_binary()
    # The schema must be written first: helm template validates the values against it.
    if not args.check:
        SCHEMA_PATH.write_text(render_schema())
        TASKMAP_CRD_PATH.write_text(render_taskmap_crd())
    expected = expected_files(helm=helm)
    stale = stale_files(expected)
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(REPO)}", file=sys.stderr)
        if stale:
            print("run: .venv/bin/python charts/generate.py", file=sys.stderr)
        return 1 if stale else 0
    MANIFESTS.mkdir(exist_ok=True)
    for path in stale:
        if path in expected:
            path.write_text(expected[path])
        else:
            path.unlink()
        print(f"wrote: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
