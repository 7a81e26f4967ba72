#!/bin/sh
OUT=/tmp/mypyc-ab; mkdir -p $OUT
for round in 1 2 3; do
  if [ $((round % 2)) = 1 ]; then order="plain compiled"; else order="compiled plain"; fi
  for side in $order; do
    if [ $side = plain ]; then dir=/work/main; else dir=/work/wt-mypyc; fi
    (cd $dir && .venv/bin/python -m benchmarks run --scenario send --servers chatd --loadgen node \
      --rates 100,250 --scale-connections '' --duration 20 --window 0 --no-plots \
      --out $OUT/$side-$round > $OUT/$side-$round.log 2>&1)
    echo "$side-$round $(date -u +%T) $(cat /proc/loadavg)" >> $OUT/progress
  done
done
