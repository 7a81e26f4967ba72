import os
import sys

if os.environ.get("CG_OUT") and "serve" in sys.argv and not os.environ.get("CG_INNER"):
    os.environ["CG_INNER"] = "1"
    out = os.environ["CG_OUT"]
    os.execvp("valgrind", ["valgrind", "--tool=callgrind", "--quiet",
                           f"--callgrind-out-file={out}.%p",
                           sys.executable, "-m", "chatd", *sys.argv[1:]])
