import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402

from arl_client import informer  # noqa: E402


@pytest.fixture(autouse=True)
def _short_lived_informers(monkeypatch):
    """Each test has its own fake API server: its informers stop soon after it ends."""
    monkeypatch.setattr(informer, "LINGER_SECONDS", 0.3)
    yield
    for inf in informer.informers():
        inf.stop()
