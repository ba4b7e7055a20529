"""Fixtures for the SDK's end-to-end tests on a running cluster with the ARL
operator (scripts/local-cluster.sh up prints the kubeconfig to use).

The cluster is given, never guessed: ARL_E2E_KUBECONFIG must name its
kubeconfig, and a missing one fails the run loudly instead of skipping.
"""
import os
import uuid

import pytest

from arl_client import ArlClient

from arl_sdk_e2e import POOL_IMAGE, POOL_REPLICAS


@pytest.fixture(scope="session")
def kubeconfig():
    path = os.environ.get("ARL_E2E_KUBECONFIG")
    if not path:
        pytest.fail("ARL_E2E_KUBECONFIG is not set: start the local cluster with `scripts/local-cluster.sh up` and "
                    "set ARL_E2E_KUBECONFIG to the kubeconfig it prints (scripts/test.sh cluster does both)")
    if not os.path.isfile(path):
        pytest.fail(f"ARL_E2E_KUBECONFIG={path} does not exist: is the local cluster up?")
    return path


@pytest.fixture(scope="session")
def client(kubeconfig):
    return ArlClient.shared(kubeconfig)


@pytest.fixture(scope="session")
def namespace(client):
    from kubernetes import client as k

    core = k.CoreV1Api(client.transport.api_client)
    name = f"sdk-e2e-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"arl.infra.io/test": "sdk-e2e"}}})
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def pool(client, namespace):
    name = "sdk-pool"
    client.create_pool(name, POOL_IMAGE, replicas=POOL_REPLICAS, namespace=namespace)
    client.wait_pool_ready(name, min_ready=POOL_REPLICAS, namespace=namespace, timeout=180)
    yield name
    client.delete_pool(name, namespace)
