"""kubectl's move from client-side to server-side apply, as the server helps it.

Only for applies by the field manager named exactly :data:`KUBECTL` (upstream's
``lastAppliedManager`` and ``lastAppliedUpdater``):

* :func:`exempt_fields` — the fields of the live object's
  ``kubectl.kubernetes.io/last-applied-configuration`` that still hold the value the
  annotation records. A ``kubectl`` apply whose every conflict lies in that set is
  applied as if forced; otherwise only the conflicts outside it are reported.
* :func:`refresh` — after a successful ``kubectl`` apply, an object that has the
  annotation gets it rewritten as the applied configuration (without the annotation
  itself). The server never adds the annotation.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from apiserver.registry.managedfields.fieldpath import FieldSet
from apiserver.registry.managedfields.typed import compare

if TYPE_CHECKING:
    from apiserver.registry.managedfields.manager import Scope

KUBECTL = "kubectl"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: Upstream's bound on the total size of an object's annotations (256 KiB).
_ANNOTATIONS_LIMIT = 256 * 1024
#: Characters Go's ``json.Encoder`` escapes by default (HTML safety, JS line separators).
_GO_ESCAPED = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _annotation(obj: dict[str, Any] | None) -> str | None:
    md = (obj or {}).get("metadata")
    annotations = md.get("annotations") if isinstance(md, dict) else None
    value = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) and value else None


def exempt_fields(live: dict[str, Any] | None, scope: Scope) -> FieldSet:
    """Fields of ``live``'s last-applied annotation whose live value is the recorded one.

    Empty when there is no annotation or it is not a JSON object.
    """
    text = _annotation(live)
    if text is None or live is None:
        return set()
    try:
        last = json.loads(text)
    except ValueError:
        return set()
    if not isinstance(last, dict):
        return set()
    recorded = scope.values(last)
    current = scope.values(live)
    added, modified, removed = compare(recorded, current)
    return set(recorded) - modified - removed - added


def _go_json(value: Any) -> str:
    """``value`` as Go's ``json.Encoder`` writes a map: sorted keys, compact, HTML
    characters escaped, ending with a newline."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPED.items():
        if char in text:
            text = text.replace(char, escaped)
    return text + "\n"


def refresh(applied: dict[str, Any], config: dict[str, Any]) -> None:
    """Rewrite ``applied``'s annotation (if it has one) as ``config`` without it.

    The annotation is dropped instead when it would push the annotations past
    upstream's total size limit.
    """
    if _annotation(applied) is None:
        return
    stripped = dict(config)
    config_md = config.get("metadata")
    if isinstance(config_md, dict):
        md = dict(config_md)
        annotations = md.get("annotations")
        if isinstance(annotations, dict):
            rest = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
            if rest:
                md["annotations"] = rest
            else:
                md.pop("annotations")
        stripped["metadata"] = md
    annotations = applied["metadata"]["annotations"]
    annotations[LAST_APPLIED] = _go_json(stripped)
    size = sum(len(k) + len(str(v)) for k, v in annotations.items())
    if size > _ANNOTATIONS_LIMIT:
        del annotations[LAST_APPLIED]
