"""Sample user and system CPU of the chatd daemon and the socket.io peer during a benchmark;
report the split over each process's middle (from 20 s after first seen to 3 s before last)."""
import os, sys, time
TCK = os.sysconf("SC_CLK_TCK")
def find():
    out = {}
    for e in os.listdir("/proc"):
        if not e.isdigit(): continue
        try:
            cmd = open(f"/proc/{e}/cmdline","rb").read().replace(b"\0", b" ").decode()
        except OSError: continue
        if " serve" in cmd and "chatd" in cmd and "python" in cmd: out[int(e)] = "chatd"
        elif cmd.startswith("node server.js"): out[int(e)] = "peer"
    return out
def stat(pid):
    t = open(f"/proc/{pid}/stat").read(); f = t[t.rfind(")")+2:].split()
    return int(f[11])/TCK, int(f[12])/TCK
series = {}
end = time.time() + float(sys.argv[1])
while time.time() < end:
    for pid, name in find().items():
        try: u, s = stat(pid)
        except OSError: continue
        series.setdefault((pid, name), []).append((time.time(), u, s))
    time.sleep(0.5)
for (pid, name), pts in series.items():
    t0 = pts[0][0] + 20; t1 = pts[-1][0] - 3
    mid = [p for p in pts if t0 <= p[0] <= t1]
    if len(mid) < 2: continue
    a, b = mid[0], mid[-1]
    du, ds = b[1]-a[1], b[2]-a[2]
    print(name, pid, f"window {b[0]-a[0]:.0f}s user {du:.2f} sys {ds:.2f} sys share {ds/max(du+ds,1e-9):.2f}")
