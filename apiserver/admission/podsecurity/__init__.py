"""Pod Security admission (``k8s.io/pod-security-admission``, as kube-apiserver 1.33 runs
it): the Pod Security Standards a namespace's ``pod-security.kubernetes.io/*`` labels ask
for, enforced on pods, warned and audited about on pods and pod templates.

:mod:`.levels` (labels, levels, versions, a namespace's policy), :mod:`.result` (check
answers and how they are worded together), the checks (:mod:`.baseline_host`,
:mod:`.baseline_profiles`, :mod:`.restricted`), :mod:`.registry` (which checks a level and
version run, in order), :mod:`.templates` (pod templates of workload resources),
:mod:`.existing` (warnings when a namespace's enforce level is tightened) and
:mod:`.plugin` (the admission plugin).
"""

from apiserver.admission.podsecurity.plugin import NAME, Exemptions, PodSecurity

__all__ = ["NAME", "Exemptions", "PodSecurity"]
