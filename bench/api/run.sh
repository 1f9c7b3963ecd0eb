#!/usr/bin/env bash
# wharf-api against the seeds' stacks doing the same two things, side by side in one run (issue 11:
# "at least 10x the throughput of both at a lower p99"; presigned URLs under 50 ms):
#   job     GET /api/v1/jobs/{id}: the key checked against api_credentials (SHA-256, constant-time
#           compare), the job's row read, JSON out
#   presign GET /api/v1/jobs/{id}/download/720p: the same, then a presigned S3 GET URL
# Servers: wharf-api (one process, one I/O thread) twice: with --key-cache 0s, reading the key's
# row on every request as the peers do, and as deployed (a checked key trusted 10 s); FastAPI + psycopg2 + boto3 under uvicorn (one worker process,
# Debian packages), Express + node-postgres + @aws-sdk/s3-request-presigner (one process, npm,
# bench/api/peers). Load: wrk (Debian), $THREADS threads, $CONNECTIONS connections, $SECONDS_EACH s,
# $ROUNDS rounds in turn; medians of requests/s and p99 per target, and wharf's ratios.
# Results: bench/results/api-<UTC>/. A benchmark: it prints, asserts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build-bench}
rounds=${ROUNDS:-3}
seconds=${SECONDS_EACH:-10}
threads=${THREADS:-2}
connections=${CONNECTIONS:-32}
out=$here/bench/results/api-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/logs"
for tool in wrk node /usr/bin/python3; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
/usr/bin/python3 -c 'import fastapi, uvicorn, boto3, psycopg2' 2>/dev/null ||
  { echo "needs python3-fastapi python3-uvicorn python3-boto3 python3-psycopg2 (Debian)" >&2; exit 1; }
peers=$here/bench/api/peers
[ -d "$peers/node_modules/@aws-sdk/s3-request-presigner" ] ||
  (cd "$peers" && npm install --no-audit --no-fund --loglevel=error >"$out/logs/npm.log")

source "$here/bench/lib.sh"
bench_build "$build" "$out" wharf-api wharfctl
ctl=$build/wharfctl/wharfctl

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; wharf_servers stop "$out/data"' EXIT
wharf_servers start "$out/data"
"$ctl" migrate >"$out/logs/migrate.log"
key=$("$ctl" apikeys create --tenant bench --rate 100000 2>/dev/null)
psql "$WHARF_DATABASE_URL" -q -c "INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, api_key, result, finished_at)
  VALUES ('clip-1', 'pipeline', 'succeeded', 1, 1, 1, 'bench',
  '{\"artifacts\": {\"720p\": {\"provider\": \"s3\", \"key\": \"processed/clip-1/720p.mp4\", \"size\": 1048576, \"sha256\": \"ab\"}}}',
  now())"
s3_endpoint=http://127.0.0.1:9000  # presigning is local: nothing listens there
providers='{"providers":[{"name":"s3","kind":"s3","profile":"minio","endpoint":"'$s3_endpoint'","bucket":"media","access_key_id":"bench","secret_access_key":"bench-secret"}]}'

wharf_port=$(free_port); cached_port=$(free_port); fastapi_port=$(free_port); express_port=$(free_port)
"$build/api/wharf-api" --listen "127.0.0.1:$wharf_port" --key-cache 0s --storage-providers "$providers" \
  --admin-listen off --log-level warn >"$out/logs/wharf-api.log" 2>&1 &
pids+=($!)
# The same as deployed: a checked key is trusted for 10 s (--key-cache), one query a request.
"$build/api/wharf-api" --listen "127.0.0.1:$cached_port" --storage-providers "$providers" \
  --admin-listen off --log-level warn >"$out/logs/wharf-api-cached.log" 2>&1 &
