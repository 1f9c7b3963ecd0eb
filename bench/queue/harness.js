#!/usr/bin/env node
'use strict';
// Runs wharf-worker, BullMQ and bee-queue side by side on ONE redis-server (and, for wharf, one
// PostgreSQL holding the job state), interleaved rep by rep, and appends one JSON line per run to
// <outdir>/<tag>.jsonl. bench/queue/run.sh starts the servers and calls this; summarize.js turns
// the lines into the tables of bench/README.md.
//
//   node harness.js drain   --port P --pg-url URL --pg-pid PID --worker PATH [--n 50000] [--cs 1,10,100] [--reps 3] [--workers 1]
//   node harness.js trickle --port P --pg-url URL --pg-pid PID --worker PATH [--lat-n 2000] [--rate 500] [--lat-cs 1,10]
//
// The measuring code follows the peers' harness.js (../shared/peers/queue/harness.js): the same
// INFO commandstats / INFO cpu deltas, the same idle-box gate and foreign-CPU accounting, and the
// peers' own bench-bullmq.js / bench-bee.js run unchanged (worker --remove 1). What differs for
// wharf is where the figures come from: the throughput window is read from PostgreSQL (first
// jobs.started_at to last jobs.finished_at, i.e. until the last job's state is durable) and the
// trickle latency from the noop job's result ({"start_latency_us": ...}).
// Every child is bounded (its own --timeout, plus a kill of its process group from here).

const { spawn, execFile } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const Redis = require('ioredis');
const C = require('./peer-common');

const args = C.parseArgs(process.argv.slice(2), {
  reps: 3,
  n: 50000,
  'lat-n': 2000,
  rate: 500,
  cs: '1,10,100',
  'lat-cs': '1,10',
  libs: 'wharf,bullmq,bee',
  port: 6390,
  'pg-url': '',
  'pg-pid': 0,
  worker: '',
  'worker-args': '',
  workers: 1,
  'truncate-sql': 'TRUNCATE jobs',
  tag: '',
  outdir: '',
  'child-timeout': 300,
  retries: 1,
  'max-foreign': 0.1,
  'quiet-max': 30,
});
const mode = args._[0];
const libs = String(args.libs).split(',');
const outDir = path.resolve(String(args.outdir || path.join(__dirname, '../results/queue')));
fs.mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, (args.tag || mode) + '.jsonl');
const logDir = path.join(outDir, 'logs');
fs.mkdirSync(logDir, { recursive: true });
const peersDir = C.peersDir;
const stream = 'wharf:{noop}:stream';

const redis = new Redis({ host: '127.0.0.1', port: args.port });

// ---------- Redis: INFO deltas (as in the peers' harness) ----------
function parseInfo(text) {
  const o = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i >= 0) o[line.slice(0, i)] = line.slice(i + 1);
  }
  return o;
}

async function snapshot() {
  const cs = parseInfo(await redis.info('commandstats'));
  const calls = {};
  for (const [k, v] of Object.entries(cs)) {
    const m = /calls=(\d+)/.exec(v);
    if (m) calls[k.replace(/^cmdstat_/, '')] = Number(m[1]);
  }
  const cpu = parseInfo(await redis.info('cpu'));
  const stats = parseInfo(await redis.info('stats'));
  const mem = parseInfo(await redis.info('memory'));
  return {
    calls,
    cpu_s: Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys),
    net_in: Number(stats.total_net_input_bytes),
    net_out: Number(stats.total_net_output_bytes),
    used_memory: Number(mem.used_memory),
  };
}

// Commands the harness itself sends (snapshots, polling) are left out of the per-job counts.
const HARNESS_CMDS = new Set(['info', 'config|resetstat', 'flushall', 'config', 'xinfo|consumers', 'xinfo|groups',
  'xgroup|create', 'xlen', 'ping', 'client|list']);
