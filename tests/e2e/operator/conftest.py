"""Fixtures for the operator's end-to-end tests (cluster given by ARL_E2E_KUBECONFIG)."""
import pytest

from op_cluster import Cluster


@pytest.fixture(scope="session")
def cluster():
    return Cluster.from_env("ARL_E2E_KUBECONFIG", "`scripts/local-cluster.sh up` "
                            "(a control plane with the local node and the operator running)")


@pytest.fixture
def ns(cluster):
    with cluster.namespace("op") as name:
        yield name
