# A restarted node agent (kubelet or ARL's local node) is known to be back only by its node Lease:
# the Node's Ready condition outlives the old agent (the node controller waits 40 s before it says
# Unknown) and its heartbeat has second precision, while Lease renewTime is a microsecond time.
# The caller defines kubectl_ (kubectl with its kubeconfig).

lease_renewed_since() {  # lease_renewed_since NODE EPOCH[.FRACTION]: NODE's Lease renewed after it
  local renew
  renew="$(kubectl_ -n kube-node-lease get lease "$1" -o 'jsonpath={.spec.renewTime}' 2>/dev/null)" || return 1
  [[ -n "$renew" ]] || return 1
  python3 -c 'import sys, datetime as d; t = d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=d.timezone.utc); sys.exit(0 if t.timestamp() > float(sys.argv[2]) else 1)' "$renew" "$2"
}
