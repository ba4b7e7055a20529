"""Fixtures for the SDK's end-to-end tests on a running cluster with the ARL
operator (scripts/local-cluster.sh up prints the kubeconfig to use).

The cluster's kubeconfig comes from the `kubeconfig` fixture (tests/conftest.py).
"""
import uuid

import pytest

from arl_client import ArlClient

from arl_sdk_e2e import POOL_IMAGE, POOL_REPLICAS


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
