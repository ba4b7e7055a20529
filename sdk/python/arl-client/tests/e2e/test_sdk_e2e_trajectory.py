"""arl-client end to end: session.trajectory() and its async twin read what the sandbox did."""
import asyncio

from arl_client import AsyncSandboxSession, SandboxSession


def test_trajectory_lists_the_episode_and_since_pages_it(client, pool, namespace):
    with SandboxSession(pool, namespace=namespace, client=client, timeout=120) as s:
        s.write_file("notes.txt", "hello\n")
        assert s.run("cat notes.txt; exit 5").exit_code == 5
        for ev in s.run(["echo", "streamed"], stream=True):
            pass
        lines = s.trajectory()
        assert [(t["seq"], t["kind"]) for t in lines] == [(1, "file_write"), (2, "execute"), (3, "execute")]
        assert lines[0]["path"] == "notes.txt" and lines[0]["bytes"] == 6
        assert (lines[1]["exit_code"], lines[1]["stdout"]) == (5, "hello\n")
        assert lines[1]["command"] == ["sh", "-c", "cat notes.txt; exit 5"]
        assert set(lines[1]["usage"]) == {"wall_ms", "cpu_user_ms", "cpu_system_ms", "max_rss_kb"}
        assert lines[2]["stream"] is True and lines[2]["stdout"] == "streamed\n"
        assert [t["seq"] for t in s.trajectory(since=2)] == [3]
        assert s.trajectory(since=3) == []


def test_async_trajectory(client, pool, namespace):
    async def episode():
        async with AsyncSandboxSession(pool, namespace=namespace, client=client, timeout=180) as s:
            await s.run(["true"], env={"TOKEN": "abcd-1234"})
            return await s.trajectory()

    lines = asyncio.run(episode())
    assert [t["kind"] for t in lines] == ["execute"]
    assert lines[0]["env_names"] == ["TOKEN"] and "abcd-1234" not in str(lines)
