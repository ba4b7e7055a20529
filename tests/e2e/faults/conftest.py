"""Fixtures for the control-side fault tests (issue 19): they restart parts of the LOCAL cluster
given by ARL_E2E_KUBECONFIG (its state dir is the kubeconfig's directory), so they run in the
cluster tier only, never against a real node's control plane."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "sdk" / "python" / "arl-client"))  # this tree's SDK
from op_cluster import Cluster  # noqa: E402


@pytest.fixture(scope="session")
def cluster():
    return Cluster.from_env("ARL_E2E_KUBECONFIG", "`scripts/local-cluster.sh up` (a LOCAL cluster: these tests "
                            "restart its API server, etcd, node agent and operator)")


@pytest.fixture(scope="session")
def state():
    return str(Path(os.environ["ARL_E2E_KUBECONFIG"]).resolve().parent)


@pytest.fixture
def ns(cluster):
    with cluster.namespace("fault") as name:
        yield name
