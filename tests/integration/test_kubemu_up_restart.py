"""``kubemu up`` again on the same data directory: same addresses, and a word about old nodes.

The restart keeps the address block recorded in the data directory (so stored
ClusterIPs stay valid), and when it runs fewer nodes than the earlier run it says
in one log line which stored Nodes it does not run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubemu.components import component_names
from kubemu.stored_nodes import not_run
from tests.support.kubemu_up import start_kubemu, stop_kubemu, wait_for

pytestmark = pytest.mark.timeout(180)

NODES_ONLY = [arg for name in component_names() if name not in ("apiserver", "node")
              for arg in ("--disable", name)]


def test_not_run_lists_stored_names_missing_from_this_run() -> None:
    assert not_run(["node-3", "node-1", "node-2"], ["node-1"]) == ["node-2", "node-3"]
    assert not_run(["node-1"], ["node-1", "node-2"]) == []


def test_restart_keeps_addresses_and_names_stored_nodes_it_does_not_run(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_kubemu(data_dir, 2, *NODES_ONLY)
    try:
        wait_for("two nodes", lambda: len(first.get("/api/v1/nodes")["items"]) == 2)
        cluster_ip = first.get("/api/v1/namespaces/default/services/kubernetes")[
            "spec"]["clusterIP"]
        assert "stored nodes of an earlier run" not in first.log.read_text()
    finally:
        stop_kubemu(first)

    offset = first.log.stat().st_size
    second = start_kubemu(data_dir, 1, *NODES_ONLY)
    try:
        assert second.addresses == first.addresses
        kubernetes = second.get("/api/v1/namespaces/default/services/kubernetes")
        assert kubernetes["spec"]["clusterIP"] == cluster_ip == first.addresses.kubernetes_ip
        lines = [line for line in second.log.read_text()[offset:].splitlines()
                 if "stored nodes of an earlier run" in line]
        assert len(lines) == 1, lines
        assert lines[0].endswith("stored nodes of an earlier run that this run does not run: "
                                 "node-2 (kubectl delete node node-2 removes them)"), lines
    finally:
        stop_kubemu(second)


def test_up_waits_for_every_node_agent_of_this_run(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_kubemu(data_dir, 1, *NODES_ONLY)
    stop_kubemu(first)
    began = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    second = start_kubemu(data_dir, 2, *NODES_ONLY)
    try:
        # No waiting here: "kubemu is up" came only once both agents had registered, the
        # stored node-1 included (its Node was still there, Ready, from the first run).
        nodes = {n["metadata"]["name"]: n for n in second.get("/api/v1/nodes")["items"]}
        assert sorted(nodes) == ["node-1", "node-2"]
        for node in nodes.values():
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert ready[0]["lastHeartbeatTime"] >= began
    finally:
        stop_kubemu(second)
