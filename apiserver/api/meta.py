"""ObjectMeta helpers: names, timestamps, uids and generated names."""

from __future__ import annotations

import collections
import math
import os
import random
import re
from datetime import UTC, datetime
from typing import Any

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

# Upstream's generated-name alphabet: no vowels, no confusable characters.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATED_SUFFIX = 5
_MAX_GENERATED_PREFIX = DNS1123_SUBDOMAIN_MAX - _GENERATED_SUFFIX


#: The last second :func:`rfc3339` formatted and its text (every write of that second
#: stamps the same text, often twice: creationTimestamp and managedFields).
_last_second: tuple[int, str] = (0, "")


def rfc3339(moment: datetime) -> str:
    """A timestamp as Kubernetes writes ``metav1.Time`` (seconds, ``Z``)."""
    global _last_second
    second = math.floor(moment.timestamp())
    last = _last_second
    if last[0] == second and last[1]:
        return last[1]
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_second = (second, text)
    return text


def parse_rfc3339(text: str) -> datetime | None:
    """Parse a ``metav1.Time``; ``None`` if it is not one."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


#: Random bytes for uids, 16 per uid, drawn from the OS's CSPRNG 4 KiB at a time (one
#: system call per 256 uids, not one per object). A deque pops atomically, so threads
#: never share a chunk; a forked child starts with an empty pool of its own.
_UID_RANDOMNESS: collections.deque[bytes] = collections.deque()
_UID_BATCH = 256
os.register_at_fork(after_in_child=_UID_RANDOMNESS.clear)


def _uid_bytes() -> bytes:
    try:
        return _UID_RANDOMNESS.popleft()
    except IndexError:
        pool = os.urandom(16 * _UID_BATCH)
        _UID_RANDOMNESS.extend(pool[i:i + 16] for i in range(16, len(pool), 16))
        return pool[:16]


def new_uid() -> str:
    """A fresh object uid (UUID4, as upstream)."""
    # uuid.uuid4()'s value, spelled out without building a UUID object.
    digits = _uid_bytes().hex()
    variant = "89ab"[int(digits[16], 16) & 3]
    return (f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-"
            f"{digits[20:]}")


def generate_name(base: str, rng: random.Random | None = None) -> str:
    """``base`` plus five random characters, truncating ``base`` as upstream."""
    r = rng or random
    if len(base) > _MAX_GENERATED_PREFIX:
        base = base[:_MAX_GENERATED_PREFIX]
    return base + "".join(r.choices(_NAME_ALPHABET, k=_GENERATED_SUFFIX))


def dns1123_subdomain_errors(value: str) -> list[str]:
    """Upstream ``IsDNS1123Subdomain`` messages for ``value``."""
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    return errs


def dns1123_label_errors(value: str) -> list[str]:
    """Upstream ``IsDNS1123Label`` messages for ``value``."""
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1123_LABEL.match(value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    return errs


def dns1035_label_errors(value: str) -> list[str]:
    """Upstream ``IsDNS1035Label`` messages for ``value``."""
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1035_LABEL.match(value):
        errs.append(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
    return errs


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj.metadata``, created (as a dict) when missing or null."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta
