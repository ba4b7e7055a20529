"""The user manual's quick example: one sandbox, a Task that writes a script and runs it.

    kubectl apply -f examples/python/warmpool.yaml
    python examples/python/basic_execute.py
"""
from arl_client.session import SandboxSession

# 使用上下文管理器（推荐）
with SandboxSession("python-pool", namespace="default") as session:
    result = session.execute([
        {
            "name": "write_script",
            "type": "FilePatch",
            "path": "/workspace/hello.py",
            "content": "print('你好，来自 ARL!')"
        },
        {
            "name": "run_script",
            "type": "Command",
            "command": ["python", "/workspace/hello.py"]
        }
    ])

    print(f"输出: {result['status']['stdout']}")
    print(f"退出码: {result['status']['exitCode']}")