function delta(a, b, n) {
  const perJob = {};
  for (const [k, v] of Object.entries(b.calls)) {
    if (HARNESS_CMDS.has(k)) continue;
    const d = v - (a.calls[k] || 0);
    if (d > 0) perJob[k] = +(d / n).toFixed(4);
  }
  return {
    cmds_per_job: perJob,
    redis_cpu_s: +(b.cpu_s - a.cpu_s).toFixed(3),
    redis_cpu_us_per_job: +(((b.cpu_s - a.cpu_s) * 1e6) / n).toFixed(2),
    net_in_bytes_per_job: +((b.net_in - a.net_in) / n).toFixed(1),
    net_out_bytes_per_job: +((b.net_out - a.net_out) / n).toFixed(1),
    used_memory_after: b.used_memory,
  };
}

async function freshRedis() {
  await redis.flushall();
  await redis.config('RESETSTAT');
}

// ---------- /proc CPU accounting ----------
const HZ = 100; // USER_HZ on Linux
const NCPU = os.cpus().length;
function procStat(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // rest[0] = state (field 3); utime = field 14 -> rest[11]
    return { ppid: Number(rest[1]), self: (Number(rest[11]) + Number(rest[12])) / HZ,
      children: (Number(rest[13]) + Number(rest[14])) / HZ };
  } catch (e) {
    return null;
  }
}
function childrenOf(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(d);
    if (s && s.ppid === ppid) out.push(Number(d));
  }
  return out;
}
// PostgreSQL CPU: the postmaster's own and reaped children's time plus its live children
// (backends, WAL writer, checkpointer...).
function pgCpu() {
  const pm = Number(args['pg-pid']);
  if (!pm) return 0;
  const s = procStat(pm);
  if (!s) return 0;
  let t = s.self + s.children;
  for (const c of childrenOf(pm)) {
    const cs = procStat(c);
    if (cs) t += cs.self;
  }
  return t;
}
function cpuProbe() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  const h = process.cpuUsage();
  return { busy_s: (user + nice + system + irq + softirq) / HZ, steal_s: steal / HZ, t: Date.now() / 1000,
    harness_s: (h.user + h.system) / 1e6 };
}
function foreign(p0, p1, knownCpuS) {
  const wall = p1.t - p0.t;
  const other = p1.busy_s - p0.busy_s - knownCpuS - (p1.harness_s - p0.harness_s);
  return { wall_s: +wall.toFixed(2), other_cpu_s: +other.toFixed(2),
    other_cpu_frac: +(other / (wall * NCPU)).toFixed(3) };
}

// ---------- idle-box gate (the peers' waitQuiet, shorter bound: other engineers build here) ----------
async function waitQuiet() {
  const maxS = Number(args['quiet-max']);
  const t0 = Date.now();
  let ok = 0;
  let frac = 1;
  while ((Date.now() - t0) / 1000 < maxS) {
    const a = cpuProbe();
    await C.sleep(1000);
    const b = cpuProbe();
    frac = (b.busy_s - a.busy_s - (b.harness_s - a.harness_s)) / ((b.t - a.t) * NCPU);
    ok = frac < 0.1 ? ok + 1 : 0;
    if (ok >= 2) break;
  }
  return { waited_s: +((Date.now() - t0) / 1000).toFixed(1), busy_frac: +frac.toFixed(3) };
}

async function cleanest(fn) {
  let best = null;
  const attempts = [];
  for (let a = 0; a <= Number(args.retries); a++) {
    const quiet = await waitQuiet();
    const rec = await fn();
    rec.quiet_wait = quiet;
    const f = rec.host_cpu ? rec.host_cpu.other_cpu_frac : 1;
    attempts.push(f);
    if (!best || (rec.ok && !best.ok) || (rec.ok === best.ok && f < best._f)) {
      best = rec;
      best._f = f;
    }
    if (rec.ok && f <= Number(args['max-foreign'])) break;
    if (a < Number(args.retries)) console.log(`   (ok=${rec.ok}, foreign cpu ${f}; retrying)`);
  }
  delete best._f;
  best.attempt_foreign_cpu = attempts;
  return best;
}

