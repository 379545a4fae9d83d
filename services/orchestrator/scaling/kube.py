"""Kubernetes backend: a Deployment's replicas through its scale subresource, with the official client.

Applying: read ``GET …/deployments/{name}/scale``; when its ``spec.replicas`` differs from the target, send
``PATCH /apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale`` with an ``autoscaling/v1`` ``Scale`` as a
JSON merge patch (what ``kubectl scale`` changes), field manager ``alice-scaler``. The cluster comes from the
kubeconfig (``KUBECONFIG``, ``~/.kube/config``) or, inside a pod, the service account.

Dry run: the same client call builds the request, and a stand-in for its connection pool keeps it instead of
sending it, so what is printed is byte for byte what would go out (minus the credentials). It needs no cluster:
the current count is the recommendation's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from alice.errors import ScalingError
from orchestrator.scaling.apicall import ApiCall

T = TypeVar("T")

FIELD_MANAGER = "alice-scaler"
MERGE_PATCH = "application/merge-patch+json"
#: Where a dry run pretends the API server is (never contacted).
DRY_RUN_HOST = "https://kubernetes.default.svc"


def scale_object(name: str, namespace: str, replicas: int) -> k8s.V1Scale:
    """The ``autoscaling/v1`` ``Scale`` that sets ``replicas``."""
    return k8s.V1Scale(
        api_version="autoscaling/v1",
        kind="Scale",
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
        spec=k8s.V1ScaleSpec(replicas=replicas),
    )


class _NotSent(Exception):
    """Raised by the recorder in place of sending."""


class _RecordingPool:
    """Stands in for the client's urllib3 pool manager: keeps each request instead of sending it."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **_kw: Any) -> Any:
        self.calls.append(ApiCall.from_wire(method, url, headers, body))
        raise _NotSent

    def clear(self) -> None:
        """Called when the client closes."""


class KubernetesScaler:
    """Scales Deployments in one namespace (see the module docstring)."""

    def __init__(self, api_client: k8s.ApiClient, namespace: str, recorder: _RecordingPool | None = None) -> None:
        self.api_client = api_client
        self.apps = k8s.AppsV1Api(api_client)
        self.namespace = namespace
        self._recorder = recorder

    @classmethod
    def connect(cls, namespace: str, context: str | None = None) -> KubernetesScaler:
        """A scaler on the configured cluster; :class:`ScalingError` when none is configured."""
        try:
            # KUBECONFIG read now (the client reads it once, at import)
            k8s_config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), context=context)
        except (ConfigException, OSError, TypeError) as kube_error:
            try:
                k8s_config.load_incluster_config()
            except ConfigException:
                raise ScalingError(
                    f"no Kubernetes cluster configured (kubeconfig: {kube_error}; not inside a pod either); "
                    "set KUBECONFIG, or use --dry-run"
                ) from None
        return cls(k8s.ApiClient(), namespace)

    @classmethod
    def dry_run(cls, namespace: str) -> KubernetesScaler:
        """A scaler whose requests are recorded (:attr:`calls`), never sent."""
        configuration = k8s.Configuration(host=DRY_RUN_HOST)
        api_client = k8s.ApiClient(configuration)
        recorder = _RecordingPool()
        api_client.rest_client.pool_manager = recorder  # type: ignore[assignment]
        return cls(api_client, namespace, recorder)

    @property
    def calls(self) -> list[ApiCall]:
        """The requests a dry run recorded."""
        return list(self._recorder.calls) if self._recorder else []

    def current(self, deployment: str) -> int | None:
        """The Deployment's desired replicas now (None in a dry run, which reads nothing)."""
        if self._recorder is not None:
            return None
        scale = self._call(lambda: self.apps.read_namespaced_deployment_scale(deployment, self.namespace), deployment)
        return int(scale.spec.replicas or 0) if scale is not None and scale.spec is not None else 0

    def scale(self, deployment: str, replicas: int) -> None:
        """Set the Deployment's replicas (recorded in a dry run)."""
        body = scale_object(deployment, self.namespace, replicas)
        self._call(
            lambda: self.apps.patch_namespaced_deployment_scale(
                deployment, self.namespace, body, field_manager=FIELD_MANAGER, _content_type=MERGE_PATCH
            ),
            deployment,
        )

    def _call(self, fn: Callable[[], T], deployment: str) -> T | None:
        where = f"deployment {self.namespace}/{deployment}"
        try:
            return fn()
        except _NotSent:
            return None
        except ApiException as exc:
            raise ScalingError(f"Kubernetes answered {exc.status} {exc.reason} for {where}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            host = self.api_client.configuration.host
            raise ScalingError(f"cannot reach the Kubernetes API at {host} ({type(exc).__name__})") from None
