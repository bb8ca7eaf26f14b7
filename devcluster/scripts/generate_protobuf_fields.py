"""Generate ``kubetask_local/apiserver/_protobuf_fields.json``: protobuf field numbers of built-in kinds.

The local API server decodes protobuf bodies (what kubectl and other Go clients send) driven by the official
OpenAPI schemas for value types; what the schemas lack is each field's protobuf number, whether the Go field
is a pointer (a pointer keeps an explicit zero: ``enableServiceLinks: false``) and which fields are embedded
structs inlined into their parent in JSON (``Volume.VolumeSource``). All three are read here from the Go
types of k8s.io/api and k8s.io/apimachinery (their ``protobuf:"..."`` and ``json:"..."`` struct tags, from
which go-to-protobuf generates the generated.proto files).

Usage::

    python devcluster/scripts/generate_protobuf_fields.py API_CHECKOUT APIMACHINERY_CHECKOUT

where the checkouts are of github.com/kubernetes/api and github.com/kubernetes/apimachinery at the version
the local cluster reports. Only definitions the bundled OpenAPI schemas know are written.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from kubetask_local.apiserver._typed import definitions

OUTPUT = Path(__file__).resolve().parents[1] / "kubetask_local" / "apiserver" / "_protobuf_fields.json"
_STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
_FIELD = re.compile(r"^\t([\w.]+)(?:[ \t]+(\S+))?[ \t]+`([^`]*)`", re.MULTILINE)
_TAG = re.compile(r'(\w+):"([^"]*)"')


def struct_fields(source: str, prefix: str) -> dict[str, dict[str, list[str]]]:
    """Definition name -> protobuf number -> [json name ("" when inlined), flags]; flags holds ``*`` for a
    pointer and ``=<definition>`` for an inlined struct of the same package."""
    found: dict[str, dict[str, list[str]]] = {}
    for struct in _STRUCT.finditer(source):
        fields: dict[str, list[str]] = {}
        for field in _FIELD.finditer(struct.group(2)):
            name, go_type, tags = field.group(1), field.group(2), dict(_TAG.findall(field.group(3)))
            protobuf = tags.get("protobuf", "-").split(",")
            if len(protobuf) < 2:  # no protobuf field (or ``protobuf:"-"``)
                continue
            number = protobuf[1]
            json_name = tags.get("json", "").split(",")[0]
            if go_type is None:  # an embedded struct: inlined when its json name is empty
                if json_name:
                    fields[number] = [json_name, ""]
                else:
                    fields[number] = ["", "=" + prefix + name.rsplit(".", 1)[-1]]
                continue
            fields[number] = [json_name, "*" if go_type.startswith("*") else ""]
        if fields:
            found[prefix + struct.group(1)] = fields
    return found


def package_sources(root: Path) -> dict[str, str]:
    """Definition prefix (``io.k8s.api.core.v1.``) -> the Go source of that package's types."""
    sources: dict[str, str] = {}
    for go_file in sorted(root.rglob("*.go")):
        if go_file.name.endswith("_test.go") or go_file.name.startswith(("zz_generated", "generated")):
            continue
        relative = go_file.parent.relative_to(root)
        prefix = ".".join(relative.parts) + "."
        sources[prefix] = sources.get(prefix, "") + go_file.read_text() + "\n"
    return sources


def main(api_root: Path, apimachinery_root: Path) -> None:
    every: dict[str, dict[str, list[str]]] = {}
    for root, base in ((api_root, "io.k8s.api."), (apimachinery_root / "pkg", "io.k8s.apimachinery.pkg.")):
        for prefix, source in package_sources(root).items():
            every.update(struct_fields(source, base + prefix))
    # The schemas' definitions, and the embedded structs JSON inlines into them (``IngressRuleValue``), which
    # the schemas fold into their parents.
    inlined = {
        flags[1:] for fields in every.values() for _, flags in fields.values() if flags.startswith("=")
    }
    known = definitions()
    table = {name: fields for name, fields in every.items() if name in known or name in inlined}
    OUTPUT.write_text(json.dumps(table, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(table)} definitions written to {OUTPUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
