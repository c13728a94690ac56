"""transformers as the reference for embp's rerankers (cross-encoders).

    rerank_reference.py EMBP_BIN WORK_DIR SOURCE_DIR FIXTURES_DIR

For each shape it makes a model folder in WORK_DIR from a randomly initialized (seeded)
transformers AutoModelForSequenceClassification class, saved by save_pretrained with a tokenizer
trained here, norms and biases randomized (so that one read from the wrong tensor shows):

  minilm-ce   BertForSequenceClassification at cross-encoder/ms-marco-MiniLM-L-6-v2's shape
              (hidden 384, 6 layers, 12 heads, intermediate 1536, 1 label), a WordPiece
  bge-rr      XLMRobertaForSequenceClassification at BAAI/bge-reranker-base's shape (hidden 768,
              12 heads, intermediate 3072, 1 label; 2 layers, all 12 with EMBP_SLOW_TESTS=1),
              a SentencePiece Unigram
  distil-ce   DistilBertForSequenceClassification, small (pre_classifier + ReLU head)

The reference scores are the model's logits on tokenizer(query, text, truncation=True,
max_length=512) (longest_first: long texts are cut beside short queries, long queries beside
long texts share the room). One `embp serve` per folder serves it under four plans at once
(fp32, bf16, int8, int4, by --precision-overrides) beside an embedding model; each plan's
POST /rerank (raw_scores) and POST /v1/rerank must give the reference's logits: fp32 within
FP32_TOL, the others within PLAN_TOL, and the same ranking wherever the reference's scores are
further apart than twice that bound. Also checked: TEI's sigmoid scores and sorting,
return_text, top_n, truncate false (422), Cohere's rank_fields and max_tokens_per_doc (against
transformers on the joined fields and on the cut ids), fidelity on scores (`embp info
--fidelity` against the Pearson r of the int8 and fp32 plans' logits of the probe pairs,
computed here; auto's choice meets the floors), the kinds in /v1/models, a rerank
request to the embedding model and an embedding request to a reranker (naming the kind;
/rerank's errors in TEI's shape and statuses, /v1/rerank's in OpenAI's), and `embp rerank`
on the command line (fp32 logits, best first)."""
import ast
import json
import os
import re
import resource
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arch_reference import corpus, spm_tokenizer, wordpiece_tokenizer  # noqa: E402
from refutil import Server, finish, randomize  # noqa: E402

FP32_TOL = 1e-4
# max |logit - transformers'| of the reduced plans (measured on these models: see the printed
# maxima; the bounds leave a margin and still catch a plan that computes garbage)
PLAN_TOL = {"bf16": 0.05, "int8": 0.1, "int4": 0.5}
MAX_LEN = 512
SLOW = os.environ.get("EMBP_SLOW_TESTS") == "1"
if SLOW:  # 12 layers of bge-reranker-base's shape: the reduced plans' errors add up
    PLAN_TOL = {"bf16": 0.05, "int8": 0.2, "int4": 1.0}
# and each plan's logits over all pairs must correlate with transformers' (Pearson r): a plan
# that computes garbage within the bound above (the random models' logits span about 1) fails
# (garbage gives r ~ 0 +- 0.17 on 33 pairs). Measured over runs (the trained WordPiece, so the
# ids, differ from run to run): bf16 >= 0.9995, int8 0.980-0.998, int4 0.75-0.995.
PLAN_MIN_R = {"fp32": 0.999999, "bf16": 0.99, "int8": 0.9, "int4": 0.5}


