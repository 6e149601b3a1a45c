#!/usr/bin/env python3
"""decode-trace.py: where the fused decode layer's time goes, from its trace.

    VTP_KERNEL_DEFINES=-DDL_TRACE=1 vtp-bench-llm -m MODEL -p 1 -n 64 -r 1 \\
        > trace.txt
    bench/decode-trace.py trace.txt [--tsc-mhz F] [--skip N]

With -DDL_TRACE=1 every work-item of the fused layer (decode-layer.cl)
prints, per product step, the time stamp counter's ticks of its runs
("work") and of its wait after them, and the bytes of weights its runs
read; per launch its first and last stamps. This sums them: per step the
rate each work-item read at while it ran, the waits, the time outside the
products (norms, RoPE, attention, SiLU), and between launches the gap from
one layer's last work-item out to the next layer's first in, and the skew
between the work-items' starts (the later one's wake-up). Gaps over 300 us
are counted as token boundaries (the head, the argmax, the host's loop)
when a launch is a layer ($VTP_DECODE_TOKEN=0); when it is a whole decode
step (the default, with the head as step 11 where it fits), every gap is
one (the argmax, the next embedding, the host's loop).

--tsc-mhz: the stamp counter's rate (default: /proc/cpuinfo's "cpu MHz",
which is the counter's rate on CPUs with a constant TSC; check dmesg's
"tsc: Detected" line on others). --skip: launches to leave out at the start
(default 0; vtp-bench-llm's two untimed warm-up tokens are --skip 2 with
a launch a step, --skip 44 with a launch a layer of the 22-layer 1.1B).
"""
import argparse
import re
import statistics
import sys

STEPS = {1: "q|k|v", 5: "o", 7: "gate|up", 9: "down", 11: "head"}
STEP_RE = re.compile(r"vtp-dl-step wi=(\d+) step=(\d+) work=(\d+) wait=(\d+) bytes=(\d+)")
LAUNCH_RE = re.compile(r"vtp-dl-launch wi=(\d+) start=(\d+) end=(\d+)")
WRAP = 1 << 32


def cpu_mhz():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1])
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace", nargs="?", default="-")
    ap.add_argument("--tsc-mhz", type=float, default=None)
    ap.add_argument("--skip", type=int, default=0)
    a = ap.parse_args()
    mhz = a.tsc_mhz or cpu_mhz()
    if not mhz:
        sys.exit("decode-trace.py: no --tsc-mhz and no cpu MHz in /proc/cpuinfo")
    us = 1.0 / mhz                      # microseconds a tick

    # Launches in order; a launch's step lines come before its launch line
    # from the same work-item.
    launches, pending, cur = [], {}, {}
    f = sys.stdin if a.trace == "-" else open(a.trace)
    for line in f:
        m = STEP_RE.search(line)
        if m:
            wi, step, work, wait, nbytes = map(int, m.groups())
            pending.setdefault(wi, []).append((step, work, wait, nbytes))
            continue
        m = LAUNCH_RE.search(line)
        if m:
            wi, start, end = map(int, m.groups())
            if wi in cur:               # this work-item's next launch: the last one is complete
                launches.append(cur)
                cur = {}
            cur[wi] = (start, end, pending.pop(wi, []))
    if cur:
        launches.append(cur)
    launches = launches[a.skip:]
    if len(launches) < 2:
        sys.exit("decode-trace.py: fewer than 2 launches traced (built with -DDL_TRACE=1?)")

    nwi = max(len(l) for l in launches)
    work, wait, nbytes = {}, {}, {}
    total = {}
    for l in launches:
        for wi, (start, end, steps) in l.items():
            total[wi] = total.get(wi, 0) + (end - start) % WRAP
            for step, w, t, b in steps:
                work[(step, wi)] = work.get((step, wi), 0) + w
                wait[(step, wi)] = wait.get((step, wi), 0) + t
                nbytes[(step, wi)] = nbytes.get((step, wi), 0) + b

    print(f"{len(launches)} launches, {nwi} work-items, stamp counter {mhz:.0f} MHz")
    print("step       share of launch  read GB/s a work-item (each)  wait share")
    launch_time = sum(total.values())
    for step, name in STEPS.items():
        keys = [k for k in work if k[0] == step]
        if not keys:
            continue
        w = sum(work[k] for k in keys)
        t = sum(wait[k] for k in keys)
        rates = " ".join(f"{nbytes[k] / (work[k] * us * 1e3):.1f}" for k in sorted(keys) if work[k])
        print(f"{step} {name:8s} {100 * (w + t) / launch_time:14.1f}%  {rates:28s} {100 * t / launch_time:9.1f}%")
    w_all = sum(work.values())
    t_all = sum(wait.values())
    b_all = sum(nbytes.values())
    print(f"products {100 * w_all / launch_time:.1f}% of the launches' time, waits after them "
          f"{100 * t_all / launch_time:.1f}%, the other steps {100 * (launch_time - w_all - t_all) / launch_time:.1f}%")
    print(f"weights read while the products ran: {b_all / (w_all * us * 1e3 / nwi):.1f} GB/s "
          f"(all work-items; {b_all / len(launches) / 1e6:.2f} MB a launch)")

    gaps, skews, boundaries = [], [], []
    for prev, nxt in zip(launches, launches[1:]):
        last_out = max(e for s, e, _ in prev.values())
        starts = sorted(s for s, e, _ in nxt.values())
        gap = (starts[0] - last_out) % WRAP * us
        (boundaries if gap > 300 else gaps).append(gap)
        if len(starts) > 1:
            skews.append((starts[-1] - starts[0]) % WRAP * us)
    durations = [max((e - s) % WRAP for s, e, _ in l.values()) * us for l in launches]
    print(f"launch: median {statistics.median(durations):.0f} us; gap to the next launch median "
          f"{statistics.median(gaps):.1f} us, mean {statistics.mean(gaps):.1f} ({len(gaps)} gaps); "
          f"work-items' start skew median {statistics.median(skews):.1f} us" if gaps and skews else "")
    if boundaries:
        print(f"token boundaries (gaps over 300 us): {len(boundaries)}, median {statistics.median(boundaries):.0f} us")
    if any(step == 11 for l in launches for _, _, st in l.values() for step, *_ in st):
        print(f"(launches of a whole step: every gap is a token boundary, median "
              f"{statistics.median(gaps + boundaries):.0f} us)")


if __name__ == "__main__":
    main()
