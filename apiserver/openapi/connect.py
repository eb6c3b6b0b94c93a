"""The operations of the connect subresources, as upstream publishes them.

``pods/log`` is ``read…NamespacedPodLog`` (GET, ``text/plain`` and friends);
``pods/exec``, ``pods/attach`` and ``pods/portforward`` are ``connect{Get,Post}…``;
each ``proxy`` subresource is ``connect{Delete,Get,Head,Options,Patch,Post,Put}…Proxy``
on ``…/proxy`` and ``…ProxyWithPath`` on ``…/proxy/{path}``. Their bodies are plain
strings (``{"type": "string"}``), their ``x-kubernetes-group-version-kind`` the options
kind (``PodExecOptions`` …; ``Pod`` for the log) and their query parameters are listed on
the path, in name order, as upstream does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from apiserver.api.resources import ResourceInfo, SubresourceInfo
from apiserver.openapi.operation import Operation
from apiserver.openapi.params import Param

__all__ = ["CONNECT_SUBRESOURCES", "connect_operations"]

#: Subresources served by the connect handlers.
CONNECT_SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward", "proxy"})

_Q = "query"
_STREAMS = (
    Param("container", _Q, "string", "The container to use; defaults to the only container "
          "of the pod."),
    Param("stderr", _Q, "boolean", "Redirect the standard error stream of the container."),
    Param("stdin", _Q, "boolean", "Pass standard input to the container."),
    Param("stdout", _Q, "boolean", "Redirect the standard output stream of the container."),
    Param("tty", _Q, "boolean", "Allocate a terminal; standard error then goes to standard "
          "output."),
)
_PARAMS: dict[str, tuple[Param, ...]] = {
    "attach": _STREAMS,
    "exec": (Param("command", _Q, "string", "The command to run, one argument per value "
                   "(not run in a shell)."), *_STREAMS),
    "portforward": (Param("ports", _Q, "integer", "The pod ports to forward (required for "
                          "WebSocket clients)."),),
    "log": (
        Param("container", _Q, "string", "The container whose log to read; defaults to the "
              "only container of the pod."),
        Param("follow", _Q, "boolean", "Stream the log as it grows."),
        Param("insecureSkipTLSVerifyBackend", _Q, "boolean", "Do not verify the serving "
              "certificate of the kubelet the log is read from."),
        Param("limitBytes", _Q, "integer", "Stop after this many bytes."),
        Param("pretty", _Q, "string", "If 'true', the output is pretty printed."),
        Param("previous", _Q, "boolean", "Read the log of the previous, terminated "
              "instance of the container."),
        Param("sinceSeconds", _Q, "integer", "Only lines written in the last this many "
              "seconds."),
        Param("tailLines", _Q, "integer", "Only this many lines from the end of the log."),
        Param("timestamps", _Q, "boolean", "Prefix every line with its RFC3339 time."),
    ),
}
_PROXY_PATH_QUERY = Param("path", _Q, "string", "The path to request through the proxy.")
_PROXY_PATH = Param("path", "path", "string", "The path to request through the proxy.",
                    required=True)
_PROXY_METHODS = ("delete", "get", "head", "options", "patch", "post", "put")
_LOG_TYPES = ("text/plain", "application/json", "application/yaml",
              "application/vnd.kubernetes.protobuf")


def _sorted(params: tuple[Param, ...]) -> tuple[Param, ...]:
    return tuple(sorted(params, key=lambda param: param.name))


def connect_operations(info: ResourceInfo, sub: SubresourceInfo, *, doc: str, tag: str,
                       gv: str, scoped_kind: str, item: str,
                       item_params: tuple[Param, ...]) -> Iterator[Operation]:
    """The operations of connect subresource ``sub`` of ``info``: operationIds are built
    from ``gv`` (``CoreV1``) and ``scoped_kind`` (``NamespacedPod``); ``item`` is the
    object's path."""
    gvk = (info.group, info.version, sub.kind)
    common: dict[str, Any] = {"doc": doc, "tag": tag, "gvk": gvk, "response_type": "string"}
    if sub.name == "log":
        yield Operation(**common, path=f"{item}/log", method="get",
                        operation_id=f"read{gv}{scoped_kind}Log", action="get",
                        description=f"read log of the specified {info.kind}",
                        path_params=_sorted((*item_params, *_PARAMS["log"])),
                        produces=_LOG_TYPES)
        return
    if sub.name != "proxy":
        suffix = sub.name[:1].upper() + sub.name[1:]
        for method in ("get", "post"):
            yield Operation(**common, path=f"{item}/{sub.name}", method=method,
                            operation_id=f"connect{gv}{method.capitalize()}{scoped_kind}"
                                         f"{suffix}",
                            action="connect", produces=("*/*",),
                            description=f"connect {method.upper()} requests to {sub.name} "
                                        f"of {info.kind}",
                            path_params=_sorted((*item_params, *_PARAMS[sub.name])))
        return
    for with_path in (False, True):
        path = f"{item}/proxy" + ("/{path}" if with_path else "")
        extra = _PROXY_PATH if with_path else _PROXY_PATH_QUERY
        for method in _PROXY_METHODS:
            yield Operation(**common, path=path, method=method,
                            operation_id=f"connect{gv}{method.capitalize()}{scoped_kind}Proxy"
                                         + ("WithPath" if with_path else ""),
                            action="connect", produces=("*/*",),
                            description=f"connect {method.upper()} requests to proxy of "
                                        f"{info.kind}",
                            path_params=_sorted((*item_params, extra)))
