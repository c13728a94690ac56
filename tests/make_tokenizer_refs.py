#!/usr/bin/env python3
"""Writes tokenizer.json files and Hugging Face tokenizers' ids for them, for
tests/test_tokenizer_hf.c. Usage: make_tokenizer_refs.py SOURCE_DIR OUT_DIR [EXTRA.json ...]

Each tokenizer is trained here by `tokenizers` itself (Unigram with Metaspace, byte-level BPE as
RoBERTa/GPT-2 have it, BPE behind Qwen2's Split regex, WordPiece, BPE with subword prefix and
word suffix), or by `sentencepiece` and converted by transformers' converter (that is where a
real Precompiled charsmap comes from), or is a tokenizer.json given on the command line (the
real files packages ship, the fuzz corpus's valid files).
Variants edit one stage of a trained file and reload it with Tokenizer.from_str, so HF itself
computes every expected id. Writes OUT/<name>.json, OUT/<name>.expected.jsonl (one row per
text and max_len: {"text", "max_len", "ids"}, at max_len 0 with HF's "offsets" (chars, as
Python's tokenizers gives them), "boffsets" (bytes, as the Rust crate and TEI give them) and
those of add_special_tokens=False ("raw_ids", "raw_offsets", "raw_boffsets"); pair rows
{"text", "pair", "ids", "type_ids", "offsets", "boffsets"}, truncated pairs with "max_len" and
"left";
left-truncation rows {"text", "max_len", "left": true, "ids"} (no "pair"); decode rows
{"decode": ids, "skip": bool, "text"}: HF's Tokenizer.decode of the encoded ids and of random
ids, skip_special_tokens both ways) and OUT/manifest.txt (name, HF's special-token counts
single and pair)."""
import json
import os
import random
import sys
import tempfile

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

SRC, OUT = sys.argv[1], sys.argv[2]
EXTRA = sys.argv[3:]
os.makedirs(OUT, exist_ok=True)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


corpus = []
for p in ("tests/data/tokenizer_corpus.txt", "tests/data/tokenizer_corpus_multi.txt",
          "tests/data/sentences_extra.txt", "../shared/tools/testdata/sentences.txt"):
    full = os.path.join(SRC, p)
    if os.path.exists(full):
        corpus += read_lines(full)
texts = list(dict.fromkeys(corpus)) + ["", " ", "\t\n", "a" * 300, "x" * 3 + " y" * 200]
train_text = [t for t in corpus if t.strip()] * 3

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def roberta_post(tok):
    return processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                        ("<s>", tok.token_to_id("<s>")))


def unigram_metaspace():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.train_from_iterator(train_text, trainers.UnigramTrainer(
        vocab_size=900, special_tokens=SPECIALS, unk_token="<unk>", max_piece_length=12))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B:1 </s>:1",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.add_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False),
                    AddedToken("hello", single_word=True, normalized=True),
                    AddedToken("BUG", rstrip=True, normalized=False)])
    return tok


