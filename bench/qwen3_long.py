"""Long inputs on a Qwen3: peak RSS and time of one input of 1k, 2k, 4k and 8k tokens.

    qwen3_long.py EMBP_BIN WORK_DIR SOURCE_DIR [--model DIR] [--lengths 1024,8192]
                  [--precision fp32]

--model runs an existing Qwen3 folder instead (the 0.6B one of bench/qwen3.sh): WORK_DIR gets a
folder of links to its files with its own sentence_bert_config.json (max_seq_length the longest
length), so the 2.4 GB of weights are neither copied nor written; the reference check is skipped
(transformers on 8k tokens at 0.6B is the slow half of tests/qwen3_reference.py --real).

A small random Qwen3Model (tests/qwen3_reference.py's, max_position_embeddings 8192) embedded by
`embp embed` with --max-context-length L on one text cut at L tokens; /usr/bin/time gives the
peak RSS (the forward's scratch is reserved for 8192 tokens, but only the pages a pass touches
count). Attention is blocked
(model/attend.c), so the growth from one length to the next is the activations' L x (hidden +
qkv + 3 intermediate) floats, linear, not an L x L matrix per head (8 heads x 8192^2 x 4 bytes =
2 GiB). The 8k vector is also checked against sentence-transformers (fp32 cosine)."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from qwen3_reference import SMALL, corpus, make_model, qwen_tokenizer, st_folder  # noqa: E402
from st_reference import cosines, st_encode, st_model  # noqa: E402


def linked_folder(model, path, max_len):
    """A folder of links to model's files, its own sentence_bert_config.json allowing max_len."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(model):
        if name != "sentence_bert_config.json" and not os.path.exists(os.path.join(path, name)):
            os.symlink(os.path.join(os.path.abspath(model), name), os.path.join(path, name))
    with open(os.path.join(path, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": max_len, "do_lower_case": False}, f)


def option(args, key, default):
    return args[args.index(key) + 1] if key in args else default


def main():
    binary, work, src = sys.argv[1:4]
    args = sys.argv[4:]
    lengths = [int(x) for x in option(args, "--lengths", "1024,2048,4096,8192").split(",")]
    precision = option(args, "--precision", "fp32")
    given = option(args, "--model", None)
    os.makedirs(work, exist_ok=True)
    texts = corpus(src)
    if given:
        from transformers import PreTrainedTokenizerFast
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(given, "tokenizer.json"))
        path = os.path.join(work, "qwen3-long")
        linked_folder(given, path, max(lengths))
    else:
        tok = qwen_tokenizer(texts, 2000)
        path = os.path.join(work, "qwen3-8k")
        st_folder(path, make_model(dict(SMALL, max_position_embeddings=8192), len(tok)), tok,
                  8192)
    long_text = " ".join(t.replace("\n", " ").replace("\r", " ") for t in texts)
    while len(tok(long_text)["input_ids"]) <= max(lengths):
        long_text += " " + long_text
    n_tok = len(tok(long_text)["input_ids"])
    assert n_tok > max(lengths), n_tok
    print("load average before: %s" % open("/proc/loadavg").read().strip(), flush=True)
    rows = []
    for L in lengths:
        argv = ["/usr/bin/time", "-f", "%M %e %U", binary, "embed", "--model", path,
                "--max-context-length", str(L), "--precision", precision,
                "--fidelity-cache", "off"]
        r = subprocess.run(argv, input=long_text + "\n", capture_output=True, text=True)
        if r.returncode:
            sys.exit("embp embed at %d tokens: %s" % (L, r.stderr[-500:]))
        rss_kb, sec, cpu = r.stderr.strip().split("\n")[-1].split()
        rows.append((L, int(rss_kb) / 1024, float(sec), float(cpu)))
        if L == 8192:
            got = json.loads(r.stdout.strip().split("\n")[0])["embedding"]
        print("  %d tokens: %.0f MiB, %s s wall, %s s user" % (L, rows[-1][1], sec, cpu),
              flush=True)
    print("load average after: %s" % open("/proc/loadavg").read().strip())
    print("| tokens | peak RSS (MiB) | growth per 1k tokens (MiB) | wall s | user CPU s |")
    print("|---:|---:|---:|---:|---:|")
    for i, (L, mb, sec, cpu) in enumerate(rows):
        per = "" if i == 0 else "%.1f" % ((mb - rows[i - 1][1]) / ((L - rows[i - 1][0]) / 1024))
        print("| %d | %.0f | %s | %.1f | %.1f |" % (L, mb, per, sec, cpu))
    if given or 8192 not in lengths or precision != "fp32":
        return
    model = st_model(path)
    model.max_seq_length = 8192
    t0 = time.time()
    ref = st_encode(model, [long_text])
    import numpy as np
    c = cosines(ref, np.array([got], dtype=np.float32))[0]
    print("8192 tokens: embp fp32 vs sentence-transformers cosine %.7f (reference %.1f s)"
          % (c, time.time() - t0))


if __name__ == "__main__":
    main()
