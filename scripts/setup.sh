#!/usr/bin/env bash
# Installs everything the dev build and the tests need. Idempotent: a second run
# only checks. Heavy artifacts (Go-built Kubernetes binaries, Zig, static libs)
# are cached under ${ARL_CACHE:-$HOME/.cache/arl}, never in the repo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

apt_packages=(
  build-essential cmake ninja-build pkg-config git ccache
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libfmt-dev doctest-dev libssl-dev zlib1g-dev
  iproute2 util-linux procps curl file busybox-static clang-format
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The header-only httplib.h lives only in Debian's source package (the -dev
# package ships a split header backed by a shared library, which cannot link
# statically). Dev and static builds both use this one header.
"$here/fetch-httplib.sh"
echo "setup: apt packages and httplib.h ready"

# Python tools for the e2e tier and the SDK: one venv, cached outside the repo.
# The SDK is tested with the oldest `kubernetes` its pyproject.toml admits, so a
# floor set too low fails here instead of on a user's machine.
venv="${ARL_CACHE:-$HOME/.cache/arl}/venv"
k8s_floor="$(sed -nE 's/.*"kubernetes>=([0-9.]+)".*/\1/p' "$root/sdk/python/arl-client/pyproject.toml")"
[ -n "$k8s_floor" ] || { echo "setup: no kubernetes>=X.Y.Z floor in sdk/python/arl-client/pyproject.toml" >&2; exit 1; }
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c 'import yaml' 2>/dev/null; then
  echo "setup: creating python venv $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q pytest pytest-timeout pyyaml
fi
if [ "$("$venv/bin/python" -c 'import kubernetes; print(kubernetes.__version__)' 2>/dev/null)" != "$k8s_floor" ]; then
  echo "setup: installing kubernetes==$k8s_floor (the SDK's declared floor)"
  "$venv/bin/pip" install -q "kubernetes==$k8s_floor"
fi
# gymnasium for arl_client.gym's tests, at the floor of the SDK's `gym` extra.
gym_floor="$(sed -nE 's/.*"gymnasium>=([0-9.]+)".*/\1/p' "$root/sdk/python/arl-client/pyproject.toml")"
[ -n "$gym_floor" ] || { echo "setup: no gymnasium>=X.Y.Z floor in sdk/python/arl-client/pyproject.toml" >&2; exit 1; }
if [ "$("$venv/bin/python" -c 'import gymnasium; print(gymnasium.__version__)' 2>/dev/null)" != "$gym_floor" ]; then
  echo "setup: installing gymnasium==$gym_floor (the floor of the SDK's gym extra)"
  "$venv/bin/pip" install -q "gymnasium==$gym_floor"
fi
# uv: the operations guide runs scripts/verify_deployment.py with `uv run`.
"$venv/bin/python" -c 'import uv' 2>/dev/null || "$venv/bin/pip" install -q uv
# The official MCP SDK is the client of tests/e2e/test_mcp.py (`kubectl arl mcp`);
# the version the tests were written against. It needs Python >= 3.10.
mcp_version=2.3.0
if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null)" != "$mcp_version" ]; then
  "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    { echo "setup: the MCP SDK needs Python >= 3.10; $venv has $("$venv/bin/python" --version)" >&2; exit 1; }
  echo "setup: installing mcp==$mcp_version (the MCP client of the e2e tests)"
  "$venv/bin/pip" install -q "mcp==$mcp_version"
fi
echo "setup: python venv ready at $venv"
