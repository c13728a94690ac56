"""Loading a Qwen3 folder per plan: wall time, CPU time and peak RSS of `embp embed` on one short
text (the load and one 2-token pass) and of `embp serve` until it listens (the load plus the
server's warm-up), for one or more embp binaries in one run (before/after a change).

    qwen3_load.py MODEL_DIR EMBP_BIN [EMBP_BIN ...] [--threads N] [--plans fp32,bf16,...]
                  [--repeats N] [--embed-only]

Peak RSS is the kernel's high-water mark (/usr/bin/time's %M for embed, VmHWM of the server when
it logs "listening"), so it counts the weight file's pages the process held at once; it is not
disturbed by other load on the machine, the times are. The CPU time is user + system of the
process. Each row is the best of --repeats runs (default 1). Prints a markdown table and the load
average before and after."""
import os
import re
import subprocess
import sys
import time

PLANS = {"fp32": ["--precision", "fp32"], "bf16": ["--precision", "bf16"],
         "int8": ["--precision", "int8"],
         "int4 g32": ["--precision", "int4", "--quant-group-size", "32"]}


def embed_run(binary, model, flags, threads):
    """(wall s, CPU s, peak RSS MiB) of `embp embed` on one 2-token text."""
    argv = ["/usr/bin/time", "-f", "%e %U %S %M", binary, "embed", "--model", model,
            "--fidelity-cache", "off", "--threads", str(threads)] + flags
    r = subprocess.run(argv, input="x\n", capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr[-1000:])
    wall, user, sys_, rss = r.stderr.strip().split("\n")[-1].split()
    return float(wall), float(user) + float(sys_), int(rss) / 1024


def proc_cpu_s(pid):
    """user + system CPU seconds of a live process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_hwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def serve_run(binary, model, flags, threads):
    """(wall s, CPU s, peak RSS MiB) of `embp serve` from start until it logs that it listens."""
    argv = [binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
            "--fidelity-cache", "off", "--threads", str(threads)] + flags
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:
            if "listening on" in line:
                wall = time.time() - t0
                return wall, proc_cpu_s(p.pid), proc_hwm_mib(p.pid)
        raise RuntimeError("embp serve exited before listening (%s)" % p.wait())
    finally:
        p.terminate()
        p.wait()


def best(runs):
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def main():
    args = sys.argv[1:]
    embed_only = "--embed-only" in args
    args = [a for a in args if a != "--embed-only"]
    opts = {}
    for key in ("--threads", "--plans", "--repeats"):
        if key in args:
            i = args.index(key)
            opts[key] = args[i + 1]
            del args[i:i + 2]
    model, binaries = args[0], args[1:]
    threads = int(opts.get("--threads", os.cpu_count()))
    plans = opts["--plans"].split(",") if "--plans" in opts else list(PLANS)
    repeats = int(opts.get("--repeats", 1))
    weights = sum(os.path.getsize(os.path.join(model, f)) for f in os.listdir(model)
                  if f.endswith(".safetensors"))
    print("model %s (%.0f MiB of weight files), %d threads; load average before: %s"
          % (model, weights / 2**20, threads, open("/proc/loadavg").read().strip()))
    print("| binary | plan | embed: wall s | CPU s | peak RSS MiB | serve ready: wall s | CPU s "
          "| peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in plans:
        for b in binaries:
            e = best([embed_run(b, model, PLANS[name], threads) for _ in range(repeats)])
            s = (float("nan"),) * 3 if embed_only else \
                best([serve_run(b, model, PLANS[name], threads) for _ in range(repeats)])
            print("| %s | %s | %.1f | %.1f | %.0f | %.1f | %.1f | %.0f |"
                  % ((b, name) + e + s), flush=True)
    print("load average after: %s" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
