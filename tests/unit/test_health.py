"""The apiserver's ``/healthz``, ``/livez`` and ``/readyz`` answers (upstream's healthz format)."""

from __future__ import annotations

import asyncio

from apiserver.health import (
    Check,
    CheckFailed,
    answer,
    answer_one,
    apiserver_checks,
    storage_check,
)
from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.memory import MemoryStorage


async def _ok() -> None:
    return None


async def _bad() -> None:
    raise CheckFailed("this will fail")


CHECKS = [Check("ping", _ok), Check("etcd", _ok)]
FAILING = [Check("ping", _ok), Check("bad", _bad)]


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_passing_checks_answer_ok_or_the_verbose_listing() -> None:
    plain = _run(answer("readyz", CHECKS, False, []))
    assert (plain.status, plain.body) == (200, "ok")
    verbose = _run(answer("readyz", CHECKS, True, []))
    assert (verbose.status, verbose.body) == (
        200, "[+]ping ok\n[+]etcd ok\nreadyz check passed\n")


def test_a_failing_check_is_listed_with_its_reason_withheld() -> None:
    for verbose in (False, True):
        result = _run(answer("livez", FAILING, verbose, []))
        assert (result.status, result.body) == (
            500, "[+]ping ok\n[-]bad failed: reason withheld\nlivez check failed\n")


def test_exclude_skips_a_check_and_warns_about_unknown_names() -> None:
    result = _run(answer("readyz", FAILING, True, ["bad"]))
    assert (result.status, result.body) == (
        200, "[+]ping ok\n[+]bad excluded: ok\nreadyz check passed\n")
    assert _run(answer("readyz", FAILING, False, ["bad"])).body == "ok"
    warned = _run(answer("readyz", CHECKS, True, ["dontexist"]))
    assert warned.body == ('[+]ping ok\n[+]etcd ok\nwarn: some health checks cannot be '
                           'excluded: no matches for "dontexist"\nreadyz check passed\n')


def test_one_check_by_name() -> None:
    ok = _run(answer_one(FAILING, "ping"))
    assert ok is not None and (ok.status, ok.body) == (200, "ok")
    bad = _run(answer_one(FAILING, "bad"))
    assert bad is not None and (bad.status, bad.body) == (
        500, "internal server error: this will fail\n")
    assert _run(answer_one(FAILING, "nothing")) is None


def test_storage_check_follows_the_storage() -> None:
    async def scenario() -> tuple[int, int, str]:
        memory = MemoryStorage()
        await memory.start()
        up = await answer("readyz", [storage_check("etcd", memory, "/registry/health")],
                          False, [])
        # An etcd client that was never started answers no read.
        etcd = EtcdStorage(["http://127.0.0.1:9"])
        check = storage_check("etcd", etcd, "/registry/health")
        down = await answer("readyz", [check], False, [])
        one = await answer_one([check], "etcd")
        assert one is not None
        return up.status, down.status, one.body

    up, down, reason = _run(scenario())
    assert (up, down) == (200, 500)
    # Either the client refuses at once or the probe gives up after its timeout.
    assert reason.startswith(("internal server error: storage error: ",
                              "internal server error: storage did not answer within 2s"))


def test_apiserver_checks_names_as_upstream() -> None:
    storage = MemoryStorage()
    started = {"value": False}
    checks = apiserver_checks(storage, "/registry/health", lambda: started["value"],
                              lambda: False)
    ready = [c.name for c in checks["readyz"]]
    assert ready[:5] == ["ping", "log", "etcd", "etcd-readiness", "informer-sync"]
    assert ready[-1] == "shutdown"
    assert "poststarthook/rbac/bootstrap-roles" in ready
    assert "shutdown" not in [c.name for c in checks["livez"]]
    before = _run(answer("readyz", checks["readyz"], False, []))
    assert before.status == 500 and "[-]informer-sync failed: reason withheld" in before.body
    started["value"] = True
    assert _run(answer("readyz", checks["readyz"], False, [])).body == "ok"
