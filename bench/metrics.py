"""The ``metrics`` scenario: what the apiserver's per-request metrics cost on the hot paths.

Two kubemu apiservers on ``--storage sqlite``, run as the ``limits`` scenario runs its two
(:func:`bench.limits.run_on_off`: own data dirs, pinned to the server CPU, wrk GET and create
in the order off, on, on, off, each server's best kept):

* ``kubemu-metrics-off``: ``--disabled-metrics`` naming the three families the chain records
  per request (``apiserver_request_total``, ``apiserver_request_duration_seconds``,
  ``apiserver_longrunning_requests``), so nothing is recorded per request;
* ``kubemu-metrics-on``: the defaults, as users run it.

**on ÷ off** is the recording server's req/s as a share of the other's; the target is
≥ 95% for both GET and create.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.limits import Measure, on_off_table, run_on_off

if TYPE_CHECKING:
    from bench.run import Context

OFF = "kubemu-metrics-off"
ON = "kubemu-metrics-on"
_FLAGS = {OFF: ("--disabled-metrics", "apiserver_request_total,"
                "apiserver_request_duration_seconds,apiserver_longrunning_requests"),
          ON: ()}
TARGET = 0.95


def run_scenario(ctx: Context, measure: Measure, namespaces: tuple[str, ...],
                 pod: tuple[str, str]) -> dict[str, Any]:
    """Both rows of get and create; returns the JSON-able results."""
    return run_on_off(ctx, measure, namespaces, pod, _FLAGS)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """GET and create with metrics keep at least :data:`TARGET` of the rate without."""
    out: list[dict[str, Any]] = []
    for scenario, runs in results["metrics"]["http"].items():
        if OFF not in runs or ON not in runs or not runs[OFF]["rps"]:
            continue
        ratio = runs[ON]["rps"] / runs[OFF]["rps"]
        out.append({
            "name": f"{scenario} with per-request metrics vs without",
            "required": f"≥ {TARGET:.0%} of its req/s",
            "measured": f"{ratio:.1%} ({runs[ON]['rps']:,.0f} vs {runs[OFF]['rps']:,.0f} "
                        "req/s)",
            "ratio": ratio,
            "pass": ratio >= TARGET,
        })
    return out


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the comparison."""
    return on_off_table(results, "metrics", "Per-request metrics on vs off", {
        OFF: "metrics off (`--disabled-metrics` the three per-request families)",
        ON: "metrics on (defaults)"})
