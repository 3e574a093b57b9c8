#!/bin/sh
# GET /api/workers under load: requests per second and latency percentiles.
#
# Starts a throw-away PostgreSQL cluster, comfy-datalabel-server on it with
# N registered workers (all pointing at one cdl-simworker, so health checks
# run as usual during the load), and drives the list route with wrk over
# loopback. Bounded: one run of DURATION seconds, then everything stops.
#
#   bench/bench-workers.sh [BUILD_DIR] [WORKERS] [CONNECTIONS] [DURATION]
set -eu

build=${1:-build}
workers=${2:-20}
connections=${3:-32}
duration=${4:-10}
port=18470
simport=18188

build=$(cd "$build" && pwd)
tmp=$(mktemp -d /tmp/cdl-bench-XXXXXX)
chmod 755 "$tmp"
bindir=$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_ctl | tail -n 1)")")

as_pg () {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup () {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  as_pg "$bindir/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] && chown postgres "$tmp"
as_pg "$bindir/initdb" -D "$tmp/pg" -U postgres --auth=trust -N >/dev/null
as_pg "$bindir/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w \
  -o "-k $tmp -c listen_addresses='' -c fsync=off" start >/dev/null
export DATABASE_URL="host=$tmp dbname=postgres user=postgres"
export CDL_SECRETS_FILE="$tmp/secrets.json"

"$build/src/app/cdl-simworker" --port $simport >/dev/null &
sim_pid=$!
token=$("$build/src/app/comfy-datalabel-server" --data-dir "$tmp/data" \
          --create-admin bench | tail -n 1)
"$build/src/app/comfy-datalabel-server" --data-dir "$tmp/data" --port $port \
  --health-interval 5 2>"$tmp/server.log" &
server_pid=$!
sleep 1

i=0
while [ $i -lt "$workers" ]; do
  curl -sf -o /dev/null -H "Authorization: Bearer $token" \
    -d "{\"name\": \"gpu-$i\", \"base_url\": \"http://127.0.0.1:$simport\", \"tags\": [\"a100\"]}" \
    "http://127.0.0.1:$port/api/workers"
  i=$((i + 1))
done

echo "GET /api/workers, $workers workers, $connections connections, ${duration}s:"
wrk -t2 -c"$connections" -d"${duration}s" --latency \
  -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/workers" \
  | grep -E "Requests/sec|Transfer/sec|^ +(50|90|99)%|requests in|Non-2xx|Socket errors"
