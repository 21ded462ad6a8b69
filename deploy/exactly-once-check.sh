#!/usr/bin/env bash
# End-to-end check of Kafka:Guarantee=exactly_once against the compose Kafka (a real broker; the embedded mock cluster
# cannot show it): generate input, run the pipeline with exactly-once and SIGKILL it at random moments, restart it each
# time (same state dir, same transactional.id: the restart fences and aborts the killed instance's open transaction),
# finish with --until-caught-up, then read the forecasts topic as a read_committed consumer and count duplicates by
# (source, key, input partition, offset). Passes when there are none and every forecast is there.
#
#   docker compose -f deploy/docker-compose.yml up -d kafka
#   dotnet build Streaming -c Release && deploy/exactly-once-check.sh [EVENTS] [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-200000}
KILLS=${2:-5}
BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:29092}
RUN_ID=eo-$(date +%s)
TOPIC=forecasts-$RUN_ID
STATE=$(mktemp -d /tmp/streamlstm-eo-check-XXXXXX)
SVC=(dotnet Streaming/bin/Release/net10.0/streamlstm.dll)
compose=(docker compose -f deploy/docker-compose.yml exec -T kafka /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092)
trap 'rm -rf "$STATE"' EXIT

for t in ticks vitals audio-features streamlstm.dlq late "$TOPIC"; do
  "${compose[@]}" --create --if-not-exists --topic "$t" --partitions 6 --replication-factor 1 >/dev/null
done
# The group, state dir, changelog and forecasts topic are fresh: the run reads everything the input topics hold.
"${SVC[@]}" generate --bootstrap-servers "$BOOTSTRAP" --events "$EVENTS" --seed 7

common=(run --bootstrap-servers "$BOOTSTRAP" --state-dir "$STATE" "--Kafka:GroupId=$RUN_ID" "--Kafka:ForecastsTopic=$TOPIC"
  --Kafka:Guarantee=exactly_once "--Kafka:TransactionalId=$RUN_ID" --State:ChangelogTopicPrefix="$RUN_ID.changelog."
  --Sink:Enabled=false --Web:Enabled=false --Logging:LogLevel:Default=Warning)
for ((i = 1; i <= KILLS; i++)); do
  "${SVC[@]}" "${common[@]}" &
  pid=$!
  sleep "$((3 + RANDOM % 8))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "life $i: SIGKILLed"
done
"${SVC[@]}" "${common[@]}" --until-caught-up --caught-up-for 5s
echo "final life: caught up"

# Every forecast as a read_committed consumer sees it (librdkafka's default, spelled out).
kcat -b "$BOOTSTRAP" -C -t "$TOPIC" -o beginning -e -q -X isolation.level=read_committed -f '%s\n' \
  | jq -r '[.source, .key, (.partition|tostring), (.offset|tostring)] | join("|")' > "$STATE/ids"
total=$(wc -l < "$STATE/ids")
unique=$(sort -u "$STATE/ids" | wc -l)
echo "exactly-once check: $EVENTS generated events, $KILLS SIGKILLs; read_committed reader: $total forecasts, $unique unique, $((total - unique)) duplicates"
[ "$total" -eq "$unique" ] || { echo "FAIL: duplicates visible to a read_committed consumer"; exit 1; }
echo "PASS"
