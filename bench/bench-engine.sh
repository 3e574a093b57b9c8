#!/bin/sh
# Mass generation: worker utilization and orchestrator CPU per job.
#
# Starts a throw-away PostgreSQL cluster, WORKERS cdl-simworkers at
# MS_PER_IMAGE ms per image, and one comfy-datalabel-server; uploads the
# LatentBatchSeedBehavior workflow, builds a PROMPTS × 4 task, freezes and
# runs it, and waits for DONE. Utilization is the simworkers' own busy time
# (GET /_sim/state busy_ms) over WORKERS × the wall time from run to DONE;
# CPU is the server's user + system time over that span, per job.
#
#   bench/bench-engine.sh [BUILD_DIR] [WORKERS] [PROMPTS] [MS_PER_IMAGE] [MAX_CONCURRENT] [SIZE]
#
# SIZE (WIDTHxHEIGHT, default 768x512, the workflow's own) sets the size of
# the workflow's empty latent image before the upload: smaller images cost
# the simworkers and the server less CPU.
#
# BENCH_PERF=FILE records the server with `perf record -g` over the run.
set -eu

build=${1:-build}
workers=${2:-16}
prompts=${3:-2000}
ms=${4:-50}
concurrent=${5:-3}
size=${6:-768x512}
port=18471

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
tmp=$(mktemp -d /tmp/cdl-bench-XXXXXX)
chmod 755 "$tmp"
bindir=$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_ctl | tail -n 1)")")
sim_pids=""

as_pg () {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup () {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  for p in $sim_pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_pg "$bindir/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] && chown postgres "$tmp"
as_pg "$bindir/initdb" -D "$tmp/pg" -U postgres --auth=trust -N >/dev/null
as_pg "$bindir/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w \
  -o "-k $tmp -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null
export DATABASE_URL="host=$tmp dbname=postgres user=postgres"
export CDL_SECRETS_FILE="$tmp/secrets.json"

api () {
  curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" "$@"
}
field () {
  python3 -c "import json,sys; d=json.load(sys.stdin)['data']; print(d$1)"
}

token=$("$build/src/app/comfy-datalabel-server" --data-dir "$tmp/data" \
          --create-admin bench | tail -n 1)
"$build/src/app/comfy-datalabel-server" --data-dir "$tmp/data" --port $port \
  --health-interval 2 2>"$tmp/server.log" &
server_pid=$!
sleep 1
base="http://127.0.0.1:$port"

i=0
sims=""
while [ $i -lt "$workers" ]; do
  "$build/src/app/cdl-simworker" --port 0 --ms-per-image "$ms" >"$tmp/sim-$i.out" &
  sim_pids="$sim_pids $!"
  while ! grep -q listening "$tmp/sim-$i.out"; do sleep 0.05; done
  url=$(sed -n 's/.*listening on //p' "$tmp/sim-$i.out")
  sims="$sims $url"
  id=$(api -d "{\"name\": \"gpu-$i\", \"base_url\": \"$url\", \"max_concurrent_jobs\": $concurrent}" \
         "$base/api/workers" | field "['id']")
  api -X POST -o /dev/null "$base/api/workers/$id/test"
  i=$((i + 1))
done

python3 - "$src/tests/data/workflows/latent-batch-seed.json" "$size" "$tmp/workflow.json" <<'PY'
import json, sys
graph = json.load(open(sys.argv[1]))
width, height = (int(x) for x in sys.argv[2].split('x'))
for node in graph.values():
    if node.get('class_type') == 'EmptyLatentImage':
        node['inputs']['width'], node['inputs']['height'] = width, height
json.dump(graph, open(sys.argv[3], 'w'))
PY
workflow=$(curl -sf -H "Authorization: Bearer $token" -F name=bench \
             -F "workflow=@$tmp/workflow.json" \
             "$base/api/workflows" | field "['id']")
items=$(python3 -c "import json; print(json.dumps(['subject %d' % i for i in range($prompts)]))")
pool=$(api -d "{\"name\": \"bench\", \"mode\": \"no_replacement\", \"items\": $items}" \
         "$base/api/variable-pools" | field "['id']")
task=$(api -d "{\"workflow_id\": \"$workflow\", \"variable_pool_ids\": [\"$pool\"],
               \"target_prompts\": $prompts, \"seeds_per_prompt\": 4}" \
         "$base/api/tasks" | field "['id']")
api -X POST -o /dev/null "$base/api/tasks/$task/freeze"

ticks=$(getconf CLK_TCK)
cpu0=$(awk '{print $14 + $15}' /proc/$server_pid/stat)
t0=$(date +%s%N)
if [ -n "${BENCH_PERF:-}" ]; then
  perf record -g -o "$BENCH_PERF" -p "$server_pid" 2>/dev/null &
  perf_pid=$!
fi
api -X POST -o /dev/null "$base/api/tasks/$task/run"
while [ "$(api "$base/api/tasks/$task/progress?limit=1" | field "['state']")" = RUNNING ]; do
  sleep 0.2
done
t1=$(date +%s%N)
cpu1=$(awk '{print $14 + $15}' /proc/$server_pid/stat)
if [ -n "${perf_pid:-}" ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" 2>/dev/null || true
fi

busy=0
for url in $sims; do
  b=$(curl -sf "$url/_sim/state" | python3 -c "import json,sys; print(json.load(sys.stdin)['busy_ms'])")
  busy=$((busy + b))
done
progress=$(api "$base/api/tasks/$task/progress?limit=1")
jobs=$("$bindir/psql" -qtA -d "$DATABASE_URL" \
         -c "SELECT count (*) FROM jobs WHERE task_id = '$task' AND kind = 'mass'")

python3 - "$t0" "$t1" "$busy" "$workers" "$cpu0" "$cpu1" "$ticks" "$jobs" "$progress" <<'PY'
import json, sys
t0, t1, busy, workers, c0, c1, ticks, jobs = (int(x) for x in sys.argv[1:9])
p = json.loads(sys.argv[9])['data']
wall_ms = (t1 - t0) / 1e6
cpu_ms = (c1 - c0) * 1000 / ticks
print("state %s, %d/%d images, %d jobs, wall %.1f s" % (p['state'], p['done'], p['total'], jobs, wall_ms / 1000))
print("worker utilization %.1f %% (busy %.1f s of %d x %.1f s)" % (100 * busy / (workers * wall_ms), busy / 1000, workers, wall_ms / 1000))
print("orchestrator CPU %.1f s, %.2f ms per job" % (cpu_ms / 1000, cpu_ms / max(jobs, 1)))
PY
