"""A pod's ServiceAccount credentials, as the kubelet materialises the ``kube-api-access-*`` volume that
ServiceAccount admission adds: a token from the TokenRequest API bound to the pod, the cluster's CA from
``kube-root-ca.crt`` and the namespace, under /var/run/secrets/kubernetes.io/serviceaccount, so that a task
can call the API as its account.

Sources: pkg/volume/projected/projected.go (each serviceAccountToken source is a TokenRequest with the
pod's name and uid as ``boundObjectRef``; a failure is a ``FailedMount`` "failed to fetch token: ...");
plugin/pkg/admission/serviceaccount/admission.go (the volume and its mount path);
https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/#directly-accessing-the-rest-api (the
three files and how a pod uses them); RBAC's refusal names the authenticated user
(plugin/pkg/auth/authorizer/rbac: 'User "system:serviceaccount:<ns>:<name>" cannot ...').
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
CALL_THE_API = """
import json, ssl, sys, urllib.error, urllib.request
directory, url = sys.argv[1], sys.argv[2]
token = open(directory + "/token").read()
namespace = open(directory + "/namespace").read()
print("namespace", namespace)
context = ssl.create_default_context(cafile=directory + "/ca.crt")
request = urllib.request.Request(
    f"{url}/api/v1/namespaces/{namespace}/configmaps", headers={"Authorization": "Bearer " + token}
)
try:
    urllib.request.urlopen(request, context=context, timeout=30)
    print("answer 200")
except urllib.error.HTTPError as error:
    print("answer", error.code, json.loads(error.read())["message"])
"""


def test_a_pod_calls_the_api_as_its_service_account(pods: Any) -> None:
    # The API's address: the local server's own URL, or the in-cluster Service on a real cluster.
    url = pods.cluster.api_url if pods.cluster.is_local else "https://kubernetes.default.svc"
    container = pods.container(CALL_THE_API)
    container["command"] = [*container["command"], ACCOUNT_DIR, url]
    pods.create("caller", container)
    pods.wait_phase("caller", "Succeeded", timeout=60)
    namespace = pods.namespace
    assert pods.logs("caller").splitlines() == [
        f"namespace {namespace}",
        # Authenticated (not 401) as the pod's account, which may not list ConfigMaps: RBAC's 403 names it.
        f'answer 403 configmaps is forbidden: User "system:serviceaccount:{namespace}:default" cannot list '
        f'resource "configmaps" in API group "" in the namespace "{namespace}"',
    ]


def test_a_projected_token_of_the_pods_own_lands_where_it_is_mounted(pods: Any) -> None:
    # A serviceAccountToken source with its own path and audience, in a volume of the pod's own.
    volume = {
        "name": "mine",
        "projected": {"sources": [{"serviceAccountToken": {"path": "tok", "audience": "vault"}}]},
    }
    container = pods.container(
        "import os, sys; print(sorted(os.listdir(sys.argv[1])), os.path.getsize(sys.argv[1] + '/tok') > 20)",
        volumeMounts=[{"name": "mine", "mountPath": "/var/run/mine"}],
    )
    container["command"] = [*container["command"], "/var/run/mine"]
    pods.create("own-token", container, volumes=[volume], automountServiceAccountToken=False)
    pod = pods.wait_phase("own-token", "Succeeded", timeout=60)
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["mine"]
    assert pods.logs("own-token").strip() == "['tok'] True"
