#!/bin/sh
# POST /api/tasks at scale: a K × N task (default 50,000 prompts × 4 seeds)
# created over HTTP, then frozen.
#
# Starts a throw-away PostgreSQL cluster and comfy-datalabel-server on it,
# stores one workflow and two permutation pools (300 × 200 items, 60,000
# combinations), and times the create (sampling, template expansion, seeds
# and the COPY of every row in one transaction) and the freeze (SHA-256
# over every stored prompt and seed). Bounded: one create, one freeze,
# then everything stops.
#
#   bench/bench-task-create.sh [BUILD_DIR] [PROMPTS] [SEEDS_PER_PROMPT]
set -eu

build=${1:-build}
prompts=${2:-50000}
seeds=${3:-4}
port=18471

build=$(cd "$build" && pwd)
tmp=$(mktemp -d /tmp/cdl-bench-XXXXXX)
chmod 755 "$tmp"
bindir=$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_ctl | tail -n 1)")")

as_pg () {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup () {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
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

token=$("$build/src/app/comfy-datalabel-server" --data-dir "$tmp/data" \
          --create-admin bench | tail -n 1)
G_MESSAGES_DEBUG=cdl-tasks "$build/src/app/comfy-datalabel-server" \
  --data-dir "$tmp/data" --port $port >"$tmp/server.log" 2>&1 &
server_pid=$!
sleep 1

api () {
  curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" "$@"
}

workflow=$("$bindir/psql" -qtA -d "$DATABASE_URL" -c "
  INSERT INTO workflows (name, version, raw_text, raw_definition, valid, prompt_nodes)
  VALUES ('bench', 1, '{}', '{}', true,
          '[{\"node_id\": \"6\", \"class_type\": \"CLIPTextEncode\", \"role\": \"positive\",
             \"input\": \"text\", \"text\": \"a photo of {subject}, {style}, detailed\"}]')
  RETURNING id")

pool () {
  items=$(seq 1 "$2" | awk -v p="$1" '{ printf "%s\"%s number %d\"", (NR > 1 ? ", " : ""), p, $1 }')
  api -d "{\"name\": \"$1\", \"mode\": \"permutation\", \"items\": [$items]}" \
    "http://127.0.0.1:$port/api/variable-pools" | sed 's/.*"data":{"id":"\([^"]*\)".*/\1/'
}
subject=$(pool subject 300)
style=$(pool style 200)

body="{\"workflow_id\": \"$workflow\", \"variable_pool_ids\": [\"$subject\", \"$style\"],
       \"target_prompts\": $prompts, \"seeds_per_prompt\": $seeds, \"rng_seed\": 1}"

create=$(api -o "$tmp/task.json" -w '%{time_total}' -d "$body" "http://127.0.0.1:$port/api/tasks")
task=$(sed 's/.*"data":{"id":"\([^"]*\)".*/\1/' "$tmp/task.json")
freeze=$(api -o /dev/null -w '%{time_total}' -X POST "http://127.0.0.1:$port/api/tasks/$task/freeze")
page=$(api -o /dev/null -w '%{time_total}' \
         "http://127.0.0.1:$port/api/tasks/$task?limit=1000&after=$((prompts / 2))")

stored=$("$bindir/psql" -qtA -d "$DATABASE_URL" -c "
  SELECT (SELECT count(*) FROM prompts WHERE task_id = '$task') || ' prompts, '
      || (SELECT count(*) FROM seeds WHERE task_id = '$task') || ' seeds'")
rows=$((prompts + prompts * seeds))

echo "POST /api/tasks, $prompts prompts x $seeds seeds ($stored stored):"
awk -v t="$create" -v r="$rows" \
  'BEGIN { printf "  create: %.2f s, %.0f rows/s\n", t, r / t }'
sed -n 's/.*prompts × [0-9]* seeds .*, \(generated in .*\)/  in the server: \1/p' "$tmp/server.log"
awk -v t="$freeze" 'BEGIN { printf "  freeze: %.2f s\n", t }'
awk -v t="$page" 'BEGIN { printf "  GET a page of 1000 from the middle: %.1f ms\n", t * 1000 }'
