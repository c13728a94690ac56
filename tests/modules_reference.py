"""sentence-transformers' module stack and prompts as the reference for embp.

As a program (tests/test_modules_reference.sh runs it with the venv's Python):
    modules_reference.py EMBP_BIN WORK_DIR SOURCE_DIR
builds small randomly initialized models with sentence-transformers' own classes (Transformer,
Pooling, Dense, Normalize) and saves them with SentenceTransformer.save, so the folders are
exactly what sentence-transformers writes:
  bert  BertModel + a trained WordPiece (cased, do_lower_case true), weightedmean pooling with
        include_prompt false, Dense(64 -> 48, Tanh), Dense(48 -> 40, Identity, no bias),
        Normalize; e5 prompts {"query": "query: ", "passage": "passage: "},
        default_prompt_name "query"; max_seq_length 24 so prompts count in truncation
  e5    XLMRobertaModel + a SentencePiece Unigram, mean pooling (include_prompt true),
        Normalize, the e5 prompts without a default (multilingual-e5's layout)
then embeds a corpus with SentenceTransformer.encode(texts, prompt_name=..., prompt=...) and
with embp (`embp embed --prompt-name/--prompt`, `embp serve` with "prompt_name"/"prompt" and
EMB_PROVIDER_DEFAULT_PROMPT_NAME on /v1/embeddings and on TEI's /embed), and fails unless every
vector has cosine >= COS_MIN; token ids with a prompt give sentence-transformers' vector of
their decoded text with that prompt (TEI's rule); TEI's /tokenize with prompt_name gives HF's
ids of the prompted text with byte offsets into it. The
other pooling modes (cls, mean, max, mean_sqrt_len_tokens, lasttoken), each with include_prompt
false, run over the CLI on the bert model. The error paths: an unknown prompt_name (HTTP 400 and
the CLI naming the known names), a default prompt name the model lacks (the load fails naming
them), a Dense module saved as pytorch_model.bin only (the load fails naming the file)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arch_reference import spm_tokenizer  # noqa: E402
from refutil import (CORPUS_FILES, Server, corpus_lines, cosines, embp_embed,  # noqa: E402
                     finish, randomize)

COS_MIN = 0.99999
MAX_SEQ = 24
PROMPTS = {"query": "query: ", "passage": "passage: "}


def corpus(src):
    """The tokenizers' training text, and the texts embedded (a part of it, and a few more)."""
    lines = corpus_lines(src, CORPUS_FILES[:2])
    extra = ["How do I Bake Bread?", "Paris is the Capital of France.", "x",
             "a long text " * 30, "QUERY: shouting already", "Émile Zola wrote Germinal"]
    return lines, list(dict.fromkeys(lines[:40] + extra))


def wordpiece(texts):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import trainers
    from transformers import BertTokenizerFast
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)  # cased: do_lower_case shows
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts * 3, trainers.WordPieceTrainer(vocab_size=800,
                                                                 special_tokens=special))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                             cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                             do_lower_case=False)


def st_model(hf_dir, pooling, include_prompt, dense, default_prompt, lower_case=False):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (Dense, Normalize, Pooling,
                                                                    Transformer)
    tr = Transformer(hf_dir, max_seq_length=MAX_SEQ, do_lower_case=lower_case)
    dim = tr.get_embedding_dimension()
    mods = [tr, Pooling(dim, pooling_mode=pooling, include_prompt=include_prompt)]
    torch.manual_seed(1)
    for d_in, d_out, bias, act in dense:
        mods.append(Dense(d_in, d_out, bias=bias, activation_function=act))
        with torch.no_grad():
            mods[-1].linear.weight.normal_(0.0, 0.3)
    mods.append(Normalize())
    return SentenceTransformer(modules=mods, prompts=dict(PROMPTS),
                               default_prompt_name=default_prompt, device="cpu")


def make_models(work, texts):
    import torch
    import transformers as tf
    out = {}
    wp = wordpiece(texts)
    torch.manual_seed(0)
    bert = tf.BertModel(tf.BertConfig(vocab_size=len(wp), hidden_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, intermediate_size=128,
                                      max_position_embeddings=64, initializer_range=0.1)).eval()
    randomize(bert)
    hf = os.path.join(work, "bert_hf")
    bert.save_pretrained(hf, safe_serialization=True)
    wp.save_pretrained(hf)
    dense = [(64, 48, True, torch.nn.Tanh()), (48, 40, False, torch.nn.Identity())]
    out["bert"] = st_model(hf, "weightedmean", False, dense, "query", lower_case=True)
    uni = spm_tokenizer(work, texts)
    torch.manual_seed(0)
    xlmr = tf.XLMRobertaModel(tf.XLMRobertaConfig(
        vocab_size=len(uni), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=MAX_SEQ + 2, pad_token_id=1,
        type_vocab_size=1, layer_norm_eps=1e-5, initializer_range=0.1)).eval()
    randomize(xlmr)
    hf = os.path.join(work, "e5_hf")
    xlmr.save_pretrained(hf, safe_serialization=True)
    uni.save_pretrained(hf)
    out["e5"] = st_model(hf, "mean", True, [], None)
    paths = {}
    for name, model in out.items():
        paths[name] = os.path.join(work, name)
        model.save(paths[name])
    return out, paths


