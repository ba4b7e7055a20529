"""Fixtures for the operator's end-to-end tests (cluster given by ARL_E2E_KUBECONFIG)."""
import os
import uuid

import pytest
from kubernetes import client

from op_cluster import Cluster


@pytest.fixture(scope="session")
def cluster():
    path = os.environ.get("ARL_E2E_KUBECONFIG")
    if not path or not os.path.isfile(path):
        pytest.fail("set ARL_E2E_KUBECONFIG to the kubeconfig of `scripts/local-cluster.sh up` "
                    "(a control plane with the local node and the operator running)")
    return Cluster(path)


@pytest.fixture
def ns(cluster):
    name = f"op-{uuid.uuid4().hex[:8]}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    cluster.core.delete_namespace(name)
