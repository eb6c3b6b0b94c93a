"""``python -m bench.dns_responder --port N``: the DNS scenario's baseline server.

The least a Python DNS server built on dnspython does per query: one blocking UDP socket
on ``127.0.0.1:N``; each datagram is parsed (``dns.message.from_wire``), answered with one
fixed A record (``192.0.2.1``, TTL 5) for the question's name and sent back
(``to_wire``). No zone, no lookup, no asyncio: what the cluster DNS server does beyond this
is what the scenario's ratio measures. Unparsable datagrams, and queries with other
than one question, are ignored. Prints
``ready`` once bound; runs until killed.
"""

from __future__ import annotations

import argparse
import socket

import dns.exception
import dns.message
import dns.rrset

ADDRESS = "192.0.2.1"


def serve(port: int) -> None:
    """Answer every query on ``127.0.0.1:port`` until killed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", port))
    print("ready", flush=True)
    while True:
        data, addr = sock.recvfrom(4096)
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            continue
        if len(query.question) != 1:
            continue
        resp = dns.message.make_response(query)
        resp.answer.append(dns.rrset.from_text(query.question[0].name, 5, "IN", "A", ADDRESS))
        sock.sendto(resp.to_wire(), addr)


def main() -> None:
    """Parse ``--port`` and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.dns_responder")
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)


if __name__ == "__main__":
    main()
