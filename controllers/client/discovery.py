"""API discovery (client-go ``discovery.ServerPreferredResources``) over the REST client.

:func:`server_preferred_resources` reads ``/api``, ``/apis`` and each group's preferred
version's resource list, as a controller does that must act on *every* kind the server
serves (custom resources included) rather than on a fixed table. A group whose list cannot
be read does not fail the whole call: its error is collected in :class:`GroupDiscoveryFailed`
(upstream ``ErrGroupDiscoveryFailed``) next to the resources that were found.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["APIResource", "GroupDiscoveryFailed", "Requester", "server_preferred_resources"]

#: ``request(method, path)``: :meth:`~controllers.client.rest.RestClient.request`.
Requester = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class APIResource:
    """One discovered resource (no subresources): where it lives and what it allows."""

    group: str
    version: str
    name: str
    namespaced: bool
    verbs: frozenset[str]
    #: The resource's ``kind`` ("" when the server did not say).
    kind: str = ""

    @property
    def group_version(self) -> str:
        """``group/version`` (``version`` for the core group)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection (or object) path, in ``namespace`` when namespaced."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{quote(namespace, safe='')}"
        path = f"{prefix}/{self.name}"
        return path if name is None else f"{path}/{quote(name, safe='')}"


class GroupDiscoveryFailed(Exception):
    """Some group versions could not be discovered (``groups``: group version → error)."""

    def __init__(self, groups: Mapping[str, str]) -> None:
        self.groups = dict(groups)
        detail = ", ".join(f"{gv}: {err}" for gv, err in sorted(self.groups.items()))
        super().__init__(f"unable to retrieve the complete list of server APIs: {detail}")


def _resources(group: str, version: str, body: Mapping[str, Any]) -> list[APIResource]:
    out = []
    for entry in body.get("resources") or []:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name") or "")
        if not name or "/" in name:  # subresources are not resources of their own
            continue
        out.append(APIResource(group, version, name, bool(entry.get("namespaced")),
                               frozenset(str(v) for v in entry.get("verbs") or []),
                               str(entry.get("kind") or "")))
    return out


async def server_preferred_resources(
    request: Requester,
) -> tuple[list[APIResource], GroupDiscoveryFailed | None]:
    """Every resource of each group's preferred version, and the groups that failed.

    Reading ``/api`` or ``/apis`` itself failing raises (nothing can be listed then).
    """
    group_versions: list[tuple[str, str]] = []
    core = await request("GET", "/api")
    versions = [str(v) for v in core.get("versions") or []]
    if versions:
        group_versions.append(("", versions[0]))
    groups = await request("GET", "/apis")
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("version")
        if not preferred and group.get("versions"):
            preferred = group["versions"][0].get("version")
        if preferred:
            group_versions.append((str(group.get("name") or ""), str(preferred)))
    found: list[APIResource] = []
    failed: dict[str, str] = {}
    for group_name, version in group_versions:
        path = f"/apis/{group_name}/{version}" if group_name else f"/api/{version}"
        try:
            body = await request("GET", path)
        except Exception as exc:  # one group's failure leaves the others usable
            failed[f"{group_name}/{version}" if group_name else version] = str(exc)
            continue
        found.extend(_resources(group_name, version, body))
    return found, (GroupDiscoveryFailed(failed) if failed else None)
