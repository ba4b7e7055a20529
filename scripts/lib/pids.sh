# Pid files of processes a script started under $STATE/pids.
# A pid file is trusted only while its process still names our state dir on
# its command line, so a recycled pid is never killed.
live_pid() {
  local f="$STATE/pids/$1.pid" pid
  [[ -s "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$STATE/" || return 1
  echo "$pid"
}
