#!/usr/bin/env node
'use strict';
// Turns harness.js's JSON lines into the markdown tables of bench/README.md: medians over the
// repetitions (min-max beside them), ours beside BullMQ and bee-queue.
//
//   node summarize.js <outdir>        (reads <outdir>/drain.jsonl and <outdir>/trickle.jsonl)

const fs = require('fs');
const path = require('path');

const dir = process.argv[2] || path.join(__dirname, '../results/queue');
function load(name) {
  const f = path.join(dir, name);
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
const drain = load('drain.jsonl');
const trickle = load('trickle.jsonl');

const LIBS = ['wharf', 'bullmq', 'bee'];
const NAME = { wharf: 'wharf', bullmq: 'BullMQ', bee: 'bee-queue' };
function median(xs) {
  const s = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function range(xs) {
  const s = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x));
  return s.length ? [Math.min(...s), Math.max(...s)] : null;
}
const f0 = (x) => (x === null ? '–' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x === null ? '–' : x.toFixed(1));
const f2 = (x) => (x === null ? '–' : x.toFixed(2));
const sel = (recs, lib, c) => recs.filter((r) => r.lib === lib && r.c === c);
const okOnly = (recs) => recs.filter((r) => r.ok);

const cs = [...new Set(drain.map((r) => r.c))].sort((a, b) => a - b);
const lcs = [...new Set(trickle.map((r) => r.c))].sort((a, b) => a - b);
const out = [];
const when = drain.concat(trickle).map((r) => r.ts).sort();
out.push(`Runs: ${when[0] || '?'} .. ${when[when.length - 1] || '?'}; N = ${drain[0] ? drain[0].n : '?'} (drain), ` +
  `${trickle[0] ? trickle[0].n : '?'} at ${trickle[0] ? trickle[0].rate : '?'}/s (trickle); ` +
  `reps per cell: ${median(LIBS.flatMap((l) => cs.map((c) => okOnly(sel(drain, l, c)).length))) || 0}.`);
out.push('');

// Drain throughput
out.push('| drain, one worker process | ' + cs.map((c) => `C=${c} jobs/s (min–max)`).join(' | ') + ' | ' +
  cs.map((c) => `ratio to BullMQ C=${c}`).join(' | ') + ' |');
out.push('|---|' + cs.map(() => '---:').join('|') + '|' + cs.map(() => '---:').join('|') + '|');
const tput = {};
for (const lib of LIBS) {
  tput[lib] = {};
  for (const c of cs) tput[lib][c] = median(okOnly(sel(drain, lib, c)).map((r) => r.jobs_per_s));
}
for (const lib of LIBS) {
  if (!drain.some((r) => r.lib === lib)) continue;
  const cells = cs.map((c) => {
    const rg = range(okOnly(sel(drain, lib, c)).map((r) => r.jobs_per_s));
    return `${f0(tput[lib][c])}` + (rg ? ` (${f0(rg[0])}–${f0(rg[1])})` : '');
  });
  const ratios = cs.map((c) => (tput[lib][c] && tput.bullmq[c] ? `${(tput[lib][c] / tput.bullmq[c]).toFixed(2)}x` : '–'));
  out.push(`| ${NAME[lib]} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
}
out.push('');

// Costs per job
out.push('| costs per job (median) | ' + cs.map((c) => `C=${c}: worker CPU µs / Redis CPU µs / PG CPU µs / peak RSS MB`).join(' | ') + ' |');
out.push('|---|' + cs.map(() => '---:').join('|') + '|');
for (const lib of LIBS) {
  if (!drain.some((r) => r.lib === lib)) continue;
  const cells = cs.map((c) => {
    const R = okOnly(sel(drain, lib, c));
    const w = median(R.map((r) => (r.worker_proc_cpu_s * 1e6) / r.n));
    const rc = median(R.map((r) => r.worker_redis.redis_cpu_us_per_job));
    const pg = lib === 'wharf' ? f1(median(R.map((r) => r.pg_cpu_us_per_job))) : 'n/a';
    const rss = median(R.map((r) => r.worker_maxrss_mb));
    return `${f1(w)} / ${f1(rc)} / ${pg} / ${f1(rss)}`;
  });
  out.push(`| ${NAME[lib]} | ${cells.join(' | ')} |`);
}
out.push('');

// Trickle
if (trickle.length) {
  out.push('| trickle, enqueue → start | ' + lcs.map((c) => `C=${c} p50 / p99 ms (p99 min–max)`).join(' | ') + ' | ' +
    lcs.map((c) => `C=${c} worker / Redis / PG CPU µs per job`).join(' | ') + ' |');
  out.push('|---|' + lcs.map(() => '---:').join('|') + '|' + lcs.map(() => '---:').join('|') + '|');
  for (const lib of LIBS) {
    if (!trickle.some((r) => r.lib === lib)) continue;
    const lat = lcs.map((c) => {
      const R = okOnly(sel(trickle, lib, c));
      const p50 = median(R.map((r) => r.latency && r.latency.p50_ms));
      const p99s = R.map((r) => r.latency && r.latency.p99_ms);
      const rg = range(p99s);
      return `${f2(p50)} / ${f2(median(p99s))}` + (rg ? ` (${f2(rg[0])}–${f2(rg[1])})` : '');
    });
    const cost = lcs.map((c) => {
      const R = okOnly(sel(trickle, lib, c));
      return `${f1(median(R.map((r) => r.worker_cpu_us_per_job)))} / ${f1(median(R.map((r) => r.redis.redis_cpu_us_per_job)))}` +
        ` / ${lib === 'wharf' ? f1(median(R.map((r) => r.pg_cpu_us_per_job))) : 'n/a'}`;
    });
    out.push(`| ${NAME[lib]} | ${lat.join(' | ')} | ${cost.join(' | ')} |`);
  }
  out.push('');
}

// Redis commands per job for wharf (what the worker sends, per job, at each C)
const w = drain.filter((r) => r.lib === 'wharf' && r.ok);
if (w.length) {
  out.push('wharf, Redis commands per job during the drain (median over reps):');
  out.push('');
  for (const c of cs) {
    const R = w.filter((r) => r.c === c);
    const keys = [...new Set(R.flatMap((r) => Object.keys(r.worker_redis.cmds_per_job)))].sort();
    const parts = keys.map((k) => `${k} ${median(R.map((r) => r.worker_redis.cmds_per_job[k] || 0)).toFixed(3)}`);
    out.push(`- C=${c}: ${parts.join(', ')}`);
  }
  out.push('');
}
const bad = drain.concat(trickle).filter((r) => !r.ok);
if (bad.length) out.push(`Failed runs (left out above): ${bad.map((r) => `${r.kind}/${r.lib}/C=${r.c}/rep${r.rep}`).join(', ')}`);
const noisy = drain.concat(trickle).filter((r) => r.ok && r.host_cpu && r.host_cpu.other_cpu_frac > 0.1);
if (noisy.length) {
  out.push(`Runs kept although other processes used > 10 % of the box: ` +
    noisy.map((r) => `${r.kind}/${r.lib}/C=${r.c}/rep${r.rep} (${r.host_cpu.other_cpu_frac})`).join(', '));
}
console.log(out.join('\n'));
