#!/usr/bin/env bash
# Brings up a throwaway single-node Ceph cluster (1 mon, 1 memstore OSD, no mgr, auth none) and
# radosgw (beast) on loopback, with all state under DIR, for the RGW integration tests
# (tests/support/src/rgw_server.cpp runs it). Creates the S3 user AK/SK and the bucket BUCKET.
# Usage: rgw-start.sh DIR MON_V2_PORT MON_V1_PORT RGW_PORT BUCKET ACCESS_KEY SECRET_KEY OWNER_PID
# Writes the daemons' PIDs, one a line, to DIR/pids (also when it fails half-way: the caller kills
# them); prints "ready" last on success. A detached watchdog kills the daemons and removes DIR
# once OWNER_PID is gone, so a test binary that crashes leaves no cluster behind.
# Needs: radosgw ceph-mon ceph-osd ceph-common (Debian 12).
set -euo pipefail
dir=$1 mon2=$2 mon1=$3 port=$4 bucket=$5 ak=$6 sk=$7 owner=$8
export CEPH_CONF=$dir/ceph.conf
mkdir -p "$dir"/{mon,osd,run,log,rgw}
: >"$dir/pids"
fsid=$(cat /proc/sys/kernel/random/uuid)
mon_addr="[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]"

# Every daemon writes its pid file; collect them whatever happens, so the caller can kill them.
collect_pids() {
  : >"$dir/pids"
  for f in "$dir"/run/*.pid; do [ -f "$f" ] && cat "$f" >>"$dir/pids"; done
  return 0
}
trap collect_pids EXIT

# The watchdog: its own session, no inherited output (the caller reads this script's output to EOF).
setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
  [ -d "$2" ] || exit 0
  for f in "$2"/run/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  rm -rf "$2"' watchdog "$owner" "$dir" </dev/null >/dev/null 2>&1 &

cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = $mon_addr
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
# radosgw otherwise settles on a "secure"-only mon client mode, which auth none cannot do
ms mon client mode = crc secure
ms client mode = crc secure
client mount timeout = 30
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
# The monitor refuses to start below 5% free disk (mon data avail crit) — a full build machine's
# state, not the test's: the cluster's data lives in memory (memstore) and in a few MB of mon store.
mon data avail crit = 0
mon data avail warn = 0
osd crush chooseleaf type = 0
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
keyring = $dir/keyring
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object size = 134217728
[client.rgw.a]
rgw data = $dir/rgw
rgw frontends = beast endpoint=127.0.0.1:$port
rgw dns name = 127.0.0.1
EOF

ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --enable-all-features --addv a "$mon_addr" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
ceph-mon -i a
for _ in $(seq 1 60); do ceph -s --connect-timeout 2 >/dev/null 2>&1 && break; sleep 0.5; done
collect_pids

osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$(ceph osd new "$osd_uuid")
mkdir -p "$dir/osd/ceph-$osd_id"
ceph-osd -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.log" 2>&1
ceph-osd -i "$osd_id"
collect_pids
for _ in $(seq 1 120); do
  ceph osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1' && break; sleep 0.5
done

radosgw -n client.rgw.a
for _ in $(seq 1 120); do
  collect_pids
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.5
done
curl -sf -o /dev/null "http://127.0.0.1:$port/"

radosgw-admin user create --uid=test --display-name=test --access-key="$ak" --secret="$sk" >"$dir/user.json"
# The bucket, as a signed S3 request (RGW checks SigV4 itself, and wants x-amz-content-sha256,
# which curl signs when it is given).
curl -sS -f -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ak:$sk" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  "http://127.0.0.1:$port/$bucket" >/dev/null
echo ready
