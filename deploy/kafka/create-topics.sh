#!/usr/bin/env bash
# Creates the streamlstm topics (idempotent). Inputs are partitioned ($PARTITIONS); the service is partition-affine,
# so more partitions give more parallelism up to its worker count.
set -euo pipefail
bin=/opt/kafka/bin
for t in ticks vitals audio-features forecasts alerts streamlstm.dlq late; do
  "$bin/kafka-topics.sh" --bootstrap-server "${BOOTSTRAP:-kafka:9092}" --create --if-not-exists \
    --topic "$t" --partitions "${PARTITIONS:-6}" --replication-factor 1
done
"$bin/kafka-topics.sh" --bootstrap-server "${BOOTSTRAP:-kafka:9092}" --list