def encode(model, texts, **kw):
    return np.asarray(model.encode(texts, batch_size=16, convert_to_numpy=True, **kw),
                      dtype=np.float32)


def check(name, ref, got, texts, failures):
    cos = cosines(ref, got)
    i = int(cos.argmin())
    print("%-52s %d texts: min cosine %.8f (text %d)" % (name, len(texts), cos[i], i))
    failures += ["%s: text %d %r: cosine %.8f" % (name, k, texts[k][:50], cos[k])
                 for k in range(len(texts)) if not cos[k] >= COS_MIN]


def tei_vectors(srv, texts, **kw):
    """TEI's POST /embed (normalize true, its default: these models end in Normalize)."""
    status, body = srv.post("/embed", dict(inputs=texts, **kw))
    assert status == 200, (status, body)
    return np.array(body, dtype=np.float32)


def check_tei_tokenize(srv, name, model, texts, failures):
    """TEI's POST /tokenize with prompt_name: the ids of the prompted text (HF's tokenizer), each
    token's byte offsets into it and "text" the slice there (TEI's into_tokens)."""
    tok = model.tokenizer
    for t in texts[:20]:
        status, body = srv.post("/tokenize", {"inputs": t, "prompt_name": "query"})
        full = PROMPTS["query"] + t
        enc = tok(full, return_offsets_mapping=True, return_special_tokens_mask=True)
        raw = full.encode()
        want = []
        for i, (a, b), sp in zip(enc["input_ids"], enc["offset_mapping"],
                                 enc["special_tokens_mask"]):
            ba, bb = len(full[:a].encode()), len(full[:b].encode())
            want.append((i, bool(sp), None if sp else ba, None if sp else bb,
                         None if sp else raw[ba:bb].decode()))
        got = [(d["id"], d["special"], d["start"], d["stop"], None if d["special"] else d["text"])
               for d in body[0]] if status == 200 else None
        if got != want:
            failures.append("%s: /tokenize prompt_name query %r: %d %s, expected %s"
                            % (name, t, status, got, want))
            return
    print("%s: TEI /tokenize prompt_name query, 20 texts: ids, byte offsets and texts as HF's"
          % name)


def check_prompted_ids(srv, name, model, texts, failures):
    """Token ids with a prompt, as TEI takes them: decoded (special tokens skipped, by HF's
    Rust tokenizer as TEI's decode) and embedded as that text with the prompt; over
    /v1/embeddings, TEI's /embed, and a TEI batch mixing a text and ids. The ids are whole
    texts' (with their special tokens), many longer than max_seq_length: the prompt's text is
    cut after decoding, as TEI cuts it."""
    tok = model.tokenizer
    ids = [tok(t)["input_ids"] for t in texts[:16]]
    decoded = [tok.backend_tokenizer.decode(i, skip_special_tokens=True) for i in ids]
    for kw in (dict(prompt_name="query"), dict(prompt="Represent: ")):
        ref = encode(model, decoded, **kw)
        check("%s: HTTP token ids %s" % (name, json.dumps(kw)), ref, srv.embed(ids, **kw),
              decoded, failures)
        check("%s: TEI /embed token ids %s" % (name, json.dumps(kw)), ref,
              tei_vectors(srv, ids, **kw), decoded, failures)
    mixed = [texts[0], ids[1]]
    check("%s: TEI /embed [text, ids] prompt_name query" % name,
          encode(model, [texts[0], decoded[1]], prompt_name="query"),
          tei_vectors(srv, mixed, prompt_name="query"), [texts[0], decoded[1]], failures)


def run_cli(binary, path, args, env=None):
    r = subprocess.run([binary, "embed", "--model", path, "--fidelity-cache", "off", *args],
                       capture_output=True, env=env)
    return r.returncode, r.stderr.decode()


