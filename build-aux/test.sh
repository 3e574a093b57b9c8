#!/bin/sh
# Runs every test: a -Werror build and the whole suite under Xvfb, then the
# unit and integration suites again built with AddressSanitizer and UBSan.
# Each test program starts the PostgreSQL cluster and cdl-simworker
# processes it needs.
set -eu
cd "$(dirname "$0")/.."
build-aux/install-deps.sh

[ -d _build/ci ] || meson setup _build/ci -Dwerror=true
ninja -C _build/ci
dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" \
  meson test -C _build/ci --print-errorlogs --num-processes 2

[ -d _build/asan ] || meson setup _build/asan -Dwerror=true \
  -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
ninja -C _build/asan
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C _build/asan --print-errorlogs --num-processes 2 \
  --suite unit --suite integration
