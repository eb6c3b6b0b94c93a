"""Query and path parameters of Kubernetes REST operations.

Each parameter is described once here; the v2 and v3 builders render it in
their own syntax. Descriptions are our own summaries of the upstream meaning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """One operation parameter: ``location`` is ``"query"`` or ``"path"``."""

    name: str
    location: str
    type: str
    description: str
    required: bool = False


_Q = "query"

PRETTY = Param("pretty", _Q, "string", "If 'true', the output is pretty printed.")
NAME = Param("name", "path", "string", "name of the object", required=True)
NAMESPACE = Param(
    "namespace", "path", "string", "object name and auth scope, such as for teams and projects",
    required=True,
)

ALLOW_WATCH_BOOKMARKS = Param(
    "allowWatchBookmarks", _Q, "boolean",
    "Request BOOKMARK events on watches. Servers may send them at their discretion; "
    "clients must not assume they arrive at any particular interval.",
)
CONTINUE = Param(
    "continue", _Q, "string",
    "Token returned in metadata.continue of a previous list call, to fetch the next chunk.",
)
FIELD_SELECTOR = Param(
    "fieldSelector", _Q, "string",
    "Restrict the returned objects by their fields. Defaults to everything.",
)
LABEL_SELECTOR = Param(
    "labelSelector", _Q, "string",
    "Restrict the returned objects by their labels. Defaults to everything.",
)
LIMIT = Param(
    "limit", _Q, "integer",
    "Maximum number of items of a list response; a continue token is returned when more exist.",
)
RESOURCE_VERSION = Param(
    "resourceVersion", _Q, "string",
    "Constrain which resource versions a request may be served from; see the API concepts "
    "documentation on resource versions. Defaults to unset.",
)
RESOURCE_VERSION_MATCH = Param(
    "resourceVersionMatch", _Q, "string",
    "How resourceVersion applies to list calls (Exact or NotOlderThan). Defaults to unset.",
)
SEND_INITIAL_EVENTS = Param(
    "sendInitialEvents", _Q, "boolean",
    "With watch=true, start the stream with synthetic ADDED events for the current state, "
    "followed by a BOOKMARK annotated k8s.io/initial-events-end.",
)
TIMEOUT_SECONDS = Param(
    "timeoutSeconds", _Q, "integer",
    "Timeout of the list/watch call, regardless of activity.",
)
WATCH = Param(
    "watch", _Q, "boolean",
    "Watch for changes to the described resources and return them as a stream of "
    "add, update and remove notifications.",
)
DRY_RUN = Param(
    "dryRun", _Q, "string",
    "When present, modifications are not persisted. The only valid value is All.",
)
FIELD_MANAGER = Param(
    "fieldManager", _Q, "string",
    "Name of the actor making the change; at most 128 printable characters. "
    "Required for apply patches.",
)
FIELD_VALIDATION = Param(
    "fieldValidation", _Q, "string",
    "How to treat unknown and duplicate fields in the request body: Ignore, Warn "
    "(the default) or Strict.",
)
FORCE = Param(
    "force", _Q, "boolean",
    "Force an apply request through conflicts with other managers. Only for apply patches.",
)
GRACE_PERIOD_SECONDS = Param(
    "gracePeriodSeconds", _Q, "integer",
    "Seconds before the object is deleted; zero deletes immediately. Defaults to the "
    "object's own default.",
)
IGNORE_STORE_READ_ERROR = Param(
    "ignoreStoreReadErrorWithClusterBreakingPotential", _Q, "boolean",
    "Delete an object whose stored data cannot be read. Dangerous; defaults to false.",
)
ORPHAN_DEPENDENTS = Param(
    "orphanDependents", _Q, "boolean",
    "Deprecated: use propagationPolicy. Whether dependents are orphaned.",
)
PROPAGATION_POLICY = Param(
    "propagationPolicy", _Q, "string",
    "Whether and how garbage collection is done: Orphan, Background or Foreground.",
)

LIST_PARAMS: tuple[Param, ...] = (
    ALLOW_WATCH_BOOKMARKS, CONTINUE, FIELD_SELECTOR, LABEL_SELECTOR, LIMIT, RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH, SEND_INITIAL_EVENTS, TIMEOUT_SECONDS, WATCH,
)
WRITE_PARAMS: tuple[Param, ...] = (DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION)
PATCH_PARAMS: tuple[Param, ...] = (*WRITE_PARAMS, FORCE)
DELETE_PARAMS: tuple[Param, ...] = (
    DRY_RUN, GRACE_PERIOD_SECONDS, IGNORE_STORE_READ_ERROR, ORPHAN_DEPENDENTS, PROPAGATION_POLICY,
)
DELETE_COLLECTION_PARAMS: tuple[Param, ...] = (
    CONTINUE, DRY_RUN, FIELD_SELECTOR, GRACE_PERIOD_SECONDS, IGNORE_STORE_READ_ERROR,
    LABEL_SELECTOR, LIMIT, ORPHAN_DEPENDENTS, PROPAGATION_POLICY, RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH, SEND_INITIAL_EVENTS, TIMEOUT_SECONDS,
)