def main():
    binary, work, src = sys.argv[1:4]
    train, texts = corpus(src)
    models, paths = make_models(work, train)
    failures = []
    # The prompts move the vectors beyond the tolerance, else this test could not tell a prompt
    # from none (a random XLM-R's mean-pooled vectors share a large constant part: few move far).
    for name, model in models.items():
        a, b = encode(model, texts, prompt_name="query"), encode(model, texts, prompt="")
        c = cosines(a, b)
        changed = float((c < COS_MIN).mean())
        print("%s: the query prompt moves %.0f%% of the vectors beyond the tolerance (cosine < "
              "%g; median %.4f)" % (name, 100 * changed, COS_MIN, float(np.median(c))))
        if changed < 0.8:
            failures.append("%s: the query prompt leaves %.0f%% of the vectors in place"
                            % (name, 100 * (1 - changed)))

    for name, model in models.items():
        path = paths[name]
        cases = [("--prompt-name query", ["--prompt-name", "query"], dict(prompt_name="query")),
                 ("--prompt-name passage", ["--prompt-name", "passage"],
                  dict(prompt_name="passage")),
                 ("--prompt 'Represent: '", ["--prompt", "Represent: "],
                  dict(prompt="Represent: ")),
                 ("--prompt '' (no prompt)", ["--prompt", ""], dict(prompt="")),
                 ("no prompt flag (the default)", [], {})]
        refs = {}
        for label, flags, kw in cases:
            refs[label] = encode(model, texts, **kw)
            got, _ = embp_embed(binary, path, texts, flags)
            check("%s: embp embed %s" % (name, label), refs[label], got, texts, failures)
        env = dict(os.environ, EMB_PROVIDER_DEFAULT_PROMPT_NAME="passage")
        srv = Server(binary, path)
        try:
            info = srv.get("/v1/models")["data"][0]["embp"]
            want_dim = model.get_embedding_dimension()
            if info["dim"] != want_dim or any(info["prompts"]["prompts"].get(k) != v
                                              for k, v in PROMPTS.items()):
                failures.append("%s: /v1/models says dim %s, prompts %s; expected %d, %s"
                                % (name, info["dim"], info["prompts"], want_dim, PROMPTS))
            for label, _, kw in cases:
                check("%s: HTTP %s" % (name, json.dumps(kw)), refs[label],
                      srv.embed(texts, **kw), texts, failures)
            # prompt wins over prompt_name (sentence-transformers ignores the name then)
            check("%s: HTTP prompt + prompt_name" % name, refs["--prompt 'Represent: '"],
                  srv.embed(texts, prompt="Represent: ", prompt_name="query"), texts,
                  failures)
            # TEI's /embed: prompt_name (TEI's), prompt (embp's), none (the default prompt)
            for label, _, kw in cases:
                check("%s: TEI /embed %s" % (name, json.dumps(kw)), refs[label],
                      tei_vectors(srv, texts, **kw), texts, failures)
            check_tei_tokenize(srv, name, model, texts, failures)
            status, body = srv.post("/v1/embeddings", {"input": ["x"], "prompt_name": "doc"})
            msg = body.get("error", {}).get("message", "")
            print("%s: HTTP prompt_name doc: %d %s" % (name, status, msg))
            if status != 400 or "'query'" not in msg or "'passage'" not in msg or \
                    body["error"].get("param") != "prompt_name":
                failures.append("%s: an unknown prompt_name got %d %s" % (name, status, body))
            check_prompted_ids(srv, name, model, texts, failures)
        finally:
            srv.stop()
        srv = Server(binary, path, ["--default-prompt-name", "passage"])
        try:
            check("%s: HTTP, server default passage" % name,
                  refs["--prompt-name passage"], srv.embed(texts), texts, failures)
        finally:
            srv.stop()
        rc, err = run_cli(binary, path, ["--prompt-name", "doc", "--text", "x"])
        print("%s: embp embed --prompt-name doc: exit %d: %s" % (name, rc, err.strip()))
        if rc == 0 or "'query'" not in err or "'passage'" not in err:
            failures.append("%s: --prompt-name doc did not fail naming the prompts" % name)
        env["EMB_PROVIDER_DEFAULT_PROMPT_NAME"] = "doc"
        rc, err = run_cli(binary, path, ["--text", "x"], env)
        print("%s: EMB_PROVIDER_DEFAULT_PROMPT_NAME=doc: exit %d: %s" % (name, rc, err.strip()))
        if rc == 0 or "'query'" not in err or "'passage'" not in err or \
                "EMB_PROVIDER_DEFAULT_PROMPT_NAME" not in err:
            failures.append("%s: a default prompt the model lacks did not fail the load" % name)

    # Every pooling mode with include_prompt false, on the bert model's folder.
    bert, path = models["bert"], paths["bert"]
    pool_cfg = os.path.join(path, "1_Pooling", "config.json")
    with open(pool_cfg) as f:
        saved = json.load(f)
    for mode in ("cls", "mean", "max", "mean_sqrt_len_tokens", "lasttoken"):
        bert[1].pooling_mode = mode
        with open(pool_cfg, "w") as f:
            json.dump(dict(saved, pooling_mode=mode), f)
        got, _ = embp_embed(binary, path, texts, ["--prompt-name", "passage"])
        check("bert, %s, include_prompt false, passage" % mode,
              encode(bert, texts, prompt_name="passage"), got, texts, failures)
    with open(pool_cfg, "w") as f:
        json.dump(saved, f)

    # A Dense module whose weights are only a PyTorch pickle fails, naming the file.
    import torch
    from safetensors.torch import load_file
    dense_dir = os.path.join(path, "2_Dense")
    torch.save(load_file(os.path.join(dense_dir, "model.safetensors")),
               os.path.join(dense_dir, "pytorch_model.bin"))
    os.remove(os.path.join(dense_dir, "model.safetensors"))
    rc, err = run_cli(binary, path, ["--text", "x"])
    print("bert, Dense as pytorch_model.bin: exit %d: %s" % (rc, err.strip()[-240:]))
    if rc == 0 or "2_Dense/pytorch_model.bin" not in err or "convert" not in err:
        failures.append("a pytorch_model.bin-only Dense did not fail naming the file")
    shutil.rmtree(work, ignore_errors=True)

    finish(failures)


if __name__ == "__main__":
    main()
