"""Container probes: specs, the result state machine, and the probe actions.

:class:`ProbeState` follows the kubelet's prober worker: a probe result flips to
success after ``successThreshold`` consecutive successes and to failure after
``failureThreshold`` consecutive failures. Readiness starts as failure and
liveness as success; nothing is probed before ``initialDelaySeconds``.

Probe kinds: ``httpGet``, ``tcpSocket``, ``exec`` and ``grpc`` (``grpc.health.v1.Health/Check``
on the pod IP's ``port`` with the probe's ``service``, see :mod:`.grpchealth`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from controllers.node import grpchealth
from controllers.node.mountns import HostEnv

__all__ = ["EXEC_NOT_ALLOWED", "USER_AGENT", "ProbeResult", "ProbeSpec", "ProbeState",
           "parse_probe", "run_probe"]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int, minimum: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    return default


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of one container, with upstream's defaults applied."""

    kind: str  # "http", "tcp", "exec", "grpc"
    port: int = 0
    path: str = "/"
    host: str = ""
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    #: The gRPC health service a ``grpc`` probe checks ("" is the whole server).
    service: str = ""
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


def _resolve_port(port: Any, container: Mapping[str, Any]) -> int:
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for p in container.get("ports") or []:
            if _m(p).get("name") == port:
                return int(_m(p).get("containerPort") or 0)
    return 0


def parse_probe(probe: Any, container: Mapping[str, Any]) -> ProbeSpec | None:
    """The :class:`ProbeSpec` of a ``Probe`` object (None when it has no handler)."""
    probe = _m(probe)
    if not probe:
        return None
    timing: dict[str, Any] = {
        "initial_delay": float(_int(probe.get("initialDelaySeconds"), 0, 0)),
        "period": float(_int(probe.get("periodSeconds"), 10, 1)),
        "timeout": float(_int(probe.get("timeoutSeconds"), 1, 1)),
        "success_threshold": _int(probe.get("successThreshold"), 1, 1),
        "failure_threshold": _int(probe.get("failureThreshold"), 3, 1),
    }
    if "httpGet" in probe:
        get = _m(probe["httpGet"])
        headers = tuple((str(_m(h).get("name")), str(_m(h).get("value") or ""))
                        for h in get.get("httpHeaders") or [])
        return ProbeSpec("http", _resolve_port(get.get("port"), container),
                         str(get.get("path") or "/"), str(get.get("host") or ""),
                         str(get.get("scheme") or "HTTP"), headers, **timing)
    if "tcpSocket" in probe:
        tcp = _m(probe["tcpSocket"])
        return ProbeSpec("tcp", _resolve_port(tcp.get("port"), container),
                         host=str(tcp.get("host") or ""), **timing)
    if "exec" in probe:
        command = tuple(str(c) for c in _m(probe["exec"]).get("command") or [])
        return ProbeSpec("exec", command=command, **timing)
    if "grpc" in probe:
        grpc = _m(probe["grpc"])
        return ProbeSpec("grpc", _int(grpc.get("port"), 0, 1),
                         service=str(grpc.get("service") or ""), **timing)
    return None


@dataclass
class ProbeState:
    """Consecutive-result counting with thresholds (the kubelet's worker logic)."""

    spec: ProbeSpec
    result: bool
    successes: int = 0
    failures: int = 0
    last_message: str = field(default="")

    def record(self, ok: bool, message: str = "") -> bool:
        """Count one probe outcome; True when :attr:`result` changed."""
        self.last_message = message
        if ok:
            self.successes += 1
            self.failures = 0
            if not self.result and self.successes >= self.spec.success_threshold:
                self.result = True
                return True
        else:
            self.failures += 1
            self.successes = 0
            if self.result and self.failures >= self.spec.failure_threshold:
                self.result = False
                return True
        return False

    def reset(self, result: bool) -> None:
        """Start over (a restarted container)."""
        self.result = result
        self.successes = self.failures = 0


@dataclass(frozen=True)
class ProbeResult:
    """One probe attempt."""

    ok: bool
    message: str = ""


#: The User-Agent of HTTP and gRPC probes (the kubelet's, at the version kubemu serves).
USER_AGENT = "kube-probe/1.33"

#: Why an exec probe fails on a node agent started without ``--allow-host-commands``.
EXEC_NOT_ALLOWED = ("exec probe not run: this node agent runs no host commands (start it with "
                    "--allow-host-commands to run exec probes)")


async def run_probe(spec: ProbeSpec, pod_ip: str, allow_exec: bool,
                    env: HostEnv | None = None) -> ProbeResult:
    """Run one probe attempt against ``pod_ip`` within ``spec.timeout``; an exec probe's
    command runs with ``env`` (the container's environment and working directory), in a
    process group of its own that is killed on timeout."""
    host = spec.host or pod_ip
    if spec.kind == "grpc":
        ok, message = await grpchealth.probe(host, spec.port, spec.service, spec.timeout,
                                             USER_AGENT)
        return ProbeResult(ok, "" if ok else message)
    try:
        if spec.kind == "http":
            scheme = "https" if spec.scheme.upper() == "HTTPS" else "http"
            path = spec.path if spec.path.startswith("/") else "/" + spec.path
            url = f"{scheme}://{host}:{spec.port}{path}"
            headers = {"User-Agent": USER_AGENT, **dict(spec.headers)}
            async with httpx.AsyncClient(verify=False, timeout=spec.timeout) as client:
                resp = await client.get(url, headers=headers)
            if 200 <= resp.status_code < 400:
                return ProbeResult(True)
            return ProbeResult(False, f"HTTP probe failed with statuscode: {resp.status_code}")
        if spec.kind == "tcp":
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, spec.port),
                                               spec.timeout)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return ProbeResult(True)
        if spec.kind == "exec":
            if not allow_exec:
                # Counting an exec probe that never ran as passing would report a container
                # healthy on no evidence: it fails, and says why.
                return ProbeResult(False, EXEC_NOT_ALLOWED)
            options = env.spawn_options() if env is not None else {}
            try:
                proc = await asyncio.create_subprocess_exec(
                    *spec.command, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
                    start_new_session=True, **options)
            except OSError as exc:
                return ProbeResult(False, f"exec probe failed to start: {exc}")
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), spec.timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                return ProbeResult(False, f"command timed out after {spec.timeout:g}s")
            if proc.returncode == 0:
                return ProbeResult(True)
            return ProbeResult(False, out.decode(errors="replace").strip())
    except (TimeoutError, httpx.TimeoutException):
        if spec.kind == "http":
            return ProbeResult(False, f'Get "http://{host}:{spec.port}{spec.path}": context '
                               "deadline exceeded (Client.Timeout exceeded while awaiting "
                               "headers)")
        return ProbeResult(False, f"dial tcp {host}:{spec.port}: i/o timeout")
    except (OSError, httpx.HTTPError) as exc:
        refused = f"dial tcp {host}:{spec.port}: connect: connection refused"
        if spec.kind != "http":
            return ProbeResult(False, refused)
        get = f'Get "{"https" if spec.scheme.upper() == "HTTPS" else "http"}://{host}:' \
              f'{spec.port}{spec.path}"'
        # Go's net/http words: refused at connect, EOF for a server that closed at once.
        if isinstance(exc, (httpx.ConnectError, OSError)):
            return ProbeResult(False, f"{get}: {refused}")
        if isinstance(exc, httpx.RemoteProtocolError):
            return ProbeResult(False, f"{get}: EOF")
        return ProbeResult(False, f"{get}: read tcp {host}:{spec.port}: connection reset by "
                           "peer")
    return ProbeResult(False, f"unknown probe kind {spec.kind}")
