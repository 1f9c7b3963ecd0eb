# Shell helpers shared by the benchmark scripts that start their own nginx (source it).

# stop_nginx PID: a graceful stop (QUIT), then KILL after 5 s; only if PID is still an nginx.
stop_nginx() {
  local pid=$1
  [ -n "$pid" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q nginx || return 0
  kill -QUIT "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
}
