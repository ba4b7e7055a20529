"""Release artifacts around the static binary: the tarball + SHA-256 + krew
manifest (scripts/release.sh) and the OCI image archive (scripts/build-image.sh).
Both scripts run with --no-build against a copy of dist/arl in a temp dir, so the
tests never rewrite the repo's own dist/ or plugins/.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ARL = Path(os.environ.get("ARL_STATIC_BIN", ROOT / "dist" / "arl"))
CRANE = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl")) / "bin" / "k8s-v1.33.13" / "crane"


def version():
    return re.search(r"^project\(arl VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    if not ARL.is_file():
        pytest.fail(f"{ARL} is missing: run scripts/build-static.sh")
    d = tmp_path_factory.mktemp("dist")
    shutil.copy2(ARL, d / "arl")
    return d


@pytest.fixture(scope="module")
def release(dist):
    manifest = dist / "arl.yaml"
    env = {**os.environ, "ARL_DIST": str(dist), "ARL_PLUGIN_MANIFEST": str(manifest),
           "ARL_RELEASE_URL": "https://example.invalid/releases"}
    r = subprocess.run([str(ROOT / "scripts" / "release.sh"), "--no-build"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    tarball = Path(r.stdout.strip().splitlines()[-1])
    return tarball, manifest


def test_tarball_holds_binary_plugin_link_license_readme(release):
    tarball, _ = release
    assert tarball.name == f"arl-{version()}-linux-amd64.tar.gz"
    with tarfile.open(tarball) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert sorted(members) == ["LICENSE", "README.md", "arl", "kubectl-arl"]
        assert members["kubectl-arl"].issym() and members["kubectl-arl"].linkname == "arl"
        assert members["arl"].mode & 0o111 == 0o111
        assert tf.extractfile("arl").read() == ARL.read_bytes()
        assert tf.extractfile("LICENSE").read() == (ROOT / "LICENSE").read_bytes()


def test_sha256_file_verifies(release):
    tarball, _ = release
    sums = tarball.with_name(tarball.name + ".sha256")
    line = sums.read_text().split()
    assert line == [hashlib.sha256(tarball.read_bytes()).hexdigest(), tarball.name]
    r = subprocess.run(["sha256sum", "-c", sums.name], cwd=tarball.parent, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_krew_manifest_points_at_the_tarball(release):
    tarball, manifest = release
    doc = yaml.safe_load(manifest.read_text())
    assert doc["kind"] == "Plugin" and doc["metadata"]["name"] == "arl"
    assert doc["spec"]["version"] == f"v{version()}"
    (plat,) = doc["spec"]["platforms"]
    assert plat["selector"]["matchLabels"] == {"os": "linux", "arch": "amd64"}
    assert plat["uri"].endswith(f"/v{version()}/{tarball.name}")
    assert plat["sha256"] == hashlib.sha256(tarball.read_bytes()).hexdigest()
    with tarfile.open(tarball) as tf:
        names = tf.getnames()
    assert plat["bin"] in names
    assert all(f["from"] in names for f in plat["files"])


def test_repo_krew_manifest_is_well_formed():
    doc = yaml.safe_load((ROOT / "plugins" / "arl.yaml").read_text())
    assert doc["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert doc["spec"]["version"] == f"v{version()}"
    assert re.fullmatch(r"[0-9a-f]{64}", doc["spec"]["platforms"][0]["sha256"])


def test_unpacked_kubectl_arl_runs_as_the_plugin(release, tmp_path):
    tarball, _ = release
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp_path)
    r = subprocess.run([str(tmp_path / "kubectl-arl"), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "kubectl arl" in r.stdout
    r = subprocess.run([str(tmp_path / "arl"), "version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and version() in r.stdout


@pytest.fixture(scope="module")
def image(dist):
    if not CRANE.is_file():
        pytest.fail(f"{CRANE} is missing: run scripts/install-kube-tools.sh release")
    r = subprocess.run([str(ROOT / "scripts" / "build-image.sh"), "--no-build"], capture_output=True, text=True,
                       env={**os.environ, "ARL_DIST": str(dist)})
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1])


def test_image_archive_validates(image):
    # Digests of config and layer match the manifest: what docker load / ctr import check.
    r = subprocess.run([str(CRANE), "validate", "--tarball", str(image)], capture_output=True, text=True)
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr


def test_image_archive_config(image):
    with tarfile.open(image) as tf:
        (entry,) = json.load(tf.extractfile("manifest.json"))
        assert entry["RepoTags"] == [f"ghcr.io/arl/arl:{version()}"]
        config = json.load(tf.extractfile(entry["Config"]))
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Entrypoint"] == ["/arl"]
    assert config["config"]["User"] == "65532:65532"
    assert len(entry["Layers"]) == 1, "FROM scratch: one layer, the binary"


def test_image_layer_runs_as_a_root_filesystem(image, tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    with tarfile.open(image) as tf:
        (entry,) = json.load(tf.extractfile("manifest.json"))
        layer = tf.extractfile(entry["Layers"][0]).read()
    (tmp_path / "layer.tgz").write_bytes(layer)
    subprocess.run(["tar", "-xzf", str(tmp_path / "layer.tgz"), "-C", str(rootfs)], check=True)
    assert (rootfs / "arl").read_bytes() == ARL.read_bytes()
    assert os.stat(rootfs / "arl").st_mode & 0o755 == 0o755
    assert "nonroot:x:65532:65532" in (rootfs / "etc" / "passwd").read_text()
    # Exactly what a runtime does with this image: chroot into the layer, run the
    # entrypoint as the configured user.
    r = subprocess.run([shutil.which("chroot") or "/usr/sbin/chroot", "--userspec=65532:65532", str(rootfs), "/arl", "version"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "static" in r.stdout


def test_dockerfile_is_from_scratch_non_root():
    text = (ROOT / "Dockerfile").read_text()
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    assert lines[0] == "FROM scratch"
    assert "COPY dist/arl /arl" in lines
    assert any(l.startswith("USER 65532") for l in lines)
    assert 'ENTRYPOINT ["/arl"]' in lines
