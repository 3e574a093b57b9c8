#!/bin/sh
# Annotation at scale: a K × N task (default 50,000 prompts × 4 seeds, so
# 200,000 images) with every image recorded, then:
#   - GET /api/tasks/{id}/batches: the first page and PAGES more by cursor
#     (20 batches each), p50 and p99;
#   - GET /api/tasks/{id}/next-batch then POST /api/annotations, LABELS
#     times, p50 and p99 of each;
#   - GET /api/tasks/{id}/export/dpo after one annotation per batch: time,
#     lines, and the server's peak RSS before and after.
#
# Starts a throw-away PostgreSQL cluster and comfy-datalabel-server on it;
# image rows are inserted with SQL (no files: the routes measured here do
# not read them). Bounded: everything stops at the end.
#
#   bench/bench-annotate.sh [BUILD_DIR] [PROMPTS] [SEEDS_PER_PROMPT] [PAGES] [LABELS]
set -eu

build=${1:-build}
prompts=${2:-50000}
seeds=${3:-4}
pages=${4:-200}
labels=${5:-200}
port=18472

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
unset CDL_MEDIA_KEY CDL_MEDIA_BASE_URL CDL_EXPORT_URI_BASE

token=$("$build/src/app/comfy-datalabel-server" --data-dir "$tmp/data" \
          --create-admin bench | tail -n 1)
"$build/src/app/comfy-datalabel-server" --data-dir "$tmp/data" --port $port \
  >"$tmp/server.log" 2>&1 &
server_pid=$!
sleep 1

sql () {
  "$bindir/psql" -qtA -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "$1"
}

api () {
  curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" "$@"
}

workflow=$(sql "
  INSERT INTO workflows (name, version, raw_text, raw_definition, valid, prompt_nodes, model)
  VALUES ('bench', 1, '{}', '{}', true,
          '[{\"node_id\": \"6\", \"class_type\": \"CLIPTextEncode\", \"role\": \"positive\",
             \"input\": \"text\", \"text\": \"a photo of {subject}, {style}, detailed\"}]',
          'sdxl')
  RETURNING id" | head -n 1)

pool () {
  items=$(seq 1 "$2" | awk -v p="$1" '{ printf "%s\"%s number %d\"", (NR > 1 ? ", " : ""), p, $1 }')
  api -d "{\"name\": \"$1\", \"mode\": \"permutation\", \"items\": [$items]}" \
    "http://127.0.0.1:$port/api/variable-pools" | sed 's/.*"data":{"id":"\([^"]*\)".*/\1/'
}
subject=$(pool subject 300)
style=$(pool style 200)

body="{\"workflow_id\": \"$workflow\", \"variable_pool_ids\": [\"$subject\", \"$style\"],
       \"target_prompts\": $prompts, \"seeds_per_prompt\": $seeds, \"rng_seed\": 1}"
api -o "$tmp/task.json" -d "$body" "http://127.0.0.1:$port/api/tasks"
task=$(sed 's/.*"data":{"id":"\([^"]*\)".*/\1/' "$tmp/task.json")
api -o /dev/null -X POST "http://127.0.0.1:$port/api/tasks/$task/freeze"

# One image per seed, stored in prompt order over a few minutes of
# simulated time, as mass generation would leave them.
start=$(date +%s.%N)
sql "INSERT INTO generations (task_id, prompt_id, seed_id, seed_value, batch_index, state,
                              image_uri, thumb_uri, checksum, created_at)
     SELECT s.task_id, s.prompt_id, s.id, s.seed_value, s.position, 'done',
            'tasks/' || s.task_id || '/' || s.prompt_id || '-' || s.seed_value || '.png',
            'thumbs/' || s.task_id || '/' || s.prompt_id || '-' || s.seed_value || '.jpg',
            encode (sha256 (s.id::text::bytea), 'hex'),
            now () + p.position * interval '1 millisecond'
     FROM seeds s JOIN prompts p ON p.id = s.prompt_id
     WHERE s.task_id = '$task'" >/dev/null
sql "ANALYZE" >/dev/null
ingest=$(echo "$(date +%s.%N) - $start" | bc)
images=$(sql "SELECT count(*) FROM generations WHERE task_id = '$task'")

percentiles () {
  sort -n | awk '{ v[NR] = $1 } END {
    p50 = v[int(NR * 0.50) + (NR * 0.50 > int(NR * 0.50))];
    p99 = v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))];
    printf "p50 %.1f ms, p99 %.1f ms (%d requests)\n", p50 * 1000, p99 * 1000, NR }'
}

# Pages by cursor.
: >"$tmp/pages.txt"
cursor=""
i=0
while [ $i -le "$pages" ]; do
  url="http://127.0.0.1:$port/api/tasks/$task/batches?limit=20"
  [ -n "$cursor" ] && url="$url&cursor=$cursor"
  api -o "$tmp/page.json" -w '%{time_total}\n' "$url" >>"$tmp/pages.txt"
  cursor=$(sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p' "$tmp/page.json")
  [ -z "$cursor" ] && break
  i=$((i + 1))
done

# Hand out and label.
: >"$tmp/next.txt"
: >"$tmp/post.txt"
i=0
while [ $i -lt "$labels" ]; do
  api -o "$tmp/next.json" -w '%{time_total}\n' \
    "http://127.0.0.1:$port/api/tasks/$task/next-batch" >>"$tmp/next.txt"
  batch=$(sed 's/.*"batch":{"batch_id":"\([^"]*\)".*/\1/' "$tmp/next.json")
  api -o /dev/null -w '%{time_total}\n' \
    -d "{\"task_id\": \"$task\", \"batch_id\": \"$batch\", \"chosen_index\": 0, \"decision_ms\": 900}" \
    "http://127.0.0.1:$port/api/annotations" >>"$tmp/post.txt"
  i=$((i + 1))
done

# Export after one label per batch.
user=$(sql "SELECT id FROM users WHERE name = 'bench'")
sql "INSERT INTO annotations (task_id, batch_id, prompt_id, user_id, chosen_index)
     SELECT task_id, id, id, '$user', position % $seeds FROM prompts WHERE task_id = '$task'
     ON CONFLICT DO NOTHING" >/dev/null
rss_before=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
export_time=$(api -o "$tmp/export.jsonl" -w '%{time_total}' \
                "http://127.0.0.1:$port/api/tasks/$task/export/dpo")
rss_after=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
lines=$(wc -l <"$tmp/export.jsonl")
bytes=$(wc -c <"$tmp/export.jsonl")

echo "Annotation, $prompts prompts x $seeds seeds ($images images, rows inserted in $(printf %.1f "$ingest") s):"
printf "  GET batches (20 per page, by cursor): "; percentiles <"$tmp/pages.txt"
printf "  GET next-batch:                      "; percentiles <"$tmp/next.txt"
printf "  POST annotations:                    "; percentiles <"$tmp/post.txt"
awk -v t="$export_time" -v l="$lines" -v b="$bytes" \
  'BEGIN { printf "  export/dpo: %d lines, %.1f MB in %.2f s\n", l, b / 1e6, t }'
echo "  server peak RSS: $rss_before kB before the export, $rss_after kB after"
