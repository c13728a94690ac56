#!/usr/bin/python3
"""Writes st_corpus.jsonl: the texts embp's fp32 vectors and token ids are checked on against
sentence-transformers and HF tokenizers (tests/test_st_reference.sh) and the corpus of the
fidelity bench (bench/fidelity.py). One JSON string per line, so texts may hold newlines.
Starts from tokenizer_corpus.txt (scripts, accents, emoji, control and zero-width characters,
special-token text, long words) and sentences_extra.txt, then adds what a one-line corpus cannot
hold or does not stress: texts that are empty or whitespace-only after normalization, several
lines, paragraphs truncated past 256 tokens in several scripts, code, URLs, numbers, and plain
sentences of the kind users embed. No NUL (the CLI takes texts as arguments).
Deterministic: a fixed seed. Run: /usr/bin/python3 make_st_corpus.py"""
import json
import os
import random

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261129)
L = []
for name in ("tokenizer_corpus.txt", "sentences_extra.txt"):
    with open(os.path.join(here, name), encoding="utf-8") as f:
        L += [line.rstrip("\n") for line in f]

# Nothing left after normalization: [CLS][SEP] only.
L += ["", " ", "\t", "\n", "\r\n", "\n\n\n", " \t \n ", "\u00a0\u00a0", "\u3000", "\u200b",
      "\u200b\u200c\u200d\u2060\ufeff", "\x01\x02\x03", "\x7f", "\u0301", "\u0300\u0301\u0308",
      "\u00ad", "\ufe0f", " \u200b \u00a0 \x0b \x0c "]

# Several lines.
L += [
    "first line\nsecond line",
    "Dear team,\n\nThe build is green again.\n\nThanks,\nAna",
    "line one\r\nline two\r\nline three",
    "- item one\n- item two\n- item three\n",
    "# Title\n\nSome *markdown* text with `code` and a [link](https://example.org).",
    "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n",
    "for (int i = 0; i < n; i++) {\n\tsum += x[i];\n}\n",
    "SELECT name,\n       count(*)\n  FROM orders\n GROUP BY name;",
    "Roses are red,\nViolets are blue,\nEmbeddings are vectors,\nAnd so are you.",
    "Q: What is the capital of Japan?\nA: Tokyo.",
    "名前：山田太郎\n住所：東京都\n電話：03-1234-5678",
    "Привет!\nКак дела?\nВсё хорошо.",
    "\n\nleading newlines and trailing ones\n\n",
    "tab\tseparated\tvalues\n1\t2\t3\n4\t5\t6",
    "a,b,c\n\"quoted, comma\",2,3\n",
    "<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>",
    "{\n  \"name\": \"embp\",\n  \"version\": 1\n}",
    "$ ./build/embp serve --port 9000\nlistening on 0.0.0.0:9000",
    "🙂\n🙃\n🙂",
    "مرحبا\nשלום\nhello",
]

# Code, URLs, numbers, dates.
L += [
    "git commit -m 'fix: handle empty input' && git push origin main",
    "curl -s localhost:9000/v1/embeddings -H 'Content-Type: application/json' -d '{\"input\":\"hi\"}'",
    "std::vector<std::unique_ptr<Node>> children; children.emplace_back(new Node{});",
    "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); println!(\"{:?}\", v); }",
    "public static void main(String[] args) { System.out.println(\"Hello\"); }",
    "const f = async (url) => (await fetch(url)).json();",
    "#include <stdio.h>\nint main(void) { return 0; }",
    "SELECT * FROM t WHERE id IN (1, 2, 3) ORDER BY created_at DESC LIMIT 10;",
    "regex: ^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@example\\.com$",
    "https://en.wikipedia.org/wiki/Sentence_embedding#Evaluation",
    "https://example.com/search?q=caf%C3%A9&lang=fr&page=2",
    "mailto:someone@example.org?subject=Hello%20there",
    "ssh://git@github.com:22/org/repo.git and git+https://gitlab.example/x/y",
    "http://[2001:db8::1]:8080/path and http://192.168.0.1/admin",
    "The meeting is on 2026-11-29 at 14:30 UTC (09:30 EST).",
    "Order #A-1029384 shipped on 03/04/2025; total €1.299,00 incl. 19% VAT.",
    "π ≈ 3.14159265358979323846264338327950288419716939937510",
    "Call +1 (555) 010-9999 or +44 20 7946 0958 ext. 12",
    "Version 1.2.3-rc.1+build.45 replaces 1.2.2 (see CVE-2024-12345).",
    "0x7fffffff 0b1010 0o755 1_000_000 1e-9 -0.0 NaN Infinity",
    "ISBN 978-3-16-148410-0, DOI 10.1000/182, arXiv:1908.10084",
    "temperatures: -40°C = -40°F; 100°C = 212°F; 0 K = -273.15°C",
    "lat 48.8566° N, lon 2.3522° E",
    "SKU: XJ-9000/B, qty 12 x $3.49 = $41.88",
]

