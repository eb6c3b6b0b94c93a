"""Driving ``wrk``: install check, Lua scripts, one run → :class:`WrkResult`."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.procs import BenchError, child_setup

#: Prints the run's numbers as one JSON line (wrk's own text is for humans).
_REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""

#: A POST script: each request sends ``template`` formatted with (name prefix, thread,
#: counter, name prefix), so names are unique per run, thread and request. Script
#: arguments: name prefix, collection path.
_POST_LUA = r"""
local counter = 0
local prefix = "bench"
local path = [==[%(path)s]==]
local started = 0
local headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json"}
local template = [==[%(template)s]==]

setup = function(thread)
  started = started + 1
  thread:set("tid", started)
end

init = function(args)
  prefix = args[1] or prefix
  path = args[2] or path
  -- headers given with -H (e.g. Authorization) go with every POST too
  for name, value in pairs(wrk.headers) do
    if headers[name] == nil then headers[name] = value end
  end
end

request = function()
  counter = counter + 1
  local body = string.format(template, prefix, tid or 0, counter, prefix)
  return wrk.format("POST", path, headers, body)
end
"""

#: A small, realistic pod (the ``create`` scenario's body).
_POD_TEMPLATE = (
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s-%d-%d",'
    '"labels":{"app":"bench","tier":"web","pod-template-hash":"5d8f6c7b9"},'
    '"annotations":{"bench.kubemu.io/run":"%s"}},'
    '"spec":{"containers":[{"name":"app","image":"nginx:1.27",'
    '"ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],'
    '"env":[{"name":"MODE","value":"bench"}],'
    '"resources":{"requests":{"cpu":"100m","memory":"64Mi"},'
    '"limits":{"cpu":"500m","memory":"128Mi"}}}],'
    '"restartPolicy":"Always","terminationGracePeriodSeconds":5}}'
)


def post_script(template: str, path: str) -> str:
    """The Lua of a wrk run POSTing ``template`` (a JSON body whose name is ``%s-%d-%d``)
    to ``path`` (both may be replaced by the script arguments), with the report hook."""
    return _POST_LUA % {"template": template, "path": path} + _REPORT_LUA


@dataclass(frozen=True, slots=True)
class WrkResult:
    """The numbers of one wrk run."""

    requests: int
    seconds: float
    bytes: int
    errors: int
    status_errors: int
    timeouts: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu: float | None = None
    #: Share of the server's CPU spent on anything but the server process
    #: (other processes, interrupts, the kernel's loopback work).
    other_cpu: float | None = None
    #: The same on wrk's core: what anything but wrk took of it.
    other_load_cpu: float | None = None
    #: CPU time of wrk itself, as a share of the run.
    wrk_cpu: float | None = None

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def mbps(self) -> float:
        """Megabytes (10^6) read per second, headers included."""
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with the derived rates."""
        out = asdict(self)
        out["rps"] = self.rps
        out["mbps"] = self.mbps
        return out


def ensure_wrk() -> str:
    """Path of ``wrk``; installs Debian's package when missing and possible."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BenchError(f"installing wrk failed ({' '.join(cmd)}):\n{done.stderr}")
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError(
        "wrk is not installed and could not be installed (need root and apt-get); "
        "install it with: apt-get install -y wrk"
    )


def write_scripts(directory: Path) -> tuple[Path, Path]:
    """Write the Lua scripts; returns (report-only script, create script)."""
    report = directory / "report.lua"
    create = directory / "create.lua"
    report.write_text(_REPORT_LUA)
    create.write_text(post_script(_POD_TEMPLATE, "/api/v1/namespaces/default/pods"))
    return report, create


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    duration: float,
    connections: int,
    cpu: int | None,
    script_args: tuple[str, ...] = (),
    threads: int = 1,
    timeout: float = 30.0,
    *,
    headers: tuple[str, ...] = (),
) -> WrkResult:
    """Run wrk once against ``url`` and parse its JSON summary; ``headers`` are sent with
    every request (``Name: value``)."""
    argv = [
        wrk,
        *(arg for header in headers for arg in ("-H", header)),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={max(1, round(timeout))}s",
        "-s",
        str(script),
        url,
    ]
    if script_args:
        argv += ["--", *script_args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=child_setup(cpu),
        timeout=duration + timeout + 30,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_seconds = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    line = next(
        (ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None
    )
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(
        int(data[k])
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return WrkResult(
        requests=int(data["requests"]),
        seconds=int(data["duration_us"]) / 1e6,
        bytes=int(data["bytes"]),
        errors=errors,
        status_errors=int(data["status_errors"]),
        timeouts=int(data["timeouts"]),
        p50_ms=int(data["p50_us"]) / 1000,
        p99_ms=int(data["p99_us"]) / 1000,
        max_ms=int(data["max_us"]) / 1000,
        wrk_cpu=wrk_seconds / (int(data["duration_us"]) / 1e6) if data["duration_us"] else None,
    )