// ---------- children ----------
function timeOutput(file) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return {};
  }
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  const user = num(/User time \(seconds\): ([\d.]+)/);
  const sys = num(/System time \(seconds\): ([\d.]+)/);
  return { maxrss_kb: num(/Maximum resident set size \(kbytes\): (\d+)/),
    cpu_s: user !== null && sys !== null ? user + sys : null, user_s: user, sys_s: sys,
    vol_cs: num(/Voluntary context switches: (\d+)/), invol_cs: num(/Involuntary context switches: (\d+)/) };
}

let childSeq = 0;
// Starts `argv` under /usr/bin/time -v in its own process group. Returns {child, done, timeFile}.
function start(argv, { env, logName, onStderr } = {}) {
  const id = `${Date.now()}-${++childSeq}`;
  const timeFile = path.join(logDir, `${logName || 'child'}-${id}.time`);
  const child = spawn('/usr/bin/time', ['-o', timeFile, '-v', ...argv], {
    cwd: peersDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.assign({}, process.env, env || {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19)); // keep the tail of a chatty log
    if (onStderr) onStderr(stderr);
  });
  const killer = setTimeout(() => {
    console.error(`harness: killing overrunning child group ${child.pid}`);
    try { process.kill(-child.pid, 'SIGKILL'); } catch (e) { /* already gone */ }
  }, Number(args['child-timeout']) * 1000 + 15000);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const last = stdout.trim().split('\n').pop() || '';
      let result = null;
      if (last.startsWith('{')) {
        try { result = JSON.parse(last); } catch (e) { result = null; }
      }
      fs.writeFileSync(path.join(logDir, `${logName || 'child'}-${id}.log`), stdout + stderr);
      resolve(Object.assign({ code, signal, stdout, stderr, result }, timeOutput(timeFile)));
    });
  });
  return { child, done, timeFile };
}
const run = (argv, opts) => start(argv, opts).done;

// The measured process is /usr/bin/time's only child.
async function grandchild(timePid) {
  for (let i = 0; i < 50; i++) {
    const c = childrenOf(timePid);
    if (c.length) return c[0];
    await C.sleep(20);
  }
  return 0;
}

// Ask the worker to stop (SIGTERM = graceful drain), bounded; then the whole group goes.
async function stop(h, workerPid) {
  try { if (workerPid) process.kill(workerPid, 'SIGTERM'); } catch (e) { /* gone */ }
  const r = await Promise.race([h.done, C.sleep(30000).then(() => null)]);
  if (r) return r;
  console.error('harness: worker did not exit 30 s after SIGTERM; killing it');
  try { process.kill(-h.child.pid, 'SIGKILL'); } catch (e) { /* gone */ }
  return h.done;
}

// ---------- PostgreSQL (psql; the harness is not what is measured) ----------
function psql(sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', [String(args['pg-url']), '-qtAX', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      { timeout: 60000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`psql: ${stderr || err.message}`));
        else resolve(stdout.trim());
      });
  });
}
async function succeededCount() {
  const out = await psql("SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM jobs");
  const [ok, all] = out.split('|').map(Number);
  return { ok, all };
}
// Waits until `n` jobs have succeeded in PostgreSQL, the worker exits, or the time is up.
// While the stream still holds entries it only polls XLEN on the harness's open Redis connection:
// the worker deletes an entry only after its outcome is durable in PostgreSQL, so an empty stream
// (after the producer is done) means every outcome is written. PostgreSQL is asked only then. A
// psql per poll (a process, a backend and a scan of `jobs`) cost the box ~10 % of its CPU during
// the very run it was timing, a cost the peers' runs do not pay.
async function waitSucceeded(n, h, limitS) {
  let exited = false;
  h.done.then(() => (exited = true));
  const t0 = Date.now();
  let last = { ok: 0, all: 0 };
  while (!exited && (Date.now() - t0) / 1000 < limitS) {
    if ((await redis.xlen(stream)) > 0) {
      await C.sleep(20);
      continue;
    }
    last = await succeededCount();
    if (last.ok >= n) return last;
    await C.sleep(100);
  }
  return last;
}

