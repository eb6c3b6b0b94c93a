"""MutatingAdmissionWebhook and ValidatingAdmissionWebhook (upstream's webhook dispatchers).

Contracts:

* Requests on webhook configurations and admission policies never reach a webhook.
* Each plugin reads its configurations from the watch cache on every request
  (:mod:`.config`), picks the webhooks that apply (:mod:`.matching`), and calls each with an
  AdmissionReview v1 (:mod:`.review`) through the shared client (:mod:`apiserver.webhook`).
* A webhook that cannot be called, times out, or answers an invalid review is skipped when
  its ``failurePolicy`` is ``Ignore``; with ``Fail`` the request ends with 500
  ``Internal error occurred: failed calling webhook "x": …``. A match condition that cannot
  be evaluated counts as such a failure.
* A dry-run request reaching a webhook whose ``sideEffects`` is not ``None`` or
  ``NoneOnDryRun`` is refused (400 ``admission webhook "x" does not support dry run``),
  whatever its failure policy.
* ``allowed: false`` ends the request with the webhook's Status (:func:`.review.denial`).
* Warnings go to the response's ``Warning`` headers; ``auditAnnotations`` are recorded on
  the attributes as ``<webhook name>/<key>``.
* Mutating webhooks run one after the other; a ``JSONPatch`` answer is applied to the
  object (in place, so the store's normal validation then checks the result). When a
  webhook changes the object, every ``reinvocationPolicy: IfNeeded`` webhook called before
  it is called once more after the first round. Validating webhooks run concurrently; the
  first refusal in webhook order wins.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation
from apiserver.admission.webhook.config import (
    MUTATING,
    VALIDATING,
    ConfigurationSource,
    Webhook,
)
from apiserver.admission.webhook.matching import (
    ConditionError,
    SelectorError,
    conditions_match,
    invocation,
    selectors_match,
)
from apiserver.admission.webhook.review import (
    InvalidResponse,
    patch_of,
    request,
    review,
    verify,
)
from apiserver.admission.webhook.review import denial as denial_error
from apiserver.api import errors
from apiserver.api.resources import ENDPOINTSLICES, ResourceInfo, served
from apiserver.api.warnings import add_warning
from apiserver.patch import apply_json_patch
from apiserver.patch.errors import PatchError
from apiserver.webhook import CallError, WebhookClient

log = logging.getLogger(__name__)

MUTATING_NAME = "MutatingAdmissionWebhook"
VALIDATING_NAME = "ValidatingAdmissionWebhook"
_NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: Never sent to webhooks, so a webhook cannot lock itself in (upstream
#: ``IsExemptAdmissionConfigurationResource``).
_EXEMPT = frozenset({"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
                     "validatingadmissionpolicies", "validatingadmissionpolicybindings",
                     "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"})


def webhook_client(source: ObjectSource) -> WebhookClient:
    """A client resolving services through the registry's watch cache."""

    def lookup(resource: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return source.cached(served("", "v1", resource), namespace, name)

    def slices(namespace: str, service: str) -> Sequence[Mapping[str, Any]]:
        return [s for s in source.cached_list(ENDPOINTSLICES, namespace)
                if ((s.get("metadata") or {}).get("labels") or {}).get(_SERVICE_NAME_LABEL)
                == service]

    return WebhookClient(lookup, slices)


def call_failed(message: str) -> errors.ApiError:
    """Upstream's ``NewInternalError`` of a failed webhook call."""
    return errors.ApiError(500, "InternalError", f"Internal error occurred: {message}",
                           {"causes": [{"message": message}]})


class _Dispatcher:
    """What both plugins share: matching and one call."""

    name = ""
    mutating = False

    def __init__(self, source: ObjectSource, info: ResourceInfo,
                 client: WebhookClient | None = None) -> None:
        self.source = source
        self.configurations = ConfigurationSource(source, info)
        self.config_resources = (info,)
        self.client = client or webhook_client(source)

    def handles(self, operation: Operation) -> bool:
        return True

    def _failed(self, hook: Webhook, message: str) -> None:
        if hook.ignore_failures:
            log.warning("Failed calling webhook, failing open %s: %s", hook.name, message)
            return
        raise call_failed(message)

    def relevant(self, attrs: AdmissionAttributes) -> list[tuple[Webhook, ResourceInfo]]:
        """The webhooks the request's rules and selectors call, with the version each
        is called as."""
        out: list[tuple[Webhook, ResourceInfo]] = []
        if attrs.info.group == "admissionregistration.k8s.io" and attrs.info.plural in _EXEMPT:
            return out
        for hook in self.configurations.webhooks():
            info = invocation(hook, attrs)
            if info is None:
                continue
            try:
                if not selectors_match(hook, attrs, self.source):
                    continue
            except SelectorError as exc:
                self._failed(hook, f'failed calling webhook "{hook.name}": {exc}')
                continue
            out.append((hook, info))
        return out

    async def call(self, hook: Webhook, info: ResourceInfo, attrs: AdmissionAttributes) \
            -> tuple[Mapping[str, Any], dict[str, Any] | None] | None:
        """Call ``hook``; its verified response and the object as sent, or None when it
        was skipped."""
        obj, old = attrs.object, attrs.old_object
        if info is not attrs.info:
            obj = await self.source.convert(obj, info) if obj is not None else None
            old = await self.source.convert(old, info) if old is not None else None
        req = request(attrs, info, obj, old)
        try:
            if not conditions_match(hook, attrs, req, self.source):
                return None
        except ConditionError as exc:
            self._failed(hook, f'failed calling webhook "{hook.name}": failed to evaluate '
                               f"match conditions: {exc}")
            return None
        if attrs.dry_run and hook.side_effects not in _NO_SIDE_EFFECTS:
            raise errors.bad_request(f'admission webhook "{hook.name}" does not support dry run')
        if "v1" not in hook.review_versions:
            self._failed(hook, f'failed calling webhook "{hook.name}": webhook does not accept '
                               "v1 or v1beta1 AdmissionReview")
            return None
        try:
            answer = await self.client.post(hook.name, hook.client, orjson.dumps(review(req)),
                                            hook.timeout)
            response = verify(answer, req["uid"], self.mutating)
        except CallError as exc:
            self._failed(hook, str(exc))
            return None
        except InvalidResponse as exc:
            self._failed(hook, f'failed calling webhook "{hook.name}": received invalid '
                               f"webhook response: {exc}")
            return None
        for text in response.get("warnings") or []:
            add_warning(_CONTROL.sub(" ", str(text)).strip())
        for key, value in (response.get("auditAnnotations") or {}).items():
            attrs.audit_annotations.setdefault(f"{hook.name}/{key}", str(value))
        if response.get("allowed") is not True:
            raise denial_error(hook.name, response.get("status"))
        return response, obj


class MutatingWebhooks(_Dispatcher):
    """The ``MutatingAdmissionWebhook`` plugin (mutating phase)."""

    name = MUTATING_NAME
    mutating = True

    def __init__(self, source: ObjectSource, client: WebhookClient | None = None) -> None:
        super().__init__(source, MUTATING, client)

    async def admit(self, attrs: AdmissionAttributes) -> None:
        hooks = self.relevant(attrs)
        if not hooks:
            return
        invoked: list[str] = []
        again: set[str] = set()
        for index, (hook, info) in enumerate(hooks):
            if await self._mutate(hook, info, attrs, 0, index):
                again.update(invoked)
            if hook.reinvoke:
                invoked.append(hook.uid)
        for index, (hook, info) in enumerate(hooks):
            if hook.uid in again:
                await self._mutate(hook, info, attrs, 1, index)

    async def _mutate(self, hook: Webhook, info: ResourceInfo, attrs: AdmissionAttributes,
                      round_: int, index: int) -> bool:
        """Call one webhook and apply its patch; whether the object changed."""
        called = await self.call(hook, info, attrs)
        if called is None or attrs.object is None:
            return False
        response, shown = called
        patch = patch_of(response)
        if not patch or shown is None:
            return False
        try:
            patched = apply_json_patch(shown, patch)
        except PatchError as exc:
            raise call_failed(exc.detail) from None
        if patched == shown:
            return False
        if info is not attrs.info:
            patched = await self.source.convert(patched, attrs.info)
        attrs.object.clear()
        attrs.object.update(patched)
        attrs.patched = True
        attrs.audit_annotations[f"patch.webhook.admission.k8s.io/round_{round_}_index_{index}"] \
            = orjson.dumps({"configuration": hook.configuration, "webhook": hook.name,
                            "patch": orjson.loads(patch), "patchType": "JSONPatch"}).decode()
        return True


class ValidatingWebhooks(_Dispatcher):
    """The ``ValidatingAdmissionWebhook`` plugin (validating phase)."""

    name = VALIDATING_NAME

    def __init__(self, source: ObjectSource, client: WebhookClient | None = None) -> None:
        super().__init__(source, VALIDATING, client)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        hooks = self.relevant(attrs)
        if not hooks:
            return
        results = await asyncio.gather(*(self.call(hook, info, attrs) for hook, info in hooks),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
