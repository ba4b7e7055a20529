"""SandboxSession's checkpoint verbs against an in-memory API server: what goes over the pod proxy."""
import asyncio

import pytest

from arl_client import ArlClient, AsyncSandboxSession, sandbox_token
from arl_client.errors import NotFoundError, ValidationError
from test_session import NS, kube, operator, session  # noqa: F401  (kube is a fixture)
from fake_kube import FakeResponse


def sidecar_with_checkpoints(seen):
    """A sidecar that keeps checkpoints by id and name, like the real one."""
    store = {}

    def sidecar(endpoint, body, headers):
        seen.append((endpoint, body, headers))
        if endpoint == "checkpoints" and body is not None:
            cid = f"{len(store) + 1:08x}"
            store[cid] = {"id": cid, "name": body.get("name", ""), "files": 1, "bytes": 3}
            return FakeResponse(200, dict(store[cid], duration_ms=1.0))
        if endpoint == "checkpoints":
            return FakeResponse(200, {"checkpoints": list(store.values()), "used_bytes": 3, "max_bytes": 10})
        ref = endpoint.split("/")[1]
        cid = next((k for k, v in store.items() if ref in (k, v["name"])), None)
        if cid is None:
            return FakeResponse(404, {"error": f'checkpoint "{ref}": no checkpoint has this id or name'})
        if endpoint.endswith("/restore"):
            return FakeResponse(200, {"id": cid, "written": 1, "removed": 2, "unchanged": 0,
                                      "killed": 1 if body["kill_processes"] else 0, "duration_ms": 0.5})
        del store[cid]
        return FakeResponse(200, {"id": cid, "freed_bytes": 3})
    return sidecar


def test_checkpoint_restore_list_delete_go_to_the_sidecar_with_the_sandboxs_token(kube):
    operator(kube)
    seen = []
    kube.sidecar = sidecar_with_checkpoints(seen)
    with session(kube) as s:
        cid = s.checkpoint()
        named = s.checkpoint(name="step-1")
        assert [c["id"] for c in s.checkpoints()] == [cid, named]
        assert s.restore("step-1", kill_processes=True)["killed"] == 1
        assert s.restore(cid)["removed"] == 2
        assert s.delete_checkpoint(cid) == {"id": cid, "freed_bytes": 3}
        with pytest.raises(NotFoundError, match='checkpoint "gone": no checkpoint has this id or name'):
            s.restore("gone")
        own = sandbox_token("tok123", s.sandbox["metadata"]["uid"])
    assert [e for e, _, _ in seen] == ["checkpoints", "checkpoints", "checkpoints", "checkpoints/step-1/restore",
                                       f"checkpoints/{cid}/restore", f"checkpoints/{cid}", "checkpoints/gone/restore"]
    assert seen[0][1] == {} and seen[1][1] == {"name": "step-1"}
    assert seen[3][1] == {"kill_processes": True}
    assert all(h == {"X-Arl-Token": own} for _, _, h in seen)
    methods = [c["method"] for c in kube.requests if "/proxy/" in c["path"]]
    assert methods == ["POST", "POST", "GET", "POST", "POST", "DELETE", "POST"]


def test_bad_checkpoint_refs_are_refused_before_anything_is_sent(kube):
    operator(kube)
    with session(kube) as s:
        for call in (lambda: s.restore("../etc"), lambda: s.delete_checkpoint(""), lambda: s.checkpoint(name="a b")):
            with pytest.raises(ValidationError, match="must be 1-63 characters"):
                call()
    assert not kube.calls("POST", "/proxy/") and not kube.calls("DELETE", "/proxy/")


def test_async_checkpoint_twins(kube):
    operator(kube)
    seen = []
    kube.sidecar = sidecar_with_checkpoints(seen)

    async def main():
        async with AsyncSandboxSession("pool", NS, client=ArlClient(kube)) as s:
            cid = await s.checkpoint("a")
            listed = await s.checkpoints()
            restored = await s.restore(cid)
            deleted = await s.delete_checkpoint("a")
            return cid, listed, restored, deleted
    cid, listed, restored, deleted = asyncio.run(main())
    assert [c["name"] for c in listed] == ["a"]
    assert restored["id"] == cid and deleted == {"id": cid, "freed_bytes": 3}
