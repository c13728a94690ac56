#!/usr/bin/python3
"""Start-up time of a server: waits until URL answers 200 and prints the seconds from T0_NS to
that answer. T0_NS is the caller's wall-clock reading in nanoseconds (`date +%s%N`) taken just
before it executed the server, so the figure runs from exec to a healthy /health (loading,
packing, warm-up and, for `auto`, the fidelity measurement all inside). Polls every 2 ms over a
fresh connection each time (the standard library: no client start-up per poll, as curl would
add). Exits 1, printing why, when PID exits first or TIMEOUT seconds pass.

    wait_health.py URL T0_NS [--pid PID] [--timeout 120]"""
import argparse
import os
import sys
import time
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("t0_ns", type=int)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    while True:
        try:
            with urllib.request.urlopen(a.url, timeout=5) as r:
                if r.status == 200:
                    print("%.3f" % ((time.time_ns() - a.t0_ns) / 1e9))
                    return 0
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if a.pid and not os.path.exists("/proc/%d" % a.pid):
            print("wait_health: the server (pid %d) exited before %s answered" % (a.pid, a.url),
                  file=sys.stderr)
            return 1
        if time.time_ns() - a.t0_ns > a.timeout * 1e9:
            print("wait_health: %s did not answer 200 within %g s" % (a.url, a.timeout),
                  file=sys.stderr)
            return 1
        time.sleep(0.002)


if __name__ == "__main__":
    sys.exit(main())
