"""Turn KubeRay's CRD YAML into the JSON schemas `tests/test_deploy.py` validates against.

Run from the repository root with the CRD files of a KubeRay checkout:

    python tests/data/deploy/crd_to_jsonschema.py KUBERAY/ray-operator/config/crd/bases

A CRD carries an OpenAPI v3 schema, not a JSON schema: Kubernetes' extensions
(`x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, `nullable`) are
rewritten into plain JSON-schema terms. Objects with declared properties get
`additionalProperties: false`, as the API server's strict field validation does, so a
misspelt field fails here instead of being pruned silently on a cluster.
Descriptions are dropped to keep the vendored files small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

KINDS = {"ray.io_rayservices.yaml": "rayservice", "ray.io_rayjobs.yaml": "rayjob"}


def convert(node: Any) -> Any:
    """Rewrite one OpenAPI v3 schema node, recursively."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description" or key.startswith("x-kubernetes-"):
            continue
        if key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: convert(sub) for name, sub in value.items()}
        else:
            out[key] = convert(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in out
    ):
        out["additionalProperties"] = False
    return out


def schema_for(crd: dict[str, Any]) -> dict[str, Any]:
    """The served version's schema, with apiVersion and kind pinned."""
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    schema = convert(version["schema"]["openAPIV3Schema"])
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = f"{kind} {group}/{version['name']}"
    schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}},
    }
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return schema


def main(crd_dir: str) -> None:
    here = Path(__file__).parent
    for filename, stem in KINDS.items():
        crd = yaml.safe_load((Path(crd_dir) / filename).read_text())
        target = here / f"{stem}.schema.json"
        target.write_text(json.dumps(schema_for(crd), separators=(",", ":"), sort_keys=True))
        print(f"{target}: {target.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
