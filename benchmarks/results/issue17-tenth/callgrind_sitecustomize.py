"""Copied as ``sitecustomize.py`` into a directory on PYTHONPATH: with CG_OUT set, the process
of ``python -m chatd serve`` runs itself again under callgrind (see benchmarks/README.md)."""
import os
import sys

if os.environ.get("CG_OUT") and "serve" in sys.argv and not os.environ.get("CG_INNER"):
    os.environ["CG_INNER"] = "1"
    out = os.environ["CG_OUT"]
    os.execvp("valgrind", ["valgrind", "--tool=callgrind", "--quiet",
                           f"--callgrind-out-file={out}.%p",
                           sys.executable, "-m", "chatd", *sys.argv[1:]])
