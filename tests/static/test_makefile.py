"""The Makefile targets the operations guide uses: listed by `make help`, and, where they cannot
work here (no minikube, no registry, no cluster, no clang-format), failing with a message that
says what is missing and what to do. Runs offline; the targets that need a cluster are exercised
in the cluster tier (tests/e2e/test_samples.py, tests/static/test_chart.py)."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
    if (ROOT / "dist" / "arl-image.tar").exists():
        pytest.skip("dist/arl-image.tar exists in this checkout")
    r = make("docker-push", REGISTRY="registry.invalid/team")
    assert r.returncode != 0
    assert f"{ROOT}/dist/arl-image.tar is missing: run make docker-build first" in r.stderr, r.stderr


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
