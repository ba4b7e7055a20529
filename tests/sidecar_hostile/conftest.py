"""A real `arl sidecar` process on 127.0.0.1 for the hostile tests, and the
figures they measure (printed at the end of the run, passed or not)."""
import os
import re
import pathlib
import signal
import socket
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "s3cret-0123456789abcdef"
FIGURES = {}


def arl_bin():
    if os.environ.get("ARL_BIN"):
        return os.environ["ARL_BIN"]
    return str(pathlib.Path(os.environ.get("ARL_BUILD_DIR", ROOT / "build")) / "arl")


def spawn_sidecar(argv, **popen):
    """Starts `arl sidecar` (argv) and returns (process, port) once it says it listens."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)
    line = proc.stderr.readline()
    # "Started sidecar" in either log format (JSON or text).
    m = re.search(r'\bport"?[:=]"?(\d+)', line)
    if not m:
        proc.kill()
        pytest.fail(f"arl sidecar did not start: {line!r}")
    return proc, int(m.group(1))


class Sidecar:
    def __init__(self, workdir, *flags):
        self.workdir = workdir
        self.proc, self.port = spawn_sidecar(
            [arl_bin(), "sidecar", "--listen", "127.0.0.1:0", "--workdir", str(workdir), "--token", TOKEN, "--quiet", *flags])
        self.pid = self.proc.pid

    def status_kb(self, field):
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc/{self.pid}/status")

    def peak_rss_mb(self):
        """VmHWM: the most the process ever had resident, so no attack can hide between samples."""
        return self.status_kb("VmHWM") / 1024

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


@pytest.fixture
def start_sidecar(tmp_path):
    started = []

    def start(*flags):
        work = tmp_path / f"work{len(started)}"
        work.mkdir()
        s = Sidecar(work, *flags)
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.proc.poll() is None, f"the sidecar died during the test (exit {s.proc.returncode})"
        s.stop()


@pytest.fixture
def sidecar(start_sidecar):
    return start_sidecar()


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("sidecar under attack")
        for k, v in FIGURES.items():
            terminalreporter.write_line(f"{k}: {v}")
