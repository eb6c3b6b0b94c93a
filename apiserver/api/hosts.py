"""Host address helpers shared by the apiserver, the node agent and ``kubemu up``."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(address: str) -> bool:
    """True when ``address`` is ``localhost`` or a loopback IP literal (a listener there
    is reachable from this machine only, so it may go without authentication)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
