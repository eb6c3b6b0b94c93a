"""The scheduler process on the shared controller runtime: its flags and its one controller."""

from __future__ import annotations

from controllers.runtime.controller import KeyedController
from controllers.scheduler.app import LEASE_NAME, SPEC, build_parser
from controllers.scheduler.controller import Scheduler


def test_parser_has_the_shared_flags_and_its_own() -> None:
    args = build_parser().parse_args([
        "--master", "http://127.0.0.1:8080", "--leader-elect", "--port", "10259",
        "--scheduler-name", "mine", "--retry-interval", "500ms",
    ])
    assert args.server == "http://127.0.0.1:8080"
    assert args.leader_elect is True
    assert args.port == 10259
    assert args.scheduler_name == "mine"
    assert args.retry_interval == 0.5


def test_defaults_keep_todays_behaviour_with_upstreams_lease() -> None:
    args = build_parser().parse_args(["--server", "http://127.0.0.1:8080"])
    assert args.leader_elect is False
    assert args.leader_elect_resource_name == LEASE_NAME == "kube-scheduler"
    assert args.scheduler_name == "default-scheduler"
    assert args.retry_interval == 30.0
    assert args.controllers == "*"


def test_one_controller_with_one_worker() -> None:
    assert issubclass(Scheduler, KeyedController)
    assert SPEC.name == Scheduler.name == "scheduler"
    assert SPEC.workers(build_parser().parse_args([])) == 1
