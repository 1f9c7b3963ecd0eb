#!/usr/bin/env python3
"""Download benchmark driver (called by bench/media/download.sh, which starts nginx).

  download.py --url URL --file SRC --dir OUTDIR --nginx-pid PID --runs 3 --clients wharf,curl,curl-sha,aria2 \
              --download-bench PATH --allow CIDR:PORT --out FILE.jsonl
  download.py --summarize FILE.jsonl

Every client downloads the file once per rep, interleaved (the client order rotated each rep), each
under /usr/bin/time -v after the box is idle: wall time of the whole command (start-up included),
client CPU (user+sys of the command and its children), peak RSS, and nginx's CPU. The output file is
removed and the page cache's dirty pages written back (`sync`) before each run, outside the timing,
so no run pays for the one before. The result is checked: its size for every client, and the
SHA-256 that wharf and `sha256sum` report against the source's.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from measure import med, timed, wait_quiet  # noqa: E402

LABELS = {"wharf": "wharf (download path, SHA-256 on)", "curl": "curl -o", "curl-sha": "curl -o && sha256sum",
          "aria2": "aria2c"}


def command(a, client, out):
    if client == "wharf":
        return [a.download_bench, "--url", a.url, "--out", out, "--allow", a.allow]
    if client == "curl":
        return ["curl", "-sS", "-o", out, a.url]
    if client == "curl-sha":
        return ["sh", "-c", 'curl -sS -o "$1" "$2" && sha256sum "$1"', "sh", out, a.url]
    if client == "aria2":
        return ["aria2c", "-q", "--allow-overwrite=true", "--auto-file-renaming=false", "-d", os.path.dirname(out),
                "-o", os.path.basename(out), a.url]
    raise SystemExit(f"unknown client {client}")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(a):
    clients = a.clients.split(",")
    size = os.path.getsize(a.file)
    want = sha256_of(a.file)
    tfile = a.out + ".time"
    for rep in range(1, a.runs + 1):
        k = (rep - 1) % len(clients)
        for client in clients[k:] + clients[:k]:
            out = os.path.join(a.dir, f"{client}.out")
            for leftover in (out, out + ".json", out + ".aria2"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
            subprocess.run(["sync"], check=True)
            waited, busy = wait_quiet(a.quiet_max)
            cmd = command(a, client, out)
            m = timed(cmd, tfile, a.nginx_pid)
            p, wall, t, ccpu, server, other = m["proc"], m["wall"], m["time"], m["cpu"], m["server"], m["other"]
            got = os.path.getsize(out) if os.path.exists(out) else -1
            r = {"kind": "download", "client": client, "bytes": size, "rep": rep, "rc": p.returncode,
                 "ok": p.returncode == 0 and got == size, "wall_s": round(wall, 3), "MBps": round(size / 1e6 / wall, 1),
                 "client_cpu_s": round(ccpu, 3), "client_user_s": t["user_s"], "client_sys_s": t["sys_s"],
                 "cpu_s_per_GiB": round(ccpu / (size / 2**30), 3), "rss_MiB": round(t["rss_MiB"], 1),
                 "nginx_cpu_s": round(server, 2), "other_cpu_s": round(max(0.0, other), 2),
                 "contaminated": other > 0.1 * wall * os.cpu_count(), "waited_s": waited, "pre_busy_cores": busy,
                 "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            if client == "wharf" and p.returncode == 0:
                own = json.loads(p.stdout.strip().splitlines()[-1])
                r["inner_MBps"] = round(own["MBps"], 1)
                r["sha256_ok"] = own["sha256"] == want
                r["ok"] = r["ok"] and r["sha256_ok"]
            if client == "curl-sha" and p.returncode == 0:
                r["sha256_ok"] = p.stdout.split()[0] == want
                r["ok"] = r["ok"] and r["sha256_ok"]
            if p.returncode != 0:
                r["stderr_tail"] = (p.stderr or "")[-600:]
            print(json.dumps(r), flush=True)
            with open(a.out, "a") as o:
                o.write(json.dumps(r) + "\n")
            if os.path.exists(out):
                os.unlink(out)
    os.unlink(tfile)


def summarize(path):
    rows = [json.loads(line) for line in open(path)]
    size = rows[0]["bytes"] if rows else 0
    print(f"| {size / 2**20:,.0f} MiB from nginx | MB/s median (min–max) | CPU-s per GiB | peak RSS MiB | nginx CPU-s | "
          "throughput vs curl -o | CPU/GiB vs curl -o |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    stats = {}
    for client in LABELS:
        rs = [r for r in rows if r["client"] == client and r["ok"]]
        if rs:
            stats[client] = {"mbps": med([r["MBps"] for r in rs]), "lo": min(r["MBps"] for r in rs),
                             "hi": max(r["MBps"] for r in rs), "cpu": med([r["cpu_s_per_GiB"] for r in rs]),
                             "rss": med([r["rss_MiB"] for r in rs]), "nginx": med([r["nginx_cpu_s"] for r in rs])}
    base = stats.get("curl")
    for client, v in stats.items():
        rt = f"{v['mbps'] / base['mbps']:.2f}x" if base else "–"
        rc = f"{v['cpu'] / base['cpu']:.2f}x" if base and base["cpu"] else "–"
        print(f"| {LABELS[client]} | {v['mbps']:,.0f} ({v['lo']:,.0f}–{v['hi']:,.0f}) | {v['cpu']:.2f} | {v['rss']:.0f} | "
              f"{v['nginx']:.2f} | {rt} | {rc} |")
    print()
    reps = sorted({r["rep"] for r in rows})
    if base and "wharf" in stats:
        per_rep = []
        for rep in reps:
            w = [r for r in rows if r["rep"] == rep and r["client"] == "wharf" and r["ok"]]
            c = [r for r in rows if r["rep"] == rep and r["client"] == "curl" and r["ok"]]
            if w and c:
                per_rep.append(f"rep {rep}: {w[0]['MBps'] / c[0]['MBps']:.2f}x")
        print("wharf / curl -o throughput, per rep: " + ", ".join(per_rep) + ".")
    checked = [r for r in rows if "sha256_ok" in r]
    print(f"SHA-256 matched the source in {sum(1 for r in checked if r['sha256_ok'])}/{len(checked)} hashed runs.")
    bad = [r for r in rows if not r["ok"]]
    if bad:
        print("Failed runs: " + "; ".join(f"{r['client']}/rep{r['rep']} rc={r['rc']}: {r.get('stderr_tail', '')[-200:]!r}"
                                          for r in bad))
    noisy = [r for r in rows if r["ok"] and r.get("contaminated")]
    if noisy:
        print("Runs during which other processes used > 10 % of the box: " +
              ", ".join(f"{r['client']}/rep{r['rep']} ({r['other_cpu_s']} s)" for r in noisy))


ap = argparse.ArgumentParser()
ap.add_argument("--summarize")
ap.add_argument("--url")
ap.add_argument("--file")
ap.add_argument("--dir")
ap.add_argument("--nginx-pid", type=int, default=0)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--clients", default="wharf,curl,curl-sha,aria2")
ap.add_argument("--download-bench", default="")
ap.add_argument("--allow", default="")
ap.add_argument("--quiet-max", type=float, default=30)
ap.add_argument("--out")
args = ap.parse_args()
summarize(args.summarize) if args.summarize else run(args)
