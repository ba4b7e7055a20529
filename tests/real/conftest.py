"""Fixtures for the real-node tier: a kubelet + containerd node with ARL installed by its Helm
chart (scripts/real-node.sh up), given through ARL_REAL_KUBECONFIG."""
import sys
from pathlib import Path

import pytest

# The operator e2e tier's cluster helpers serve here unchanged: same API, a different node.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e" / "operator"))
from op_cluster import Cluster  # noqa: E402


@pytest.fixture(scope="session")
def cluster():
    return Cluster.from_env("ARL_REAL_KUBECONFIG", "`scripts/real-node.sh up` "
                            "(a kubelet + containerd node with ARL installed by Helm)")


@pytest.fixture
def ns(cluster):
    # Waits for the namespace to go: the kubelet must have stopped its pods before the next
    # test measures anything.
    with cluster.namespace("real", wait_gone=True) as name:
        yield name


@pytest.fixture
def restricted_ns(cluster):
    """A namespace enforcing Pod Security "restricted" (latest)."""
    labels = {"pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest"}
    with cluster.namespace("restricted", labels=labels, wait_gone=True) as name:
        yield name
