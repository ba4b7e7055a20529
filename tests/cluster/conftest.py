"""Fixtures for tests against the real local control plane (scripts/control-plane.sh).

The cluster is given, never guessed: ARL_TEST_KUBECONFIG (or KUBECONFIG) must name its
kubeconfig, and a missing one fails the run loudly instead of skipping tests.
"""
import os
import uuid

import pytest

from arl_kubectl import KUBECTL, MANIFESTS, Kubectl

CRD_NAMES = ["warmpools.arl.infra.io", "sandboxes.arl.infra.io", "tasks.arl.infra.io"]


@pytest.fixture(scope="session")
def kubeconfig():
    path = os.environ.get("ARL_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")
    if not path:
        pytest.fail("set ARL_TEST_KUBECONFIG (or KUBECONFIG) to the kubeconfig of a running control plane, "
                    "e.g. `scripts/control-plane.sh up` then ARL_TEST_KUBECONFIG=/tmp/arl-local/kubeconfig")
    if not os.path.isfile(path):
        pytest.fail(f"kubeconfig {path} does not exist: start the control plane with scripts/control-plane.sh up")
    if not KUBECTL.is_file():
        pytest.fail(f"{KUBECTL} is missing: run scripts/install-kube-tools.sh control-plane")
    return path


@pytest.fixture(scope="session")
def kubectl(kubeconfig):
    return Kubectl(kubeconfig)


@pytest.fixture(scope="session")
def crds(kubectl):
    """Applies manifests/crds and waits until the API server serves them."""
    kubectl.run("apply", "-f", str(MANIFESTS / "crds"))
    kubectl.run("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in CRD_NAMES])
    return CRD_NAMES


@pytest.fixture(scope="session")
def rbac(kubectl):
    kubectl.run("apply", "-f", str(MANIFESTS / "namespace.yaml"), "-f", str(MANIFESTS / "rbac.yaml"),
                "-f", str(MANIFESTS / "rbac-pool-secrets.yaml"), "-f", str(MANIFESTS / "rbac-sandbox-env.yaml"))


@pytest.fixture
def namespace(kubectl, crds):
    """A namespace of its own per test, deleted afterwards without waiting."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)
