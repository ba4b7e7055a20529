"""A background server in a sandbox (the manual's host mode): one task starts
`python -m http.server 8000` with background: true and returns at once with its pid, later tasks
talk to it, a last one stops it.

    python examples/python/background_server.py
"""
from arl_client.session import SandboxSession

# Waits for the server to listen (it starts in the background), then prints the page.
FETCH = """\
import time, urllib.request
for attempt in range(100):
    try:
        print(urllib.request.urlopen('http://localhost:8000/index.html', timeout=2).read().decode(), end='')
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit('server did not answer')
"""

with SandboxSession("python-pool", namespace="default") as session:
    # 1. 启动后台服务器
    started = session.execute([
        {"name": "create-page", "type": "FilePatch", "path": "/workspace/index.html",
         "content": "Hello from ARL Host Mode!\n"},
        {"name": "start-server", "type": "Command", "command": ["python", "-m", "http.server", "8000"],
         "workDir": "/workspace", "env": {"PYTHONUNBUFFERED": "1"}, "background": True},
    ])
    pid = started['status']['steps'][1]['pid']
    print(f"服务器 PID: {pid}")

    # 2. 与后台进程交互
    result = session.execute([{"name": "test-endpoint", "type": "Command", "command": ["python", "-c", FETCH]}])
    print(f"输出: {result['status']['stdout'].strip()}")

    # 3. 停止服务器
    stopped = session.execute([{"name": "stop-server", "type": "Command", "command": ["kill", str(pid)]}])
    print(f"停止: {stopped['status']['state']}")
