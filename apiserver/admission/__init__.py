"""Admission: the plugins a write passes after decoding and before storage.

:mod:`.attributes` (what a plugin sees, the plugin protocols, the object source the
registry provides), :mod:`.chain` (mutating then validating), :mod:`.plugins` (names,
upstream order, flags, registration points) and one module per built-in plugin. This
layer sits below the registry: the generic store runs the chain; plugins reach other
objects only through :class:`~apiserver.admission.attributes.ObjectSource`.
"""

from apiserver.admission.attributes import (
    AdmissionAttributes,
    MutatingPlugin,
    ObjectSource,
    Operation,
    ValidatingPlugin,
)
from apiserver.admission.chain import AdmissionChain

__all__ = [
    "AdmissionAttributes",
    "AdmissionChain",
    "MutatingPlugin",
    "ObjectSource",
    "Operation",
    "ValidatingPlugin",
]
