"""Acceptance: the whole built-in API surface of Kubernetes 1.33, through kubectl 1.33.

* ``kubectl api-resources`` lists exactly what kube-apiserver 1.33 lists
  (``tests/data/api-resources-1.33.txt``; custom resources other tests define, in
  ``*.example.com`` groups, are left out of the comparison);
* every creatable kind (:data:`tests.support.examples.EXAMPLES`) goes through
  ``kubectl apply`` → ``get -o json`` (upstream defaults filled in) → ``kubectl label`` →
  ``kubectl get`` (upstream table header) → ``kubectl delete`` → gone;
* an invalid variant of each is refused with a 422 naming the upstream field path.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.examples import EXAMPLES
from tests.support.examples_base import Example, Missing, edited, is_subset, lookup, render
from tests.support.kubectl import Kubectl

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent.parent / "data"

#: Served by kube-apiserver 1.33 but not yet by kubemu; the expected file names it in a
#: comment and the comparison leaves it out.
NOT_YET_SERVED: set[str] = set()


def _builtin_row(row: tuple[str, ...]) -> bool:
    """Not a custom resource of another test (their groups end in ``example.com``)."""
    group = row[2].rpartition("/")[0]
    return row[0] not in NOT_YET_SERVED and not group.endswith("example.com")

#: Seconds to wait for a deleted object to disappear.
GONE_TIMEOUT = 10.0

COLUMNS = ("NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")


def parse_api_resources(text: str) -> set[tuple[str, ...]]:
    """The rows of a ``kubectl api-resources`` table, cut at the header's column starts."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    header = lines[0]
    starts = [header.index(name) for name in COLUMNS]
    rows: set[tuple[str, ...]] = set()
    for line in lines[1:]:
        bounds = [*starts[1:], len(line)]
        rows.add(tuple(line[a:b].strip() for a, b in zip(starts, bounds, strict=True)))
    return rows


def test_expected_file_names_the_left_out_kinds() -> None:
    text = (DATA / "api-resources-1.33.txt").read_text()
    comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for plural in NOT_YET_SERVED:
        assert plural in comments
    assert all(row[0] not in NOT_YET_SERVED for row in parse_api_resources(text))


def test_api_resources_match_upstream(kubectl_announced: Kubectl) -> None:
    expected = parse_api_resources((DATA / "api-resources-1.33.txt").read_text())
    result = kubectl_announced("api-resources")
    # An APIService another test registers for an example.com group has no backend: real
    # kubectl then still prints the table and names that group on stderr.
    if result.returncode != 0:
        failed = re.findall(r"([a-z0-9.-]+)/v\w+: ", result.stderr)
        assert failed and all(group.endswith("example.com") for group in failed), result.stderr
    actual = {row for row in parse_api_resources(result.stdout) if _builtin_row(row)}
    assert actual - expected == set(), "served but not in kube-apiserver 1.33"
    assert expected - actual == set(), "in kube-apiserver 1.33 but not served"


# -- every creatable kind ---------------------------------------------------------------


def csr_request_b64() -> str:
    """A PEM certificate signing request (base64), made with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acceptance-user")])
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(
        key, hashes.SHA256())
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def placeholders(example: Example, namespace: str) -> dict[str, str]:
    uid = uuid.uuid4().hex[:8]
    values = {"UID": uid, "NAME": example.name(uid), "NS": namespace}
    if "CSR" in example.needs:
        values["CSR"] = csr_request_b64()
    return values


def manifest(example: Example, body: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The full object: apiVersion, kind, metadata name (and namespace), ``body``."""
    obj: dict[str, Any] = {"apiVersion": example.api_version, "kind": example.kind,
                           **render(body, values)}
    metadata = {"name": values["NAME"], **obj.get("metadata", {})}
    if example.namespaced:
        metadata["namespace"] = values["NS"]
    obj["metadata"] = metadata
    return obj


@pytest.fixture
def namespace(kubectl_announced: Kubectl) -> Iterator[str]:
    name = f"surface-{uuid.uuid4().hex[:8]}"
    kubectl_announced("create", "namespace", name, check=True)
    try:
        yield name
    finally:
        kubectl_announced("delete", "namespace", name, "--wait=false")


def scope_args(example: Example, namespace: str) -> list[str]:
    return ["-n", namespace] if example.namespaced else []


def wait_gone(kubectl: Kubectl, example: Example, name: str, namespace: str) -> None:
    """Poll until the object is gone; one kept by finalizers must at least be terminating."""
    args = ["get", example.kubectl_resource, name, *scope_args(example, namespace),
            "-o", "json", "--ignore-not-found"]
    deadline = time.monotonic() + GONE_TIMEOUT
    while True:
        result = kubectl(*args, check=True)
        if not result.stdout.strip():
            return
        live = json.loads(result.stdout)
        if time.monotonic() >= deadline:
            metadata = live["metadata"]
            assert metadata.get("deletionTimestamp") and metadata.get("finalizers"), (
                f"{example.kind} {name} still exists after delete: {metadata}")
            return
        time.sleep(0.1)


def header_columns(table: str) -> tuple[str, ...]:
    first = table.splitlines()[0]
    return tuple(re.split(r"\s{2,}", first.strip()))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.key for e in EXAMPLES])
def test_kind_lifecycle(kubectl_announced: Kubectl, namespace: str, tmp_path: Path,
                        example: Example) -> None:
    kubectl = kubectl_announced
    values = placeholders(example, namespace)
    name = values["NAME"]
    obj = manifest(example, example.manifest, values)
    path = tmp_path / f"{example.key}.json"
    path.write_text(json.dumps(obj))
    scope = scope_args(example, namespace)
    resource = example.kubectl_resource

    kubectl("apply", "-f", str(path), check=True)
    try:
        live = json.loads(kubectl("get", resource, name, *scope, "-o", "json",
                                  check=True).stdout)
        assert live["apiVersion"] == example.api_version and live["kind"] == example.kind
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        assert is_subset(body, live), f"manifest fields changed: {json.dumps(live)}"
        problems = {}
        for field_path, want in render(dict(example.defaults), values).items():
            try:
                got = lookup(live, field_path)
            except Missing:
                got = "<missing>"
            if got != want:
                problems[field_path] = {"want": want, "got": got}
        assert problems == {}, f"defaults differ from kube-apiserver 1.33: {problems}"

        kubectl("label", resource, name, *scope, "acceptance=yes", check=True)
        labelled = json.loads(kubectl("get", resource, name, *scope, "-o", "json",
                                      check=True).stdout)
        assert labelled["metadata"]["labels"]["acceptance"] == "yes"
        assert labelled["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]

        table = kubectl("get", resource, name, *scope, check=True).stdout
        assert header_columns(table) == example.header
        assert len(table.splitlines()) == 2, table  # the header and this object's row
    finally:
        kubectl("delete", resource, name, *scope, "--wait=false", "--ignore-not-found",
                check=True)
    wait_gone(kubectl, example, name, namespace)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.key for e in EXAMPLES])
def test_kind_invalid_is_422(apiserver: ApiServerProcess, namespace: str,
                             example: Example) -> None:
    values = placeholders(example, namespace)
    obj = manifest(example, edited(example.manifest, example.invalid), values)
    url = apiserver.url + example.collection_path(namespace)
    with httpx.Client(timeout=10.0) as client:
        response = client.post(url, json=obj)
        if response.status_code < 300:  # do not leave it behind for the next run
            client.delete(f"{url}/{obj['metadata']['name']}")
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    fields = [cause.get("field") for cause in status["details"].get("causes", [])]
    assert example.invalid_field in fields, status
