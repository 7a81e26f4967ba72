import os
import sys


def _start() -> None:
    import atexit
    import cProfile
    prof = cProfile.Profile()
    out = os.environ["CPROF_OUT"] + f".{os.getpid()}"

    def dump() -> None:
        prof.disable()
        prof.dump_stats(out)
    atexit.register(dump)
    prof.enable()


if os.environ.get("CPROF_OUT") and "serve" in sys.argv:
    _start()
