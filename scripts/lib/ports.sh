# Free loopback ports for the servers the scripts start. Below the kernel's ephemeral range: a
# restarted server binds the same port again, and a port from that range may meanwhile have become
# the source port of any outgoing connection on the machine ("bind: address already in use").

free_ports() {  # free_ports N: N distinct free ports, held open together so they cannot repeat
  python3 - "$1" <<'PY'
import random, socket, sys
want = int(sys.argv[1])
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    ephemeral_low = int(f.read().split()[0])
candidates = list(range(10000, max(10001, ephemeral_low)))
random.shuffle(candidates)
socks = []
for port in candidates:
    if len(socks) == want:
        break
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        s.close()
if len(socks) < want:
    raise SystemExit(f"no {want} free loopback ports below the ephemeral range ({ephemeral_low})")
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
