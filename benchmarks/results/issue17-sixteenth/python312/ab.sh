#!/bin/sh
# CPython 3.11 against 3.12 for the daemon: one checkout, two venvs, alternated.
OUT=/tmp/py-ab; mkdir -p $OUT; cd /work/wt-mypyc
for round in 1 2 3; do
  if [ $((round % 2)) = 1 ]; then order="311 312"; else order="312 311"; fi
  for side in $order; do
    if [ $side = 311 ]; then py=.venv/bin/python; else py=.venv-3.12.1/bin/python; fi
    $py -m benchmarks run --scenario send --servers chatd --loadgen node \
      --rates 100,250 --scale-connections '' --duration 20 --window 0 --no-plots \
      --out $OUT/py$side-$round > $OUT/py$side-$round.log 2>&1
    echo "py$side-$round $(date -u +%T) $(cat /proc/loadavg)" >> $OUT/progress
  done
done
