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
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${WHARF_BUILD_TYPE:-RelWithDebInfo} ${WHARF_CMAKE_ARGS:-}
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "${WHARF_TEST_JOBS:-2}" "$@"
