#!/usr/bin/env python3
"""Markdown tables from bench.py's JSON lines: medians over reps (min-max beside), ratios to aws.

  summarize.py <outdir>      (reads <outdir>/upload.jsonl and <outdir>/sha.jsonl)
"""
import json
import os
import statistics
import sys

d = sys.argv[1]


def load(name):
    p = os.path.join(d, name)
    return [json.loads(line) for line in open(p)] if os.path.exists(p) else []


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f(x, nd=0):
    return "–" if x is None else f"{x:,.{nd}f}"


up = load("upload.jsonl")
if up:
    print("| file | client | MB/s median (min–max) | client CPU-s per GiB | peak RSS MiB | sink CPU-s | "
          "throughput vs aws | CPU/GiB vs aws |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for fname in sorted({r["file"] for r in up}, key=lambda n: [r["bytes"] for r in up if r["file"] == n][0]):
        rows = {}
        for client in ["wharf", "wharf-md5", "awscli", "rclone"]:
            rs = [r for r in up if r["file"] == fname and r["client"] == client and r["ok"]]
            if rs:
                rows[client] = {"mbps": med([r["MBps"] for r in rs]), "lo": min(r["MBps"] for r in rs),
                                "hi": max(r["MBps"] for r in rs), "cpu": med([r["cpu_s_per_GiB"] for r in rs]),
                                "rss": med([r["rss_MiB"] for r in rs]), "sink": med([r["sink_cpu_s"] for r in rs]),
                                "n": len(rs)}
        aws = rows.get("awscli")
        for client, v in rows.items():
            rt = f"{v['mbps'] / aws['mbps']:.2f}x" if aws else "–"
            rc = f"{v['cpu'] / aws['cpu']:.2f}x" if aws and aws["cpu"] else "–"
            print(f"| {fname} | {client} | {f(v['mbps'])} ({f(v['lo'])}–{f(v['hi'])}) | {f(v['cpu'], 2)} | "
                  f"{f(v['rss'])} | {f(v['sink'], 2)} | {rt} | {rc} |")
    w = [r for r in up if r["client"].startswith("wharf") and "inner_MBps" in r]
    if w:
        print()
        print("wharf upload_bench's own timing (from the provider call to its return, start-up excluded): " +
              "; ".join(f"{c} {fn} {f(med([r['inner_MBps'] for r in w if r['file'] == fn and r['client'] == c]))} MB/s"
                        for c in sorted({r['client'] for r in w}) for fn in sorted({r['file'] for r in w})
                        if any(r['file'] == fn and r['client'] == c for r in w)) +
              f"; SHA-256 of the object matched sha256sum in {sum(1 for r in w if r.get('sha256_ok'))}/{len(w)} runs.")
    bad = [r for r in up if not r["ok"]]
    if bad:
        print()
        print("Failed runs: " + "; ".join(f"{r['client']}/{r['file']}/rep{r['rep']} rc={r['rc']}: "
                                          f"{r.get('stderr_tail', '')[-200:]!r}" for r in bad))
    noisy = [r for r in up if r["ok"] and r.get("contaminated")]
    if noisy:
        print()
        print("Runs during which other processes used > 10 % of the box: " +
              ", ".join(f"{r['client']}/{r['file']}/rep{r['rep']} ({r['other_cpu_s']} s)" for r in noisy))
    print()

sha = load("sha.jsonl")
if sha:
    ossl = med([r["MBps"] for r in sha if r["kind"] == "openssl_speed"])
    print("| SHA-256 / MD5, one core | MB/s median | vs `openssl speed -evp sha256` (16 KiB) |")
    print("|---|---:|---:|")
    print(f"| openssl speed -evp sha256, 16 KiB blocks | {f(ossl)} | 1.00x |")
    for name, block in sorted({(r["name"], r["block"]) for r in sha if r["kind"] == "sha256_bench"}):
        v = med([r["MBps"] for r in sha if r.get("name") == name and r["block"] == block])
        ratio = f"{v / ossl:.2f}x" if ossl and "sha256" in name else "n/a (MD5)"
        label = f"{name}, {block // 1024} KiB updates" if block < 1 << 20 else f"{name}, {block >> 20} MiB updates"
        print(f"| {label} | {f(v)} | {ratio} |")