def bpe_bytelevel(add_prefix_space):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(train_text, trainers.BpeTrainer(
        vocab_size=1500, special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = roberta_post(tok)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    return tok


def bpe_qwen2():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(train_text, trainers.BpeTrainer(
        vocab_size=1500, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def bpe_suffix():
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##",
                               end_of_word_suffix="</w>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(train_text, trainers.BpeTrainer(
        vocab_size=1200, special_tokens=["[UNK]", "[CLS]", "[SEP]"], limit_alphabet=60,
        continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def wordpiece():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(train_text, trainers.WordPieceTrainer(
        vocab_size=1200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


def edited(tok, fn):
    """tok with its JSON changed by fn(dict), reloaded by HF."""
    d = json.loads(tok.to_str())
    fn(d)
    return Tokenizer.from_str(json.dumps(d))


def add_byte_tokens(d, unigram):
    v = d["model"]["vocab"]
    for b in range(256):
        t = "<0x%02X>" % b
        if unigram:
            if t not in {p for p, _ in v}:
                v.append([t, -20.0])
        elif t not in v:
            v[t] = len(v) + 1000
    d["model"]["byte_fallback"] = True


class SlowShim:
    """What transformers' SentencePiece converters read from a slow tokenizer: the model file
    and id lookups (XLM-R's fairseq ids for its four specials, else the model's own)."""

    def __init__(self, path, fairseq):
        import sentencepiece as spm
        self.vocab_file, self.fairseq = path, fairseq
        self.legacy, self.add_prefix_space = False, True
        self.sp = spm.SentencePieceProcessor(model_file=path)

    def convert_tokens_to_ids(self, t):
        if self.fairseq:
            return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}.get(t, 3)
        return self.sp.piece_to_id(t)

    def convert_ids_to_tokens(self, i):
        return self.sp.id_to_piece(i)


def sp_models(tmp):
    """SentencePiece unigram models (nmt_nfkc and nfkc_cf: real Precompiled charsmaps) trained
    here and converted by transformers' XLM-R converter."""
    import sentencepiece as spm
    from transformers.convert_slow_tokenizer import XLMRobertaConverter
    data = os.path.join(tmp, "sp.txt")
    with open(data, "w", encoding="utf-8") as f:
        f.write("\n".join(train_text))
    common = dict(input=data, character_coverage=0.995, minloglevel=2)
    spm.SentencePieceTrainer.train(model_prefix=os.path.join(tmp, "uni"), vocab_size=1000,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc",
                                   **common)
    spm.SentencePieceTrainer.train(model_prefix=os.path.join(tmp, "unicf"), vocab_size=1000,
                                   model_type="unigram", normalization_rule_name="nfkc_cf",
                                   **common)
    return {
        "xlmr_spm_unigram": XLMRobertaConverter(
            SlowShim(os.path.join(tmp, "uni.model"), True)).converted(),
        "xlmr_spm_unigram_nfkc_cf": XLMRobertaConverter(
            SlowShim(os.path.join(tmp, "unicf.model"), True)).converted(),
    }


def split_variant(base, behavior, invert, pattern):
    def fn(d):
        d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert},
            {"type": "Digits", "individual_digits": behavior == "Isolated"},
            {"type": "Punctuation", "behavior": "Contiguous" if invert else "Isolated"},
            {"type": "WhitespaceSplit"}] if not invert else [
            {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}]}
    return edited(base, fn)


def build():
    toks = {}
    uni = unigram_metaspace()
    toks["unigram_metaspace"] = uni

    def uni_fb(d):
        add_byte_tokens(d, True)
        d["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "NFD"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True,
                                                     "strip_right": True}]}
        d["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                              "split": False}
        d["post_processor"] = None
        d["decoder"] = {"type": "Sequence", "decoders": [  # Llama's
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    toks["unigram_bytefallback_first"] = edited(uni, uni_fb)

    def uni_never(d):
        d["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "NFKD"}, {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
        d["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never",
                              "split": True}
        d["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never",
                        "split": True}
    toks["unigram_prepend_never"] = edited(uni, uni_never)

    rob = bpe_bytelevel(False)
    toks["bpe_bytelevel_roberta"] = rob

    def gpt2_old(d):
        d["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                                for m in d["model"]["merges"]]
        d["pre_tokenizer"]["add_prefix_space"] = True
        d["post_processor"] = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
             "use_regex": True}, d["post_processor"]]}
    toks["bpe_bytelevel_gpt2_oldmerges"] = edited(rob, gpt2_old)
    toks["bpe_qwen2"] = bpe_qwen2()
    suf = bpe_suffix()
    toks["bpe_prefix_suffix_fuse_unk"] = suf

    def suf_nofuse(d):
        d["model"]["fuse_unk"] = False
        d["model"]["ignore_merges"] = True
    toks["bpe_prefix_suffix_nofuse_ignore_merges"] = edited(suf, suf_nofuse)

    def suf_bytes(d):
        add_byte_tokens(d, False)
        d["model"]["continuing_subword_prefix"] = None
        d["model"]["end_of_word_suffix"] = None
        d["model"]["merges"] = []  # the merges used the prefix and suffix
        d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": False}, {"type": "Whitespace"}]}
        d["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"}, {"type": "Strip", "content": "e", "start": 2, "stop": 0},
            {"type": "Replace", "pattern": {"Regex": "[aeiou]+"}, "content": "<v>"},
            {"type": "Fuse"}]}
    toks["bpe_byte_fallback_nomerges"] = edited(suf, suf_bytes)
    wp = wordpiece()
    toks["wordpiece"] = wp
    n = 0
    for behavior in ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"):
        for invert in (False, True):
            for pattern in ({"Regex": r"\s+|[,.;:!?]|\p{N}+"}, {"String": "e"}):
                kind = "regex" if "Regex" in pattern else "string"
                name = "split_%s_%s%s" % (behavior.lower(), kind, "_invert" if invert else "")
                toks[name] = split_variant(suf, behavior, invert, pattern)
                n += 1
    # decoders the trained files above do not use, on two of the split variants
    toks["split_removed_regex"] = edited(toks["split_removed_regex"], lambda d: d.update(
        decoder={"type": "CTC", "pad_token": "[UNK]", "word_delimiter_token": "##",
                 "cleanup": True}))
    toks["split_isolated_string"] = edited(toks["split_isolated_string"], lambda d: d.update(
        decoder={"type": "Sequence", "decoders": [
            {"type": "WordPiece", "prefix": "##", "cleanup": False},
            {"type": "BPEDecoder", "suffix": "</w>"},
            {"type": "Metaspace", "replacement": "e", "prepend_scheme": "first"}]}))
    with tempfile.TemporaryDirectory() as tmp:
        toks.update(sp_models(tmp))
    for path in EXTRA:  # .../<model>/tokenizer.json, .../<package>/model/tokenizer.json, x.json
        parts = [p for p in path.split("/") if p not in ("model", "tokenizer.json")]
        base = parts[-1][:-5] if parts[-1].endswith(".json") else parts[-1]
        name = "file_" + base.replace("-", "_").replace(".", "_").lower()
        toks[name] = Tokenizer.from_file(path)
    return toks


