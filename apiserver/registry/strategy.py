"""Per-resource strategies: the rules of a kind, in upstream's order.

``prepare_for_create``/``prepare_for_update`` (reset status on the main
resource, keep everything but status on ``/status``) → ``validate`` →
``canonicalize``. Strategies are small and stateless; the generic
:class:`apiserver.registry.store.Store` calls them.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import errors, meta

Cause = dict[str, str]


class Strategy:
    """Defaults shared by every kind; subclasses override what differs."""

    #: PUT on a missing object creates it (Endpoints, ConfigMaps… upstream).
    allow_create_on_update = False
    #: PUT without ``metadata.resourceVersion`` overwrites (true for core kinds).
    allow_unconditional_update = True
    #: Whether ``status`` is a subresource (reset on the main resource).
    has_status_subresource = False
    #: Whether spec changes bump ``metadata.generation``.
    tracks_generation = False
    #: DELETE without a propagation policy orphans dependents (v1 ReplicationControllers).
    orphans_dependents_by_default = False
    #: Any qualified name is a valid finalizer (apiextensions objects are validated by
    #: apimachinery's generic rules, not core's "standard or domain/name" rule).
    any_qualified_finalizer = False
    #: Subresources whose writes change the spec (``pods/ephemeralcontainers``): the store
    #: defaults their bodies as it defaults a main-resource write, since upstream's decoder
    #: defaults every body (``/status`` bodies are taken as sent).
    defaulted_subresources: frozenset[str] = frozenset()

    def name_errors(self, name: str) -> list[str]:
        """Validation messages for ``metadata.name`` (DNS-1123 subdomain)."""
        return meta.dns1123_subdomain_errors(name)

    def default(self, obj: dict[str, Any]) -> None:
        """Apply field defaults (``SetDefaults_*``) in place."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Clear what a client may not set on create (status for most kinds)."""
        if self.has_status_subresource:
            obj.pop("status", None)
            self.initial_status(obj)
        if self.tracks_generation:
            meta.metadata(obj)["generation"] = 1

    def initial_status(self, obj: dict[str, Any]) -> None:
        """Status a fresh object starts with (when status is a subresource)."""

    def redecode(self, obj: dict[str, Any]) -> None:
        """A mutating webhook patched ``obj``: what decoding the patched object does beyond
        the kind's defaults (which the store applies again), e.g. pruning."""

    def after_admission(self, obj: dict[str, Any]) -> None:
        """On create, once mutating admission has run: refresh what depends on fields
        admission may have set (upstream derives these in ``PrepareForCreate``, which runs
        after admission)."""

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Keep the old status on main-resource updates; bump generation on spec change."""
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            generation = meta.metadata(old).get("generation", 1)
            if new.get("spec") != old.get("spec"):
                generation += 1
            meta.metadata(new)["generation"] = generation

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """On ``/status``: everything but status comes from the stored object."""
        status = new.get("status")
        for key in list(new):
            if key not in ("metadata", "kind", "apiVersion"):
                del new[key]
        for key, value in old.items():
            if key not in ("metadata", "kind", "apiVersion", "status"):
                new[key] = value
        if status is not None:
            new["status"] = status
        # Labels and annotations may change through /status; nothing else of meta.
        new_meta = meta.metadata(new)
        old_meta = meta.metadata(old)
        keep = {k: new_meta[k] for k in ("labels", "annotations") if k in new_meta}
        new_meta.clear()
        new_meta.update(old_meta)
        for k in ("labels", "annotations"):
            if k in keep:
                new_meta[k] = keep[k]
            else:
                new_meta.pop(k, None)

    def prepare_for_subresource_update(self, subresource: str, new: dict[str, Any],
                                       old: dict[str, Any]) -> None:
        """Keep of ``new`` only what a write to ``subresource`` may change (upstream: the
        subresource's own strategy's ``PrepareForUpdate``). ``/status`` is
        :meth:`prepare_for_status_update`; other subresources (``namespaces/finalize``,
        ``pods/binding``) arrive prepared by their caller, so nothing by default."""
        if subresource == "status":
            self.prepare_for_status_update(new, old)

    def authorize_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Refuse a create (``old`` None) or update by the requester with an ApiError
        (the RBAC kinds' escalation checks); nothing by default."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """Field errors of a new object (must not mutate it)."""
        return []

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        """Field errors of an update; defaults to :meth:`validate` of the new object."""
        return self.validate(new)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        """Field errors of a ``/status`` update (none by default)."""
        return []

    def validate_subresource_update(self, subresource: str, new: dict[str, Any],
                                    old: dict[str, Any]) -> list[Cause]:
        """Field errors of a write to ``subresource``: ``/status`` is
        :meth:`validate_status_update`, others the kind's :meth:`validate_update`."""
        if subresource == "status":
            return self.validate_status_update(new, old)
        return self.validate_update(new, old)

    def grace_period(
        self, obj: dict[str, Any], requested: int | None
    ) -> int:
        """Seconds of graceful deletion (0: delete at once). Pods override."""
        return 0

    def on_delete(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """A delete that only marks the object (namespaces): the marked object."""
        return None


def required_name_cause(generate: bool) -> Cause:
    """The cause for a missing ``metadata.name``."""
    detail = "name or generateName is required"
    return errors.field_cause("FieldValueRequired", "metadata.name", f"Required value: {detail}")