def make_models(work, texts):
    import torch
    import transformers as tf
    torch.set_num_threads(2)
    distil_wp = wordpiece_tokenizer(texts)
    # BERT's own class: it hands the model token_type_ids (DistilBERT's does not), the pair's
    # second text as type 1
    wp = tf.BertTokenizerFast(tokenizer_object=distil_wp.backend_tokenizer, unk_token="[UNK]",
                              pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                              mask_token="[MASK]")
    uni = spm_tokenizer(work, texts)
    minilm = tf.BertConfig(vocab_size=len(wp), hidden_size=384, num_hidden_layers=6,
                           num_attention_heads=12, intermediate_size=1536,
                           max_position_embeddings=512, num_labels=1, initializer_range=0.05,
                           pad_token_id=wp.pad_token_id)
    bge = tf.XLMRobertaConfig(vocab_size=len(uni), hidden_size=768,
                              num_hidden_layers=12 if SLOW else 2, num_attention_heads=12,
                              intermediate_size=3072, max_position_embeddings=514,
                              type_vocab_size=1, layer_norm_eps=1e-5, num_labels=1,
                              pad_token_id=uni.pad_token_id, initializer_range=0.05)
    distil = tf.DistilBertConfig(vocab_size=len(wp), dim=64, n_layers=2, n_heads=4,
                                 hidden_dim=128, max_position_embeddings=512, num_labels=1,
                                 pad_token_id=wp.pad_token_id, initializer_range=0.1)
    out = []
    for name, cfg, cls, tok in (("minilm-ce", minilm, tf.BertForSequenceClassification, wp),
                                ("bge-rr", bge, tf.XLMRobertaForSequenceClassification, uni),
                                ("distil-ce", distil, tf.DistilBertForSequenceClassification,
                                 distil_wp)):
        torch.manual_seed(0)
        model = cls(cfg).eval()
        randomize(model)
        path = os.path.join(work, name)
        model.save_pretrained(path, safe_serialization=True)
        tok.model_max_length = MAX_LEN
        tok.save_pretrained(path)
        out.append((name, path, model, tok))
    return out


def pairs_of(texts):
    """Queries and texts: short and long ones, so that truncation cuts texts beside short
    queries and both sides of two long ones."""
    queries = [texts[3], texts[40], " ".join(texts[50:110])]
    docs = texts[100:107] + [" ".join(texts[120:200]), " ".join(texts[200:215]),
                             "multilingual " * 400, texts[7] + " " + texts[8]]
    return queries, docs


