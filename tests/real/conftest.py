"""Fixtures for the real-node tier: a kubelet + containerd node with ARL installed by its Helm
chart (scripts/real-node.sh up), given through ARL_REAL_KUBECONFIG."""
import os
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client

# The operator e2e tier's cluster helpers serve here unchanged: same API, a different node.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e" / "operator"))
from op_cluster import Cluster  # noqa: E402


@pytest.fixture(scope="session")
def cluster():
    path = os.environ.get("ARL_REAL_KUBECONFIG")
    if not path or not os.path.isfile(path):
        pytest.fail("set ARL_REAL_KUBECONFIG to the kubeconfig printed by `scripts/real-node.sh up` "
                    "(a kubelet + containerd node with ARL installed by Helm)")
    return Cluster(path)


@pytest.fixture
def ns(cluster):
    name = f"real-{uuid.uuid4().hex[:8]}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    cluster.core.delete_namespace(name)
    # The namespace controller deletes what is left; the kubelet must have stopped its pods
    # before the next test measures anything.
    cluster.wait(f"namespace {name} gone", lambda: name not in
                 [n.metadata.name for n in cluster.core.list_namespace().items], timeout=120, interval=0.5)
