"""Run inside sandbox A by test_sandbox_token_e2e.py: collects every string that could be a token
from what sandbox code can read of its own sidecar and pod, then tries each one on its own
sidecar and on sandbox B's (GET /processes; token-shaped ones, 64 hex digits, also POST
/execute). Prints one JSON line. argv[1]: {"own": ip, "other": ip,
"secrets": [sha256 hex of the tokens that must not be found]}."""
import hashlib
import http.client
import json
import os
import re
import sys

args = json.loads(sys.argv[1])
candidates = set()
counts = {"environ": 0, "cmdline": 0, "files": 0, "mem": 0, "denied": 0}


HEX64 = re.compile(rb'(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])')
hex64 = set()  # the shape of a pool token (32 random bytes as hex) and of a sandbox token (HMAC-SHA256 hex)


def add(blob):
    for part in re.split(rb'[\x00\s=:,;"\'{}\[\]]+', blob):
        if 16 <= len(part) <= 256:
            try:
                candidates.add(part.decode("ascii"))
            except UnicodeDecodeError:
                pass
    # Also inside longer strings (a URL, a JSON blob without separators around it).
    for m in HEX64.finditer(blob):
        h = m.group().decode("ascii")
        candidates.add(h)
        hex64.add(h)


def has_cap_sys_ptrace():
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 19 & 1)
    return False


def read_mem(pid):
    """The process's writable memory, where a token it holds would be."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if hi - lo > 256 << 20:
                continue
            try:
                mem.seek(lo)
                add(mem.read(hi - lo))
            except OSError:
                pass


# Root on the host (the local node runs pods as host processes, no isolation) may read any
# process's memory whatever the sidecar does; in a container it may not, and that is tested.
try_mem = not has_cap_sys_ptrace()
sidecars = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    for what in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                blob = f.read()
            add(blob)
            counts[what] += 1
            if what == "cmdline" and b"sidecar" in blob and int(pid) != os.getpid():
                sidecars.append(pid)
        except OSError:
            counts["denied"] += 1
if try_mem:
    for pid in sidecars:
        try:
            read_mem(pid)
            counts["mem"] += 1
        except OSError:
            counts["denied"] += 1
for k, v in os.environ.items():
    add(f"{k}={v}".encode())
for root, _, files in os.walk("/workspace"):
    for name in files:
        try:
            with open(os.path.join(root, name), "rb") as f:
                add(f.read(1 << 20))
            counts["files"] += 1
        except OSError:
            pass

hashes = {hashlib.sha256(c.encode()).hexdigest() for c in candidates}
found = [h for h in args["secrets"] if h in hashes]


def call(ip, method, path, token, body=None):
    conn = http.client.HTTPConnection(ip, 8080, timeout=5)
    try:
        headers = {"X-Arl-Token": token}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        return conn.getresponse().status
    except OSError as e:
        return f"error {e}"
    finally:
        conn.close()


accepted = []
run_true = json.dumps({"command": ["true"]})
for c in sorted(candidates):
    for name in ("own", "other"):
        status = call(args[name], "GET", "/processes", c)
        if status != 401:
            accepted.append([name, "GET /processes", c[:4] + "...", status])
        # A token-shaped string also tries to run a command, the call an attacker wants.
        if c in hex64:
            status = call(args[name], "POST", "/execute", c, run_true)
            if status != 401:
                accepted.append([name, "POST /execute", c[:4] + "...", status])
print(json.dumps({"candidates": len(candidates), "hex64": len(hex64), "counts": counts, "sidecars": len(sidecars),
                  "tried_mem": try_mem, "found": found, "accepted": accepted}))
