"""Docker backend: a compose service's replicas as containers, through the Docker SDK (no ``docker compose``).

Compose knows a service's containers by three labels: ``com.docker.compose.project``, ``…service`` and
``…container-number``. Scaling does what ``docker compose up --scale`` does with them:

- up: for each missing number (the lowest free ones), ``POST /containers/create?name=<project>-<service>-<n>``
  with the configuration of an existing replica (the lowest-numbered: its image by ID, command, environment,
  labels with the new number, host config, and its first network with the service name as alias), then
  ``POST /networks/{id}/connect`` for any further network, then ``POST /containers/{id}/start``;
- down: the highest numbers first, ``POST /containers/{id}/stop`` (the container's own stop timeout) and
  ``DELETE /containers/{id}``.

A service that publishes a fixed host port cannot run twice on one host (compose refuses too): that is an error.

Dry run: the SDK builds every request and a stand-in transport adapter keeps it (answering as the Engine would),
so what is printed is exactly what would be sent. The replicas to copy come from the daemon, or, without one,
from ``docker inspect`` output saved to a file.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests
from docker.api.client import APIClient
from docker.errors import APIError, DockerException
from docker.utils import kwargs_from_env

from alice.errors import ScalingError
from orchestrator.scaling.apicall import ApiCall

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"
#: The API version a dry run writes in its paths (the SDK's default); applying negotiates with the daemon.
DRY_RUN_API_VERSION = "1.45"
#: What a new container must not inherit: set by the daemon per container, or tied to the replica copied.
_PER_CONTAINER = ("Hostname", "MacAddress")


@dataclass(frozen=True)
class Replica:
    """One container of a compose service."""

    id: str
    name: str
    number: int
    inspect: dict[str, Any]


def service_replicas(inspected: Iterable[dict[str, Any]], project: str, service: str) -> list[Replica]:
    """The containers of ``project``/``service`` among ``docker inspect`` objects, by container number."""
    out = []
    for item in inspected:
        labels = (item.get("Config") or {}).get("Labels") or {}
        if labels.get(PROJECT_LABEL) != project or labels.get(SERVICE_LABEL) != service:
            continue
        if labels.get(ONEOFF_LABEL, "False") == "True":
            continue  # `docker compose run` containers are not replicas
        try:
            number = int(labels.get(NUMBER_LABEL, ""))
        except ValueError:
            continue
        out.append(Replica(str(item["Id"]), str(item.get("Name", "")).lstrip("/"), number, item))
    return sorted(out, key=lambda r: r.number)


def _without_nulls(value: Any) -> Any:
    """``value`` without null members (the Engine reads a missing field and a null one alike)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


def _fixed_host_ports(host_config: dict[str, Any]) -> list[str]:
    bindings = host_config.get("PortBindings") or {}
    return sorted(
        f"{b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}->{port}"
        for port, binds in bindings.items()
        for b in binds or ()
        if str(b.get("HostPort") or "0") not in ("", "0")
    )


def container_name(template: Replica, project: str, service: str, number: int) -> str:
    """Compose's name for replica ``number``: the template's name with its number swapped (``alice-nlu-1`` →
    ``alice-nlu-2``; ``alice_nlu_1`` → ``alice_nlu_2``), else ``<project>-<service>-<number>``."""
    for sep in ("-", "_"):
        stem = f"{project}{sep}{service}{sep}"
        if template.name == f"{stem}{template.number}":
            return f"{stem}{number}"
    return f"{project}-{service}-{number}"


def free_numbers(taken: set[int], count: int) -> list[int]:
    """The ``count`` lowest container numbers (from 1) not in ``taken``."""
    return list(itertools.islice((n for n in itertools.count(1) if n not in taken), count))


