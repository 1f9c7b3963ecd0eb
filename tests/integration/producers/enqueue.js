#!/usr/bin/env node
// Producer example: enqueue a job from Node.js with ioredis. Usage: enqueue.js REDIS_URL QUEUE JOB_ID
'use strict';
const Redis = require('ioredis');

async function enqueue(redis, queue, payload, { id, ...options } = {}) {
  const envelope = { v: 1, payload, ...options };
  if (id) envelope.id = id; // idempotency id: the same id runs once
  return redis.xadd(`wharf:{${queue}}:stream`, '*', 'job', JSON.stringify(envelope));
}

(async () => {
  const [url, queue, id] = process.argv.slice(2);
  const redis = new Redis(url);
  const entry = await enqueue(redis, queue, { from: 'node' }, { id, max_attempts: 3 });
  console.log(entry);
  redis.disconnect();
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
