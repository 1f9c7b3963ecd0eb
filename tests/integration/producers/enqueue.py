#!/usr/bin/env python3
"""Producer example: enqueue jobs from Python with redis-py. Usage: enqueue.py REDIS_URL QUEUE JOB_ID"""
import json
import sys
from datetime import datetime, timedelta, timezone

import redis


def enqueue(r, queue, payload, job_id=None, delay=None, **options):
    envelope = {"v": 1, "payload": payload, **options}
    if job_id:
        envelope["id"] = job_id  # idempotency id: the same id runs once
    if delay:
        envelope["run_at"] = (datetime.now(timezone.utc) + delay).isoformat()
    return r.xadd(f"wharf:{{{queue}}}:stream", {"job": json.dumps(envelope)})


if __name__ == "__main__":
    url, queue, job_id = sys.argv[1:4]
    r = redis.Redis.from_url(url)
    entry = enqueue(r, queue, {"from": "python"}, job_id=job_id, max_attempts=3)
    # A delayed job: runs about one second from now.
    enqueue(r, queue, {"from": "python", "delayed": True}, job_id=job_id + "-delayed", delay=timedelta(seconds=1))
    print(entry.decode())
