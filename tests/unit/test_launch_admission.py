"""``kubemu up`` turns ServiceAccount admission off only when no controller manager runs."""

from __future__ import annotations

from pathlib import Path

from kubemu.components import NO_MANAGER_ADMISSION, LaunchContext, launch_plan

FLAG = NO_MANAGER_ADMISSION


def _apiserver_argv(disabled: tuple[str, ...]) -> list[str]:
    ctx = LaunchContext(python="python", data_dir=Path("/d"), kubeconfig=Path("/k"),
                        bind_address="127.0.0.1", port=8080,
                        server_url="http://127.0.0.1:8080", storage="sqlite")
    plan = {c.name: c for c in launch_plan(ctx, disabled)}
    return list(plan["apiserver"].args(ctx))


def test_service_account_admission_follows_the_controller_manager() -> None:
    assert FLAG not in _apiserver_argv(())
    assert FLAG in _apiserver_argv(("controller-manager", "scheduler"))
