"""The user manual's error handling: a failed step comes back as a Failed task, a task that runs
out of time raises TimeoutError, a sandbox that cannot be had raises RuntimeError.

    python examples/python/error_handling.py
"""
from arl_client.session import SandboxSession


def run_task(steps, timeout="30s"):
    # The manual's block, with its steps=[...] given by the caller.
    try:
        with SandboxSession("python-pool", namespace="default") as session:
            result = session.execute(
                steps=steps,
                timeout=timeout
            )

            if result['status']['state'] == 'Failed':
                print(f"任务失败: {result['status']['stderr']}")
            else:
                print(f"任务成功: {result['status']['stdout']}")

    except TimeoutError:
        print("任务超时")
    except RuntimeError as e:
        print(f"执行错误: {e}")


# 1. A command that fails: the task ends Failed, its stderr says why.
run_task([
    {"name": "check-config", "type": "Command",
     "command": ["python", "-c", "import sys; sys.exit('配置文件缺失: /workspace/config.json')"]},
])

# 2. A command slower than the task's timeout: TimeoutError.
run_task([{"name": "slow", "type": "Command", "command": ["sleep", "30"]}], timeout="2s")

# 3. A pool that does not exist: no pod is ever allocated, RuntimeError says why. (The session
#    waits 60 s for a pod by default; 10 s is enough to show it.)
try:
    with SandboxSession("no-such-pool", namespace="default", timeout=10) as session:
        pass
except TimeoutError:
    print("任务超时")
except RuntimeError as e:
    print(f"执行错误: {e}")
