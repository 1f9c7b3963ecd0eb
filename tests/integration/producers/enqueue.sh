#!/usr/bin/env bash
# Producer example: enqueue one job with redis-cli. Usage: enqueue.sh REDIS_PORT QUEUE JOB_ID
set -euo pipefail
port=$1 queue=$2 id=$3
redis-cli -p "$port" XADD "wharf:{$queue}:stream" '*' job \
  "{\"v\":1,\"id\":\"$id\",\"payload\":{\"from\":\"redis-cli\"},\"max_attempts\":3,\"timeout_s\":60}"