def reference(model, tok, query, docs, side="right"):
    import torch
    tok.truncation_side = side
    enc = tok([query] * len(docs), docs, truncation=True, max_length=MAX_LEN, padding=True,
              return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits[:, 0].double().numpy()
    lens = enc["attention_mask"].sum(1).tolist()
    tok.truncation_side = "right"
    return logits, lens


def check_plan(srv, name, plan, ref_logits, queries, docs, failures):
    """The plan's /rerank and /v1/rerank logits against transformers'; the worst |diff| and
    the correlation over all pairs."""
    worst = 0.0
    all_got, all_ref = [], []
    tol = FP32_TOL if plan == "fp32" else PLAN_TOL[plan]
    for qi, q in enumerate(queries):
        ref = ref_logits[qi]
        st, tei = srv.post("/rerank", {"model": plan, "query": q, "texts": docs,
                                       "raw_scores": True})
        st1, v1 = srv.post("/v1/rerank", {"model": plan, "query": q, "documents": docs,
                                          "raw_scores": True}) if qi == 0 else (st, {
                                              "results": [{"index": r["index"], "relevance_score":
                                                           r["score"]} for r in tei]})
        if st != 200 or st1 != 200:
            failures.append("%s %s: /rerank %d, /v1/rerank %d: %s %s" % (name, plan, st, st1,
                                                                         tei, v1))
            continue
        got = np.zeros(len(docs))
        for r in tei:
            got[r["index"]] = r["score"]
        got1 = np.zeros(len(docs))
        for r in v1["results"]:
            got1[r["index"]] = r["relevance_score"]
        if [r["index"] for r in tei] != [r["index"] for r in v1["results"]]:
            failures.append("%s %s query %d: /rerank and /v1/rerank rank differently"
                            % (name, plan, qi))
        if not np.array_equal(got, got1):
            failures.append("%s %s query %d: /rerank and /v1/rerank scores differ"
                            % (name, plan, qi))
        diff = np.abs(got - ref)
        worst = max(worst, float(diff.max()))
        all_got += got.tolist()
        all_ref += ref.tolist()
        if diff.max() > tol:
            failures.append("%s %s query %d: max |logit diff| %.3g > %g (text %d)"
                            % (name, plan, qi, diff.max(), tol, int(diff.argmax())))
        scores = [r["score"] for r in tei]
        if scores != sorted(scores, reverse=True):
            failures.append("%s %s query %d: /rerank is not sorted by score" % (name, plan, qi))
        # the ranking: wherever transformers' scores are further apart than twice the bound,
        # embp orders the two texts as transformers does
        rank = {r["index"]: k for k, r in enumerate(tei)}
        for a in range(len(docs)):
            for b in range(len(docs)):
                if ref[a] - ref[b] > 2 * tol and rank[a] > rank[b]:
                    failures.append("%s %s query %d: text %d (%.4f) ranked below text %d (%.4f)"
                                    % (name, plan, qi, a, ref[a], b, ref[b]))
    r = float(np.corrcoef(all_got, all_ref)[0, 1]) if all_got else 0.0
    if r < PLAN_MIN_R[plan]:
        failures.append("%s %s: logits correlate %.4f with transformers' (< %g)"
                        % (name, plan, r, PLAN_MIN_R[plan]))
    return worst, r


def want_status(path):
    """A malformed request's status: TEI's 422 validation on /rerank, OpenAI's 400 else."""
    return 422 if path == "/rerank" else 400


def error_message(path, err):
    """The message of an error body: TEI's {"error": "...", "error_type"} on TEI's routes
    (/rerank, /embed), OpenAI's {"error": {"message", ...}} else."""
    if path in ("/rerank", "/embed"):
        return err["error"] if err.get("error_type") == "validation" else ""
    return err["error"]["message"]


def check_shapes(srv, name, ref_logits, left_logits, queries, docs, failures):
    """TEI's defaults (sigmoid, sorted), return_text, top_n, return_documents, truncate false,
    truncation from the left, malformed requests."""
    st, tei = srv.post("/rerank", {"query": queries[2], "texts": docs, "raw_scores": True,
                                   "truncation_direction": "left"})
    got = np.zeros(len(docs))
    for r in tei if st == 200 else []:
        got[r["index"]] = r["score"]
    if st != 200 or np.abs(got - left_logits).max() > FP32_TOL:
        failures.append("%s: truncation_direction left: %d, logits %s vs transformers' "
                        "(truncation_side left) %s" % (name, st, got.tolist(),
                                                       left_logits.tolist()))
    for body, path in ((b"{", "/rerank"), ({"query": "q", "texts": [1]}, "/rerank"),
                       ({"query": "q", "texts": ["t"], "truncation_direction": "up"}, "/rerank"),
                       ({"query": 3, "texts": ["t"]}, "/rerank"),
                       ({"query": "q", "documents": ["t"], "top_n": 0}, "/v1/rerank"),
                       ({"query": "q", "documents": "t"}, "/v1/rerank"),
                       ({"query": "q", "texts": ["t"], "raw_scores": "yes"}, "/rerank")):
        st, err = srv.post(path, body)
        if st != want_status(path) or not error_message(path, err):
            failures.append("%s: %s %r answered %d %s" % (name, path, body, st, err))
    ref = ref_logits[0]
    st, tei = srv.post("/rerank", {"query": queries[0], "texts": docs, "return_text": True})
    sig = 1 / (1 + np.exp(-ref))
    order = sorted(range(len(docs)), key=lambda i: -sig[i])
    if st != 200 or any(abs(r["score"] - sig[r["index"]]) > FP32_TOL or
                        r["text"] != docs[r["index"]] for r in tei):
        failures.append("%s: /rerank default (sigmoid) scores or texts wrong: %s" % (name, tei))
    elif [r["index"] for r in tei] != order and max(np.diff(sorted(sig))) > 1e-6:
        failures.append("%s: /rerank order %s, transformers' %s" % (name, [r["index"] for r in
                                                                         tei], order))
    st, v1 = srv.post("/v1/rerank", {"model": "fp32", "query": queries[0], "documents": docs,
                                     "top_n": 3, "return_documents": True})
    if (st != 200 or len(v1["results"]) != 3 or v1["object"] != "rerank" or
            v1["model"] != "fp32" or v1["usage"]["total_tokens"] <= 0 or
            any(r["document"] != docs[r["index"]] or abs(r["relevance_score"] - sig[r["index"]])
                > FP32_TOL for r in v1["results"]) or
            [r["index"] for r in v1["results"]] != [r["index"] for r in tei[:3]]):
        failures.append("%s: /v1/rerank top_n 3 with documents wrong: %s" % (name, v1))
    st, err = srv.post("/rerank", {"model": "fp32", "query": queries[0], "texts": docs,
                                   "truncate": False})
    if st != 422 or err.get("error_type") != "validation" or "truncate" not in err["error"]:
        failures.append("%s: truncate false on a long pair answered %d %s" % (name, st, err))
    st, err = srv.post("/rerank", {"query": "q", "texts": []})
    if st != 400 or err.get("error_type") != "empty":
        failures.append("%s: empty texts answered %d %s" % (name, st, err))


def ids_reference(model, tok, query, doc, n_tok):
    """The logit of (query, doc cut to its first n_tok tokens), the pair built by HF tokenizers'
    own post-processor from the two encodings (the pair stays within MAX_LEN here)."""
    import torch
    bt = tok.backend_tokenizer
    a, b = bt.encode(query, add_special_tokens=False), bt.encode(doc, add_special_tokens=False)
    b.truncate(n_tok)
    enc = bt.post_processor.process(a, b, add_special_tokens=True)
    assert len(enc.ids) <= MAX_LEN
    ids = torch.tensor([enc.ids])
    kw = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if "token_type_ids" in tok.model_input_names:
        kw["token_type_ids"] = torch.tensor([enc.type_ids])
    with torch.no_grad():
        return float(model(**kw).logits[0, 0])


def check_cohere(srv, name, model, tok, queries, docs, failures):
    """Cohere's rank_fields (document objects ranked by those fields, as YAML "key: value"
    lines) and max_tokens_per_doc (each document cut to its first N tokens), against
    transformers' logits of those texts and ids; the 400s naming the field."""
    q = queries[0]
    objs = [{"title": docs[i][:40], "text": docs[i + 1], "id": i} for i in range(4)]
    st, v1 = srv.post("/v1/rerank", {"model": "fp32", "query": q, "documents": objs,
                                     "rank_fields": ["title", "text"], "raw_scores": True,
                                     "return_documents": True})
    joined = ["title: %s\ntext: %s\n" % (o["title"], o["text"]) for o in objs]
    ref = reference(model, tok, q, joined)[0]
    got = {r["index"]: r["relevance_score"] for r in v1.get("results", [])} if st == 200 else {}
    if (st != 200 or len(got) != 4 or max(abs(got[i] - ref[i]) for i in range(4)) > FP32_TOL or
            any(r["document"] != objs[r["index"]] for r in v1["results"])):
        failures.append("%s: rank_fields answered %d %s, transformers' %s" % (name, st, v1,
                                                                             ref.tolist()))
    for n_tok in (3, 40):
        st, v1 = srv.post("/v1/rerank", {"model": "fp32", "query": q, "documents": docs[:4],
                                         "max_tokens_per_doc": n_tok, "raw_scores": True})
        ref = [ids_reference(model, tok, q, d, n_tok) for d in docs[:4]]
        got = {r["index"]: r["relevance_score"] for r in v1.get("results", [])} if st == 200 \
            else {}
        if st != 200 or len(got) != 4 or max(abs(got[i] - ref[i]) for i in range(4)) > FP32_TOL:
            failures.append("%s: max_tokens_per_doc %d answered %d %s, transformers' %s"
                            % (name, n_tok, st, v1, ref))
    for body, field in (({"rank_fields": ["title", "missing"], "documents": objs}, "rank_fields"),
                        ({"rank_fields": "title", "documents": objs}, "rank_fields"),
                        ({"max_tokens_per_doc": 0, "documents": docs[:2]}, "max_tokens_per_doc"),
                        ({"documents": [{"title": "no text"}]}, "documents")):
        st, err = srv.post("/v1/rerank", dict(body, query=q))
        if st != 400 or err["error"].get("param") != field:
            failures.append("%s: %s answered %d %s (want 400 naming %s)" % (name, body, st, err,
                                                                           field))


def probe_texts(src):
    """embp's built-in probe sentences (src/precision/probe.c's probe[] array)."""
    with open(os.path.join(src, "src", "precision", "probe.c"), encoding="utf-8") as f:
        body = f.read().split("probe[] = {", 1)[1].split("};", 1)[0]
    out, end = [], 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"', body):  # C joins adjacent literals
        part = ast.literal_eval(m.group(0))
        if out and "," not in body[end:m.start()]:
            out[-1] += part
        else:
            out.append(part)
        end = m.end()
    return out


def check_fidelity(binary, src, path, srv, name, failures):
    """A reranker's fidelity is measured on its scores: `embp info --fidelity --json` under int8
    reports fidelity_measure "score_pearson", and its mean/min equal the Pearson r, per probe
    query (the first 4 probe sentences against all of them), of the int8 plan's /rerank logits
    with the fp32 plan's, computed here; `--precision auto` picks a plan meeting the floors by
    that measure."""
    texts = probe_texts(src)
    rs = []
    for q in texts[:4]:
        got = {}
        for plan in ("int8", "fp32"):
            st, tei = srv.post("/rerank", {"model": plan, "query": q, "texts": texts,
                                           "raw_scores": True})
            got[plan] = np.zeros(len(texts))
            for r in tei if st == 200 else []:
                got[plan][r["index"]] = r["score"]
        rs.append(float(np.corrcoef(got["int8"], got["fp32"])[0, 1]))
    want = (float(np.mean(rs)), min(rs))
    for prec in ("int8", "auto"):
        r = subprocess.run([binary, "info", "--json", "--model", path, "--fidelity-cache", "off",
                            "--precision", prec] + (["--fidelity"] if prec == "int8" else []),
                           capture_output=True)
        try:
            p = json.loads(r.stdout)["precision"]
        except (ValueError, KeyError):
            failures.append("%s: embp info --precision %s: exit %d %s" % (
                name, prec, r.returncode, r.stderr.decode()[-400:]))
            continue
        print("  embp info --precision %s: %s/%s, fidelity %s mean %s, min %s%s" % (
            prec, p["storage"], p["compute"], p.get("fidelity_measure"), p["fidelity_mean"],
            p["fidelity_min"], "; here (int8 vs fp32 /rerank): %.6f, %.6f" % want
            if prec == "int8" else ""))
        if p.get("fidelity_measure") != "score_pearson":
            failures.append("%s: --precision %s fidelity_measure %s" % (name, prec, p))
        elif prec == "int8" and (abs(p["fidelity_mean"] - want[0]) > 1e-4 or
                                 abs(p["fidelity_min"] - want[1]) > 1e-4):
            failures.append("%s: int8 fidelity %s/%s, the probe pairs' Pearson r here %s" % (
                name, p["fidelity_mean"], p["fidelity_min"], want))
        elif prec == "auto" and p["storage"] != "fp32" and not (
                p["fidelity_mean"] >= 0.999 and p["fidelity_min"] >= 0.995):
            failures.append("%s: auto chose %s/%s with fidelity %s/%s, below the floors" % (
                name, p["storage"], p["compute"], p["fidelity_mean"], p["fidelity_min"]))


def check_kinds(srv, name, failures):
    kinds = {m["id"]: m["embp"]["kind"] for m in srv.get("/v1/models")["data"]}
    if kinds.get("fp32") != "reranker" or kinds.get("embedder") != "embedding":
        failures.append("%s: /v1/models kinds %s" % (name, kinds))
    model_type = srv.get("/info").get("model_type", {})  # TEI's Info of the default (a reranker)
    if list(model_type) != ["reranker"] or len(model_type["reranker"]["id2label"]) != 1:
        failures.append("%s: /info model_type %s, not TEI's reranker one" % (name, model_type))
    st, err = srv.post("/rerank", {"model": "embedder", "query": "q", "texts": ["t"]})
    if st != 422 or "embedding model" not in error_message("/rerank", err):
        failures.append("%s: /rerank to the embedding model answered %d %s" % (name, st, err))
    st, err = srv.post("/v1/rerank", {"model": "embedder", "query": "q", "documents": ["t"]})
    if st != 400 or "embedding model" not in error_message("/v1/rerank", err):
        failures.append("%s: /v1/rerank to the embedding model answered %d %s" % (name, st, err))
    st, err = srv.post("/embed", {"model": "fp32", "inputs": "t"})
    if st != 422 or "reranker" not in error_message("/embed", err):
        failures.append("%s: TEI's /embed to a reranker answered %d %s" % (name, st, err))
    st, err = srv.post("/v1/embeddings", {"model": "fp32", "input": "t"})
    if st != 400 or "reranker" not in err["error"]["message"]:
        failures.append("%s: an embedding request to a reranker answered %d %s" % (name, st, err))
    st, body = srv.post("/v1/embeddings", {"input": "t"})  # no model: the embedding model
    if st != 200 or body["model"] != "embedder":
        failures.append("%s: an embedding request without a model answered %d %s" % (name, st,
                                                                                    body))


def check_cli(binary, path, name, ref, query, docs, failures):
    """`embp rerank --query Q` on the texts as stdin lines: the logits, best first."""
    r = subprocess.run([binary, "rerank", "--model", path, "--fidelity-cache", "off", "--query",
                        query], input="\n".join(docs).encode(), capture_output=True)
    rows = [json.loads(line) for line in r.stdout.decode().split("\n") if line.strip()]
    got = np.zeros(len(docs))
    for row in rows:
        got[row["index"]] = row["logit"]
    logits = [row["logit"] for row in rows]
    if (r.returncode != 0 or len(rows) != len(docs) or logits != sorted(logits, reverse=True) or
            np.abs(got - ref).max() > FP32_TOL):
        failures.append("%s: embp rerank exited %d, logits %s vs %s: %s" % (
            name, r.returncode, got.tolist(), ref.tolist(), r.stderr.decode()[-500:]))


def cpu():
    """CPU seconds of this process and of the embp servers it waited for."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


def main():
    binary, work, src, fixtures = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    texts = corpus(src)
    queries, docs = pairs_of(texts)
    failures = []
    models = make_models(work, texts)
    print("models made: CPU %.1f s (python), %.1f s (children)" % cpu())
    for name, path, model, tok in models:
        refs = [reference(model, tok, q, docs) for q in queries]
        left_logits = reference(model, tok, queries[2], docs, "left")[0]
        print("  transformers' scores: CPU %.1f s, %.1f s" % cpu())
        ref_logits = [r[0] for r in refs]
        cut = sum(n == MAX_LEN for r in refs for n in r[1])
        print("%s (%s, %d layers): %d queries x %d texts, %d pairs cut at %d tokens, logits in "
              "[%.3f, %.3f]" % (name, model.config.architectures[0],
                                model.config.num_hidden_layers if hasattr(
                                    model.config, "num_hidden_layers") else model.config.n_layers,
                                len(queries), len(docs), cut, MAX_LEN,
                                min(r.min() for r in ref_logits), max(r.max() for r in ref_logits)))
        assert cut >= 4, "too few pairs reach the model's length"
        plans = ["fp32", "bf16", "int8", "int4"]
        srv = Server(binary, flags=["--model", ",".join([path] * 4 + [os.path.join(fixtures,
                                                                            "tiny")]),
                                    "--model-name", ",".join(plans + ["embedder"]),
                                    "--precision-overrides",
                                    json.dumps({p: p for p in plans[1:]})])
        check_cli(binary, path, name, ref_logits[0], queries[0], docs, failures)
        print("  embp serve started, embp rerank run: CPU %.1f s, %.1f s" % cpu())
        try:
            for plan in plans:
                worst, r = check_plan(srv, name, plan, ref_logits, queries, docs, failures)
                print("  %-4s max |logit - transformers'| %.2e (bound %g), Pearson r %.5f "
                      "(bound %g)" % (plan, worst, FP32_TOL if plan == "fp32" else
                                      PLAN_TOL[plan], r, PLAN_MIN_R[plan]))
            check_shapes(srv, name, ref_logits, left_logits, queries, docs, failures)
            check_cohere(srv, name, model, tok, queries, docs, failures)
            check_fidelity(binary, src, path, srv, name, failures)
            check_kinds(srv, name, failures)
        finally:
            rc, log = srv.stop()
        if rc != 0:
            failures.append("%s: embp serve exited %d: %s" % (name, rc, log))
        print("  served: CPU %.1f s, %.1f s" % cpu())
    finish(failures)


if __name__ == "__main__":
    main()
