"""The remote-command channel protocol (exec, attach) over a WebSocket.

Subprotocols, as upstream's ``wsstream`` and remotecommand packages define them:

* binary — ``channel.k8s.io`` (v1), ``v2.channel.k8s.io``, ``v3.channel.k8s.io`` (resize),
  ``v4.channel.k8s.io`` (exit codes as a JSON Status), ``v5.channel.k8s.io`` (the close
  signal) and no subprotocol at all (treated as v1): every message is one channel byte,
  then the raw payload;
* base64 — ``base64.channel.k8s.io`` and ``v4.base64.channel.k8s.io``: the channel is an
  ASCII digit (``'0' + n``), then the standard base64 of the payload, sent as text.

Channels: stdin 0, stdout 1, stderr 2, error 3, resize 4. Under v5 a message of exactly
two bytes ``[255, n]`` half-closes channel ``n`` (for the server: stdin EOF); any other
message on 255 is a protocol error that tears the connection down. Incoming text frames
are taken as their UTF-8 bytes (the Python client sends ``str`` data as text). Empty
messages are skipped.

The error channel carries, under v4 and v5, one ``metav1.Status`` body (no kind or
apiVersion, ``metadata`` as ``{}``): ``Success`` when the command exited 0, or a Failure
with reason ``NonZeroExitCode`` and the exit code as the ``ExitCode`` cause (which
kubectl turns into ``command terminated with exit code N`` and the Python client into
``returncode``). Older protocols carry the Status message as plain text, and nothing on
success.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CLOSE", "ERROR", "PROTOCOLS", "RESIZE", "STDERR", "STDIN", "STDOUT", "Frame",
           "Protocol", "ProtocolError", "ResizeDecoder", "exit_status", "failure_status",
           "internal_error_status", "negotiate", "success_status", "unsupported_message"]

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
#: The channels a remote-command stream opens.
CHANNELS = 5

#: Served subprotocols, in the order the server prefers them when asked for none.
PROTOCOLS: tuple[str, ...] = (
    "v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
    "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io",
)


class ProtocolError(Exception):
    """A message the protocol forbids; the connection must be torn down."""


@dataclass(frozen=True)
class Frame:
    """One decoded message: ``data`` on ``channel``, or (``closed``) a v5 close signal
    for ``channel``."""

    channel: int
    data: bytes = b""
    closed: bool = False


@dataclass(frozen=True)
class Protocol:
    """One negotiated subprotocol (``name`` is ``""`` when the client offered none)."""

    name: str

    @property
    def base64(self) -> bool:
        """Whether payloads travel base64-encoded in text messages."""
        return "base64" in self.name

    @property
    def version(self) -> int:
        """1 to 5 (``channel.k8s.io``, base64 and no subprotocol are version 1)."""
        head = self.name.split(".", 1)[0]
        return int(head[1:]) if head.startswith("v") and head[1:].isdigit() else 1

    @property
    def status_json(self) -> bool:
        """Whether the error channel carries a JSON Status (v4 and later)."""
        return self.version >= 4

    def encode(self, channel: int, data: bytes) -> bytes | str:
        """The WebSocket message carrying ``data`` on ``channel`` (``str``: a text frame)."""
        if self.base64:
            return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")
        return bytes((channel,)) + data

    def decode(self, message: bytes | str) -> Frame | None:
        """The frame of one received message; None for a message to skip (empty)."""
        raw = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        if not raw:
            return None
        if self.base64:
            channel = raw[0] - ord("0")
            if not 0 <= channel < CHANNELS:
                return Frame(channel, b"")
            try:
                return Frame(channel, base64.b64decode(raw[1:], validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError(f"invalid base64 payload on channel {channel}") from exc
        channel = raw[0]
        if channel == CLOSE and self.version >= 5:
            if len(raw) != 2 or raw[1] >= CHANNELS:
                raise ProtocolError(f"invalid close signal: {list(raw)}")
            return Frame(raw[1], closed=True)
        return Frame(channel, raw[1:])

    def status_message(self, status: dict[str, Any]) -> bytes | None:
        """The error-channel payload for ``status`` (None: nothing to send)."""
        if self.status_json:
            return json.dumps(status, separators=(",", ":")).encode()
        if status.get("status") == "Success":
            return None
        return str(status.get("message") or "").encode()


def negotiate(offered: Sequence[str], supported: Sequence[str] = PROTOCOLS) -> Protocol | None:
    """The first of the client's ``offered`` subprotocols the server supports (as upstream
    chooses); ``Protocol("")`` when none was offered; None when none is supported."""
    names = [p.strip() for item in offered for p in item.split(",") if p.strip()]
    if not names:
        return Protocol("")
    for name in names:
        if name in supported:
            return Protocol(name)
    return None


def _go_list(items: Sequence[str]) -> str:
    return "[" + " ".join(items) + "]"


def unsupported_message(offered: Sequence[str], supported: Sequence[str] = PROTOCOLS) -> str:
    """Upstream's refusal text for a handshake offering no supported subprotocol."""
    return (f"requested protocol(s) are not supported: {_go_list(list(offered))}; "
            f"supports {_go_list(list(supported))}")


def success_status() -> dict[str, Any]:
    """The Status written on the error channel when the command exited 0."""
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, detail: str) -> dict[str, Any]:
    """The Status for a command that exited ``code`` (not 0); ``detail`` is the runtime's
    error text (containerd: ``error executing command [argv], exit code N``)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {detail}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure_status(message: str, reason: str, code: int) -> dict[str, Any]:
    """A Failure Status with ``reason`` and HTTP ``code`` (e.g. NotFound, 404)."""
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason,
            "code": code}


def internal_error_status(error: str) -> dict[str, Any]:
    """The Status of ``apierrors.NewInternalError`` for ``error`` (what the kubelet writes
    when a command could not be run at all)."""
    out = failure_status(f"Internal error occurred: {error}", "InternalError", 500)
    out["details"] = {"causes": [{"message": error}]}
    return out


@dataclass
class ResizeDecoder:
    """Terminal sizes from the resize channel: a stream of JSON objects
    ``{"Width": W, "Height": H}`` that may be split across (or packed into) messages."""

    buffer: str = field(default="")

    def feed(self, data: bytes) -> Iterator[tuple[int, int]]:
        """Yield each complete (width, height) in ``data`` plus what was buffered; a
        malformed object is dropped."""
        self.buffer += data.decode("utf-8", errors="replace")
        decoder = json.JSONDecoder()
        while True:
            text = self.buffer.lstrip()
            if not text:
                self.buffer = ""
                return
            try:
                obj, end = decoder.raw_decode(text)
            except json.JSONDecodeError:
                self.buffer = text
                if len(text) > 4096:  # garbage that will never become an object
                    self.buffer = ""
                return
            self.buffer = text[end:]
            if isinstance(obj, dict):
                width, height = obj.get("Width"), obj.get("Height")
                if isinstance(width, int) and isinstance(height, int):
                    yield width, height
