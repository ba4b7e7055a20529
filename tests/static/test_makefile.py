"""The Makefile targets the operations guide uses: listed by `make help`, and, where they cannot
work here (no minikube, no registry, no cluster, no clang-format), failing with a message that
says what is missing and what to do. Runs offline; the targets that need a cluster are exercised
in the cluster tier (tests/e2e/test_samples.py, tests/static/test_chart.py)."""
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl")) / "bin" / "k8s-v1.33.13"
CRANE = TOOLS / "crane"
VERSION = re.search(r"^project\(arl VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text(), re.M).group(1)
GUIDE_TARGETS = ["help", "docker-build", "docker-push", "k8s-build-push", "deploy", "undeploy", "k8s-deploy",
                 "k8s-undeploy", "deploy-samples", "logs", "minikube-start", "minikube-stop", "minikube-delete",
                 "quickstart", "test-integration", "fmt", "fmt-check", "manifests"]


def make(*args, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("REGISTRY", "MAKEFLAGS", "HELM_ARGS")}
    full.update(env)
    return subprocess.run(["make", "-s", "-C", str(ROOT), *args], capture_output=True, text=True, env=full,
                          timeout=120)


def test_help_lists_every_target_with_a_description():
    r = make("help")
    assert r.returncode == 0, r.stderr
    listed = {line.split()[0]: line for line in r.stdout.splitlines() if line.strip()}
    for t in GUIDE_TARGETS:
        assert t in listed, f"make help does not list {t}:\n{r.stdout}"
        assert len(listed[t].split()) > 1, listed[t]
    # Every rule of the Makefile is documented, and .PHONY names each of them.
    text = (ROOT / "Makefile").read_text()
    rules = set(re.findall(r"^([a-z0-9-]+):", text, re.M))
    assert rules == set(listed), rules ^ set(listed)
    phony = set(re.search(r"^\.PHONY:(.*?)(?<!\\)$", text, re.M | re.S).group(1).replace("\\", " ").split())
    assert rules <= phony, rules - phony


def test_minikube_targets_without_minikube_point_at_local_up(tmp_path):
    # A PATH with make, bash and coreutils but no minikube.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "make", "dirname", "sed", "cat", "env", "timeout"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for target in ("minikube-start", "minikube-stop", "minikube-delete"):
        r = make(target, PATH=str(bin_dir))
        assert r.returncode != 0, target
        assert "minikube is not installed (https://minikube.sigs.k8s.io)" in r.stderr, r.stderr
        assert "make local-up starts ARL's local cluster" in r.stderr, r.stderr


def test_registry_targets_say_registry_is_missing():
    r = make("docker-push")
    assert r.returncode != 0
    assert "deploy: REGISTRY is not set: REGISTRY=registry.example.com/team make docker-push" in r.stderr, r.stderr
    for target in ("k8s-build-push", "k8s-deploy"):
        r = make(target)
        assert r.returncode != 0
        assert f"{target}: REGISTRY is not set: REGISTRY=registry.example.com/team make {target}" in r.stderr, r.stderr


def test_docker_push_without_an_image_archive_says_to_build_it(tmp_path):
    r = make("docker-push", REGISTRY="registry.invalid/team", ARL_IMAGE_TAR=str(tmp_path / "arl-image.tar"))
    assert r.returncode != 0
    assert f"{tmp_path}/arl-image.tar is missing: run make docker-build first" in r.stderr, r.stderr


@pytest.fixture
def registry(tmp_path):
    """crane's in-memory registry on a loopback port, as scripts/build-image.sh uses one."""
    if not CRANE.is_file():
        pytest.fail(f"{CRANE} is missing: run scripts/install-kube-tools.sh release")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([str(CRANE), "registry", "serve", "--address", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "crane registry serve did not answer"
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_docker_push_pushes_the_archive_under_both_guide_names(tmp_path, registry):
    # A one-file image archive stands in for dist/arl-image.tar (built by the static tier).
    (tmp_path / "hello").write_text("hi\n")
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(tmp_path / "layer.tar"), "hello"], check=True)
    subprocess.run([str(CRANE), "append", "-f", str(tmp_path / "layer.tar"), "-t", f"{registry}/src:1"],
                   check=True, capture_output=True)
    subprocess.run([str(CRANE), "pull", f"{registry}/src:1", str(tmp_path / "img.tar")], check=True, capture_output=True)
    r = make("docker-push", REGISTRY=f"{registry}/team", ARL_IMAGE_TAR=str(tmp_path / "img.tar"))
    assert r.returncode == 0, r.stderr
    want = subprocess.run([str(CRANE), "digest", f"{registry}/src:1"], capture_output=True, text=True,
                          check=True).stdout
    for name in ("arl-operator", "arl-sidecar"):
        got = subprocess.run([str(CRANE), "digest", f"{registry}/team/{name}:{VERSION}"], capture_output=True, text=True)
        assert got.returncode == 0 and got.stdout == want, (name, got.stderr)


@pytest.mark.parametrize("target", ["deploy", "undeploy", "k8s-undeploy", "logs"])
def test_cluster_targets_without_a_cluster_say_how_to_get_one(tmp_path, target):
    r = make(target, KUBECONFIG=str(tmp_path / "missing-kubeconfig"))
    assert r.returncode != 0
    assert f"deploy: no cluster answers through KUBECONFIG={tmp_path}/missing-kubeconfig" in r.stderr, r.stderr
    assert "start one (make local-up, make minikube-start) or point KUBECONFIG at yours" in r.stderr


def test_fmt_without_clang_format_says_how_to_install_it():
    for target in ("fmt", "fmt-check"):
        r = make(target, CLANG_FORMAT="/nonexistent/clang-format")
        assert r.returncode != 0
        assert f"{target}: /nonexistent/clang-format not found: apt-get install clang-format" in r.stderr, r.stderr


def test_clang_format_config_is_valid_and_keeps_the_tree_style():
    cf = shutil.which("clang-format")
    if not cf:
        pytest.skip("clang-format not installed (apt-get install clang-format)")
    r = subprocess.run([cf, "--dump-config"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cfg = r.stdout
    assert re.search(r"^ColumnLimit:\s+120$", cfg, re.M) and re.search(r"^IndentWidth:\s+2$", cfg, re.M)
    # Code in the tree's style (a pool controller's shape) stays as it is.
    snippet = """namespace arl::core {

class Pool {
 public:
  explicit Pool(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

int count_idle(const std::vector<json>& pods, const std::string& pool, std::map<std::string, int>* by_phase) {
  int n = 0;
  for (const auto& p : pods) {
    if (p.value("phase", "") != "Running") continue;
    if (p.contains("deletionTimestamp")) return -1;
    else ++n;
    (*by_phase)[p.value("phase", "")] += 1;
  }
  return n;
}

}  // namespace arl::core
"""
    r = subprocess.run([cf, "--assume-filename=src/core/pool.cpp"], cwd=ROOT, input=snippet, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == snippet


def test_manifests_and_chart_lint_targets():
    r = make("-n", "manifests")
    assert r.stdout.strip() == "scripts/sync-chart-crds.sh", r.stdout
    r = make("chart-lint")
    assert r.returncode == 0, r.stdout + r.stderr


def test_docker_build_falls_back_to_the_archive_without_a_daemon():
    # Dry run of the recipe; the build itself is the static tier's scripts/build-image.sh.
    r = make("-n", "docker-build")
    assert r.stdout.strip() == "scripts/deploy.sh image"
    text = (ROOT / "scripts" / "deploy.sh").read_text()
    assert 'if docker_daemon; then' in text and '"$here/build-image.sh"' in text
