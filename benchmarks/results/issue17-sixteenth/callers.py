import pstats, sys
short = pstats.Stats(sys.argv[1]).stats; long = pstats.Stats(sys.argv[2]).stats; n = float(sys.argv[3])
pat = sys.argv[4]
rows = sorted((((v[1] - short.get(k, (0,0,0,0,{}))[1]) / n, k) for k, v in long.items()), reverse=True)
for c, k in rows:
    if pat in k[0] and c >= 0.5:
        # callers
        callers = long[k][4]
        top = sorted(((cv[1] - short.get(k,(0,0,0,0,{}))[4].get(ck,(0,0))[1]) / n, ck) for ck, cv in callers.items())[-3:]
        who = "; ".join(f"{cn:.1f} {ck[2]}@{ck[0].split('/')[-1]}:{ck[1]}" for cn, ck in reversed(top))
        print(f"{c:6.2f} {k[2]} {'/'.join(k[0].split('/')[-2:])}:{k[1]}  <- {who}")