def create_request(template: Replica, service: str, number: int) -> tuple[dict[str, Any], list[str]]:
    """The ``POST /containers/create`` body for replica ``number`` copied from ``template``, and the further
    networks to connect it to. :class:`ScalingError` when the service cannot run twice (fixed host ports)."""
    inspect = template.inspect
    # A struct field holding "" is unset in the Engine (Go's zero value; inspect shows it, e.g. Isolation ""):
    # leave those out, as the CLI would. Maps (labels, options) keep their empty values.
    config = {k: v for k, v in (inspect.get("Config") or {}).items() if k not in _PER_CONTAINER and v != ""}
    host_config = {k: v for k, v in (inspect.get("HostConfig") or {}).items() if v != ""}
    fixed = _fixed_host_ports(host_config)
    if fixed:
        ports = ", ".join(fixed)
        raise ScalingError(f"service {service!r} publishes fixed host ports ({ports}): two replicas cannot share them")
    config["Image"] = inspect.get("Image") or config.get("Image")  # the replica's exact image, by ID
    config["Labels"] = {**(config.get("Labels") or {}), NUMBER_LABEL: str(number)}
    networks = list(((inspect.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    body: dict[str, Any] = {**config, "HostConfig": host_config}
    if networks:
        body["NetworkingConfig"] = {"EndpointsConfig": {networks[0]: {"Aliases": [service]}}}
    return _without_nulls(body), networks[1:]


class _RecordingAdapter(requests.adapters.BaseAdapter):
    """A transport adapter that keeps each request and answers as the Engine would, without sending anything."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[ApiCall] = []

    def send(self, request: requests.PreparedRequest, *_args: Any, **_kwargs: Any) -> requests.Response:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        body = body if isinstance(body, str) else None  # the Engine API's bodies here are JSON text or nothing
        self.calls.append(ApiCall.from_wire(str(request.method), str(request.url), request.headers, body))
        response = requests.Response()
        response.request = request
        response.url = str(request.url)
        response.headers["Content-Type"] = "application/json"
        call = self.calls[-1]
        if call.method == "POST" and call.path.endswith("/containers/create"):
            # the daemon would answer with the new container's ID; a dry run names it after the container
            response.status_code = 201
            placeholder = "ID-OF-" + dict(call.query).get("name", f"container-{len(self.calls)}")
            response._content = json.dumps({"Id": placeholder, "Warnings": []}).encode()
        else:
            response.status_code = 204
            response._content = b""
        return response

    def close(self) -> None:
        """Nothing to close."""


class DockerComposeScaler:
    """Scales compose services through one Docker API client (see the module docstring)."""

    def __init__(self, api: APIClient, recorder: _RecordingAdapter | None = None) -> None:
        self.api = api
        self._recorder = recorder

    @classmethod
    def connect(cls, base_url: str | None = None) -> DockerComposeScaler:
        """A scaler on the daemon at ``base_url`` (default: ``DOCKER_HOST``, else the local socket)."""
        kwargs = kwargs_from_env()
        if base_url:
            kwargs["base_url"] = base_url
        try:
            return cls(APIClient(version="auto", **kwargs))
        except DockerException as exc:
            where = kwargs.get("base_url") or "unix:///var/run/docker.sock"
            raise ScalingError(f"no Docker daemon answers at {where} ({exc}); use --dry-run with --inspect") from None

    @classmethod
    def dry_run(cls, api_version: str = DRY_RUN_API_VERSION) -> DockerComposeScaler:
        """A scaler whose requests are recorded (:attr:`calls`), never sent; it reads nothing from a daemon."""
        api = APIClient(base_url="unix:///var/run/docker.sock", version=api_version)
        recorder = _RecordingAdapter()
        api.mount(api.base_url, recorder)
        return cls(api, recorder)

    @property
    def calls(self) -> list[ApiCall]:
        """The requests a dry run recorded."""
        return list(self._recorder.calls) if self._recorder else []

    def replicas(self, project: str, service: str) -> list[Replica]:
        """The service's containers, inspected, from the daemon."""
        labels = [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]
        try:
            listed = self.api.containers(all=True, filters={"label": labels})
            inspected = [self.api.inspect_container(c["Id"]) for c in listed]
        except (APIError, DockerException, requests.RequestException) as exc:
            raise ScalingError(f"Docker could not list {project}/{service}: {exc}") from None
        return service_replicas(inspected, project, service)

    def scale(self, project: str, service: str, replicas: list[Replica], target: int) -> None:
        """Create or remove containers until ``service`` has ``target`` replicas."""
        if not replicas:
            raise ScalingError(f"no container of compose service {project}/{service} to copy; start it first")
        try:
            if target > len(replicas):
                self._add(project, service, replicas, target - len(replicas))
            for replica in sorted(replicas, key=lambda r: -r.number)[: max(0, len(replicas) - target)]:
                self.api.stop(replica.id)
                self.api.remove_container(replica.id)
        except (APIError, DockerException, requests.RequestException) as exc:
            raise ScalingError(f"Docker refused scaling {project}/{service}: {exc}") from None

    def _add(self, project: str, service: str, replicas: list[Replica], count: int) -> None:
        template = replicas[0]
        for number in free_numbers({r.number for r in replicas}, count):
            body, more_networks = create_request(template, service, number)
            name = container_name(template, project, service, number)
            created = self.api.create_container_from_config(body, name)
            for network in more_networks:
                self.api.connect_container_to_network(created["Id"], network, aliases=[service])
            self.api.start(created["Id"])
