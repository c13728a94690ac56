#!/usr/bin/python3
"""Judges embp's vectors for one precision plan against simulate_plan.py's simulation of that
plan and against the float64 fp32 reference; exits 1 naming the sentence when a bound fails.

  compare_plan.py NAME STORAGE COMPUTE EMBP.jsonl SIM.jsonl FP32.jsonl

d_sim = 1 - cos(embp, simulation), d_f32 = 1 - cos(embp, fp32), per sentence.

Where the bounds come from. Both sides round the same fp32 weights with the same documented
rule, so the weights agree bit for bit; the only other difference is fp32 (embp) against
float64 (simulation) arithmetic, which alone gives d ~ 4e-14 (fp32 plan vs reference_embed.py
on MiniLM-shaped fixtures). A rounded *activation* can still land on the other side of a
rounding boundary when that noise straddles it (a "flip"), and a flip moves later layers, so:
  compute fp32 (fp16/bf16 storage: weights rounded, activations not): nothing can flip, every
      sentence d_sim <= 1e-12 (25x the fp32 floor; d_f32 is 1e-8 for fp16, 1e-6 for bf16).
  compute int8: a flip needs the noise (~1e-7 of max|x|) within reach of a boundary 1/127 of
      max|x| apart, ~1e-5 of the activations; about half the sentences see none (measured:
      9 to 13 of 20 exact), the others one step on a few values. Each sentence d_sim <=
      d_f32 / 2 and mean d_sim <= mean d_f32 / R (measured on MiniLM shapes: int8 31x from a
      quantized folder, 48x quantized at load; int4/int8 4800x).
  compute bf16: every GEMM input is rounded to 8 bits, so flips (~1e-3 of the values) happen
      in every sentence and cascade; their energy is bounded by the activation rounding's own
      share of d_f32 (the weights' share cannot flip). Each sentence d_sim <= d_f32 / 4 and
      mean d_sim <= mean d_f32 / R (measured: bf16/bf16 14x, fp16/bf16 17x, int4/bf16 40000x,
      where the int4 weights dominate d_f32).
R is a third of the lowest measured ratio or less, rounded down: int8 10, int4/int8 1000, bf16
and fp16 storage with bf16 compute 4, int4/bf16 5000. A wrong zero point, scale, group, rounding
mode or nibble order moves d_sim to d_f32's size or beyond: every bound fails."""
import json, sys
import numpy as np

name, storage, compute, got_p, sim_p, f32_p = sys.argv[1:7]
load = lambda p: [json.loads(l) for l in open(p) if l.strip()]
got, sim, f32 = load(got_p), load(sim_p), load(f32_p)
assert len(got) == len(sim) == len(f32) > 0, (len(got), len(sim), len(f32))


def dist(a, b):
    a, b = np.array(a["embedding"], np.float64), np.array(b["embedding"], np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    return 1.0 - float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


d_sim = np.array([dist(g, s) for g, s in zip(got, sim)])
d_f32 = np.array([dist(g, f) for g, f in zip(got, f32)])
texts = [g.get("text", "#%d" % i) for i, g in enumerate(got)]
mean_sim, mean_f32 = float(d_sim.mean()), float(d_f32.mean())
ratio = mean_f32 / mean_sim if mean_sim > 0 else float("inf")
exact = int((d_sim <= 1e-12).sum())
print("%-16s %s/%s: 1 - cos to the simulation: mean %.3g, max %.3g, %d of %d exact; to fp32: mean %.3g"
      " (%.0fx closer to the simulation)" % (name, storage, compute, mean_sim, d_sim.max(), exact,
                                             len(d_sim), mean_f32, ratio))
R = {("int8", "int8"): 10, ("int4", "int8"): 1000, ("int4", "bf16"): 5000}.get((storage, compute), 4)
fails = []
if not (np.isfinite(d_sim).all() and np.isfinite(d_f32).all()):
    fails.append("a vector is not finite")
elif compute == "fp32":
    fails += ["sentence %d %r: d_sim %.3g > 1e-12" % (i, texts[i], d) for i, d in enumerate(d_sim)
              if not d <= 1e-12]
else:
    per = 2 if compute == "int8" else 4
    fails += ["sentence %d %r: d_sim %.3g > d_f32 %.3g / %d" % (i, texts[i], d, f, per)
              for i, (d, f) in enumerate(zip(d_sim, d_f32)) if not d * per <= f]
    if not mean_sim * R <= mean_f32:
        fails.append("mean d_sim %.3g > mean d_f32 %.3g / %d" % (mean_sim, mean_f32, R))
if fails:
    print("FAIL: %s %s/%s does not compute what the plan documents:\n  %s" % (
        name, storage, compute, "\n  ".join(fails[:5])))
    sys.exit(1)
