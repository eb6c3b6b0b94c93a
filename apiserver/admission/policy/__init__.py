"""ValidatingAdmissionPolicy: CEL policies and their bindings as an admission plugin.

:mod:`.matching` (which requests a policy or binding selects), :mod:`.compiled` (one
policy's expressions, compiled once, and their evaluation), :mod:`.params` (the
parameter objects a binding names) and :mod:`.plugin` (the plugin: decisions, denials,
warnings, audit annotations).
"""

from apiserver.admission.policy.plugin import NAME, ValidatingAdmissionPolicyPlugin

__all__ = ["NAME", "ValidatingAdmissionPolicyPlugin"]
