#!/bin/sh
# The fourteenth session's first figures, on a quiet machine: the peer against chatd at
# 100/250/500 sends/s, then the thirteenth session's start (eac30eb, a worktree with its own
# venv at $BASE) against its end (ba0e9fa, $HEAD), alternated: connect+hello with 1,000 idle
# connections, and the send scenario's CPU per message at 100 and 250 sends/s. The same runs
# as the thirteenth session's script, which takes BASE, HEAD and OUT: only the output differs.
# (Rounds 3 and 4 of the README's table were its send runs again, by hand.)
OUT=${OUT:-/tmp/fourteenth} exec sh "$(dirname "$0")/../issue17-thirteenth/ab.sh"
