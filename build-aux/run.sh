#!/bin/sh
# Installs what is missing, builds, and runs the desktop app on its
# embedded defaults (a private PostgreSQL cluster in the user data dir).
set -eu
cd "$(dirname "$0")/.."
build-aux/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
# Uninstalled, the app finds its GSettings schema in the build tree (and
# cdl-simworker, for "Start a Demo Worker", next to itself).
GSETTINGS_SCHEMA_DIR="$PWD/build/data${GSETTINGS_SCHEMA_DIR:+:$GSETTINGS_SCHEMA_DIR}"
export GSETTINGS_SCHEMA_DIR
CDL_LOCALEDIR="$PWD/build/po"
export CDL_LOCALEDIR
exec ./build/src/app/comfy-datalabel "$@"
