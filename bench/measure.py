"""Measuring helpers shared by the benchmark drivers (bench/storage/bench.py, bench/media/download.py):
process CPU from /proc, the box's busy time, the idle-box gate, and /usr/bin/time -v output."""
import os
import re
import statistics
import subprocess
import time

HZ = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """utime+stime of `pid` plus its reaped children, in jiffies (0 when gone)."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    except OSError:
        return 0


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(f[1]) == ppid:
                out.append(int(d))
    return out


def tree_cpu(pid):
    return proc_cpu(pid) + sum(proc_cpu(c) for c in children(pid))


def cpu_busy():
    v = list(map(int, open("/proc/stat").readline().split()[1:9]))
    return v[0] + v[1] + v[2] + v[5] + v[6]


def wait_quiet(max_wait):
    """Wait (bounded) until the box is idle: < 0.25 core busy over 1 s, twice (as the peers)."""
    t0 = time.time()
    ok = 0
    busy = 0.0
    while time.time() - t0 < max_wait:
        a = cpu_busy()
        time.sleep(1)
        busy = (cpu_busy() - a) / HZ
        ok = ok + 1 if busy < 0.25 else 0
        if ok >= 2:
            break
    return round(time.time() - t0, 1), round(busy, 2)


def parse_time(path):
    text = open(path).read()

    def num(pat):
        m = re.search(pat, text)
        return float(m.group(1)) if m else None
    return {"user_s": num(r"User time \(seconds\): ([\d.]+)"),
            "sys_s": num(r"System time \(seconds\): ([\d.]+)"),
            "rss_MiB": (num(r"Maximum resident set size \(kbytes\): (\d+)") or 0) / 1024}


def timed(cmd, tfile, server_pid, env=None, timeout=900):
    """Runs cmd under /usr/bin/time -v: the process, its wall time, its CPU (user+sys, children
    included), peak RSS, the CPU of the server's process tree meanwhile, and the CPU the rest of
    the box used meanwhile (the foreign-CPU flag)."""
    b0, s0 = cpu_busy(), tree_cpu(server_pid)
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-o", tfile, "-v", *cmd], env=env, capture_output=True, text=True,
                       timeout=timeout)
    wall = time.perf_counter() - t0
    b1, s1 = cpu_busy(), tree_cpu(server_pid)
    t = parse_time(tfile)
    cpu = (t["user_s"] or 0) + (t["sys_s"] or 0)
    server = (s1 - s0) / HZ
    return {"proc": p, "wall": wall, "time": t, "cpu": cpu, "server": server,
            "other": (b1 - b0) / HZ - server - cpu}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
