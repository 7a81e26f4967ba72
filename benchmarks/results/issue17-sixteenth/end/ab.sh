OUT=/tmp/end16; mkdir -p $OUT
for round in 1 2; do
  if [ $round = 1 ]; then order="base head"; else order="head base"; fi
  for side in $order; do
    if [ $side = base ]; then dir=/work/wt-base; else dir=/work/main; fi
    (cd $dir && .venv/bin/python -m benchmarks run --scenario send --servers chatd --loadgen node \
      --rates 100,250 --scale-connections '' --duration 20 --window 0 --no-plots \
      --out $OUT/send-$side-$round > $OUT/send-$side-$round.log 2>&1)
    echo "$side-$round $(date -u +%T) $(cat /proc/loadavg)" >> $OUT/progress
  done
done
