"""``/healthz``, ``/livez`` and ``/readyz`` as k8s.io/apiserver's healthz package answers them.

Each endpoint runs a list of named checks (:class:`Check`) and answers
``text/plain; charset=utf-8`` with ``X-Content-Type-Options: nosniff``:

* every check passed: 200 ``ok``, or with ``?verbose`` one ``[+]<name> ok`` line per
  check and ``<endpoint> check passed``;
* a check failed: 500 with the verbose listing whatever was asked, the failed checks as
  ``[-]<name> failed: reason withheld`` (the reason goes to the log, never to the
  client) and ``<endpoint> check failed``;
* ``?exclude=<name>`` (repeatable) skips a check (``[+]<name> excluded: ok``); names
  that match no check get ``warn: some health checks cannot be excluded: no matches for
  "<name>"`` (quoted as Go's ``%q``, comma-separated) in the verbose listing;
* ``/<endpoint>/<name>`` runs one check: 200 ``ok``, or 500
  ``internal server error: <reason>``; an unknown name is a 404.

:func:`install_routes` serves them on a FastAPI app. The checks of the apiserver
(:func:`apiserver_checks`) are upstream's that mean
something here: ``ping``, ``log``, ``etcd`` (a read of ``<prefix>/health`` from the
storage within :data:`STORAGE_TIMEOUT` seconds: with several etcd members, any member
answering is enough), ``etcd-readiness`` (the same, for readiness), ``informer-sync``
(the watch cache is filled), one ``poststarthook/<name>`` per start-up step, and on
``/readyz`` only ``shutdown`` (fails once the server is stopping, so a load balancer
takes it out before it goes away).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import Response

from apiserver.storage.interface import Storage

log = logging.getLogger(__name__)

#: Seconds the storage probe may take (kube-apiserver's ``--etcd-healthcheck-timeout``).
STORAGE_TIMEOUT = 2.0
#: The start-up steps reported as ``poststarthook/<name>`` once the server started.
POST_START_HOOKS = (
    "start-apiserver-admission-initializer",
    "generic-apiserver-start-informers",
    "rbac/bootstrap-roles",
    "scheduling/bootstrap-system-priority-classes",
    "bootstrap-controller",
    "start-kube-apiserver-identity-lease-controller",
)
CONTENT_TYPE = "text/plain; charset=utf-8"


class CheckFailed(Exception):
    """A check's failure; its message is logged, never sent except on ``/<endpoint>/<name>``."""


@dataclass(frozen=True, slots=True)
class Check:
    """One named check: ``run`` returns normally when healthy, raises when not."""

    name: str
    run: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Answer:
    """What an endpoint answers: status code and body."""

    status: int
    body: str


async def _ping() -> None:
    return None


def storage_check(name: str, storage: Storage, key: str) -> Check:
    """A read of ``key`` from ``storage`` that must answer within :data:`STORAGE_TIMEOUT`."""

    async def run() -> None:
        try:
            await asyncio.wait_for(storage.get(key), STORAGE_TIMEOUT)
        except TimeoutError:
            raise CheckFailed(f"storage did not answer within {STORAGE_TIMEOUT:g}s") from None
        except Exception as exc:
            raise CheckFailed(f"storage error: {exc}") from exc

    return Check(name, run)


def flag_check(name: str, healthy: Callable[[], bool], reason: str) -> Check:
    """A check that passes while ``healthy()`` is true and fails with ``reason``."""

    async def run() -> None:
        if not healthy():
            raise CheckFailed(reason)

    return Check(name, run)


def apiserver_checks(storage: Storage, health_key: str, started: Callable[[], bool],
                     stopping: Callable[[], bool]) -> Mapping[str, list[Check]]:
    """The checks of ``healthz``, ``livez`` and ``readyz`` (see the module docstring)."""
    etcd = storage_check("etcd", storage, health_key)
    hooks = [flag_check(f"poststarthook/{hook}", started, "not finished")
             for hook in POST_START_HOOKS]
    base = [Check("ping", _ping), Check("log", _ping), etcd]
    ready = [*base, storage_check("etcd-readiness", storage, health_key),
             flag_check("informer-sync", started, "caches not synced"), *hooks,
             flag_check("shutdown", lambda: not stopping(), "process is shutting down")]
    return {"healthz": [*base, *hooks], "livez": [*base, *hooks], "readyz": ready}


def _go_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


async def _run(check: Check) -> str | None:
    """None when ``check`` passed, else its reason (logged)."""
    try:
        await check.run()
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


async def answer(endpoint: str, checks: Sequence[Check], verbose: bool,
                 exclude: Sequence[str]) -> Answer:
    """Run ``checks`` for ``/<endpoint>`` (see the module docstring)."""
    wanted: set[str] = set()
    for value in exclude:
        wanted.update(part.strip() for part in value.split(",") if part.strip())
    excluded = [c.name for c in checks if c.name in wanted]
    unmatched = [name for name in sorted(wanted) if name not in excluded]
    running = [c for c in checks if c.name not in wanted]
    reasons = await asyncio.gather(*(_run(c) for c in running))
    lines: list[str] = []
    failed = False
    results = dict(zip((c.name for c in running), reasons, strict=True))
    for check in checks:
        if check.name in wanted:
            lines.append(f"[+]{check.name} excluded: ok")
            continue
        reason = results[check.name]
        if reason is None:
            lines.append(f"[+]{check.name} ok")
        else:
            failed = True
            log.info("%s check %s failed: %s", endpoint, check.name, reason)
            lines.append(f"[-]{check.name} failed: reason withheld")
    if unmatched:
        lines.append("warn: some health checks cannot be excluded: no matches for "
                     + ",".join(_go_quote(name) for name in unmatched))
    if failed:
        return Answer(500, "\n".join([*lines, f"{endpoint} check failed"]) + "\n")
    if not verbose:
        return Answer(200, "ok")
    return Answer(200, "\n".join([*lines, f"{endpoint} check passed"]) + "\n")


async def answer_one(checks: Sequence[Check], name: str) -> Answer | None:
    """Run the check called ``name`` alone; None when there is none."""
    for check in checks:
        if check.name == name:
            reason = await _run(check)
            if reason is None:
                return Answer(200, "ok")
            return Answer(500, f"internal server error: {reason}\n")
    return None


def _response(result: Answer) -> Response:
    return Response(result.body.encode(), status_code=result.status,
                    headers={"content-type": CONTENT_TYPE, "x-content-type-options": "nosniff"})


def install_routes(app: FastAPI, checks: Mapping[str, list[Check]],
                   not_found: Callable[[], Response]) -> None:
    """Serve ``/<endpoint>`` and ``/<endpoint>/<name>`` for each endpoint of ``checks``;
    ``not_found`` answers a name that is no check."""
    for endpoint, endpoint_checks in checks.items():
        _install(app, endpoint, endpoint_checks, not_found)


def _install(app: FastAPI, endpoint: str, endpoint_checks: list[Check],
             not_found: Callable[[], Response]) -> None:
    async def all_checks(request: Request) -> Response:
        query = request.query_params
        return _response(await answer(endpoint, endpoint_checks, "verbose" in query,
                                      query.getlist("exclude")))

    async def one_check(name: str) -> Response:
        result = await answer_one(endpoint_checks, name)
        return not_found() if result is None else _response(result)

    app.add_api_route(f"/{endpoint}", all_checks, methods=["GET"])
    app.add_api_route(f"/{endpoint}/{{name:path}}", one_check, methods=["GET"])
