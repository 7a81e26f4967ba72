#!/usr/bin/env bash
# Alternate base/new under callgrind: instructions per message in a 60 s window at 10 sends/s.
cd /tmp/cg  # holding sitecustomize.py (callgrind_sitecustomize.py), window.sh, bench.py
for round in 1 2; do
  for arm in base new; do
    dir=/work/main; [ $arm = base ] && dir=/work/wt-base
    label=$arm-$round
    (cd $dir && CG_OUT=/tmp/cg/run/$label PYTHONPATH=/tmp/cg:$dir timeout 1500 .venv/bin/python /tmp/cg/bench.py run --scenario send --servers chatd --loadgen node --rates 10 --connections 200 --rooms 20 --scale-connections '' --duration 150 --window 0 --no-plots --out /tmp/cg/run/$label.json > /tmp/cg/run/$label.log 2>&1) &
    bench=$!
    /tmp/cg/window.sh $label 60 > /tmp/cg/run/$label.window 2>&1
    wait $bench
    f=$(ls /tmp/cg/run/$label.*.1 2>/dev/null | head -1)
    echo "$label $(tail -1 /tmp/cg/run/$label.window) $(grep '^totals:' $f)" >> /tmp/cg/run/summary.txt
  done
done
echo done >> /tmp/cg/run/summary.txt
