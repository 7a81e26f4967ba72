#!/bin/sh
# The sixteenth session's first figures, on a quiet machine: the peer against chatd (main's
# start, $HEAD) at 100/250/500 sends/s, then the fourteenth session's start (ba0e9fa, $BASE,
# a worktree with its own venv) against its end (02e7049, $END) at 100 sends/s, four rounds,
# the order turned in every other round: the +6 % the fifteenth session left unexplained.
set -e
OUT=${OUT:-/tmp/sixteenth}
HEAD=${HEAD:-/work/main}
BASE=${BASE:-/work/wt-ba0e9fa}
END=${END:-/work/wt-02e7049}
mkdir -p "$OUT"
send() {  # send DIR NAME RATES
  (cd "$1" && .venv/bin/python -m benchmarks run --scenario send --servers chatd \
      --loadgen node --rates "$3" --scale-connections '' --duration 20 --window 0 \
      --no-plots --out "$OUT/$2" > "$OUT/$2.log" 2>&1)
}
if [ "${PEER:-yes}" != no ]; then
  (cd "$HEAD" && .venv/bin/python -m benchmarks run --scenario send --servers chatd,socketio \
      --loadgen node --rates 100,250,500 --scale-connections '' --duration 20 --window 0 \
      --no-plots --out "$OUT/peer-1" > "$OUT/peer-1.log" 2>&1)
fi
for round in 1 2 3 4; do
  if [ $((round % 2)) = 1 ]; then order="base end"; else order="end base"; fi
  for side in $order; do
    if [ $side = base ]; then dir=$BASE; else dir=$END; fi
    send "$dir" "send-$side-$round" 100
  done
done
