D=/work/main/benchmarks/results/issue17-eighth
for r in ba0e9fa 02e7049; do
  cd /work/wt-$r
  for d in 20 80; do
    PYTHONPATH=$D CPROF_OUT=/tmp/c25-$r-$d .venv/bin/python -m benchmarks run --scenario send --servers chatd --loadgen node --rates 25 --scale-connections '' --duration $d --window 0 --no-plots --out /tmp/c25-run-$r-$d > /tmp/c25-run-$r-$d.log 2>&1
  done
done
echo done > /tmp/c25.done