const workerEnv = () => ({
  WHARF_REDIS_URL: `redis://127.0.0.1:${args.port}/0`,
  WHARF_DATABASE_URL: String(args['pg-url']),
  WHARF_ADMIN_LISTEN: '127.0.0.1:0',  // several workers at once: each its own admin port
});
function workerArgv(c) {
  const extra = String(args['worker-args']).split(' ').filter(Boolean);
  return [String(args.worker), '--queues', `noop=${c}`, '--diagnostics', ...extra];
}

async function freshWharf() {
  await freshRedis();
  await psql(String(args['truncate-sql']));
}

// Row versions written to jobs (cumulative): a start and its outcome merged into one flush are one
// insert; split across two flushes they are an insert and an update.
async function jobsWrites() {
  const [ins, upd, hot] = (await psql(
    "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'jobs'")).split('|').map(Number);
  return { ins, upd, hot };
}

// ---------- drain throughput ----------
const script = (lib) => path.join(peersDir, { bullmq: 'bench-bullmq.js', bee: 'bench-bee.js' }[lib]);
const peerCommon = () => ['--port', String(args.port), '--timeout', String(args['child-timeout'])];
const producer = path.join(__dirname, 'wharf-producer.js');

async function wharfDrainOnce(c, rep) {
  const n = Number(args.n);
  await freshWharf();
  const enq = await run(['node', producer, 'enqueue', '--n', String(n), '--batch', '1000', ...peerCommon()],
    { logName: 'wharf-enqueue' });
  const s1 = await snapshot();
  const w0 = await jobsWrites();
  const pg0 = pgCpu();
  const p0 = cpuProbe();
  // --workers K: K identical worker processes (each with its own --queues noop=c) share the
  // stream, the way a fleet scales with processes; their CPU and RSS figures are summed/maxed.
  const k = Math.max(1, Number(args.workers));
  const hs = [];
  for (let i = 0; i < k; i++) hs.push(start(workerArgv(c), { env: workerEnv(), logName: `wharf-worker-c${c}-${i}` }));
  const h = hs[0];
  const wpids = await Promise.all(hs.map((x) => grandchild(x.child.pid)));
  const wpid = wpids[0];
  const seen = await waitSucceeded(n, h, Number(args['child-timeout']));
  const atDone = wpids.map((p) => procStat(p));
  const wAtDone = atDone.every(Boolean) ? { self: atDone.reduce((a, x) => a + x.self, 0) } : null;
  const p1 = cpuProbe();
  const pg1 = pgCpu();
  const s2 = await snapshot();
  const stopped = await Promise.all(hs.map((x, i) => stop(x, wpids[i])));
  const wrk = stopped[0];
  if (k > 1) {
    const sum = (f) => stopped.reduce((a, x) => (a === null || x[f] == null ? null : a + x[f]), 0);
    wrk.cpu_s = sum('cpu_s');
    wrk.user_s = sum('user_s');
    wrk.sys_s = sum('sys_s');
    wrk.vol_cs = sum('vol_cs');
    wrk.maxrss_kb = Math.max(...stopped.map((x) => x.maxrss_kb || 0));
    wrk.code = stopped.find((x) => x.code !== 0)?.code ?? 0;
  }
  await new Promise((r) => setTimeout(r, 1100));  // table statistics reach the view within a second
  const w1 = await jobsWrites();
  const q = (await psql(
    "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), " +
    'extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at)), ' +
    'coalesce(max(attempts), 0), coalesce(max(epoch), 0) FROM jobs')).split('|');
  const [rows, ok, t0, t1, maxAttempts, maxEpoch] = q.map(Number);
  const secs = t1 - t0;
  const redisD = delta(s1, s2, n);
  const pgS = pg1 - pg0;
  const wCpuAtDone = wAtDone ? wAtDone.self : null;
  const rec = {
    kind: 'drain', lib: 'wharf', c, rep, n, port: args.port, workers: k, worker_args: String(args['worker-args']),
    ok: ok === n && enq.code === 0,
    enqueue: enq.result,
    rows, succeeded: ok, max_attempts: maxAttempts, max_epoch: maxEpoch, polled: seen,
    seconds: secs, jobs_per_s: ok === n ? n / secs : null,
    worker_code: wrk.code, worker_signal: wrk.signal,
    worker_maxrss_mb: wrk.maxrss_kb ? wrk.maxrss_kb / 1024 : null,
    worker_proc_cpu_s: wrk.cpu_s, worker_user_s: wrk.user_s, worker_sys_s: wrk.sys_s,
    worker_cpu_at_done_s: wCpuAtDone, worker_vol_cs: wrk.vol_cs,
    worker_redis: redisD, pg_cpu_s: +pgS.toFixed(3), pg_cpu_us_per_job: +((pgS * 1e6) / n).toFixed(2),
    jobs_row_inserts: w1.ins - w0.ins, jobs_row_updates: w1.upd - w0.upd,
    host_cpu: foreign(p0, p1, redisD.redis_cpu_s + pgS + (wCpuAtDone || 0)),
    ts: new Date().toISOString(),
  };
  if (!rec.ok) {
    rec.enqueue_stderr = enq.stderr.slice(-2000);
    rec.worker_log_tail = wrk.stderr.slice(-3000) + wrk.stdout.slice(-1000);
  }
  return rec;
}

