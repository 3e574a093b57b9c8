#!/bin/sh
# Installs what is missing, builds, and runs the desktop app on its
# embedded defaults (a private PostgreSQL cluster in the user data dir).
set -eu
cd "$(dirname "$0")/.."
build-aux/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
exec ./build/src/app/comfy-datalabel "$@"
