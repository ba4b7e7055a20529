"""The user manual's batch example: five tasks, each in a sandbox of its own, three at a time.

    python examples/python/batch_tasks.py
"""
from concurrent.futures import ThreadPoolExecutor
from arl_client.session import SandboxSession


def execute_task(task_id):
    with SandboxSession("python-pool", namespace="default") as session:
        result = session.execute([
            {
                "name": "write",
                "type": "FilePatch",
                "path": f"/workspace/task_{task_id}.py",
                "content": f"print('任务 {task_id} 完成')"
            },
            {
                "name": "run",
                "type": "Command",
                "command": ["python", f"/workspace/task_{task_id}.py"]
            }
        ])
        return result


# 并行执行 5 个任务
with ThreadPoolExecutor(max_workers=3) as executor:
    futures = [executor.submit(execute_task, i) for i in range(5)]
    results = [f.result() for f in futures]

for result in results:
    print(f"{result['status']['state']}: {result['status']['stdout'].strip()}")