async function peerDrainOnce(lib, c, rep) {
  const n = Number(args.n);
  await freshRedis();
  const enq = await run(['node', script(lib), 'enqueue', '--n', String(n), '--batch', '1000', '--remove', '1',
    ...peerCommon()], { logName: `${lib}-enqueue` });
  const s1 = await snapshot();
  const p0 = cpuProbe();
  const wrk = await run(['node', script(lib), 'worker', '--n', String(n), '--c', String(c), '--remove', '1',
    ...peerCommon()], { logName: `${lib}-worker-c${c}` });
  const p1 = cpuProbe();
  await C.sleep(100);
  const s2 = await snapshot();
  const redisD = delta(s1, s2, n);
  const rec = {
    kind: 'drain', lib, c, rep, n, port: args.port,
    ok: !!(enq.result && wrk.result && wrk.result.completed >= n),
    enqueue: enq.result, worker: wrk.result,
    seconds: wrk.result ? wrk.result.seconds : null, jobs_per_s: wrk.result ? wrk.result.jobs_per_s : null,
    worker_maxrss_mb: wrk.maxrss_kb ? wrk.maxrss_kb / 1024 : null,
    worker_proc_cpu_s: wrk.cpu_s, worker_user_s: wrk.user_s, worker_sys_s: wrk.sys_s,
    worker_redis: redisD,
    host_cpu: foreign(p0, p1, redisD.redis_cpu_s + (wrk.cpu_s || 0)),
    ts: new Date().toISOString(),
  };
  if (!rec.ok) {
    rec.enqueue_stderr = enq.stderr.slice(-2000);
    rec.worker_stderr = wrk.stderr.slice(-2000);
  }
  return rec;
}

// ---------- trickle latency ----------
// Ready = the worker's stream reader is blocked waiting for entries (a blocked client in CLIENT
// LIST). XINFO CONSUMERS is no signal: Redis 7.0 registers the consumer only when a read returns.
async function wharfReady(h, limitS) {
  const t0 = Date.now();
  let exited = false;
  h.done.then(() => (exited = true));
  while (!exited && (Date.now() - t0) / 1000 < limitS) {
    const clients = String(await redis.client('LIST')).split('\n');
    if (clients.some((l) => /\bflags=\w*b/.test(l))) return true;
    await C.sleep(50);
  }
  return false;
}

