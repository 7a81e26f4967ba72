#!/bin/sh
# The fifteenth session's end against its start, on a quiet machine after the final CI: the
# start (02e7049, a worktree with its own venv at $BASE) against the end ($HEAD), alternated:
# connect+hello with 1,000 idle connections, and the send scenario's CPU per message at 100
# and 250 sends/s, two rounds each. The thirteenth session's script does the runs, without its
# peer run (the spell was short); the figures are the end-*.log files here.
PEER=no OUT=${OUT:-/tmp/fifteenth-end} exec sh "$(dirname "$0")/../issue17-thirteenth/ab.sh"
