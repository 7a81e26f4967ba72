#!/bin/sh
# The fifteenth session's end against its start, on a quiet machine after the final CI: the
# start (02e7049, a worktree with its own venv at $BASE) against the end ($HEAD), alternated:
# connect+hello with 1,000 idle connections, and the send scenario's CPU per message at 100
# and 250 sends/s, two rounds each (no peer run: the spell was short).
set -e
OUT=${OUT:-/tmp/fifteenth-end}
BASE=${BASE:-/work/wt-base}
HEAD=${HEAD:-/work/main}
mkdir -p "$OUT"
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
