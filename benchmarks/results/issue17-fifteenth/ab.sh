#!/bin/sh
# The fifteenth session's first figures, on a quiet machine: the peer against chatd at
# 100/250/500 sends/s, then the fourteenth session's start (ba0e9fa, a worktree with its own
# venv at $BASE) against its end (02e7049, $HEAD), alternated: connect+hello with 1,000 idle
# connections, and the send scenario's CPU per message at 100 and 250 sends/s. The thirteenth
# session's script does the runs; only the output differs.
OUT=${OUT:-/tmp/fifteenth} exec sh "$(dirname "$0")/../issue17-thirteenth/ab.sh"
