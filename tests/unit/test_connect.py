"""The connect subresources' pure parts: path matching, PodLogOptions, the container
choice, ``[scheme:]name[:port]`` and Location rewriting (upstream's rules)."""

from __future__ import annotations

import pytest

from apiserver.api.errors import ApiError
from apiserver.handlers.connect.logs import choose_container, log_params
from apiserver.handlers.connect.proxy import rewrite_location, split_scheme_name_port
from apiserver.handlers.connect.routes import ConnectTarget, kubelet_stream_query, match


def test_match() -> None:
    ns = "/api/v1/namespaces/d"
    assert match(f"{ns}/pods/p/log") == ConnectTarget("pods", "d", "p", "log", "")
    assert match(f"{ns}/pods/p/exec") == ConnectTarget("pods", "d", "p", "exec", "")
    assert match(f"{ns}/services/https:s:443/proxy/a/b/") == ConnectTarget(
        "services", "d", "https:s:443", "proxy", "/a/b/")
    assert match("/api/v1/nodes/n/proxy") == ConnectTarget("nodes", None, "n", "proxy", "")
    for other in (f"{ns}/pods/p", f"{ns}/pods/p/status", f"{ns}/pods/p/log/x",
                  f"{ns}/configmaps/c/proxy", "/apis/apps/v1/namespaces/d/pods/p/log"):
        assert match(other) is None


def test_log_params() -> None:
    q = {"follow": ["1"], "previous": ["False"], "timestamps": ["true"], "tailLines": ["3"],
         "sinceTime": ["2024-05-01T12:00:00+02:00"]}
    assert log_params("p", q) == {"follow": "true", "timestamps": "true", "tailLines": "3",
                                  "sinceTime": "2024-05-01T10:00:00Z"}
    with pytest.raises(ApiError) as err:
        log_params("p", {"limitBytes": ["0"], "sinceSeconds": ["0"]})
    assert err.value.code == 422
    assert err.value.message == (
        'PodLogOptions "p" is invalid: [limitBytes: Invalid value: 0: must be greater than 0, '
        "sinceSeconds: Invalid value: 0: must be greater than 0]")
    with pytest.raises(ApiError) as err:
        log_params("p", {"tailLines": ["x"]})
    assert err.value.code == 400


def test_choose_container() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {
        "initContainers": [{"name": "i"}], "containers": [{"name": "a"}, {"name": "b"}]}}
    assert choose_container(pod, "i") == "i"
    with pytest.raises(ApiError) as err:
        choose_container(pod, "")
    assert err.value.message == ("a container name must be specified for pod p, choose one "
                                 "of: [i a b]")
    with pytest.raises(ApiError) as err:
        choose_container(pod, "z")
    assert err.value.message == "container z is not valid for pod p"
    single = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "only"}]}}
    assert choose_container(single, "") == "only"


def test_stream_query() -> None:
    assert kubelet_stream_query("exec", {"stdin": ["true"], "stdout": ["1"], "tty": ["false"],
                                         "command": ["sh", "-c", "echo hi"]}) == \
        "input=1&output=1&command=sh&command=-c&command=echo+hi"
    assert kubelet_stream_query("portforward", {"ports": ["80,8080", "9000"]}) == \
        "port=80&port=8080&port=9000"
    with pytest.raises(ApiError):
        kubelet_stream_query("portforward", {"ports": ["70000"]})


def test_scheme_name_port_and_location() -> None:
    assert split_scheme_name_port("web") == ("", "web", "")
    assert split_scheme_name_port("web:http") == ("", "web", "http")
    assert split_scheme_name_port("https:web:443") == ("https", "web", "443")
    assert split_scheme_name_port("ftp:web:21") is None
    assert split_scheme_name_port("a:b:c:d") is None
    prefix = "/api/v1/namespaces/d/services/web/proxy"
    assert rewrite_location("/x?y=1", "10.0.0.1:80", prefix) == f"{prefix}/x?y=1"
    assert rewrite_location("http://10.0.0.1:80/x", "10.0.0.1:80", prefix) == f"{prefix}/x"
    assert rewrite_location("http://other/x", "10.0.0.1:80", prefix) == "http://other/x"
    assert rewrite_location("relative", "10.0.0.1:80", prefix) == "relative"
