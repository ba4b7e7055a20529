"""Many operations at once on one adapter: the bounded pool queues them and
each still gets its own correct result."""
import asyncio
import time

from conftest import deployment, job, run


def test_fifty_concurrent_operations_on_one_adapter(adapter, api, namespace):
    async def main():
        setup = await asyncio.gather(*[adapter.apply_manifest(deployment(f"d{i}"), namespace=namespace)
                                       for i in range(5)])
        assert all(r["status"] == "success" for r in setup), setup
        calls = []
        for i in range(5):
            calls.append(adapter.scale_deployment(f"d{i}", 2, namespace=namespace, timeout=120))
        for i in range(10):
            calls.append(adapter.run_job(job(f"j{i}", f"echo job {i}"), namespace=namespace, timeout=120))
        for i in range(15):
            calls.append(adapter.apply_manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                                                 "data": {"i": str(i)}}, namespace=namespace))
        for i in range(19):
            calls.append(adapter.get_resource_status("deployment", f"d{i % 5}", namespace=namespace))
        calls.append(adapter.scale_deployment("absent", 1, namespace=namespace, timeout=5))
        assert len(calls) == 50
        return await asyncio.gather(*calls)

    t0 = time.monotonic()
    results = run(main())
    elapsed = time.monotonic() - t0
    scales, jobs, cms, gets, absent = results[:5], results[5:15], results[15:30], results[30:49], results[49:]
    assert all(r["status"] == "success" and r["replicas"]["ready"] == 2 for r in scales), scales
    assert [r["logs"] for r in jobs] == [f"job {i}\n" for i in range(10)]
    assert all(r["applied"][0]["action"] == "created" for r in cms), cms
    assert all(r["status"] == "success" and r["kind"] == "Deployment" for r in gets), gets
    assert absent[0]["reason"] == "NotFound"
    assert adapter._pool._max_workers == 16  # bounded: 50 calls, 16 threads
    assert elapsed < 90, elapsed
