#!/usr/bin/env bash
# Wait for the daemon under callgrind, zero its counters once sends flow, dump after WINDOW s.
# Usage: window.sh LABEL WINDOW
label=$1; window=$2
count() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^chatd_send_ack_seconds_count/ {print $2}'; }
while :; do
  pid=$(pgrep -f 'valgrind.*callgrind.*chatd serve' | head -1)
  [ -n "$pid" ] && port=$(ss -ltnp 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | sed 's/.*://' | while read p; do curl -s -m 2 "http://127.0.0.1:$p/metrics" >/dev/null && echo $p && break; done) && [ -n "$port" ] && break
  sleep 1
done
echo "pid $pid port $port"
while :; do c=$(count); [ -n "$c" ] && awk "BEGIN{exit !($c > 50)}" && break; sleep 1; done
callgrind_control -z $pid >/dev/null; c0=$(count); t0=$(date +%s.%N)
sleep $window
callgrind_control -d $label $pid >/dev/null; c1=$(count); t1=$(date +%s.%N)
echo "$label c0=$c0 c1=$c1 msgs=$(awk "BEGIN{print $c1-$c0}") secs=$(awk "BEGIN{print $t1-$t0}")"
