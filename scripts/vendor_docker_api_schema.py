#!/usr/bin/env python3
"""Write the part of the Docker Engine API schema the scaler's Docker dry run is checked against.

The Docker Engine API is defined by moby's ``api/swagger.yaml`` (Apache-2.0). No PyPI package ships it; Debian's
``golang-github-docker-docker-dev`` does. This script fetches that package with apt (``apt-get download``, no
install), takes the request bodies ``alice scale --backend docker`` sends — ``POST /containers/create`` and
``POST /networks/{id}/connect`` — with every definition they reference, keeps only the validation keywords
(descriptions and examples dropped), and writes them as one JSON Schema document (draft 4, as Swagger 2.0 uses)::

    python scripts/vendor_docker_api_schema.py [--swagger PATH] [--out tests/data/scaling/docker_engine_api.json]

``--swagger`` reads an already extracted ``swagger.yaml`` instead of fetching the package.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

PACKAGE = "golang-github-docker-docker-dev"
SWAGGER_IN_PACKAGE = "./usr/share/gocode/src/github.com/docker/docker/api/swagger.yaml"
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "scaling" / "docker_engine_api.json"
KEEP = {
    "type", "format", "properties", "additionalProperties", "items", "enum", "required", "allOf", "$ref",
    "minimum", "maximum", "pattern", "minLength", "maxLength", "minItems", "maxItems",
}  # fmt: skip


def fetch_swagger(workdir: Path) -> tuple[Path, str]:
    """Download the Debian package (no install) and extract the swagger file; returns (path, package version)."""
    subprocess.run(["apt-get", "download", PACKAGE], cwd=workdir, check=True)
    deb = next(workdir.glob(f"{PACKAGE}_*.deb"))
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True)
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True)
    subprocess.run(["tar", "-x", SWAGGER_IN_PACKAGE], cwd=workdir, input=tar.stdout, check=True)
    return workdir / SWAGGER_IN_PACKAGE, version.stdout.strip()


def validation_only(node: Any) -> Any:
    """``node`` with only JSON Schema validation keywords (inside ``properties`` every name is kept)."""
    if isinstance(node, list):
        return [validation_only(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: validation_only(v) for name, v in value.items()}
        elif key in KEEP:
            out[key] = validation_only(value)
    return out


def references(node: Any) -> set[str]:
    """Names of the definitions ``node`` refers to (``#/definitions/<name>``)."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(references(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(references(v) for v in node))
    return set()


def body_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    params = spec["paths"][path]["post"]["parameters"]
    return next(p["schema"] for p in params if p.get("in") == "body")


def build(spec: dict[str, Any], source: str) -> dict[str, Any]:
    create = spec["paths"]["/containers/create"]["post"]["parameters"]
    name = next(p for p in create if p.get("name") == "name")
    requests = {
        "ContainerCreate": validation_only(body_schema(spec, "/containers/create")),
        "ContainerCreateName": {"type": "string", "pattern": name["pattern"]},
        "NetworkConnect": validation_only(body_schema(spec, "/networks/{id}/connect")),
    }
    needed: set[str] = set()
    todo = references(requests)
    while todo:
        name_ = todo.pop()
        if name_ not in needed:
            needed.add(name_)
            todo |= references(spec["definitions"][name_])
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$comment": (
            f"Docker Engine API v{spec['info']['version']}: the request bodies of POST /containers/create and "
            "POST /networks/{id}/connect with the definitions they use, validation keywords only. From moby's "
            f"api/swagger.yaml as shipped in Debian's {PACKAGE} {source}. Copyright 2012-2018 Docker, Inc.; "
            "Apache License 2.0 (DOCKER_API_LICENSE beside this file). Written by "
            "scripts/vendor_docker_api_schema.py; do not edit by hand."
        ),
        "api_version": spec["info"]["version"],
        "requests": requests,
        "definitions": {n: validation_only(spec["definitions"][n]) for n in sorted(needed)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swagger", type=Path, help="an extracted swagger.yaml (default: fetch the package)")
    parser.add_argument("--source", default="", help="the package version the --swagger file came from")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.swagger:
            swagger, source = args.swagger, args.source or "(version not given)"
        else:
            swagger, source = fetch_swagger(Path(tmp))
        spec = yaml.safe_load(swagger.read_text())
    args.out.write_text(json.dumps(build(spec, source), indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.out} (API v{spec['info']['version']}, {source})")


if __name__ == "__main__":
    main()
