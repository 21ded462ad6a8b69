#!/usr/bin/env bash
# Alternating windows of 20 s with the dashboard closed / open (headless chromium on the key view); prints the mean
# events/s from the status lines and the demo's CPU seconds per window.
set -u
dll=${DLL:-Streaming/bin/Release/net10.0/streamlstm.dll}
rate=${1:-10}
dotnet $dll demo --epochs 0 --duration 260s --rate $rate --workers 2 --urls http://127.0.0.1:18099 > demo.log 2>&1 &
dpid=$!
for i in $(seq 1 60); do grep -q '^dashboard:' demo.log && break; sleep 1; done
sleep 15
cpu() { awk '{print ($14+$15)/100}' /proc/$1/stat; }
window() { # $1 label
  local l0=$(wc -l < demo.log) c0=$(cpu $dpid); sleep 20; local c1=$(cpu $dpid)
  local rates=$(tail -n +$((l0+1)) demo.log | grep -oE '^\[[0-9:]+\] +[0-9,]+ ev/s' | awk '{gsub(",","",$2); print $2}')
  echo "$1 $(echo "$rates" | awk '{s+=$1;n++} END {printf "%.0f ev/s (n=%d)", s/n, n}') cpu $(echo "$c1 - $c0" | bc) s"
}
for round in 1 2 3; do
  window closed
  chromium --headless=new --no-sandbox --disable-gpu "http://127.0.0.1:18099/?kind=tick&key=SYM0001" >/dev/null 2>&1 & bpid=$!
  sleep 4
  echo "watches: $(curl -s http://127.0.0.1:18099/metrics | grep '^streamlstm_web_key_watches')"
  window open
  kill $bpid; wait $bpid 2>/dev/null
done
grep -c . demo.log >/dev/null
kill -INT $dpid; wait $dpid
tail -2 demo.log
