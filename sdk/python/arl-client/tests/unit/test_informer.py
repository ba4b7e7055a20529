"""The shared informer (arl_client/informer.py) against the in-memory API server.

No timing assertions: every wait has a generous timeout and the assertions are
about which requests were made and what the waiters got.
"""
import threading

import pytest

from arl_client import ArlClient
from arl_client.errors import NotFoundError
from arl_client.informer import informer_for
from fake_kube import FakeKube

NS = "default"
SB = f"/apis/arl.infra.io/v1alpha1/namespaces/{NS}/sandboxes"


def create(kube, name):
    return kube.request("POST", SB, body={"metadata": {"name": name, "namespace": NS}, "spec": {}}).json()


def lists(kube):
    return [c for c in kube.calls("GET", "/sandboxes") if c["path"] == SB and "watch" not in c["query"]]


def watches(kube):
    return [c for c in kube.calls("GET", "/sandboxes") if c["query"].get("watch")]


def ready(o):
    return (o.get("status") or {}).get("phase") == "Ready"


@pytest.fixture
def kube():
    return FakeKube()


def test_many_waiters_share_one_list_and_watch(kube):
    client = ArlClient(kube)
    names = [f"sb-{i}" for i in range(40)]
    created = {n: create(kube, n) for n in names}
    results, errors = {}, []

    def wait(n):
        try:
            results[n] = client.wait_for("sandboxes", n, ready, namespace=NS, timeout=60, current=created[n])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=wait, args=(n,)) for n in names]
    for t in threads:
        t.start()
    inf = informer_for(kube, "sandboxes", NS)
    assert inf.wait_synced(30)
    for n in names:
        kube.update("sandboxes", NS, n, {"phase": "Ready", "podName": f"pod-{n}"})
    for t in threads:
        t.join(60)
    assert not errors
    assert {n: r["status"]["podName"] for n, r in results.items()} == {n: f"pod-{n}" for n in names}
    assert len(lists(kube)) == 1 and inf.runs == 1
    assert inf.max_open_watches == 1  # never two streams at once, whatever the number of waiters
    # No wait made a request of its own: the create replies were given as `current`.
    assert not [c for c in kube.calls("GET", "/sandboxes/")]


def test_watch_resumes_from_last_resource_version_without_relisting(kube):
    kube.watch_cap_s = 0.05  # the server ends each watch quickly: many resumes
    client = ArlClient(kube)
    created = create(kube, "sb")
    done = []
    t = threading.Thread(target=lambda: done.append(
        client.wait_for("sandboxes", "sb", ready, namespace=NS, timeout=60, current=created)))
    t.start()
    inf = informer_for(kube, "sandboxes", NS)
    assert inf.wait_synced(30)
    first = watches(kube)[0]["query"]["resourceVersion"]
    kube.update("sandboxes", NS, "sb", {"phase": "Pending"})
    pending_rv = kube.rv
    # Wait until a watch has resumed after the Pending event, then finish.
    while not any(int(w["query"]["resourceVersion"]) >= pending_rv for w in watches(kube)):
        threading.Event().wait(0.01)
    kube.update("sandboxes", NS, "sb", {"phase": "Ready"})
    t.join(60)
    assert done and done[0]["status"]["phase"] == "Ready"
    assert first == str(pending_rv - 1)  # the first watch starts at the list's resourceVersion
    assert len(lists(kube)) == 1  # resumed, never re-listed


def test_410_gone_relists_and_waiters_still_finish(kube):
    client = ArlClient(kube)
    created = create(kube, "sb")
    kube.expire_next_watch = True  # the first watch answers 410 Gone
    done = []
    t = threading.Thread(target=lambda: done.append(
        client.wait_for("sandboxes", "sb", ready, namespace=NS, timeout=60, current=created)))
    t.start()
    inf = informer_for(kube, "sandboxes", NS)
    assert inf.wait_synced(30)
    # After the first list: only the watch (which answers 410) or a re-list can bring this.
    kube.update("sandboxes", NS, "sb", {"phase": "Ready"})
    t.join(60)
    assert done and done[0]["status"]["phase"] == "Ready"
    assert inf.lists == 2 and len(lists(kube)) == 2


def test_429_and_5xx_are_retried_not_raised(kube):
    client = ArlClient(kube)
    created = create(kube, "sb")
    kube.update("sandboxes", NS, "sb", {"phase": "Ready"})
    kube.fail_next = [429, 503, 429]  # the informer's list (twice) and its retry, then a good one
    got = client.wait_for("sandboxes", "sb", ready, namespace=NS, timeout=60, current=created)
    assert got["status"]["phase"] == "Ready"
    assert informer_for(kube, "sandboxes", NS).errors == 3


def test_throttled_create_is_retried(kube):
    client = ArlClient(kube)
    kube.fail_next = [429, 429]
    obj = client.create_sandbox("pool", name="sb", namespace=NS)
    assert obj["metadata"]["name"] == "sb"
    assert len(kube.calls("POST", "/sandboxes")) == 3


def test_deleted_before_the_informer_saw_it_is_not_found(kube):
    client = ArlClient(kube)
    created = create(kube, "sb")
    kube.request("DELETE", SB + "/sb")
    with pytest.raises(NotFoundError, match=r"sandbox default/sb: deleted while waiting"):
        client.wait_for("sandboxes", "sb", ready, namespace=NS, timeout=60, current=created)


def test_stale_view_older_than_the_callers_object_is_ignored(kube):
    client = ArlClient(kube)
    create(kube, "sb")
    kube.update("sandboxes", NS, "sb", {"phase": "Ready"})
    inf = informer_for(kube, "sandboxes", NS)
    # Hand the wait an object newer than anything the view holds yet: Released, then Ready again.
    kube.update("sandboxes", NS, "sb", {"phase": "Released"})
    newer = client.get("sandboxes", "sb", NS)
    seen = []

    def pred(o):
        seen.append(o["metadata"]["resourceVersion"])
        return ready(o)

    kube.update("sandboxes", NS, "sb", {"phase": "Ready"})
    got = client.wait_for("sandboxes", "sb", pred, namespace=NS, timeout=60, current=newer)
    assert int(got["metadata"]["resourceVersion"]) > int(newer["metadata"]["resourceVersion"])
    assert all(int(rv) >= int(newer["metadata"]["resourceVersion"]) for rv in seen)
    assert inf.runs == 1


def test_unused_informer_stops_and_restarts_on_demand(kube):
    client = ArlClient(kube)
    created = create(kube, "sb")
    kube.update("sandboxes", NS, "sb", {"phase": "Ready"})
    client.wait_for("sandboxes", "sb", ready, namespace=NS, timeout=60, current=created)
    inf = informer_for(kube, "sandboxes", NS)
    inf.linger = 0.0
    thread_gone = threading.Event()
    while inf.running:  # the watch ends after watch_cap_s; the idle thread then exits
        thread_gone.wait(0.02)
    client.wait_for("sandboxes", "sb", ready, namespace=NS, timeout=60, current=created)
    assert inf.runs == 2 and len(lists(kube)) == 2
