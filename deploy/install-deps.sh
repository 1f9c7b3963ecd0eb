#!/usr/bin/env bash
# Installs every build, test and local-run dependency of wharf from Debian 12 packages and the npm
# registry. Idempotent: packages already present are not fetched again. Needs root (or sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-url1.81-dev libhiredis-dev libcurl4-openssl-dev libssl-dev
  libpqxx-dev libzstd-dev zlib1g-dev libarchive-dev libspdlog-dev nlohmann-json3-dev libisal-dev libjemalloc-dev libhowardhinnant-date-dev tzdata libgtest-dev libgmock-dev libbenchmark-dev
  libsystemd-dev
  # fuzzing (tests/fuzz): clang and its libFuzzer/ASan/UBSan runtimes
  clang-14 libclang-rt-14-dev
  # servers and tools the tests and the local run start for real
  redis-server redis-tools postgresql-15 postgresql-client-15 nginx-light ffmpeg faketime
  python3 python3-aiosmtpd python3-redis curl procps openssl
  # checks of the admin endpoints and deployment files: promtool (the /metrics text), tmux (the
  # --watch displays), docker-compose config, systemd-analyze, PyYAML (check_manifests.py)
  prometheus tmux docker-compose systemd python3-yaml
  # Ceph RADOS Gateway: a single-node cluster (mon, memstore osd, radosgw) for the RGW suite
  radosgw ceph-mon ceph-osd ceph-common
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl (kubectl kustomize, for the Kubernetes manifests' test) may come from elsewhere (the Google
# Cloud SDK); Debian's kubernetes-client only when none is on the PATH.
if ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi
# Node.js may come from another repository that bundles npm (it conflicts with Debian's npm
# package), so it is only installed from Debian when no node/npm is on the PATH at all.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The distribution starts these as services on install; wharf runs its own on loopback. (Ceph's
# units start no daemon without a configured cluster, but ceph-crash does; in a container without
# systemd, policy-rc.d or the missing init keeps them all from starting.)
for svc in redis-server nginx postgresql ceph-crash ceph.target prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $sudo systemctl stop "$svc" || true
  fi
done

# What the tests take from npm (Azurite; ioredis for the Node producer example), pinned by
# tests/servers/package-lock.json; installed again whenever the lock file changes.
servers=$here/tests/servers
if [ -f "$servers/package-lock.json" ]; then
  want=$(sha256sum "$servers/package-lock.json" | cut -d' ' -f1)
  have=$(cat "$servers/node_modules/.wharf-lock-sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    echo "install-deps: npm ci in tests/servers"
    (cd "$servers" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$servers/node_modules/.wharf-lock-sha256"
  fi
fi

# moto (the S3 emulator) and botocore (the SigV4 oracle) are Python packages that Debian does not
# ship; they come preinstalled with this machine's python3. Say so plainly when they are missing.
if ! python3 -c 'import moto, botocore' >/dev/null 2>&1; then
  echo "install-deps: warning: python3 lacks moto/botocore; the S3 integration tests will fail" >&2
fi
