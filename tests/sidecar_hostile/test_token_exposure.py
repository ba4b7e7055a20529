"""Issue 19, "the token must be worthless to sandbox code", against a real `arl sidecar`
started as a pod starts it (token in ARL_SIDECAR_TOKEN, never a flag), as an unprivileged user
like a container's: commands it runs share that user, as sandbox code does."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import arl_bin, spawn_sidecar
from httpraw import call

POOL = "pool-0123456789abcdef0123456789abcdef"
OWN = "sandbox-0123456789abcdef0123456789abcdef"
NOBODY = 65534


class EnvSidecar:
    def __init__(self, tmp_path):
        # pytest's own tmp_path lies under a 0700 directory the user cannot enter.
        tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="arl-token-"))
        self.tmp = tmp_path
        work = tmp_path / "work"
        work.mkdir()
        os.chmod(work, 0o777)
        binary = tmp_path / "arl"  # where an unprivileged user can run it
        shutil.copy(arl_bin(), binary)
        os.chmod(tmp_path, 0o755)
        env = {"PATH": "/usr/bin:/bin", "ARL_SIDECAR_TOKEN": POOL, "ARL_SIDECAR_WORKDIR": str(work),
               "ARL_SIDECAR_LISTEN": "127.0.0.1:0"}
        self.proc, self.port = spawn_sidecar([str(binary), "sidecar", "--quiet", "--log-format", "text"], env=env,
                                             user=NOBODY, group=NOBODY, extra_groups=[])
        self.pid = self.proc.pid

    def connect(self, timeout=10):
        import socket
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def run(self, token, script):
        """/execute `sh -c script` as the sandbox would: (status, reply)."""
        body = json.dumps({"command": ["sh", "-c", script], "timeout_seconds": 20}).encode()
        status, reply, _ = call(self, "POST", "/execute", body, {"X-Arl-Token": token,
                                                               "Content-Type": "application/json"})
        return status, reply

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def env_sidecar(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("these tests start the sidecar as user nobody: run them as root (scripts/test.sh unit does)")
    s = EnvSidecar(tmp_path)
    yield s
    assert s.proc.poll() is None, f"the sidecar died during the test (exit {s.proc.returncode})"
    s.stop()


def test_the_token_is_neither_in_the_sidecars_environ_nor_its_cmdline(env_sidecar):
    pid = env_sidecar.pid
    # Read as root (CAP_SYS_PTRACE passes the dumpable check): the bytes themselves are gone.
    environ = open(f"/proc/{pid}/environ", "rb").read()
    cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    assert POOL.encode() not in environ
    assert POOL.encode() not in cmdline


def test_sandbox_code_cannot_read_the_sidecar_nor_call_it_with_the_pool_token_once_bound(env_sidecar):
    s = env_sidecar
    status, r = s.run(POOL, "echo ok")
    assert (status, r["stdout"]) == (200, "ok\n")  # idle: the pool token works (only the operator calls)
    status, r, _ = call(s, "POST", "/bind", json.dumps({"token": OWN}).encode(),
                        {"X-Arl-Token": POOL, "Content-Type": "application/json"})
    assert (status, r) == (200, {"bound": True, "already": False})
    assert s.run(POOL, "true")[0] == 401

    # Sandbox code: same user as the sidecar, its child. Everything it can try on its parent.
    probe = (f"id -u; env | grep -c ARL_SIDECAR_TOKEN; "
             f"for f in environ mem maps fd/0 status cmdline; do "
             f"  if cat /proc/{s.pid}/$f >/dev/null 2>&1; then echo $f=readable; else echo $f=denied; fi; "
             f"done; grep -c {POOL} /proc/{s.pid}/cmdline /proc/{s.pid}/status 2>/dev/null | tr '\\n' ' '")
    status, r = s.run(OWN, probe)
    assert status == 200, r
    lines = r["stdout"].splitlines()
    assert lines[0] == str(NOBODY)
    assert lines[1] == "0"  # the token is not in the commands' environment
    seen = dict(line.split("=") for line in lines[2:8])
    # Non-dumpable: the sidecar's environ, memory, maps and descriptors are closed to its own user.
    assert seen == {"environ": "denied", "mem": "denied", "maps": "denied", "fd/0": "denied",
                    "status": "readable", "cmdline": "readable"}, r
    assert POOL not in r["stdout"] and OWN not in r["stdout"]
    # A process of the same user cannot attach to it either.
    status, r = s.run(OWN, f"python3 -c 'import ctypes,sys; l=ctypes.CDLL(None); "
                           f"sys.exit(0 if l.ptrace(16, {s.pid}, 0, 0) == 0 else 3)'; echo rc=$?")
    assert r["stdout"].strip().endswith("rc=3"), r
