"""Reusing one sandbox across tasks (the manual's keepAlive sandbox): files written by one task are
there for the next, in the same pod, without waiting for a new one.

    python examples/python/reuse_sandbox.py
"""
from arl_client.session import SandboxSession

COUNTER = """\
import os
path = '/workspace/count.txt'
n = int(open(path).read()) if os.path.exists(path) else 0
open(path, 'w').write(str(n + 1))
print(n + 1)
"""

# keep_alive=True (the default): the sandbox stays allocated between tasks
with SandboxSession("python-pool", namespace="default", keep_alive=True) as session:
    session.execute([
        {"name": "write-code", "type": "FilePatch", "path": "/workspace/counter.py", "content": COUNTER},
    ])
    for i in range(3):
        result = session.execute([
            {"name": "run-code", "type": "Command", "command": ["python", "/workspace/counter.py"]},
        ])
        print(f"任务 {i + 1}: 计数 {result['status']['stdout'].strip()} (Pod {session.pod_name})")
