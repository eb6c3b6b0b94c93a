"""The userspace proxier's bind failures say why: a privileged port or a taken one."""

from __future__ import annotations

import errno
import socket

from controllers.proxy.types import ServicePortName
from controllers.proxy.userspace import bind_error_message

SPN = ServicePortName("ns", "web", "", "TCP")


def test_taken_port_does_not_blame_privileges() -> None:
    with socket.socket() as holder, socket.socket() as second:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        try:
            second.bind(("127.0.0.1", port))
        except OSError as exc:
            err = exc
    assert err.errno == errno.EADDRINUSE
    message = bind_error_message(("127.0.0.1", port, "TCP"), SPN, err)
    assert message.startswith(f"cannot listen on 127.0.0.1:{port}/TCP for {SPN}: ")
    assert message.endswith("(another process listens there)")
    assert "CAP_NET_BIND_SERVICE" not in message
    low = bind_error_message(("127.0.0.1", 80, "TCP"), SPN,
                             OSError(errno.EADDRINUSE, "Address already in use"))
    assert "CAP_NET_BIND_SERVICE" not in low and "another process listens there" in low


def test_permission_denied_names_the_capability() -> None:
    message = bind_error_message(("127.0.0.1", 80, "TCP"), SPN,
                                 PermissionError(errno.EACCES, "Permission denied"))
    assert message.endswith("Permission denied (ports below "
                            "net.ipv4.ip_unprivileged_port_start need CAP_NET_BIND_SERVICE)")


def test_other_errors_are_reported_as_they_are() -> None:
    message = bind_error_message(("192.0.2.10", 8082, "TCP"), SPN,
                                 OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"))
    assert message == (f"cannot listen on 192.0.2.10:8082/TCP for {SPN}: "
                       "Cannot assign requested address")
