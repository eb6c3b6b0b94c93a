"""The kubelet-managed /etc/hosts and host name of a pod."""

from __future__ import annotations

import socket

from controllers.node.etchosts import hosts_file, pod_hostname

LOCAL = ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
         "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
         "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")


def test_a_statefulset_pod_is_named_by_its_subdomain() -> None:
    pod = {"metadata": {"name": "db-0", "namespace": "shop"},
           "spec": {"hostname": "db-0", "subdomain": "db",
                    "hostAliases": [{"ip": "127.1.2.3", "hostnames": ["a.local", "b.local"]}]}}
    assert hosts_file(pod, ["127.244.1.9"], "cluster.local") == (
        LOCAL + "127.244.1.9\tdb-0.db.shop.svc.cluster.local\tdb-0\n"
        "\n# Entries added by HostAliases.\n127.1.2.3\ta.local\tb.local\n")


def test_a_plain_pod_is_named_by_its_name_cut_to_63_characters() -> None:
    pod = {"metadata": {"name": "web", "namespace": "d"}, "spec": {}}
    assert hosts_file(pod, ["127.244.1.2"], "cluster.local") == LOCAL + "127.244.1.2\tweb\n"
    long = {"metadata": {"name": "x" * 62 + "-y"}, "spec": {}}
    assert pod_hostname(long) == "x" * 62


def test_host_name_as_fqdn_and_on_the_host_network() -> None:
    pod = {"metadata": {"name": "db-0", "namespace": "shop"},
           "spec": {"subdomain": "db", "setHostnameAsFQDN": True}}
    assert pod_hostname(pod, "cluster.local") == "db-0.db.shop.svc.cluster.local"
    assert pod_hostname({"metadata": {"name": "p"}, "spec": {"hostNetwork": True}}) == (
        socket.gethostname())
