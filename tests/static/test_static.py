"""The fully static musl `arl` (scripts/build-static.sh -> dist/arl).

The binary is copied by an init container into whatever image a pool names, so it
must run with no libc and no loader. These tests check the ELF itself, then run
it inside a chroot that holds nothing but the binary and Debian's static busybox.
Env: ARL_STATIC_BIN (default <repo>/dist/arl).
"""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARL = Path(os.environ.get("ARL_STATIC_BIN", ROOT / "dist" / "arl"))
BUSYBOX = Path("/bin/busybox")
MAX_SIZE = 8 * 1024 * 1024
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


def cmake_version():
    m = re.search(r"^project\(arl VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text(), re.M)
    assert m, "CMakeLists.txt has no project(arl VERSION ...)"
    return m.group(1)


@pytest.fixture(scope="module")
def arl():
    if not ARL.is_file():
        pytest.fail(f"{ARL} is missing: run scripts/build-static.sh")
    return ARL


def test_elf_has_no_interpreter_and_no_dynamic_section(arl):
    desc = subprocess.run(["file", "-b", str(arl)], capture_output=True, text=True, check=True).stdout
    assert "ELF 64-bit" in desc and "x86-64" in desc, desc
    assert "statically linked" in desc, desc
    assert "dynamically linked" not in desc, desc
    headers = subprocess.run(["readelf", "-l", str(arl)], capture_output=True, text=True, check=True).stdout
    assert "INTERP" not in headers, headers
    assert "DYNAMIC" not in headers, headers
    dyn = subprocess.run(["readelf", "-d", str(arl)], capture_output=True, text=True, check=True).stdout
    assert "There is no dynamic section" in dyn, dyn


def test_size_is_under_8_mib(arl):
    size = arl.stat().st_size
    assert size < MAX_SIZE, f"{arl} is {size} bytes ({size / 2**20:.2f} MiB), target < 8 MiB"


def test_version_reports_static_build_with_stamp(arl):
    out = subprocess.run([str(arl), "version"], capture_output=True, text=True, check=True, timeout=10).stdout
    assert "static" in out and "dynamic" not in out, out
    assert cmake_version() in out, out
    # CMake stamps the commit (or "unknown" outside git) and an ISO-8601 UTC build date.
    assert re.search(r"commit [0-9a-f]{7,}|commit unknown", out), out
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out), out


