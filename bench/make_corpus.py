#!/usr/bin/python3
"""Writes the mixed-length benchmark corpus: N lines of English-like text whose token counts
follow a long tail (most 5-40 tokens, a few up to ~256), the shape of real embedding traffic
(queries and passages mixed). Deterministic for a given seed.

  make_corpus.py OUT [--n 2048] [--seed 7]"""
import argparse, random

WORDS = ("the of and to in is was for on that with as by at from his an were are which this be "
         "has had one their its new after who they have two her she been other when there all "
         "during into school time may years more most only over city some world would where "
         "later up such used many can state about national out known university united then "
         "made first team american embedding vector search retrieval model server latency "
         "throughput precision quantization memory token sentence passage query document").split()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(a.out, "w") as f:
        for _ in range(a.n):
            words = max(3, min(250, int(rng.lognormvariate(3.0, 0.9))))
            line = " ".join(rng.choice(WORDS) for _ in range(words))
            f.write(line[0].upper() + line[1:] + ".\n")

if __name__ == "__main__":
    main()
