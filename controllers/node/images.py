"""What an image is known as, and what it listens on when its pod declares no ports.

A real container listens wherever its process listens: ``containerPort`` is information,
not a switch. ``kubectl create deployment web --image=nginx`` declares no port, and
``kubectl expose deployment web --port=80`` then reaches nginx on port 80. The built-in
runtime runs no image, so for a container that declares no ports it serves the ports
the image itself would open:

* agnhost (the upstream test image the built-in servers answer like), read from its
  command line: ``netexec`` serves HTTP on ``--http-port`` (8080) and UDP on
  ``--udp-port`` (8081, none for -1); ``serve-hostname`` serves ``--port`` (9376) as HTTP,
  or raw TCP and/or UDP with ``--tcp``/``--udp``. This is what kubernetes.io's
  hello-node tutorial runs;
* the well-known server images of :data:`SERVER_IMAGES`, on their default entrypoint
  (no ``command``; ``args`` only configure the server).

A container that declares ports gets exactly those, as before. :func:`image_ref` names
an image as containerd reports it, :func:`pull_events` are the Events the kubelet's
image manager records before a container starts, and :func:`process_argv` is what a
container's process runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ENTRYPOINTS", "NO_ENTRYPOINT", "SERVER_IMAGES", "image_ref", "implied_ports",
           "process_argv", "pull_events", "repository"]

#: (port, protocol, port name: ``http`` makes the built-in server answer HTTP).
Listen = tuple[int, str, str]

_HTTP80: tuple[Listen, ...] = ((80, "TCP", "http"),)
_HTTP8080: tuple[Listen, ...] = ((8080, "TCP", "http"),)

#: What a well-known server image listens on with its default entrypoint, by repository
#: (as :func:`repository` names it).
SERVER_IMAGES: Mapping[str, tuple[Listen, ...]] = {
    "docker.io/library/nginx": _HTTP80,
    "docker.io/library/httpd": _HTTP80,
    "docker.io/library/caddy": _HTTP80,
    "docker.io/library/tomcat": _HTTP8080,
    "docker.io/nginxinc/nginx-unprivileged": _HTTP8080,
    "docker.io/bitnami/nginx": _HTTP8080,
    "docker.io/traefik/whoami": _HTTP80,
    "docker.io/kennethreitz/httpbin": _HTTP80,
    "docker.io/hashicorp/http-echo": ((5678, "TCP", "http"),),
    "registry.k8s.io/echoserver": _HTTP8080,
    "gcr.io/google-samples/hello-app": _HTTP8080,
    "us-docker.pkg.dev/google-samples/containers/gke/hello-app": _HTTP8080,
    "docker.io/library/redis": ((6379, "TCP", "redis"),),
    "docker.io/library/memcached": ((11211, "TCP", "memcache"),),
    "docker.io/library/postgres": ((5432, "TCP", "postgres"),),
    "docker.io/library/mysql": ((3306, "TCP", "mysql"),),
    "docker.io/library/mariadb": ((3306, "TCP", "mysql"),),
    "docker.io/library/mongo": ((27017, "TCP", "mongodb"),),
    "docker.io/library/rabbitmq": ((5672, "TCP", "amqp"),),
}

#: Well-known images without an ``ENTRYPOINT`` (or with one that runs its arguments as a
#: command, as ``node``'s and ``php``'s do): a container's ``args`` without a ``command``
#: are its whole command line.
NO_ENTRYPOINT: frozenset[str] = frozenset({
    *(f"docker.io/library/{name}" for name in (
        "busybox", "alpine", "debian", "ubuntu", "fedora", "centos", "rockylinux", "almalinux",
        "amazonlinux", "bash", "python", "golang", "ruby", "perl", "node", "php", "openjdk",
        "eclipse-temurin")),
    "registry.k8s.io/busybox", "registry.k8s.io/e2e-test-images/busybox",
    "gcr.io/google-containers/busybox", "k8s.gcr.io/busybox", "docker.io/nicolaka/netshoot",
})

#: The ``ENTRYPOINT`` of well-known images that have one and run as commands, by repository:
#: a container's ``args`` without a ``command`` are its arguments.
ENTRYPOINTS: Mapping[str, tuple[str, ...]] = {
    "docker.io/curlimages/curl": ("curl",),
    "docker.io/alpine/curl": ("curl",),
    "docker.io/bitnami/kubectl": ("kubectl",),
    "docker.io/alpine/git": ("git",),
}

#: Where the agnhost test image is published.
AGNHOST = frozenset({
    "registry.k8s.io/e2e-test-images/agnhost",
    "k8s.gcr.io/e2e-test-images/agnhost",
    "gcr.io/kubernetes-e2e-test-images/agnhost",
})


def image_ref(image: str) -> tuple[str, str]:
    """(image, imageID) as containerd reports them for ``image``."""
    ref = _reference(image)
    digest = hashlib.sha256(ref.encode()).hexdigest()
    return ref, f"{_without_tag(ref)}@sha256:{digest}"


def repository(image: str) -> str:
    """The image's repository with its registry, without tag or digest
    (``nginx:1.27`` → ``docker.io/library/nginx``)."""
    return _without_tag(_reference(image))


def _reference(image: str) -> str:
    """``image`` with its registry (``docker.io/library/`` for a bare name) and a tag
    (``:latest`` when it names neither tag nor digest)."""
    ref = image
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        ref = "docker.io/library/" + ref
    elif "." not in first and ":" not in first and first != "localhost":
        ref = "docker.io/" + ref
    repo = ref.split("@", 1)[0]
    if ":" not in repo.rsplit("/", 1)[-1] and "@" not in ref:
        ref += ":latest"
    return ref


def _without_tag(ref: str) -> str:
    """``ref`` without its digest and tag (a registry's port stays)."""
    base = ref.split("@", 1)[0]
    if ":" in base.rsplit("/", 1)[-1]:
        base = base.rsplit(":", 1)[0]
    return base


def pull_events(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (reason, message) Events of the kubelet's image manager for container ``spec``.

    Every image is present here and nothing is downloaded, so the ``Always`` policy (the
    default for ``:latest``) reports a pull of no bytes, and the others report the image
    present, in upstream's words.
    """
    image = json.dumps(str(spec.get("image") or ""))  # Go's %q, for image names
    if spec.get("imagePullPolicy") == "Always":
        return [("Pulling", f"Pulling image {image}"),
                ("Pulled", f"Successfully pulled image {image} in 0s (0s including waiting). "
                           "Image size: 0 bytes.")]
    return [("Pulled", f"Container image {image} already present on machine")]


def process_argv(spec: Mapping[str, Any]) -> list[str]:
    """The argv a container's process runs, as the runtime joins the image's ``ENTRYPOINT``
    and ``CMD`` with the container's ``command`` and ``args``; empty when the built-in
    servers stand in for the image instead (agnhost, a server image without a ``command``)
    or there is nothing to run.

    ``command`` replaces the entrypoint and ``args`` follow it. Without a ``command``,
    ``args`` follow the image's entrypoint (:data:`ENTRYPOINTS`), and are the whole
    command line of an image that has none (:data:`NO_ENTRYPOINT`: ``kubectl run t
    --image=busybox -- echo hi``). The ``args`` of any other image configure its own
    program, which the built-in servers stand in for, so nothing runs.
    """
    command = [str(a) for a in spec.get("command") or []]
    args = [str(a) for a in spec.get("args") or []]
    repo = repository(str(spec.get("image") or ""))
    if repo in AGNHOST:
        return []
    if command:
        return command + args
    if repo in ENTRYPOINTS:
        return [*ENTRYPOINTS[repo], *args]
    return args if repo in NO_ENTRYPOINT else []


def implied_ports(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ports (as ``containerPort`` entries) the image of container ``spec`` listens
    on, for a container that declares none; empty when it declares some or the image is
    not one this module knows (see the module docstring)."""
    if spec.get("ports"):
        return []
    repo = repository(str(spec.get("image") or ""))
    command = [str(a) for a in spec.get("command") or []]
    args = [str(a) for a in spec.get("args") or []]
    if repo in AGNHOST:
        listens = _agnhost(command + args)
    elif not command:
        listens = SERVER_IMAGES.get(repo, ())
    else:
        listens = ()
    return [{"name": name, "containerPort": port, "protocol": protocol}
            for port, protocol, name in listens if 0 < port < 65536]


def _agnhost(argv: list[str]) -> tuple[Listen, ...]:
    if argv and argv[0].rsplit("/", 1)[-1] == "agnhost":
        argv = argv[1:]  # the entrypoint named in ``command``
    if not argv:
        return ()
    flags = _flags(argv[1:], booleans=("tcp", "udp", "http"))
    if argv[0] == "netexec":
        http = _int(flags.get("http-port"), 8080)
        udp = _int(flags.get("udp-port"), 8081)
        return ((http, "TCP", "http"),) + (((udp, "UDP", "udp"),) if udp > 0 else ())
    if argv[0] == "serve-hostname":
        port = _int(flags.get("port"), 9376)
        raw = tuple((port, protocol, protocol.lower()) for protocol in ("TCP", "UDP")
                    if flags.get(protocol.lower()) == "true")
        return raw or ((port, "TCP", "http"),)
    return ()


def _flags(argv: Sequence[str], booleans: Sequence[str]) -> dict[str, str]:
    """``--name=value``, ``--name value`` and boolean ``--name`` as pflag reads them."""
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("--"):
            continue
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if name in booleans:
                value = "true"
            elif i < len(argv):
                value = argv[i]
                i += 1
        out[name] = value
    return out


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def start_error_message(program: str, exc: OSError) -> str:
    """containerd's words for a container whose program could not be started."""
    why = ("executable file not found in $PATH" if isinstance(exc, FileNotFoundError)
           else (exc.strerror or str(exc)).lower())
    return ("failed to create containerd task: failed to create shim task: OCI runtime "
            "create failed: runc create failed: unable to start container process: "
            f'exec: "{program}": {why}: unknown')
