#!/usr/bin/env python3
"""Storage benchmark driver (called by bench/storage/run.sh, which starts the sink).

  bench.py upload --port P --nginx-pid PID --files F1,F2 --runs 3 --clients wharf,awscli,rclone \
                  --upload-bench PATH --aws-config FILE --rclone-config FILE --out FILE.jsonl
  bench.py sha    --sha-bench PATH --runs 3 --out FILE.jsonl

upload: every client uploads every file to the same nginx sink, interleaved (rep by rep, the client
order rotated each rep), each under /usr/bin/time -v: wall time of the whole command (start-up
included, as the peers measured it), client CPU (user+sys), peak RSS, and the sink's CPU. Mirrors
../shared/peers/storage/bench.py (same aws/rclone settings, same idle-box gate and foreign-CPU
flag), pointed at the nginx sink instead of the emulators.
sha: `openssl speed -evp sha256` (16 KiB blocks, 1 core) interleaved with sha256_bench (wharf's
streaming hasher and OpenSSL EVP called directly).
One JSON object per run is appended to --out.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from measure import timed, wait_quiet  # noqa: E402


def client_cmd(a, client, path, key):
    ep = f"http://127.0.0.1:{a.port}"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_CONFIG_FILE=a.aws_config,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    env.pop("AWS_CA_BUNDLE", None)  # rclone 1.60 refuses it ("unsupported transport"); unused over http
    if client in ("wharf", "wharf-md5"):
        # wharf: x-amz-checksum-crc32 per part (the default of S3 profiles); wharf-md5: Content-MD5
        # per part (what the r2 and gcs profiles send).
        return [a.upload_bench, "--endpoint", ep, "--file", path, "--bucket", "bench", "--key", key,
                "--part-size-mib", "16", "--in-flight", "8",
                "--part-checksum", "md5" if client == "wharf-md5" else "crc32"], env
    if client == "awscli":
        return ["aws", "--endpoint-url", ep, "s3", "cp", path, f"s3://bench/{key}", "--no-progress"], env
    if client == "rclone":
        return ["rclone", "--config", a.rclone_config, "copyto", path, f"sink:bench/{key}",
                "--s3-chunk-size", "16M", "--s3-upload-concurrency", "8", "--s3-upload-cutoff", "16M",
                "--s3-no-head", "--retries", "1"], env
    raise SystemExit(f"unknown client {client}")


def upload(a):
    clients = a.clients.split(",")
    files = a.files.split(",")
    sha = {}
    for f in files:
        sha[f] = subprocess.run(["sha256sum", f], capture_output=True, text=True, check=True).stdout.split()[0]
    tfile = a.out + ".time"
    for rep in range(1, a.runs + 1):
        k = (rep - 1) % len(clients)
        order = clients[k:] + clients[:k]
        for path in files:
            size = os.path.getsize(path)
            for client in order:
                waited, busy = wait_quiet(a.quiet_max)
                key = f"{client}-{os.path.basename(path)}-{rep}"
                cmd, env = client_cmd(a, client, path, key)
                m = timed(cmd, tfile, a.nginx_pid, env=env)
                p, wall, t, ccpu, server, other = m["proc"], m["wall"], m["time"], m["cpu"], m["server"], m["other"]
                r = {"kind": "upload", "client": client, "file": os.path.basename(path), "bytes": size, "rep": rep,
                     "rc": p.returncode, "ok": p.returncode == 0, "wall_s": round(wall, 3),
                     "MBps": round(size / 1e6 / wall, 1), "client_cpu_s": round(ccpu, 3),
                     "client_user_s": t["user_s"], "client_sys_s": t["sys_s"],
                     "cpu_s_per_GiB": round(ccpu / (size / 2**30), 3), "rss_MiB": round(t["rss_MiB"], 1),
                     "sink_cpu_s": round(server, 2), "other_cpu_s": round(max(0.0, other), 2),
                     "contaminated": other > 0.1 * wall * os.cpu_count(),
                     "waited_s": waited, "pre_busy_cores": busy, "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                if client.startswith("wharf") and p.returncode == 0:
                    own = json.loads(p.stdout.strip().splitlines()[-1])
                    r["inner_seconds"] = round(own["seconds"], 3)
                    r["inner_MBps"] = round(own["MBps"], 1)
                    r["sha256_ok"] = own["sha256"] == sha[path]
                    r["ok"] = r["sha256_ok"]
                if p.returncode != 0:
                    r["stderr_tail"] = (p.stderr or "")[-600:]
                print(json.dumps(r), flush=True)
                with open(a.out, "a") as o:
                    o.write(json.dumps(r) + "\n")
    os.unlink(tfile)


def sha(a):
    for rep in range(1, a.runs + 1):
        wait_quiet(a.quiet_max)
        out = subprocess.run(["openssl", "speed", "-seconds", "3", "-bytes", "16384", "-evp", "sha256"],
                             capture_output=True, text=True, check=True).stdout
        m = re.search(r"^sha256\s+([\d.]+)k", out, re.M)
        r = {"kind": "openssl_speed", "rep": rep, "block": 16384, "MBps": round(float(m.group(1)) / 1000, 1) if m else None}
        print(json.dumps(r), flush=True)
        with open(a.out, "a") as o:
            o.write(json.dumps(r) + "\n")
        wait_quiet(a.quiet_max)
        js = subprocess.run([a.sha_bench, "--benchmark_format=json", "--benchmark_min_time=2"],
                            capture_output=True, text=True, check=True).stdout
        for b in json.loads(js)["benchmarks"]:
            r = {"kind": "sha256_bench", "rep": rep, "name": b["name"].split("/")[0],
                 "block": int(b["name"].split("/")[1]), "MBps": round(b["bytes_per_second"] / 1e6, 1)}
            print(json.dumps(r), flush=True)
            with open(a.out, "a") as o:
                o.write(json.dumps(r) + "\n")


ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["upload", "sha"])
ap.add_argument("--port", type=int)
ap.add_argument("--nginx-pid", type=int, default=0)
ap.add_argument("--files", default="")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--clients", default="wharf,awscli,rclone")
ap.add_argument("--upload-bench", default="")
ap.add_argument("--sha-bench", default="")
ap.add_argument("--aws-config", default="")
ap.add_argument("--rclone-config", default="")
ap.add_argument("--quiet-max", type=float, default=30)
ap.add_argument("--out", required=True)
args = ap.parse_args()
upload(args) if args.mode == "upload" else sha(args)
