#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies, builds, then runs unit and integration tests.
# The integration tests start their own servers (redis-server, PostgreSQL, moto, Azurite, an SMTP
# sink, nginx) on free loopback ports and stop them afterwards.
#   deploy/test.sh                 # everything
#   deploy/test.sh -L unit         # extra arguments go to ctest
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build}

"$here/deploy/install-deps.sh"
# ccache: hits across clones in different folders (paths under the repository are hashed relative
# to it), and a cache that lives outside the clone.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/wharf-ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${WHARF_BUILD_TYPE:-RelWithDebInfo} ${WHARF_CMAKE_ARGS:-}
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "${WHARF_TEST_JOBS:-2}" "$@"