# Plain sentences of the kind users embed: questions, product text, news, support.
subjects = ["The new library", "My laptop", "This recipe", "The city council", "Our team",
            "The train to Berlin", "A small startup", "The museum", "The weather service",
            "Your order", "The hospital", "The river", "An old friend", "The search engine",
            "The printer", "The football club", "A local bakery", "The research group"]
verbs = ["announced", "cannot find", "recommends", "was delayed by", "is looking for",
         "improved", "reported", "ordered", "forgot about", "celebrated", "is testing",
         "published", "rejected", "repaired", "explained"]
objects = ["a faster way to index documents", "the missing invoice", "fresh bread every morning",
           "the results of the survey", "heavy rain in the afternoon", "a cheaper subscription",
           "the quarterly budget", "an exhibition of modern art", "the broken heating system",
           "a new model for semantic search", "two tickets for the concert",
           "the privacy policy", "a vaccine trial", "its opening hours", "the bug in the parser"]
tails = ["", " yesterday", " last week", " after a long discussion", " without warning",
         " for the third time", " in record time", " despite the protests", " on Monday"]
questions = ["How do I reset my password?", "What is the best way to learn Spanish?",
             "Why is the sky blue?", "Where can I buy a cheap flight to Lisbon?",
             "Can cats eat cucumbers?", "How many calories are in an apple?",
             "What time does the pharmacy close on Sundays?", "Is it safe to update the BIOS?",
             "Which embedding model is best for retrieval?", "How does a heat pump work?",
             "When was the Eiffel Tower built?", "What does HTTP 503 mean?",
             "How to cook rice without a rice cooker?", "Who wrote One Hundred Years of Solitude?",
             "Is the museum open on public holidays?", "How to cancel my subscription?"]
L += questions
for i in range(110):
    s = "%s %s %s%s." % (rng.choice(subjects), rng.choice(verbs), rng.choice(objects),
                         rng.choice(tails))
    if rng.random() < 0.15:
        s = s.lower()
    if rng.random() < 0.1:
        s = s.rstrip(".") + rng.choice(["!", "?", "...", " :)", " 👍"])
    L.append(s)

# Long texts: truncated at 256 tokens, in several scripts.
para = ("Sentence embeddings map a text to a fixed-size vector so that texts with similar "
        "meaning lie close together. They power semantic search, clustering, deduplication and "
        "retrieval-augmented generation. A small model such as MiniLM keeps six layers of a "
        "larger teacher and runs quickly on an ordinary processor. ")
L += [para * k for k in (1, 2, 3, 4, 6, 10)]
L.append("\n\n".join([para] * 5))
L.append(" ".join(rng.choice(questions) for _ in range(40)))
long_scripts = [
    "日本語の文章はスペースで区切られないので、トークナイザーは漢字を一文字ずつ分けます。",
    "中文句子没有空格，每个汉字都是一个单独的词元，所以长文本很快就会超过上限。",
    "Русский текст тоже разбивается на подслова, и длинный абзац быстро достигает предела. ",
    "العربية تكتب من اليمين إلى اليسار، والكلمات الطويلة تتجزأ إلى قطع صغيرة. ",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ ทำให้ตัวตัดคำต้องทำงานหนัก ",
    "한국어 문장은 띄어쓰기가 있지만 음절 단위로 많이 나뉩니다. ",
    "Ελληνικό κείμενο με πολλές λέξεις που κόβονται σε μικρότερα κομμάτια. ",
    "हिन्दी पाठ में भी लंबे वाक्य जल्दी ही सीमा तक पहुँच जाते हैं। ",
]
for s in long_scripts:
    L.append(s * 12)
L.append("😀🎉🚀❤️👍🏽🇯🇵 " * 60)
L.append(" ".join(str(rng.randint(0, 10 ** 9)) for _ in range(300)))
L.append("x = [" + ", ".join("%.6f" % rng.uniform(-1, 1) for _ in range(120)) + "]")
L.append("lorem\u200bipsum\u00a0dolor " * 120)
L.append(("word " * 254).strip())  # 254 words + [CLS][SEP]: exactly 256 tokens
L.append(("word " * 255).strip())  # one past: truncated
for i in range(8):
    n = rng.randint(260, 900)
    L.append(" ".join(rng.choice(objects + subjects + verbs) for _ in range(n // 3)))

assert not any("\0" in t for t in L)
seen, out = set(), []
for t in L:
    if t not in seen:
        seen.add(t)
        out.append(t)
assert len(out) >= 500, len(out)
with open(os.path.join(here, "st_corpus.jsonl"), "w", encoding="utf-8") as f:
    for t in out:
        f.write(json.dumps(t, ensure_ascii=False) + "\n")
print("st_corpus.jsonl: %d texts" % len(out))
