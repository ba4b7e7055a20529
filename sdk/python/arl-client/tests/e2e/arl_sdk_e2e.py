"""Shared by the SDK's e2e tests (a module name of its own: pytest puts this
directory on sys.path, where a second `conftest` would collide)."""
import os

from arl_client.errors import NotFoundError

POOL_IMAGE = os.environ.get("ARL_E2E_IMAGE", "python:3.12-slim")
POOL_REPLICAS = int(os.environ.get("ARL_E2E_POOL_REPLICAS", "4"))
# On the local node a pod is a host process, so this is the host's interpreter.
PYTHON = os.environ.get("ARL_E2E_PYTHON", "python3")


def wait_gone(client, plural, name, namespace, timeout=15.0):
    """True once the object is gone (a finalizer may keep it a moment); watches, never polls."""
    try:
        client.wait_for(plural, name, lambda o: False, namespace=namespace, timeout=timeout)
    except NotFoundError:
        return True
    except TimeoutError:
        return False
    return False