def trim_passes(tok):
    """add_prefix_space of each trim_offsets pass of the post-processor (ByteLevel,
    RobertaProcessing; a Sequence's in order): what HF's process_offsets runs on offsets."""
    pp = json.loads(tok.to_str()).get("post_processor") or {}
    steps = pp.get("processors", []) if pp.get("type") == "Sequence" else [pp]
    return [st.get("add_prefix_space", True) for st in steps
            if st.get("type") in ("ByteLevel", "RobertaProcessing") and st.get("trim_offsets", True)]


def untrimmed(tok):
    """tok with every trim_offsets off: its offsets before HF's process_offsets."""
    d = json.loads(tok.to_str())
    pp = d.get("post_processor") or {}
    for st in pp.get("processors", []) if pp.get("type") == "Sequence" else [pp]:
        if "trim_offsets" in st:
            st["trim_offsets"] = False
    return Tokenizer.from_str(json.dumps(d))


def rust_byte_offsets(raw, passes, texts):
    """The byte offsets HF's Rust crate (TEI) answers: raw (an encoding of the untrimmed
    tokenizer, char offsets) in bytes of each sequence's text, then each trim pass in bytes,
    per sequence, as tokenizers' byte_level.rs process_offsets does it."""
    out = []
    for (a, b), seq in zip(raw.offsets, raw.sequence_ids):
        t = texts[seq] if seq is not None else ""
        out.append([len(t[:a].encode()), len(t[:b].encode())] if seq is not None else [0, 0])
    def space(c):  # GPT-2's byte-level ' ', or Rust's char::is_whitespace
        return c == "\u0120" or (c.isspace() and c not in "\x1c\x1d\x1e\x1f")

    for prefix in passes:
        for seq in set(x for x in raw.sequence_ids if x is not None):
            idx = [k for k, x in enumerate(raw.sequence_ids) if x == seq]
            for i, k in enumerate(idx):
                tok, o = raw.tokens[k], out[k]
                lead = next((n for n, c in enumerate(tok) if not space(c)), len(tok))
                trail = next((n for n, c in enumerate(reversed(tok)) if not space(c)), len(tok))
                if lead and prefix and lead == 1 and (i == 0 or o[0] == 0):
                    lead = 0
                if lead:
                    o[0] = min(o[0] + lead, o[1])
                if trail and o[1] >= trail:
                    o[1] = max(o[1] - trail, o[0])
    return out


