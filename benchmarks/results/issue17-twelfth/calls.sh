#!/bin/sh
# calls per message: base and head, 20 s and 60 s at 100/s
for side in base head; do
  if [ $side = base ]; then dir=/work/wt-base; else dir=/work/main; fi
  for d in 20 60; do
    rm -f /tmp/calls/prof-$side-$d.*
    (cd $dir && PYTHONPATH=/tmp/calls CPROF_OUT=/tmp/calls/prof-$side-$d .venv/bin/python -m benchmarks run \
      --scenario send --servers chatd --loadgen node --rates 100 --scale-connections '' \
      --duration $d --window 0 --no-plots --out /tmp/calls/out-$side-$d > /tmp/calls/log-$side-$d 2>&1)
    echo "$side $d done $(date -u +%T)" >> /tmp/calls/progress
  done
done