pids+=($!)
(cd "$peers" && DATABASE_URL=$WHARF_DATABASE_URL S3_ENDPOINT=$s3_endpoint \
  /usr/bin/python3 -m uvicorn fastapi_app:app --host 127.0.0.1 --port "$fastapi_port" --workers 1 --log-level warning \
  >"$out/logs/fastapi.log" 2>&1) &
pids+=($!)
(cd "$peers" && DATABASE_URL=$WHARF_DATABASE_URL S3_ENDPOINT=$s3_endpoint PORT=$express_port node express_app.js \
  >"$out/logs/express.log" 2>&1) &
pids+=($!)
for p in "$wharf_port" "$cached_port" "$fastapi_port" "$express_port"; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
done

cat >"$out/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $key"
LUA
# Every target answers the same thing first (a wrong answer is not a fast one).
for p in "$wharf_port" "$cached_port" "$fastapi_port" "$express_port"; do
  for path in /api/v1/jobs/clip-1 /api/v1/jobs/clip-1/download/720p; do
    code=$(curl -s -o "$out/logs/check-$p.json" -w '%{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$p$path")
    [ "$code" = 200 ] || { echo "port $p $path answered $code: $(cat "$out/logs/check-$p.json")" >&2; exit 1; }
  done
done

printf 'round\ttarget\troute\trps\tp50_ms\tp99_ms\n' >"$out/samples.tsv"
# wrk's latency lines ("50%  1.23ms") in milliseconds.
to_ms() { awk '{v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}'; }
for round in $(seq "$rounds"); do
  for target in wharf wharf-cached fastapi express; do
    case $target in
      wharf) port=$wharf_port ;; wharf-cached) port=$cached_port ;; fastapi) port=$fastapi_port ;;
      express) port=$express_port ;;
    esac
    for route in job presign; do
      path=/api/v1/jobs/clip-1; [ "$route" = presign ] && path=/api/v1/jobs/clip-1/download/720p
      wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$out/auth.lua" "http://127.0.0.1:$port$path" \
        >"$out/logs/wrk-$round-$target-$route.txt"
      f=$out/logs/wrk-$round-$target-$route.txt
      rps=$(awk '/^Requests\/sec/ {print $2}' "$f")
      p50=$(grep -E '^ +50%' "$f" | to_ms)
      p99=$(grep -E '^ +99%' "$f" | to_ms)
      non2xx=$(awk '/Non-2xx/ {print $5}' "$f")
      [ -z "$non2xx" ] || echo "warning: $target $route: $non2xx non-2xx answers" >&2
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$target" "$route" "$rps" "$p50" "$p99" >>"$out/samples.tsv"
      echo "round $round $target $route: $rps req/s, p50 $p50 ms, p99 $p99 ms"
    done
  done
done

/usr/bin/python3 - "$out/samples.tsv" <<'PY' | tee "$out/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = {}
targets = ("wharf", "wharf-cached", "fastapi", "express")
for t in targets:
    for r in ("job", "presign"):
        sel = [x for x in rows if x["target"] == t and x["route"] == r]
        med[t, r] = (statistics.median(float(x["rps"]) for x in sel), statistics.median(float(x["p50_ms"]) for x in sel),
                     statistics.median(float(x["p99_ms"]) for x in sel))
print("medians of %d rounds; wharf = the same work as the peers (key read every request), wharf-cached = as"
      " deployed (a checked key trusted 10 s)" % (len(rows) // 8))
print("%-8s %-12s %12s %9s %9s" % ("route", "target", "req/s", "p50 ms", "p99 ms"))
for r in ("job", "presign"):
    for t in targets:
        print("%-8s %-12s %12.0f %9.2f %9.2f" % (r, t, *med[t, r]))
    for w in ("wharf", "wharf-cached"):
        for peer in ("fastapi", "express"):
            print("%-8s %s/%-8s throughput %.1fx, p99 %.2fx" % (r, w, peer, med[w, r][0] / med[peer, r][0],
                                                               med[w, r][2] / med[peer, r][2]))
PY
