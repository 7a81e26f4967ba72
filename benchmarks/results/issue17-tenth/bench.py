"""``python -m benchmarks ...`` with the daemon's start and stop timeouts long enough for
callgrind."""
import sys

from benchmarks import infra
from benchmarks.run import main

infra.Daemon.start.__defaults__ = (900.0,)
infra.Daemon.stop.__defaults__ = (300.0,)
sys.argv[0] = "benchmarks"
sys.exit(main())