async function wharfTrickleOnce(c, rep) {
  const n = Number(args['lat-n']);
  await freshWharf();
  await redis.xgroup('CREATE', stream, 'workers', '0', 'MKSTREAM');
  const h = start(workerArgv(c), { env: workerEnv(), logName: `wharf-trickle-c${c}` });
  const wpid = await grandchild(h.child.pid);
  const ready = await wharfReady(h, 30);
  await C.sleep(500); // as the peers: let the blocking read be issued
  const wCpu0 = procStat(wpid);
  const sReady = await snapshot();
  const pg0 = pgCpu();
  const p0 = cpuProbe();
  const tr = await run(['node', producer, 'trickle', '--n', String(n), '--rate', String(args.rate), ...peerCommon()],
    { logName: 'wharf-trickle-producer' });
  const seen = await waitSucceeded(n, h, 60);
  const wCpu1 = procStat(wpid);
  const p1 = cpuProbe();
  const pg1 = pgCpu();
  const s2 = await snapshot();
  const wrk = await stop(h, wpid);
  const lat = (await psql("SELECT result->>'start_latency_us' FROM jobs WHERE status = 'succeeded'"))
    .split('\n').filter((x) => x !== '').map(Number).filter((x) => Number.isFinite(x));
  const redisD = delta(sReady, s2, n);
  const wCpu = wCpu0 && wCpu1 ? wCpu1.self - wCpu0.self : 0;
  const pgS = pg1 - pg0;
  const rec = {
    kind: 'trickle', lib: 'wharf', c, rep, n, rate: args.rate, port: args.port,
    ok: ready && seen.ok >= n && lat.length === n,
    trickle: tr.result, latency: C.summarizeLatencies(lat), latency_samples: lat.length,
    worker_maxrss_mb: wrk.maxrss_kb ? wrk.maxrss_kb / 1024 : null,
    worker_cpu_us_per_job: +((wCpu * 1e6) / n).toFixed(1),
    redis: redisD, pg_cpu_us_per_job: +((pgS * 1e6) / n).toFixed(1),
    host_cpu: foreign(p0, p1, redisD.redis_cpu_s + (tr.cpu_s || 0) + wCpu + pgS),
    ts: new Date().toISOString(),
  };
  if (!rec.ok) {
    rec.trickle_stderr = tr.stderr.slice(-2000);
    rec.worker_log_tail = wrk.stderr.slice(-3000);
    rec.ready = ready;
    rec.polled = seen;
  }
  return rec;
}

async function peerTrickleOnce(lib, c, rep) {
  const n = Number(args['lat-n']);
  await freshRedis();
  let readyResolve;
  let wCpu0 = 0;
  const ready = new Promise((r) => (readyResolve = r));
  const wP = run(['node', script(lib), 'worker', '--n', String(n), '--c', String(c), '--remove', '1', '--ready',
    ...peerCommon()], {
    logName: `${lib}-trickle-worker-c${c}`,
    onStderr: (s) => {
      const m = /READY cpu_s=([\d.]+)/.exec(s);
      if (m) {
        wCpu0 = Number(m[1]);
        readyResolve();
      }
    },
  });
  const readyOk = await Promise.race([ready.then(() => true), C.sleep(30000).then(() => false)]);
  const sReady = await snapshot();
  const p0 = cpuProbe();
  const tr = await run(['node', script(lib), 'trickle', '--n', String(n), '--rate', String(args.rate), '--remove', '1',
    ...peerCommon()], { logName: `${lib}-trickle-producer` });
  const wrk = await wP;
  const p1 = cpuProbe();
  await C.sleep(100);
  const s2 = await snapshot();
  const redisD = delta(sReady, s2, n);
  const wCpu = Math.max(0, (wrk.result ? wrk.result.cpu_user_s + wrk.result.cpu_sys_s : 0) - wCpu0);
  const rec = {
    kind: 'trickle', lib, c, rep, n, rate: args.rate, port: args.port,
    ok: readyOk && !!(wrk.result && tr.result),
    trickle: tr.result, latency: wrk.result ? wrk.result.latency : null,
    worker_maxrss_mb: wrk.maxrss_kb ? wrk.maxrss_kb / 1024 : null,
    worker_cpu_us_per_job: +((wCpu * 1e6) / n).toFixed(1),
    redis: redisD,
    host_cpu: foreign(p0, p1, redisD.redis_cpu_s + (tr.cpu_s || 0) + (wrk.cpu_s || 0) - wCpu0),
    ts: new Date().toISOString(),
  };
  if (!rec.ok) {
    rec.trickle_stderr = tr.stderr.slice(-2000);
    rec.worker_stderr = wrk.stderr.slice(-2000);
  }
  return rec;
}