def main():
    toks = build()
    pairs = [(texts[i], texts[i + 1]) for i in range(0, 60, 3)]
    with open(os.path.join(OUT, "manifest.txt"), "w") as man:
        for name, tok in toks.items():
            tok.no_padding()
            tok.no_truncation()
            passes, notrim = trim_passes(tok), untrimmed(tok)
            with open(os.path.join(OUT, name + ".json"), "w", encoding="utf-8") as f:
                f.write(tok.to_str())
            with open(os.path.join(OUT, name + ".expected.jsonl"), "w", encoding="utf-8") as f:
                for max_len in (0, 16, 5):
                    for t in texts:
                        if max_len:
                            tok.enable_truncation(max_length=max_len)
                        else:
                            tok.no_truncation()
                        e = tok.encode(t)
                        row = {"text": t, "max_len": max_len, "ids": e.ids}
                        if not max_len:  # offsets (chars; bytes as the Rust crate's),
                            raw = tok.encode(t, add_special_tokens=False)  # with, without
                            row.update(offsets=e.offsets, raw_ids=raw.ids, raw_offsets=raw.offsets,
                                       boffsets=rust_byte_offsets(notrim.encode(t), passes, [t]),
                                       raw_boffsets=rust_byte_offsets(
                                           notrim.encode(t, add_special_tokens=False), passes,
                                           [t]))
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                for max_len in (16, 5):
                    tok.enable_truncation(max_length=max_len, direction="left")
                    for t in texts:
                        row = {"text": t, "max_len": max_len, "left": True,
                               "ids": tok.encode(t).ids}
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                tok.no_truncation()
                rng = random.Random(name)
                n_ids = tok.get_vocab_size(with_added_tokens=True)
                seqs = [tok.encode(t).ids for t in texts]
                seqs += [[rng.randrange(n_ids + 3) for _ in range(rng.randrange(1, 24))]
                         for _ in range(80)]
                for ids in seqs:
                    for skip in (True, False):
                        f.write(json.dumps({"decode": ids, "skip": skip,
                                            "text": tok.decode(ids, skip_special_tokens=skip)},
                                           ensure_ascii=False) + "\n")
                for a, b in pairs:
                    e = tok.encode(a, b)
                    f.write(json.dumps({"text": a, "pair": b, "ids": e.ids,
                                        "type_ids": e.type_ids, "offsets": e.offsets,
                                        "boffsets": rust_byte_offsets(notrim.encode(a, b),
                                                                      passes, [a, b])},
                                       ensure_ascii=False) + "\n")
                # pairs truncated longest_first (a reranker's query and document): a budget
                # of 1, 6 and 25 text tokens, both directions; short queries beside long texts
                # too, where only the longer one is cut
                special = tok.num_special_tokens_to_add(True)
                long_pairs = pairs + [(texts[i], " ".join(texts[i:i + 5])) for i in range(0, 30, 5)]
                for extra in (1, 6, 25):
                    for direction in ("right", "left"):
                        tok.enable_truncation(max_length=special + extra, direction=direction)
                        for a, b in long_pairs:
                            e = tok.encode(a, b)
                            f.write(json.dumps({"text": a, "pair": b, "ids": e.ids,
                                                "type_ids": e.type_ids,
                                                "max_len": special + extra,
                                                "left": direction == "left"},
                                               ensure_ascii=False) + "\n")
                tok.no_truncation()
            man.write("%s %d %d\n" % (name, tok.num_special_tokens_to_add(False),
                                      tok.num_special_tokens_to_add(True)))
    print("wrote %d tokenizers to %s" % (len(toks), OUT))


main()
