"""sentence-transformers as the reference for embp on a real checkpoint.

As a program (tests/test_st_reference.sh runs it with the venv's Python):
    st_reference.py EMBP_BIN MODEL_DIR CORPUS.jsonl
embeds every text of the corpus with SentenceTransformer(MODEL_DIR).encode() in fp32 and
tokenizes it with HF `tokenizers` (truncated at the model's max_seq_length), then asks embp for
the same through the CLI (`embp tokenize`, `embp embed`) and the server (`embp serve`, batches
over HTTP), and fails unless embp's token ids are equal on every text and its vectors have
cosine >= COS_MIN and |difference| <= DIFF_MAX on every text.

As a module (bench/fidelity.py, bench/qwen3_long.py): the same reference and embp drivers
(from tests/refutil.py)."""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refutil import (Server, cosines, embp_embed, embp_tokenize, finish, hf_ids,  # noqa: E402
                     load_texts, st_encode, st_model)

COS_MIN = 0.99999
DIFF_MAX = 1e-4


def compare(name, ref, got, texts):
    """Prints the worst cosine and difference of got against ref; returns the failures."""
    cos = cosines(ref, got)
    diff = np.abs(ref - got).max(1)
    i, j = int(cos.argmin()), int(diff.argmax())
    print("%-30s %d texts: min cosine %.8f (text %d), max |diff| %.2e (text %d)"
          % (name, len(texts), cos[i], i, diff[j], j))
    bad = []
    for k in range(len(texts)):
        if not (cos[k] >= COS_MIN and diff[k] <= DIFF_MAX):
            bad.append("%s: text %d %r: cosine %.8f, max |diff| %.2e"
                       % (name, k, texts[k][:60], cos[k], diff[k]))
    return bad


def main():
    binary, model_dir, corpus = sys.argv[1:4]
    texts = load_texts(corpus)
    model = st_model(model_dir)
    max_len = model.max_seq_length
    t0 = time.time()
    ref = st_encode(model, texts)
    ids = hf_ids(model_dir, max_len, texts)
    print("reference: sentence-transformers fp32 on %d texts in %.1f s (max_seq_length %d)"
          % (len(texts), time.time() - t0, max_len))
    # The reference agrees with itself: ST's own tokenizer gives HF tokenizers' ids.
    enc = model.tokenizer(texts, truncation=True, max_length=max_len)["input_ids"]
    for k, t in enumerate(texts):
        assert list(enc[k]) == ids[k], ("ST's tokenizer vs HF tokenizers", k, t[:60])
    assert any(len(i) == max_len for i in ids), "no text reaches max_seq_length"
    empty = [k for k, i in enumerate(ids) if len(i) == 2]
    print("texts truncated at %d: %d; [CLS][SEP] only: %d"
          % (max_len, sum(len(i) == max_len for i in ids), len(empty)))

    failures = []
    got_ids = embp_tokenize(binary, model_dir, texts)
    for k, (a, b) in enumerate(zip(ids, got_ids)):
        if a != b:
            failures.append("tokenize: text %d %r: embp %s..., HF tokenizers %s..."
                            % (k, texts[k][:60], b[:12], a[:12]))
    print("embp tokenize: ids equal on %d of %d texts" % (len(texts) - len(failures), len(texts)))

    cli, log = embp_embed(binary, model_dir, texts)
    if "DEMO" in log:
        failures.append("embp embed says the model is a demo")
    failures += compare("embp embed (CLI)", ref, cli, texts)

    srv = Server(binary, model_dir)
    try:
        name = srv.get("/v1/models")["data"][0]["id"]
        # The API refuses "" (400, as OpenAI does); every other text goes over HTTP.
        keep = [k for k, t in enumerate(texts) if t]
        sub, sref = [texts[k] for k in keep], ref[keep]
        whole = srv.embed(sub, model=name)  # one request: the batcher splits and packs it
        parts = np.concatenate([srv.embed(sub[k:k + 64]) for k in range(0, len(sub), 64)])
        failures += compare("embp serve, one request", sref, whole, sub)
        failures += compare("embp serve, requests of 64", sref, parts, sub)
    finally:
        srv.stop()

    finish(failures)


if __name__ == "__main__":
    main()
