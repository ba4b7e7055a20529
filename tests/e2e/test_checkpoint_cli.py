"""End-to-end tests of the checkpoint verbs of `kubectl arl sandbox` and of the sidecar's archive
import between two sandboxes of one pool, against the local cluster (see test_cli.py for the
environment: ARL_E2E_KUBECONFIG, ARL_BIN)."""
import hashlib
import hmac
import json
import os
import re
import subprocess
import tarfile

import pytest

from test_cli import Arl, kubeconfig, kubectl, namespace, plugin  # noqa: F401  (fixtures)

# A workdir with every kind the archive carries: nested files, an executable, an empty file, an
# empty directory, a symlink, and a name over ustar's 100 bytes.
LONG = "d" * 60 + "/" + "n" * 70 + ".txt"
SETUP = ("mkdir -p src empty-dir " + LONG.split("/")[0] + " && printf 'print(1)\\n' > src/app.py && "
         "printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod 755 run.sh && : > empty.txt && "
         "ln -s src/app.py link && printf long > " + LONG + " && "
         "head -c 300000 /dev/urandom > blob.bin")
# Kind, mode, size and sha256 of everything under the workdir, sorted: equal listings mean
# byte-identical workdirs.
LISTING = ("cd \"$PWD\" && find . -mindepth 1 -printf '%y %m %s %p -> %l\\n' | sort && "
           "find . -type f -exec sha256sum {} + | sort -k2")


@pytest.fixture(scope="module")
def arl(plugin, kubeconfig, namespace):  # noqa: F811
    return Arl(plugin, kubeconfig, namespace)


@pytest.fixture(scope="module")
def pool(arl):
    arl.ok("pool", "create", "ckpt-pool", "--image", os.environ.get("ARL_E2E_IMAGE", "python:3.12-slim"),
           "--replicas", "2", "--wait", "--timeout", "120s", timeout=180)
    return "ckpt-pool"


def new_sandbox(arl, pool, name):
    arl.ok("sandbox", "create", name, "--pool", pool, "--keep-alive", "--wait", "--timeout", "90s", timeout=120)
    return name


def sh(arl, sandbox, script):
    return arl.ok("sandbox", "exec", sandbox, "--", "sh", "-c", script).stdout


def created_id(stdout):
    m = re.match(r"^checkpoint/([0-9a-f]{8}) created \(files \d+, directories \d+, bytes \d+, [0-9.]+ ms\)\n$", stdout)
    assert m, stdout
    return m.group(1)


def test_checkpoint_list_restore_delete_round_trip(arl, pool):
    sb = new_sandbox(arl, pool, "ckpt-a")
    sh(arl, sb, SETUP)
    before = sh(arl, sb, LISTING)
    cid = created_id(arl.ok("sandbox", "checkpoint", sb, "--name", "base").stdout)

    sh(arl, sb, "rm -rf src && echo changed > run.sh && echo new > new.txt && rmdir empty-dir")
    assert sh(arl, sb, LISTING) != before
    out = arl.ok("sandbox", "restore", sb, "base").stdout
    assert re.match(rf"^checkpoint/{cid} restored \(written \d+, removed 1, unchanged \d+, killed 0, [0-9.]+ ms\)\n$", out)
    assert sh(arl, sb, LISTING) == before

    table = arl.ok("sandbox", "checkpoints", sb).stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "FILES", "DIRECTORIES", "BYTES", "AGE"]
    assert table[1].split()[:2] == [cid, "base"]
    listed = json.loads(arl.ok("sandbox", "checkpoints", sb, "-o", "json").stdout)
    assert [c["id"] for c in listed["checkpoints"]] == [cid]

    missing = arl("sandbox", "restore", sb, "nope")
    assert missing.returncode == 1
    assert 'checkpoint "nope": no checkpoint has this id or name' in missing.stderr
    assert arl.ok("sandbox", "checkpoint-delete", sb, cid).stdout.startswith(f"checkpoint/{cid} deleted (freed ")
    assert json.loads(arl.ok("sandbox", "checkpoints", sb, "-o", "json").stdout)["checkpoints"] == []


def test_export_then_import_into_another_sandbox_is_byte_identical(arl, pool, tmp_path):
    src = new_sandbox(arl, pool, "ckpt-src")
    dst = new_sandbox(arl, pool, "ckpt-dst")
    sh(arl, src, SETUP)
    want = sh(arl, src, LISTING)
    cid = created_id(arl.ok("sandbox", "checkpoint", src).stdout)
    archive = tmp_path / "ws.tar.gz"
    out = arl.ok("sandbox", "export", src, cid, "-f", str(archive)).stdout
    assert out.startswith(f"checkpoint/{cid} exported to {archive} (")
    with tarfile.open(archive, "r:gz") as t:  # a tar any tool reads
        names = t.getnames()
    assert {"src/app.py", LONG, "empty-dir", "link", "empty.txt"} <= set(names)

    sh(arl, dst, "echo stale > stale.txt")
    out = arl.ok("sandbox", "import", dst, "-f", str(archive), "--restore", "--name", "from-src").stdout
    assert re.match(r"^checkpoint/[0-9a-f]{8} imported \(", out)
    assert re.search(r"\ncheckpoint/[0-9a-f]{8} restored \(", out)
    assert sh(arl, dst, LISTING) == want

    bad = arl("sandbox", "export", src, "nope", "-f", str(tmp_path / "x.tar.gz"))
    assert bad.returncode == 1 and "HTTP 404" in bad.stderr
    assert not (tmp_path / "x.tar.gz").exists() and not (tmp_path / "x.tar.gz.tmp").exists()


def _pool_token(kubeconfig, ns, pool):  # noqa: F811
    raw = kubectl(kubeconfig, "-n", ns, "get", "secret", f"arl-pool-{pool}", "-o", "jsonpath={.data.token}").stdout
    import base64
    return base64.b64decode(raw).decode()


def _sandbox(kubeconfig, ns, name):  # noqa: F811
    return json.loads(kubectl(kubeconfig, "-n", ns, "get", "sandbox", name, "-o", "json").stdout)


def test_peer_import_between_two_sandboxes_of_one_pool(arl, pool, kubeconfig, namespace):  # noqa: F811
    src = new_sandbox(arl, pool, "ckpt-peer-src")
    dst = new_sandbox(arl, pool, "ckpt-peer-dst")
    sh(arl, src, SETUP)
    want = sh(arl, src, LISTING)
    cid = created_id(arl.ok("sandbox", "checkpoint", src).stdout)
    s = _sandbox(kubeconfig, namespace, src)
    # The source's own token, as the plugin derives it (src/k8s/sandbox_token.h).
    token = hmac.new(_pool_token(kubeconfig, namespace, pool).encode(),
                     f"arl-sandbox-token/v1:{s['metadata']['uid']}".encode(), hashlib.sha256).hexdigest()
    body = {"source_url": f"http://{s['status']['podIP']}:8080", "checkpoint": cid, "token": token, "restore": True}
    out = arl.ok("sandbox", "api", dst, "POST", "/checkpoints/import", "-d", json.dumps(body)).stdout
    info = json.loads(out)
    assert info["restored"]["id"] == info["id"]
    assert token not in out
    assert sh(arl, dst, LISTING) == want

    body["token"] = "0" * 64
    refused = arl("sandbox", "api", dst, "POST", "/checkpoints/import", "-d", json.dumps(body))
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"] == (f"source {body['source_url']}/checkpoints/{cid}/archive answered 401: "
                                                   "token: wrong token")
