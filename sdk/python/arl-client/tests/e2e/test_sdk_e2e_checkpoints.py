"""arl-client checkpoints end to end: checkpoint, change, restore, list, delete on a real sandbox."""
import asyncio

import pytest

from arl_client import AsyncSandboxSession, SandboxSession
from arl_client.errors import NotFoundError

LISTING = "find . -mindepth 1 -printf '%y %m %s %p -> %l\\n' | sort; find . -type f -exec sha256sum {} + | sort -k2"


def test_checkpoint_restore_list_delete(client, pool, namespace):
    with SandboxSession(pool, namespace=namespace, client=client, timeout=120) as s:
        s.write_file("app/main.py", "print('v1')\n")
        s.write_file("data.bin", bytes(range(256)) * 100)
        s.run("mkdir -p empty && ln -s app/main.py link && chmod 700 app")
        before = s.run(LISTING).stdout
        cid = s.checkpoint()
        named = s.checkpoint(name="v1")
        assert len(cid) == 8 and named != cid

        s.write_file("app/main.py", "print('v2')\n")
        s.run("rm -rf empty data.bin && echo x > extra.txt")
        assert s.run(LISTING).stdout != before
        r = s.restore("v1")
        assert r["id"] == named and r["removed"] == 1 and r["killed"] == 0
        assert s.run(LISTING).stdout == before

        assert [c["id"] for c in s.checkpoints()] == [cid, named]
        assert s.delete_checkpoint(cid)["id"] == cid
        assert [c["name"] for c in s.checkpoints()] == ["v1"]
        with pytest.raises(NotFoundError, match='checkpoint "nope"'):
            s.restore("nope")


def test_async_checkpoint_and_restore(client, pool, namespace):
    async def episode():
        async with AsyncSandboxSession(pool, namespace=namespace, client=client, timeout=120) as s:
            await s.write_file("state.txt", "start\n")
            cid = await s.checkpoint()
            await s.write_file("state.txt", "changed\n")
            await s.restore(cid, kill_processes=True)
            return (await s.run("cat state.txt")).stdout, await s.checkpoints()
    out, listed = asyncio.run(episode())
    assert out == "start\n"
    assert len(listed) == 1
