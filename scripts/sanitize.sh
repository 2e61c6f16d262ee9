#!/usr/bin/env bash
# Builds with sanitizers, in a build dir of their own, and runs the tests under them.
# Usage: scripts/sanitize.sh [address|thread] [--unit|--all] [ctest args...]
#   address (default)  AddressSanitizer + UndefinedBehaviorSanitizer in build-asan; by default
#                      everything is built and every test runs (--all), PostgreSQL and RabbitMQ
#                      started on free ports as scripts/test.sh does.
#   thread             ThreadSanitizer in build-tsan; by default the threaded tests that need no
#                      server (TSAN_TESTS below), and only what they need is built.
#   --unit             only the tests that need no server (CTest label "test"): no servers, and
#                      only what those tests need is built.
#   --all              everything built, every test run, servers started.
# Every process of the run (the tests, and the killreport / fake-esi they start) writes its
# sanitizer reports to BUILD_DIR/sanitizer-reports/: any report fails the run and is printed at
# the end, so a finding in a child whose exit status a test does not look at is not lost.
# BUILD_DIR overrides the build dir; further arguments go to ctest (e.g. -R executor_test; a -R
# of your own replaces the thread selection). BUILD_TYPE is Debug unless set: -O0 builds in less
# than half the time of RelWithDebInfo (3.8 against 9.5 min cold on 2 cores for --unit), the tests
# take as long, and assert() stays on.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=address
case "${1:-}" in address | thread) MODE=$1 && shift ;; esac
WHAT=all
[ "$MODE" = thread ] && WHAT=threaded
case "${1:-}" in --unit | --all) WHAT=${1#--} && shift ;; esac
if [ "$MODE" = address ]; then BUILD_DIR=${BUILD_DIR:-build-asan}; else BUILD_DIR=${BUILD_DIR:-build-tsan}; fi
# Threads of their own or in the code under test: worker::Executor (the info and zKillboard
# workers' committer, the scan pipeline's stages), the shared request budget, the pooled store,
# the HTTP client against a threaded test server, fake-esi's server threads.
TSAN_TESTS='^(executor|rate_budget|pooled_store|scripts|info_worker|zkillboard_worker|curl_http_client|fake_esi_[a-z]+)_test$'

scripts/install-deps.sh
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Debug}" -DKR_SANITIZE="$MODE" "${launcher[@]}" >/dev/null

select=()
case $WHAT in
  threaded) select=(-R "$TSAN_TESTS") ;;
  unit) select=(-L '^test$') ;;
esac
if [ ${#select[@]} -gt 0 ]; then
  # The selected tests' executables (a test is named after its target) and what they depend on.
  mapfile -t targets < <(ctest --test-dir "$BUILD_DIR" -N "${select[@]}" "$@" | sed -n 's/^ *Test *#[0-9]*: //p')
  if [ ${#targets[@]} -eq 0 ]; then echo "sanitize: no test selected" >&2 && exit 1; fi
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}"
else
  cmake --build "$BUILD_DIR" -j "$(nproc)"
fi

reports="$(cd "$BUILD_DIR" && pwd)/sanitizer-reports"
rm -rf "$reports" && mkdir -p "$reports"
log="log_path=$reports/report:log_exe_name=1"
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do export "$v=${!v:+${!v}:}$log"; done

if [ "$WHAT" = all ]; then
  # shellcheck disable=SC1091
  source scripts/lib/test-servers.sh
  kr_start_test_servers # on free ports; stopped when this script exits
fi

rc=0
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j "${KR_TEST_JOBS:-2}" "${select[@]}" "$@" || rc=$?
shopt -s nullglob
found=("$reports"/report*)
if [ ${#found[@]} -gt 0 ]; then
  for f in "${found[@]}"; do
    echo "===== sanitizer report: ${f##*/} (report.<executable>.<pid>)"
    cat "$f"
  done
  echo "sanitize: ${#found[@]} sanitizer report(s) in $reports" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
