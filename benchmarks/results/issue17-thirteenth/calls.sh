#!/bin/sh
# Python calls per message at 100 sends/s, the session's start (eac30eb, a worktree with its own
# venv at /work/wt-base) against its features merged (040b350, /work/main): a 20 s and a 60 s
# run each under cProfile (benchmarks/results/issue17-eighth/sitecustomize.py in /tmp/calls3),
# then ../issue17-eighth/calls.py SHORT LONG 4000.
for side in base head; do
  if [ $side = base ]; then dir=/work/wt-base; else dir=/work/main; fi
  for d in 20 60; do
    rm -f /tmp/calls3/prof-$side-$d.*
    (cd $dir && PYTHONPATH=/tmp/calls3 CPROF_OUT=/tmp/calls3/prof-$side-$d .venv/bin/python -m benchmarks run \
      --scenario send --servers chatd --loadgen node --rates 100 --scale-connections '' \
      --duration $d --window 0 --no-plots --out /tmp/calls3/out-$side-$d > /tmp/calls3/log-$side-$d 2>&1)
    echo "$side $d done $(date -u +%T)" >> /tmp/calls3/progress
  done
done
