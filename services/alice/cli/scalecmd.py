"""``alice scale``: carry out the Fibonacci scaler's recommendations on Kubernetes or Docker (or print how).

Recommendations come from a running mesh (``GET /api/scaling/recommendations`` through the guardian with an
admin key) or from a file holding that answer. Every service whose recommended count differs from its current
one (and whose confidence reaches ``--min-confidence``) is scaled:

- ``--backend kubernetes``: the Deployment ``alice-<service>`` (``--name`` to change) in ``--namespace``;
- ``--backend docker``: the compose service ``<service>`` (``--name``) of compose project ``--project``.

A dry run (the default) prints each API request the backend would send as one JSON line on stdout — method,
path, query, content type, body — and changes nothing. ``--apply`` sends them. Progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from alice.errors import ConfigError, ScalingError

RECOMMENDATIONS_PATH = "/api/scaling/recommendations"
BACKENDS = ("kubernetes", "docker")


def _say(msg: str) -> None:
    print(f"scale: {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Change:
    """One service to scale: from the recommendation."""

    service: str
    current: int
    replicas: int
    action: str
    confidence: float
    reason: str


def read_recommendations(
    source: Path | None, url: str, key: str | None, window_s: float | None = None
) -> list[dict[str, Any]]:
    """The ``services`` list of a recommendations answer, from ``source`` or from the mesh at ``url`` (measured
    over ``window_s``, default the scaler's window)."""
    if source is not None:
        try:
            data = json.loads(source.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read recommendations from {source}: {exc}") from None
    else:
        if not key:
            raise ConfigError("no API key: pass --key / ALICE_API_KEY (an admin key), or --from FILE")
        try:
            params = {"window_s": window_s} if window_s else None
            headers = {"Authorization": f"Bearer {key}"}
            response = httpx.get(url + RECOMMENDATIONS_PATH, params=params, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot reach Alice at {url}: {type(exc).__name__}. Is `alice up` running?") from None
        if response.status_code != 200:
            raise ConfigError(
                f"Alice answered {response.status_code} for {RECOMMENDATIONS_PATH}: {response.text[:300]}"
            )
        data = response.json()
    services = data.get("services") if isinstance(data, dict) else data
    if not isinstance(services, list) or not all(isinstance(s, dict) for s in services):
        raise ConfigError("recommendations must be the answer of /api/scaling/recommendations (a 'services' list)")
    return services


def changes(services: Iterable[dict[str, Any]], only: Sequence[str], min_confidence: float) -> list[Change]:
    """The recommendations that change a replica count, filtered by service and confidence."""
    out = []
    for item in services:
        try:
            change = Change(
                service=str(item["service"]),
                current=int(item["current"]),
                replicas=int(item["recommended"]),
                action=str(item.get("action", "")),
                confidence=float(item.get("confidence", 0.0)),
                reason=str(item.get("reason", "")),
            )
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"a recommendation lacks service/current/recommended: {item!r}"[:300]) from None
        if change.replicas < 0:
            raise ConfigError(f"{change.service}: a negative replica count ({change.replicas})")
        if only and change.service not in only:
            continue
        if change.replicas == change.current:
            _say(f"{change.service}: {change.current} replicas, nothing to change ({change.reason})")
            continue
        if change.confidence < min_confidence:
            _say(f"{change.service}: {change.current} → {change.replicas} skipped, confidence {change.confidence}")
            continue
        out.append(change)
    return out


def _why(change: Change) -> str:
    return f"{change.action}, confidence {change.confidence}: {change.reason}"


def parse_names(pairs: Sequence[str]) -> dict[str, str]:
    """``--name service=target`` pairs as a mapping."""
    out = {}
    for pair in pairs:
        service, sep, target = (s.strip() for s in pair.partition("="))
        if not sep or not service or not target:
            raise ConfigError(f"--name takes service=name, not {pair!r}")
        out[service] = target
    return out


def _kubernetes(todo: list[Change], names: dict[str, str], namespace: str, dry_run: bool) -> list[dict[str, Any]]:
    from orchestrator.scaling.kube import KubernetesScaler

    scaler = KubernetesScaler.dry_run(namespace) if dry_run else KubernetesScaler.connect(namespace)
    lines = []
    for change in todo:
        deployment = names.get(change.service, f"alice-{change.service}")
        now = scaler.current(deployment)
        if now == change.replicas:
            _say(f"{change.service}: deployment {namespace}/{deployment} already has {now}")
            continue
        before = len(scaler.calls)
        scaler.scale(deployment, change.replicas)
        was = now if now is not None else change.current
        _say(f"{change.service}: deployment {namespace}/{deployment} {was} → {change.replicas} ({_why(change)})")
        target = {"backend": "kubernetes", "service": change.service, "deployment": deployment}
        if dry_run:
            lines += [{**target, "replicas": change.replicas, **c.view()} for c in scaler.calls[before:]]
        else:
            lines.append({**target, "replicas": change.replicas, "applied": True})
    return lines


def _docker(
    todo: list[Change], names: dict[str, str], project: str, inspect: Path | None, dry_run: bool, redact: bool
) -> list[dict[str, Any]]:
    from orchestrator.scaling.compose import DockerComposeScaler, service_replicas

    if not dry_run and inspect is not None:
        raise ConfigError("--inspect is for dry runs; --apply reads the replicas from the daemon")
    inspected: list[dict[str, Any]] | None = None
    if inspect is not None:
        try:
            inspected = json.loads(inspect.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read docker inspect output from {inspect}: {exc}") from None
        if not isinstance(inspected, list):
            raise ConfigError(f"{inspect} must hold a JSON list, as `docker inspect` prints")
    daemon = None if inspected is not None else DockerComposeScaler.connect()

    def replicas_of(service: str) -> list[Any]:
        if daemon is not None:
            return daemon.replicas(project, service)
        return service_replicas(inspected or [], project, service)

    scaler = daemon if daemon is not None and not dry_run else DockerComposeScaler.dry_run()
    lines = []
    for change in todo:
        service = names.get(change.service, change.service)
        replicas = replicas_of(service)
        before = len(scaler.calls)
        scaler.scale(project, service, replicas, change.replicas)
        where = f"compose service {project}/{service}"
        _say(f"{change.service}: {where} {len(replicas)} → {change.replicas} ({_why(change)})")
        target = {"backend": "docker", "service": change.service, "compose_service": f"{project}/{service}"}
        if dry_run:
            lines += [{**target, "replicas": change.replicas, **c.view(redact)} for c in scaler.calls[before:]]
        else:
            lines.append({**target, "replicas": change.replicas, "applied": True})
    return lines


def run_scale(
    backend: str,
    todo: list[Change],
    *,
    dry_run: bool,
    names: dict[str, str],
    namespace: str,
    project: str,
    inspect: Path | None,
    redact: bool = True,
) -> list[dict[str, Any]]:
    """Scale every change on ``backend``; the JSON lines to print (dry run: one per API request)."""
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    try:
        if backend == "kubernetes":
            return _kubernetes(todo, names, namespace, dry_run)
        return _docker(todo, names, project, inspect, dry_run, redact)
    except ImportError as exc:
        raise ScalingError(
            f"the scaling backends need the 'scaling' extra: pip install 'alice[scaling]' ({exc})"
        ) from None
