#!/usr/bin/env node
'use strict';
// The wharf producer side of the queue benchmark: what a BullMQ `addBulk` / bee-queue `saveAll`
// (bulk) or `add()` (trickle) is for the peers, done with the one-command producer contract:
//   XADD wharf:{noop}:stream * job '{"v":1,"payload":{...}}'
//
//   node wharf-producer.js enqueue --n 50000 --batch 1000 --port P   (pipelined, 1000 per round trip)
//   node wharf-producer.js trickle --n 2000 --rate 500 --port P      (one XADD per job, open loop)
//
// The payload is the peers' ~100-byte {i, ts, pad} (common.js makePayload), so `ts` is the
// producer's CLOCK_MONOTONIC in µs (process.hrtime), comparable with the worker's steady_clock.
// Both roles create the consumer group first (from id 0, MKSTREAM), so a worker started after the
// enqueue sees every entry whatever id it would have created the group at. Each role is bounded by
// --n and by --timeout seconds. The result is one JSON object on the last stdout line, like the
// peers' scripts.

const Redis = require('ioredis');
const C = require('./peer-common');

const args = C.parseArgs(process.argv.slice(2), {
  n: 50000,
  batch: 1000,
  rate: 500,
  port: 6390,
  host: '127.0.0.1',
  queue: 'noop',
  timeout: 300,
});
const role = args._[0];
const stream = `wharf:{${args.queue}}:stream`;

function envelope(i) {
  return JSON.stringify({ v: 1, payload: C.makePayload(i) });
}

async function connect() {
  const redis = new Redis({ host: args.host, port: args.port, enableAutoPipelining: false });
  try {
    await redis.xgroup('CREATE', stream, 'workers', '0', 'MKSTREAM');
  } catch (e) {
    if (!String(e.message).startsWith('BUSYGROUP')) throw e; // the group already exists: fine
  }
  return redis;
}

async function enqueue() {
  const redis = await connect();
  const t0 = C.nowUs();
  let i = 0;
  while (i < args.n) {
    const m = Math.min(args.batch, args.n - i);
    const p = redis.pipeline();
    for (let k = 0; k < m; k++, i++) p.xadd(stream, '*', 'job', envelope(i));
    const res = await p.exec();
    for (const [err] of res) if (err) throw err;
  }
  const t1 = C.nowUs();
  await redis.quit();
  C.emitResult({
    lib: 'wharf',
    role: 'enqueue',
    n: args.n,
    batch: args.batch,
    seconds: (t1 - t0) / 1e6,
    jobs_per_s: args.n / ((t1 - t0) / 1e6),
  });
}

// Same open-loop pacing as the peers' trickle(): every 1 ms, send what is due.
async function trickle() {
  const redis = await connect();
  const intervalUs = 1e6 / args.rate;
  const addLat = [];
  const pending = new Set();
  const maxOutstanding = 5000;
  let sent = 0;
  const t0 = C.nowUs();
  while (sent < args.n) {
    const due = Math.min(args.n, Math.floor((C.nowUs() - t0) / intervalUs) + 1);
    while (sent < due && pending.size < maxOutstanding) {
      const payload = C.makePayload(sent);
      const p = redis.xadd(stream, '*', 'job', JSON.stringify({ v: 1, payload })).then(() => {
        addLat.push(C.nowUs() - payload.ts);
        pending.delete(p);
      });
      pending.add(p);
      sent++;
    }
    await C.sleep(1);
  }
  await Promise.all(pending);
  const t1 = C.nowUs();
  await redis.quit();
  C.emitResult({
    lib: 'wharf',
    role: 'trickle',
    n: args.n,
    rate_target: args.rate,
    rate_achieved: args.n / ((t1 - t0) / 1e6),
    add_latency: C.summarizeLatencies(addLat),
  });
}

C.armDeadline(args.timeout, `wharf ${role}`);
const roles = { enqueue, trickle };
if (!roles[role]) {
  console.error('usage: node wharf-producer.js enqueue|trickle [--n N] [--rate R] [--port P] ...');
  process.exit(2);
}
roles[role]()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
