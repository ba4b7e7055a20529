"""kubectl as the cluster tests run it: the binary built with the control plane."""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
K8S_VERSION = os.environ.get("K8S_VERSION", "1.33.13")
CACHE = pathlib.Path(os.environ.get("ARL_CACHE", pathlib.Path.home() / ".cache" / "arl"))
# The machine's own kubectl, if any, may be far older than the API server (Debian's is 1.20).
KUBECTL = pathlib.Path(os.environ.get("ARL_KUBECTL", CACHE / "bin" / f"k8s-v{K8S_VERSION}" / "kubectl"))


class Kubectl:
    """Runs the kubectl built with the control plane (the machine's own may be far older)."""

    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig

    def run(self, *args, input=None, check=True, timeout=60, env=None):
        cmd = [str(KUBECTL), "--kubeconfig", self.kubeconfig, *args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}{p.stdout}")
        return p

    def apply(self, yaml_text, *args):
        return self.run("apply", "-f", "-", *args, input=yaml_text)


def api_get(kubeconfig, path, accept="application/json"):
    """GET straight from the API server with the kubeconfig's token, for what kubectl cannot ask
    for (e.g. the Table form that printer columns produce, together with the object it shows)."""
    import base64
    import json
    import ssl
    import tempfile
    import urllib.request

    import yaml

    cfg = yaml.safe_load(open(kubeconfig))
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    if "token" not in user:
        raise AssertionError(f"{kubeconfig}: api_get needs a token user (as scripts/control-plane.sh writes)")
    if "certificate-authority-data" in cluster:
        with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as f:
            f.write(base64.b64decode(cluster["certificate-authority-data"]))
        tls = ssl.create_default_context(cafile=f.name)
    else:
        tls = ssl.create_default_context(cafile=cluster.get("certificate-authority"))
    req = urllib.request.Request(cluster["server"] + path,
                                 headers={"Authorization": f"Bearer {user['token']}", "Accept": accept})
    with urllib.request.urlopen(req, context=tls, timeout=30) as r:
        return json.loads(r.read())
