"""What the kubelet API's handlers know of the node: its pods and their containers.

:class:`NodeHost` is the part of the node agent a handler may use; :func:`find_pod` and
:func:`find_container` look a pod (and container) up the way the kubelet's handlers do
and raise :class:`KubeletError` with the kubelet's status and text when they cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from starlette.responses import PlainTextResponse

from controllers.client.informer import SharedInformer
from controllers.node.container import Container
from controllers.node.runtime import PodRunner

__all__ = ["KubeletError", "NodeHost", "error_response", "find_container", "find_pod"]


class NodeHost(Protocol):
    """The node agent as the kubelet API sees it."""

    node_name: str
    allow_host_commands: bool
    #: The informer of the pods bound to this node.
    pods: SharedInformer
    #: Running pods by ``namespace/name``.
    runners: dict[str, PodRunner]


class KubeletError(Exception):
    """A request the kubelet answers with ``status`` and the plain-text ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(exc: KubeletError) -> PlainTextResponse:
    """The kubelet's plain-text error answer (``http.Error``: text and a newline)."""
    return PlainTextResponse(exc.message + "\n", status_code=exc.status)


def find_pod(host: NodeHost, namespace: str, name: str) \
        -> tuple[Mapping[str, Any], PodRunner]:
    """The pod object and its runner; 404 ``pod "<name>" does not exist`` when this node
    runs no such pod."""
    key = f"{namespace}/{name}"
    pod = host.pods.store.get_by_key(key)
    runner = host.runners.get(key)
    if pod is None or runner is None:
        raise KubeletError(404, f'pod "{name}" does not exist')
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    if uid != runner.uid:
        raise KubeletError(404, f'pod "{name}" does not exist')
    return pod, runner


def find_container(host: NodeHost, namespace: str, name: str, container: str) \
        -> tuple[Mapping[str, Any], PodRunner, Container]:
    """The pod, its runner and the container called ``container``; 404
    ``container "<c>" not found in pod "<name>"`` when the pod has none such."""
    pod, runner = find_pod(host, namespace, name)
    found = runner.container(container)
    if found is None:
        raise KubeletError(404, f'container "{container}" not found in pod "{name}"')
    return pod, runner, found
