"""SandboxSession.fork and its async twin against the local cluster: forks start from the
checkpoint (byte-identical files), diverge independently, and the source keeps running."""
import asyncio

from arl_client import AsyncSandboxSession, SandboxSession

TREE = ("mkdir -p /workspace/d/e && printf 'v1' > /workspace/d/state && ln -s d/state /workspace/link && "
        "head -c 200000 /dev/urandom > /workspace/blob && chmod 0700 /workspace/d/e")
DIGEST = "cd /workspace && find . -path ./.arl -prune -o -printf '%p %y %m %l\\n' | sort && sha256sum blob d/state"


def test_fork_gives_independent_copies_of_the_source(client, pool, namespace):
    with SandboxSession(pool, namespace=namespace, client=client, timeout=120) as src:
        assert src.run(TREE).exit_code == 0
        want = src.run(DIGEST).stdout
        forks = src.fork(2)
        try:
            assert len({f.name for f in forks} | {src.name}) == 3
            for f in forks:
                assert f.sandbox["spec"]["forkOf"]["sandbox"] == src.name
                assert f.run(DIGEST).stdout == want
            # Each diverges on its own; the source is untouched by them and keeps working.
            assert forks[0].run("printf v2 > /workspace/d/state").exit_code == 0
            assert forks[1].run("cat /workspace/d/state").stdout == "v1"
            assert src.run("cat /workspace/d/state").stdout == "v1"
        finally:
            for f in forks:
                f.close()


def test_async_fork_from_a_named_checkpoint(client, pool, namespace):
    async def episode():
        async with AsyncSandboxSession(pool, namespace=namespace, client=client, timeout=120) as src:
            assert (await src.run("echo one > /workspace/s")).exit_code == 0
            ckpt = await src.checkpoint("before")
            assert (await src.run("echo two > /workspace/s")).exit_code == 0
            forks = await src.fork(1, checkpoint=ckpt)
            try:
                return (await forks[0].run("cat /workspace/s")).stdout, (await src.run("cat /workspace/s")).stdout
            finally:
                for f in forks:
                    await f.close()

    assert asyncio.run(episode()) == ("one\n", "two\n")


def test_fork_of_a_sandbox_with_env_and_working_dir(client, pool, namespace):
    # The fork's bind makes its working dir before the copy arrives: the copy still goes in.
    with SandboxSession(pool, namespace=namespace, client=client, timeout=120,
                        env={"EPISODE": "7"}, working_dir="repo") as src:
        assert src.run("echo code > main.py && pwd").stdout == "/workspace/repo\n"
        forks = src.fork(2)
        try:
            for f in forks:
                assert f.run('cat main.py; pwd; echo "$EPISODE"').stdout == "code\n/workspace/repo\n7\n"
        finally:
            for f in forks:
                f.close()
