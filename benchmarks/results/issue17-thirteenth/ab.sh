#!/bin/sh
# The thirteenth session's first figures, on a quiet machine: the peer against chatd at
# 100/250/500 sends/s, then the twelfth session's start (02413c2, a worktree with its own venv
# at $BASE) against its end (eac30eb, $HEAD), alternated: connect+hello with 1,000 idle
# connections, and the send scenario's CPU per message at 100 and 250 sends/s.
set -e
OUT=${OUT:-/tmp/thirteenth}
BASE=${BASE:-/work/wt-base}
HEAD=${HEAD:-/work/main}
mkdir -p "$OUT"
# PEER=no leaves the peer's run out (the fifteenth session's ab-end.sh).
if [ "${PEER:-yes}" != no ]; then
  (cd "$HEAD" && .venv/bin/python -m benchmarks run --scenario send --servers chatd,socketio \
      --loadgen node --rates 100,250,500 --scale-connections '' --duration 20 --window 0 \
      --no-plots --out "$OUT/peer-1" > "$OUT/peer-1.log" 2>&1)
fi
for round in 1 2; do
  for side in base head; do
    if [ $side = base ]; then dir=$BASE; else dir=$HEAD; fi
    (cd "$dir" && .venv/bin/python -m benchmarks run --scenario connections --servers chatd \
        --loadgen node --idle 1000 --no-plots --out "$OUT/hello-$side-$round" \
        > "$OUT/hello-$side-$round.log" 2>&1)
    (cd "$dir" && .venv/bin/python -m benchmarks run --scenario send --servers chatd \
        --loadgen node --rates 100,250 --scale-connections '' --duration 20 --window 0 \
        --no-plots --out "$OUT/send-$side-$round" > "$OUT/send-$side-$round.log" 2>&1)
  done
done
