#!/bin/sh
# The phone page on a phone-sized headless Chromium (390x844, touch): the
# time from a choice to the next batch fully shown (every image decoded),
# and the media bytes transferred per batch, with the page's prefetch
# (the next batch's full images and the following 20 batches' thumbnails)
# and without it (an A/B variant with prefetch_batches 0), on loopback and
# on an emulated 4G link (30 ms per request, 20 Mbit/s down, 5 up).
#
# Runs the benchmark case of the web test: a real server and database, a
# task of 60 batches of 4 real 512x512 PNGs, an annotator who looks at
# each batch for a second before choosing. Needs chromium.
#
#   bench/bench-web.sh [BUILD_DIR]
set -eu

build=${1:-build}
ninja -C "$build" tests/test-web src/app/comfy-datalabel-server >/dev/null
CDL_BUILD_DIR=$(cd "$build" && pwd) GSETTINGS_BACKEND=memory \
  "$build/tests/test-web" -m perf -p /web/bench 2>&1 | grep '^|'
