"""The scaler's backends: their dry runs print valid Kubernetes and Docker Engine API requests.

Kubernetes bodies are checked with ``kubernetes-validate`` (the API's own JSON schemas, strict: no unknown
fields). Docker bodies are checked against the Docker Engine API v1.41 schema (moby's swagger, the part
vendored in ``tests/data/scaling/docker_engine_api.json``), made strict the same way: ``allOf`` parts merged and
unknown fields refused.
"""

from __future__ import annotations

import copy
import json
import re
import socket
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from alice.errors import ScalingError
from orchestrator.scaling.apicall import REDACTED
from orchestrator.scaling.compose import (
    NUMBER_LABEL,
    DockerComposeScaler,
    Replica,
    container_name,
    create_request,
    free_numbers,
    service_replicas,
)
from orchestrator.scaling.kube import KubernetesScaler

DATA = Path(__file__).resolve().parents[1] / "data" / "scaling"
DOCKER_API = json.loads((DATA / "docker_engine_api.json").read_text())
INSPECT = json.loads((DATA / "docker_inspect_nlu.json").read_text())
K8S_VERSIONS = ("1.25", "1.30", "1.37")


def strict(node: Any, definitions: dict[str, Any]) -> Any:
    """``node`` with references inlined, ``allOf`` object parts merged, and objects closed to unknown fields."""
    if isinstance(node, list):
        return [strict(n, definitions) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return strict(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: strict(v, definitions) for name, v in value.items()}
        else:
            out[key] = strict(value, definitions)
    parts = out.pop("allOf", None)
    if parts:
        out.setdefault("type", "object")
        out["properties"] = {k: v for part in parts for k, v in part.get("properties", {}).items()} | out.get(
            "properties", {}
        )
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def docker_validator(request: str, closed: bool = True) -> jsonschema.Draft4Validator:
    schema = DOCKER_API["requests"][request]
    if closed:
        return jsonschema.Draft4Validator(strict(schema, DOCKER_API["definitions"]))
    return jsonschema.Draft4Validator({**schema, "definitions": DOCKER_API["definitions"]})


def nlu_replicas(inspect: list[dict[str, Any]] | None = None) -> list[Replica]:
    return service_replicas(inspect or INSPECT, "alice", "nlu")


# -- Kubernetes --------------------------------------------------------------------------------------------


def test_kubernetes_dry_run_prints_a_valid_scale_patch() -> None:
    scaler = KubernetesScaler.dry_run("alice")
    scaler.scale("alice-nlu", 5)
    [call] = scaler.calls
    assert (call.method, call.path) == ("PATCH", "/apis/apps/v1/namespaces/alice/deployments/alice-nlu/scale")
    assert call.content_type == "application/merge-patch+json" and dict(call.query) == {"fieldManager": "alice-scaler"}
    assert call.body == {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "alice-nlu", "namespace": "alice"},
        "spec": {"replicas": 5},
    }
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(call.body, version, strict=True)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", "alice-nlu")  # a DNS-1123 name, as the path needs


@pytest.mark.parametrize(
    "broken",
    [
        {"spec": {"replicas": "5"}},  # a string
        {"spec": {"replicas": 5, "replica": 5}},  # an unknown field (strict)
        {"metadata": {"name": 5}},
    ],
)
def test_kubernetes_validation_rejects_a_wrong_scale(broken: dict[str, Any]) -> None:
    scaler = KubernetesScaler.dry_run("alice")
    scaler.scale("alice-nlu", 5)
    body = copy.deepcopy(scaler.calls[0].body)
    for key, value in broken.items():
        body[key] = {**body[key], **value}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, "1.30", strict=True)


def test_kubernetes_without_a_cluster_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ScalingError, match="no Kubernetes cluster configured"):
        KubernetesScaler.connect("alice")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kubernetes_with_an_unreachable_cluster_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{_closed_port()}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    scaler = KubernetesScaler.connect("alice")
    with pytest.raises(ScalingError, match="cannot reach the Kubernetes API"):
        scaler.current("alice-nlu")


# -- Docker ------------------------------------------------------------------------------------------------


def test_docker_dry_run_up_prints_valid_engine_api_requests() -> None:
    scaler = DockerComposeScaler.dry_run()
    scaler.scale("alice", "nlu", nlu_replicas(), 3)
    calls = scaler.calls
    assert [(c.method, c.path) for c in calls] == [
        ("POST", "/v1.45/containers/create"),
        ("POST", "/v1.45/containers/ID-OF-alice-nlu-2/start"),
        ("POST", "/v1.45/containers/create"),
        ("POST", "/v1.45/containers/ID-OF-alice-nlu-3/start"),
    ]
    validator, loose = docker_validator("ContainerCreate"), docker_validator("ContainerCreate", closed=False)
    name = re.compile(DOCKER_API["requests"]["ContainerCreateName"]["pattern"])
    for number, create in ((2, calls[0]), (3, calls[2])):
        assert create.content_type == "application/json"
        assert name.match(dict(create.query)["name"]) and dict(create.query)["name"] == f"alice-nlu-{number}"
        validator.validate(create.body)
        loose.validate(create.body)
        labels = create.body["Labels"]
        assert labels[NUMBER_LABEL] == str(number) and labels["com.docker.compose.service"] == "nlu"
        assert create.body["Image"].startswith("sha256:")  # the replica's exact image
        assert "Hostname" not in create.body  # the daemon gives each container its own
        assert create.body["NetworkingConfig"] == {"EndpointsConfig": {"alice_default": {"Aliases": ["nlu"]}}}
        assert create.body["HostConfig"]["Mounts"][0]["Target"] == "/var/lib/alice"


