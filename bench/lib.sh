# Shell helpers shared by the benchmark scripts that run wharf's own binaries (source it after
# setting `here`, the repository).

# The benchmarks start several wharf processes at once: each serves its admin endpoints on a free
# port rather than all on 9090.
export WHARF_ADMIN_LISTEN=${WHARF_ADMIN_LISTEN:-127.0.0.1:0}

# bench_build <build dir> <log dir> <target...>: configures (RelWithDebInfo, once) and builds the
# targets, with ccache set up as deploy/test.sh does (hits across clones, a cache outside them).
bench_build() {
  local build=$1 logs=$2; shift 2
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/wharf-ccache}
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$logs/configure.log"
  cmake --build "$build" --target "$@" -j2
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wharf_servers start|stop <data dir>: Redis and PostgreSQL on free loopback ports
# (deploy/local-servers.sh), their data under <data dir>; start exports WHARF_REDIS_URL and
# WHARF_DATABASE_URL, stop is quiet and safe to repeat (for an EXIT trap).
wharf_servers() {
  local action=$1 data=$2
  if [ "$action" = start ]; then
    bench_redis_port=$(free_port); bench_pg_port=$(free_port)
    eval "$(WHARF_DATA_DIR=$data WHARF_LOCAL_REDIS_PORT=$bench_redis_port WHARF_LOCAL_PG_PORT=$bench_pg_port \
      "$here/deploy/local-servers.sh" start)"
  elif [ -n "${bench_redis_port:-}" ]; then
    WHARF_DATA_DIR=$data WHARF_LOCAL_REDIS_PORT=$bench_redis_port WHARF_LOCAL_PG_PORT=$bench_pg_port \
      "$here/deploy/local-servers.sh" stop >/dev/null 2>&1 || true
  fi
}

# timed <label> <rep> <command...>: runs the command (output to $out/logs/<label>-<rep>.out), appends
# "label rep wall_s cpu_s" to $out/runs.tsv and prints a line. CPU is user+sys of the command and
# its children (/usr/bin/time). Needs $out set by the script.
timed() {
  local label=$1 rep=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$out/logs/$label-$rep.cpu" "$@" >"$out/logs/$label-$rep.out" 2>&1
  t1=$(date +%s.%N)
  local wall cpu
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$out/logs/$label-$rep.cpu")
  printf '%s\t%s\t%s\t%s\n' "$label" "$rep" "$wall" "$cpu" >>"$out/runs.tsv"
  printf '  %-14s rep %s: %7.2f s wall, %6.2f s CPU\n' "$label" "$rep" "$wall" "$cpu"
}
