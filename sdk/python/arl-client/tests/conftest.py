"""The one fixture every end-to-end folder of the SDK needs: the cluster's kubeconfig.

The cluster is given, never guessed: ARL_E2E_KUBECONFIG must name its kubeconfig, and a
missing one fails the run loudly instead of skipping. (The unit tests never ask for it.)
"""
import os

import pytest


@pytest.fixture(scope="session")
def kubeconfig():
    path = os.environ.get("ARL_E2E_KUBECONFIG")
    if not path:
        pytest.fail("ARL_E2E_KUBECONFIG is not set: start the local cluster with `scripts/local-cluster.sh up` and "
                    "set ARL_E2E_KUBECONFIG to the kubeconfig it prints (scripts/test.sh cluster does both)")
    if not os.path.isfile(path):
        pytest.fail(f"ARL_E2E_KUBECONFIG={path} does not exist: is the local cluster up?")
    return path