def test_docker_dry_run_down_stops_and_removes_the_highest_numbers() -> None:
    three = [copy.deepcopy(INSPECT[0]) for _ in range(3)]
    for i, item in enumerate(three, start=1):
        item["Id"], item["Name"] = f"c{i}", f"/alice-nlu-{i}"
        item["Config"]["Labels"][NUMBER_LABEL] = str(i)
    scaler = DockerComposeScaler.dry_run()
    scaler.scale("alice", "nlu", nlu_replicas(three), 1)
    assert [(c.method, c.path) for c in scaler.calls] == [
        ("POST", "/v1.45/containers/c3/stop"),
        ("DELETE", "/v1.45/containers/c3"),
        ("POST", "/v1.45/containers/c2/stop"),
        ("DELETE", "/v1.45/containers/c2"),
    ]


def test_docker_connects_further_networks_with_a_valid_body() -> None:
    item = copy.deepcopy(INSPECT[0])
    item["NetworkSettings"]["Networks"]["alice_monitoring"] = {"Aliases": ["nlu"], "NetworkID": "n2"}
    scaler = DockerComposeScaler.dry_run()
    scaler.scale("alice", "nlu", nlu_replicas([item]), 2)
    connect = scaler.calls[1]
    assert (connect.method, connect.path) == ("POST", "/v1.45/networks/alice_monitoring/connect")
    docker_validator("NetworkConnect").validate(connect.body)
    assert connect.body["Container"] == "ID-OF-alice-nlu-2"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Env", "ALICE_LOG_FORMAT=json"),  # a string, not a list
        ("Lables", {"a": "b"}),  # an unknown field
        ("HostConfig", {"RestartPolicy": {"Name": "sometimes"}}),  # not one of the policies
        ("Healthcheck", {"Interval": "10s"}),  # nanoseconds, as an integer
        ("HostConfig", {"Memory": "1g"}),
    ],
)
def test_docker_validation_rejects_a_wrong_create_body(field: str, value: Any) -> None:
    body, _ = create_request(nlu_replicas()[0], "nlu", 2)
    body[field] = value
    with pytest.raises(jsonschema.ValidationError):
        docker_validator("ContainerCreate").validate(body)


def test_docker_numbers_fill_gaps_and_names_follow_the_template() -> None:
    assert free_numbers({1, 3}, 3) == [2, 4, 5]
    [replica] = nlu_replicas()
    assert container_name(replica, "alice", "nlu", 7) == "alice-nlu-7"
    old_style = Replica(replica.id, "alice_nlu_1", 1, replica.inspect)
    assert container_name(old_style, "alice", "nlu", 2) == "alice_nlu_2"
    assert service_replicas(INSPECT, "alice", "orchestrator") == []


def test_docker_refuses_fixed_host_ports_and_missing_replicas() -> None:
    item = copy.deepcopy(INSPECT[0])
    item["HostConfig"]["PortBindings"] = {"9002/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9002"}]}
    with pytest.raises(ScalingError, match="fixed host ports"):
        DockerComposeScaler.dry_run().scale("alice", "nlu", nlu_replicas([item]), 2)
    item["HostConfig"]["PortBindings"] = {"9002/tcp": [{"HostIp": "", "HostPort": ""}]}  # an ephemeral port: fine
    DockerComposeScaler.dry_run().scale("alice", "nlu", nlu_replicas([item]), 2)
    with pytest.raises(ScalingError, match="no container"):
        DockerComposeScaler.dry_run().scale("alice", "nlu", [], 2)


def test_printed_requests_hide_secret_values_only() -> None:
    scaler = DockerComposeScaler.dry_run()
    scaler.scale("alice", "nlu", nlu_replicas(), 2)
    env = scaler.calls[0].view()["body"]["Env"]
    assert f"ALICE_INTERNAL_SECRET={REDACTED}" in env and "ALICE_LOG_FORMAT=json" in env
    assert "ALICE_INTERNAL_SECRET=not-a-real-secret-0123456789" in scaler.calls[0].view(redact=False)["body"]["Env"]
    assert "ALICE_INTERNAL_SECRET=not-a-real-secret-0123456789" in scaler.calls[0].body["Env"]  # what is sent


def test_docker_without_a_daemon_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{_closed_port()}")
    with pytest.raises(ScalingError, match="no Docker daemon answers"):
        DockerComposeScaler.connect()
