"""PodSecurity against a real apiserver with kubectl 1.33: a namespace's
``pod-security.kubernetes.io/*`` labels enforced on pods and warned about on workloads,
and the warnings of a tightened enforce level, in upstream's words."""

from __future__ import annotations

import uuid

from tests.support.kubectl import Kubectl

PREFIX = "pod-security.kubernetes.io"

COMPLIANT_POD = """
apiVersion: v1
kind: Pod
metadata: {name: compliant}
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
"""

PRIVILEGED_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        securityContext: {privileged: true}
"""

RESTRICTED_VIOLATIONS = (
    'privileged (container "priv" must not set securityContext.privileged=true), '
    'allowPrivilegeEscalation != false (container "priv" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"priv" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "priv" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
    'container "priv" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")')


def _ns(kubectl: Kubectl, *labels: str) -> str:
    name = f"psa-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name, check=True)
    if labels:
        kubectl("label", "namespace", name, *labels, check=True)
    return name


def test_enforce_restricted_refuses_a_privileged_pod_and_admits_a_compliant_one(
        kubectl_announced: Kubectl) -> None:
    kubectl = kubectl_announced
    ns = _ns(kubectl, f"{PREFIX}/enforce=restricted", f"{PREFIX}/warn=restricted")
    refused = kubectl("-n", ns, "run", "priv", "--image=nginx", "--privileged")
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): pods "priv" is forbidden: violates PodSecurity '
        f'"restricted:latest": {RESTRICTED_VIOLATIONS}')
    made = kubectl("-n", ns, "apply", "-f", "-", input=COMPLIANT_POD, check=True)
    assert "pod/compliant created" in made.stdout
    assert "Warning" not in made.stderr
    # Deployments are warned about, never refused.
    deployed = kubectl("-n", ns, "apply", "-f", "-", input=PRIVILEGED_DEPLOYMENT, check=True)
    assert "deployment.apps/web created" in deployed.stdout
    assert deployed.stderr.strip() == (
        'Warning: would violate PodSecurity "restricted:latest": '
        + RESTRICTED_VIOLATIONS.replace('"priv"', '"web"'))
    kubectl("-n", ns, "get", "deployment", "web", check=True)


def test_baseline_at_a_version_and_unlabelled_namespaces(kubectl_announced: Kubectl) -> None:
    kubectl = kubectl_announced
    free = _ns(kubectl)
    made = kubectl("-n", free, "run", "priv", "--image=nginx", "--privileged", check=True)
    assert "Warning" not in made.stderr
    ns = _ns(kubectl, f"{PREFIX}/enforce=baseline", f"{PREFIX}/enforce-version=v1.30")
    refused = kubectl("-n", ns, "run", "priv", "--image=nginx", "--privileged")
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): pods "priv" is forbidden: violates PodSecurity '
        '"baseline:v1.30": privileged (container "priv" must not set '
        "securityContext.privileged=true)")
    bad = kubectl("label", "namespace", ns, f"{PREFIX}/audit=strict")
    assert bad.returncode != 0
    assert bad.stderr.strip() == (
        f'The Namespace "{ns}" is invalid: metadata.labels[{PREFIX}/audit]: Invalid value: '
        '"strict": must be one of privileged, baseline, restricted')


def test_tightening_enforce_warns_about_existing_pods(kubectl_announced: Kubectl) -> None:
    kubectl = kubectl_announced
    ns = _ns(kubectl)
    kubectl("-n", ns, "run", "priv", "--image=nginx", "--privileged", check=True)
    labelled = kubectl("label", "namespace", ns, f"{PREFIX}/enforce=restricted", "--overwrite",
                       check=True)
    assert f"namespace/{ns} labeled" in labelled.stdout
    assert labelled.stderr.splitlines() == [
        f'Warning: existing pods in namespace "{ns}" violate the new PodSecurity enforce '
        'level "restricted:latest"',
        "Warning: priv: privileged, allowPrivilegeEscalation != false, unrestricted "
        "capabilities, runAsNonRoot != true, seccompProfile",
    ]
    # The pod already there stays; relaxing warns about nothing.
    kubectl("-n", ns, "get", "pod", "priv", check=True)
    relaxed = kubectl("label", "namespace", ns, f"{PREFIX}/enforce=baseline", "--overwrite",
                      check=True)
    assert "Warning" not in relaxed.stderr