def test_copy_self_reproduces_the_binary(arl, tmp_path):
    # What the pool's init container runs: the copy must be the same static binary.
    dest = tmp_path / "arl-bin" / "arl"
    dest.parent.mkdir()
    r = subprocess.run([str(arl), "sidecar", "copy-self", str(dest)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == arl.read_bytes()
    assert dest.stat().st_mode & 0o755 == 0o755
    out = subprocess.run([str(dest), "version"], capture_output=True, text=True, check=True, timeout=10).stdout
    assert "static" in out


# --- inside a busybox-only chroot ---------------------------------------------------


@pytest.fixture(scope="module")
def chroot(arl, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("chroot tests need root (the test machines run them as root)")
    if not BUSYBOX.is_file():
        pytest.fail("/bin/busybox missing: apt-get install busybox-static (scripts/setup.sh does)")
    desc = subprocess.run(["file", "-b", str(BUSYBOX)], capture_output=True, text=True, check=True).stdout
    assert "statically linked" in desc, f"/bin/busybox must be busybox-static: {desc}"
    root = tmp_path_factory.mktemp("chroot")
    (root / "bin").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    shutil.copy2(arl, root / "arl")
    (root / "workspace").mkdir()
    (root / "tmp").mkdir(mode=0o1777)
    # Every OCI runtime gives a container /dev/null (the runtime spec requires it);
    # the sidecar hands it to commands as stdin. No libraries, no loader.
    (root / "dev").mkdir()
    os.mknod(root / "dev" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(root / "dev" / "null", 0o666)
    return root


def test_chroot_holds_no_libc_or_loader(chroot):
    files = [p for p in chroot.rglob("*") if p.is_file() and not p.is_symlink()]
    names = sorted(str(p.relative_to(chroot)) for p in files)
    assert names == ["arl", "bin/busybox"], names
    # The chroot is real: a dynamically linked program cannot start in it.
    ls = shutil.which("ls")
    shutil.copy2(ls, chroot / "tmp" / "dyn-ls")
    r = subprocess.run([CHROOT, str(chroot), "/tmp/dyn-ls"], capture_output=True, text=True)
    os.unlink(chroot / "tmp" / "dyn-ls")
    assert r.returncode != 0


def test_version_runs_in_busybox_chroot(chroot):
    r = subprocess.run([CHROOT, str(chroot), "/arl", "version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "static" in r.stdout and cmake_version() in r.stdout, r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture(scope="module")
def sidecar(chroot):
    port = free_port()
    env = {"PATH": "/bin", "ARL_SIDECAR_WORKDIR": "/workspace"}
    log = open(chroot.parent / "sidecar.log", "w+")
    proc = subprocess.Popen(
        [CHROOT, str(chroot), "/arl", "sidecar", "--listen", f"127.0.0.1:{port}", "--workdir", "/workspace"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"arl sidecar exited {proc.returncode} in the chroot: {log.read()}")
        try:
            status, _ = http("GET", base + "/health", timeout=1)
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("arl sidecar did not answer /health within 10 s")
        time.sleep(0.05)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_sidecar_health_in_chroot(sidecar):
    status, body = http("GET", sidecar + "/health")
    assert status == 200, body
    doc = json.loads(body)
    assert doc["status"] == "ok"
    assert cmake_version() in str(doc.get("version", "")), doc


def test_sidecar_execute_runs_busybox_shell_in_workspace(sidecar, chroot):
    status, body = http("POST", sidecar + "/execute", {"command": ["sh", "-c", "echo hi > f && cat f"]})
    assert status == 200, body
    res = json.loads(body)
    assert res["exit_code"] == 0, res
    assert res["stdout"] == "hi\n", res
    assert res["timed_out"] is False, res
    # The command ran in the sidecar's workdir inside the chroot.
    assert (chroot / "workspace" / "f").read_text() == "hi\n"


def test_sidecar_execute_reports_failure_exit_code(sidecar):
    status, body = http("POST", sidecar + "/execute", {"command": ["sh", "-c", "echo oops >&2; exit 3"]})
    assert status == 200, body
    res = json.loads(body)
    assert res["exit_code"] == 3, res
    assert res["stderr"] == "oops\n", res


def test_sidecar_files_writes_then_command_reads(sidecar, chroot):
    status, body = http("POST", sidecar + "/files", {"path": "sub/dir/hello.txt", "content": "from files\n"})
    assert status == 200, body
    assert (chroot / "workspace" / "sub" / "dir" / "hello.txt").read_text() == "from files\n"
    status, body = http("POST", sidecar + "/execute", {"command": ["cat", "sub/dir/hello.txt"]})
    assert status == 200, body
    assert json.loads(body)["stdout"] == "from files\n"


def test_sidecar_rejects_bad_input_without_crashing(sidecar):
    status, body = http("POST", sidecar + "/execute", {"command": "not-a-list"})
    assert 400 <= status < 500, (status, body)
    status, _ = http("GET", sidecar + "/health")
    assert status == 200


def test_sidecar_doctest_suite_passes_when_built_static():
    # The dev build's sidecar suite, compiled with the musl toolchain by
    # build-static.sh: the static executor must behave exactly as the dev one.
    suite = Path(os.environ.get("ARL_STATIC_SIDECAR_TESTS", ROOT / "build-static" / "sidecar_tests"))
    if not suite.is_file():
        pytest.fail(f"{suite} is missing: run scripts/build-static.sh (without ARL_STATIC_TESTS=0)")
    desc = subprocess.run(["file", "-b", str(suite)], capture_output=True, text=True, check=True).stdout
    assert "statically linked" in desc, desc
    r = subprocess.run([str(suite), "--no-version"], capture_output=True, text=True, timeout=300)
    summary = [l for l in r.stdout.splitlines() if l.startswith("[doctest] test cases:")]
    assert r.returncode == 0 and summary, r.stdout[-4000:] + r.stderr[-2000:]
    m = re.search(r"(\d+) passed \| (\d+) failed", summary[-1])
    assert m and int(m.group(1)) > 0 and m.group(2) == "0", summary[-1]
