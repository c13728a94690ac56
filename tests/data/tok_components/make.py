#!/usr/bin/python3
"""Writes small tokenizer.json files (a-e) that exercise the optional components (Sequence,
NFD/NFKC, StripAccents, Lowercase, Strip, Replace, Whitespace, WhitespaceSplit, Punctuation
behaviors, BertProcessing, a multi-token template, normalized/lstrip/rstrip/single_word added
tokens, no normalizer). Expected ids come from HF tokenizers through the peer:
  for k in a b c d e; do mkdir -p /tmp/t$k && cp $k.json /tmp/t$k/tokenizer.json &&
    node peer.mjs tokenize /tmp/t$k < inputs.txt > $k.expected.jsonl; done"""
import json
import os
here = os.path.dirname(os.path.abspath(__file__))
letters=[chr(c) for c in range(97,123)]
vocab=["[PAD]","[UNK]","[CLS]","[SEP]","[MASK]"]+letters+["##"+c for c in letters]+list(".,!?'-")+["hello","world","yesterday","cafe","##s","un","##believ","##able"]
ids={t:i for i,t in enumerate(vocab)}
def tok(norm, pre, post, added):
    return {"version":"1.0","truncation":None,"padding":None,"added_tokens":added,"normalizer":norm,"pre_tokenizer":pre,"post_processor":post,"decoder":None,
     "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":ids}}
sp=[{"id":ids[t],"content":t,"single_word":False,"lstrip":False,"rstrip":False,"normalized":False,"special":True} for t in vocab[:5]]
cfgs={
 "a": tok({"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},{"type":"Lowercase"}]},{"type":"Whitespace"},{"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",2]},sp),
 "b": tok({"type":"Sequence","normalizers":[{"type":"Strip","strip_left":True,"strip_right":True},{"type":"Replace","pattern":{"String":"ll"},"content":"l l"},{"type":"Lowercase"}]},{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Punctuation","behavior":"MergedWithPrevious"}]},None,sp),
 "c": tok({"type":"Lowercase"},{"type":"Punctuation","behavior":"MergedWithNext"},{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],"pair":[],"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}},
      sp+[{"id":ids["yesterday"],"content":"Yesterday","single_word":False,"lstrip":False,"rstrip":False,"normalized":True,"special":False},
          {"id":ids["[MASK]"],"content":"<mask>","single_word":False,"lstrip":True,"rstrip":True,"normalized":False,"special":True},
          {"id":ids["hello"],"content":"hi","single_word":True,"lstrip":False,"rstrip":False,"normalized":False,"special":False}]),
 "d": tok({"type":"NFKC"},{"type":"Punctuation","behavior":"Contiguous"},None,sp),
 "e": tok(None,{"type":"Punctuation","behavior":"Removed"},None,sp),
}
for k,v in cfgs.items():
    json.dump(v,open(os.path.join(here,k+".json"),"w"),ensure_ascii=False,indent=1)
