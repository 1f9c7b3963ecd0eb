#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan/UBSan) and runs them for a bounded time each.
#   tests/fuzz/run.sh                          # every target, 30 s each, two at a time
#   tests/fuzz/run.sh --seconds 600 resp s3_xml  # longer, some targets
#   tests/fuzz/run.sh --repro envelope crash-1234abcd  # run one input through one target
#   tests/fuzz/run.sh --seed 1                 # a fixed libFuzzer seed (CI: the same inputs each run)
# Build dir: build-fuzz under the repository (WHARF_FUZZ_BUILD_DIR overrides). Each run fuzzes a
# scratch copy of the committed corpus (tests/fuzz/corpus/<target>/) under <build>/fuzz-run/, so
# the committed corpus stays small; crashes land in <build>/fuzz-run/artifacts/<target>/. Exits 1
# (printing the reproducer and the command that replays it) when any target crashes.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_src=$here/tests/fuzz
build=${WHARF_FUZZ_BUILD_DIR:-$here/build-fuzz}
seconds=30
jobs=2
repro=()
targets=()
seed_flags=()

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#*=}; shift ;;
    --repro) [ $# -ge 3 ] || usage; repro=("$2" "$3"); shift 3 ;;
    --seed) seed_flags=("-seed=$2"); shift 2 ;;
    --seed=*) seed_flags=("-seed=${1#*=}"); shift ;;
    -h|--help) usage ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) targets+=("${1%_fuzz}"); shift ;;
  esac
done
case "$seconds$jobs" in *[!0-9]*) echo "run.sh: --seconds and --jobs take whole numbers" >&2; exit 2 ;; esac

# ccache as deploy/test.sh sets it up: hits across clones, a cache outside the clone.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/wharf-ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# The sanitizers' reports: UB aborts (so libFuzzer keeps the input), stacks symbolised.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_stack_use_after_return=0}

if ! command -v "${CXX:-clang++-14}" >/dev/null 2>&1; then
  echo "run.sh: ${CXX:-clang++-14} not found: run deploy/install-deps.sh (clang-14, libclang-rt-14-dev)" >&2
  exit 1
fi
build_start=$(date +%s)
if [ ! -f "$build/CMakeCache.txt" ]; then
  mkdir -p "$build"
  CC=${CC:-clang-14} CXX=${CXX:-clang++-14} cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DWHARF_FUZZ=ON >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
fi
cmake --build "$build" --target wharf_fuzz_targets -j "$(nproc)"
echo "fuzz: build took $(( $(date +%s) - build_start )) s"
bin=$build/tests/fuzz

if [ ${#repro[@]} -gt 0 ]; then
  t=${repro[0]%_fuzz}
  [ -x "$bin/${t}_fuzz" ] || { echo "run.sh: no fuzz target '$t'" >&2; exit 2; }
  exec "$bin/${t}_fuzz" -rss_limit_mb=2048 -timeout=10 "${repro[1]}"
fi

if [ ${#targets[@]} -eq 0 ]; then
  for f in "$fuzz_src"/*_fuzz.cpp; do targets+=("$(basename "$f" _fuzz.cpp)"); done
fi
for t in "${targets[@]}"; do
  [ -x "$bin/${t}_fuzz" ] || { echo "run.sh: no fuzz target '$t' (tests/fuzz/${t}_fuzz.cpp)" >&2; exit 2; }
done

work=$build/fuzz-run
rm -rf "$work/corpus" "$work/logs"
mkdir -p "$work/corpus" "$work/logs" "$work/artifacts"

# run_one <target>: fuzzes a scratch copy of the corpus for $seconds; exit status of libFuzzer.
run_one() {
  local t=$1 corpus=$work/corpus/$1 art=$work/artifacts/$1
  mkdir -p "$corpus" "$art"
  if [ -d "$fuzz_src/corpus/$t" ]; then cp -r "$fuzz_src/corpus/$t/." "$corpus/"; fi
  local extra=()
  if [ -f "$fuzz_src/$t.dict" ]; then extra+=("-dict=$fuzz_src/$t.dict"); fi
  # <target>.options: more libFuzzer flags, one a line (later flags win, e.g. -max_len=262144
  # where a seed must be long: 100,000 levels of nesting are 200 KB).
  if [ -f "$fuzz_src/$t.options" ]; then
    while read -r flag; do
      case "$flag" in -*) extra+=("$flag") ;; esac
    done <"$fuzz_src/$t.options"
  fi
  # -max_len 64 KiB: far above every seed (the parsers' interesting states are in small inputs)
  # yet enough for nesting and size-limit paths. The outer timeout catches a target that hangs
  # outside libFuzzer's own -timeout (e.g. in its exit path).
  timeout --kill-after=10 $((seconds + 120)) "$bin/${t}_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
    "${seed_flags[@]}" "${extra[@]}" "$corpus" >"$work/logs/$t.log" 2>&1
}

declare -A status
pids=()
names=()
wait_one() {  # waits for any one running target and records its status
  local i pid rc
  while :; do
    for i in "${!pids[@]}"; do
      pid=${pids[$i]}
      if ! kill -0 "$pid" 2>/dev/null; then
        rc=0
        wait "$pid" || rc=$?
        status[${names[$i]}]=$rc
        unset 'pids[i]' 'names[i]'
        pids=("${pids[@]}")
        names=("${names[@]}")
        return
      fi
    done
    sleep 0.5
  done
}
fuzz_start=$(date +%s)
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time (logs: $work/logs)"
for t in "${targets[@]}"; do
  while [ ${#pids[@]} -ge "$jobs" ]; do wait_one; done
  run_one "$t" &
  pids+=($!)
  names+=("$t")
done
while [ ${#pids[@]} -gt 0 ]; do wait_one; done

failed=0
printf '%-18s %12s %8s %8s  %s\n' target execs seconds exec/s result
for t in "${targets[@]}"; do
  log=$work/logs/$t.log
  # A target that crashes on a seed prints none of these: "?".
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  rate=$( (grep -oE 'exec/s: [0-9]+' "$log" || true) | tail -1 | cut -d' ' -f2)
  rc=${status[$t]}
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    failed=$((failed + 1))
    reproducer=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
    result="CRASHED (exit $rc)"
  fi
  printf '%-18s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "${secs:-?}" "${rate:-?}" "$result"
  if [ "$rc" -ne 0 ]; then
    grep -m3 -E '^(SUMMARY|==[0-9]+==ERROR)|fuzz check failed|runtime error|what\(\)' "$log" | sed 's/^/    /' || true
    echo "    log: $log"
    if [ -n "${reproducer:-}" ]; then
      echo "    reproducer: $reproducer"
      echo "    replay: tests/fuzz/run.sh --repro $t $reproducer"
    fi
  fi
done
echo "fuzz: ran for $(( $(date +%s) - fuzz_start )) s; ${#targets[@]} targets, $((${#targets[@]} - failed)) clean, $failed crashed"
[ "$failed" -eq 0 ]