// ---------- drivers: A B A B, the order of the libraries rotated each rep ----------
function rotated(rep) {
  const k = (rep - 1) % libs.length;
  return libs.slice(k).concat(libs.slice(0, k));
}
function append(rec) {
  fs.appendFileSync(outFile, JSON.stringify(rec) + '\n');
}
const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? 'FAIL' : Number(x).toFixed(d));

async function drain() {
  const cs = String(args.cs).split(',').map(Number);
  for (let rep = 1; rep <= Number(args.reps); rep++) {
    for (const c of cs) {
      for (const lib of rotated(rep)) {
        const rec = await cleanest(() => (lib === 'wharf' ? wharfDrainOnce(c, rep) : peerDrainOnce(lib, c, rep)));
        append(rec);
        console.log(`[drain] rep=${rep} c=${c} ${lib}: ${fmt(rec.jobs_per_s)} jobs/s, worker cpu ` +
          `${fmt(rec.worker_proc_cpu_s && (rec.worker_proc_cpu_s * 1e6) / rec.n)} us/job, redis ` +
          `${rec.worker_redis.redis_cpu_us_per_job} us/job` +
          (lib === 'wharf' ? `, pg ${rec.pg_cpu_us_per_job} us/job (jobs rows: ${rec.jobs_row_inserts} inserts, ${rec.jobs_row_updates} updates)` : '') +
          `, rss ${fmt(rec.worker_maxrss_mb, 1)} MB, foreign ${rec.host_cpu.other_cpu_frac}, ok=${rec.ok}`);
      }
    }
  }
}

async function trickle() {
  const cs = String(args['lat-cs']).split(',').map(Number);
  for (let rep = 1; rep <= Number(args.reps); rep++) {
    for (const c of cs) {
      for (const lib of rotated(rep)) {
        const rec = await cleanest(() => (lib === 'wharf' ? wharfTrickleOnce(c, rep) : peerTrickleOnce(lib, c, rep)));
        append(rec);
        const L = rec.latency;
        console.log(`[trickle] rep=${rep} c=${c} ${lib}: p50 ${L && fmt(L.p50_ms, 3)} ms, p99 ${L && fmt(L.p99_ms, 3)} ms` +
          ` (rate ${rec.trickle ? rec.trickle.rate_achieved.toFixed(1) : '?'}/s, foreign ${rec.host_cpu.other_cpu_frac}, ok=${rec.ok})`);
      }
    }
  }
}

const deadline = setTimeout(() => {
  console.error('harness: global deadline (2 h) reached');
  process.exit(4);
}, 2 * 3600 * 1000);
deadline.unref();

const modes = { drain, trickle };
if (!modes[mode]) {
  console.error('usage: node harness.js drain|trickle --port P --pg-url URL --pg-pid PID --worker PATH [options]');
  process.exit(2);
}
if (libs.includes('wharf') && (!args.worker || !args['pg-url'])) {
  console.error('harness: --worker and --pg-url are needed for lib wharf');
  process.exit(2);
}
modes[mode]()
  .then(async () => {
    await redis.quit();
    process.exit(0);
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
