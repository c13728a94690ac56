#!/usr/bin/python3
"""Writes tokenizer_corpus.txt: varied lines (one per line, no CR/LF inside) that the tokenizer
tests encode with embp and with HF tokenizers (the peer, at test time) and compare.
Deterministic: a fixed seed, no input files. Run: /usr/bin/python3 make_tokenizer_corpus.py"""
import os
import random

rng = random.Random(20240611)
L = []

# Plain prose, numbers, punctuation, apostrophes and hyphens.
L += [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you today?",
    "it's a well-known fact that state-of-the-art models don't always win.",
    "Rock 'n' roll isn't dead; it's just resting...",
    "E-mail me at john.doe+filter@example.co.uk before 5:30pm.",
    "Prices rose 3.5% to $1,234.56 (up from $999.99) in Q3 2023.",
    "1234567890 0.000001 -42 +7 1e10 3.14159265358979 6.022e23",
    "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2?x=1&y=2#frag",
    "ftp://files.example.org/pub/README.txt and file:///etc/hosts",
    "C:\\Program Files\\embp\\bin\\embp.exe --serve --port=8080",
    "def f(x): return x**2 + 3*x - 1  # a comment",
    "int main(void) { printf(\"%d\\n\", a[i] >> 2); return 0; }",
    "SELECT id, name FROM users WHERE age >= 21 AND name LIKE '%son';",
    "<html><body class=\"main\">Hi &amp; bye</body></html>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "x := y ?? z; a->b->c; p::q::r; ~x ^ y | z & w",
    "Mr. Smith's dog, Rex, barked -- loudly -- at 3 a.m.",
    "The U.S.A. and the U.K. signed the treaty (see p. 42, fn. 7).",
    "What?! No way!!! Really??? ...okay.",
    "snake_case_name camelCaseName PascalCaseName kebab-case-name SCREAMING_CASE",
    "",
    "   leading and trailing spaces   ",
    "multiple     spaces\tand\ttabs\t\there",
    "a",
    "A",
    "I",
    "!",
    "...",
    "a.b.c.d.e.f.g",
    "the the the the the the the the",
]
words = ("the of and to in is was for on that with as by at from it this be are an or not "
         "model embed vector text token hello world quick brown fox jumps over lazy dog "
         "running unbelievable tokenization internationalization preprocessing embeddings "
         "transformers attention layer normalization dropout gradient").split()
for i in range(40):
    n = rng.randint(3, 25)
    s = " ".join(rng.choice(words) for _ in range(n))
    if rng.random() < 0.5:
        s = s.capitalize() + rng.choice([".", "!", "?", ",", ";", ":"])
    if rng.random() < 0.3:
        s = s.upper()
    L.append(s)

# Accents, composed and decomposed.
L += [
    "café naïve résumé façade coöperate jalapeño São Paulo Zürich Ångström",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301 fac\u0327ade jalapen\u0303o",
    "CAFÉ NAÏVE RÉSUMÉ ÉCOLE ÊTRE Ça",
    "Crème brûlée, piñata, smörgåsbord, Dvořák, Łódź, Kraków, Đorđe",
    "e\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308 stacked marks on e",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333 zalgo",
    "a\u0328\u0301 o\u031b\u0323 u\u031b\u0309 combining order a\u0301\u0328",
    "Vietnamese: Tiếng Việt có dấu, người, được, những",
    "Hangul jamo decomposed: \u1100\u1161\u11a8 vs composed 각",
    "ﬁ ﬂ ﬀ ligatures and ǅ ǈ ǋ titlecase digraphs",
    "Ⅻ ⅱ ① ⑳ ² ³ ¼ ½ ¾ ™ ℃ ℉ № ℡",
    "Å Å Å angstrom sign vs letter, Ω Ω ohm, K K kelvin",
]
# Greek, final sigma, Turkish, German.
L += [
    "Ελληνικά: Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "ΟΔΥΣΣΕΥΣ ΣΊΣΥΦΟΣ ΣΟΦΊΑ final sigma ΤΕΛΟΣ ΛΟΓΟΣ",
    "λόγος λόγοσ Σσς ΣΣΣ",
    "İstanbul İZMİR Iğdır ıi Iı DİYARBAKIR",
    "Türkçe: Şişli'de çok güzel bir gün, ağaçlar yeşil.",
    "Straße STRASSE Fußball GROẞ ß ẞ Maßstab",
    "Größenwahn Übermäßig Ärger Öl",
]
# Other scripts.
L += [
    "Русский: Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Українська: Ґанок, їжак, є, ЇЖАК",
    "Ёлка ёж ЁЖ Йод й",
    "العربية: مرحبا بالعالم، كيف حالك؟",
    "العَرَبِيَّة مع التشكيل: كَتَبَ الوَلَدُ الدَّرْسَ",
    "עברית: שלום עולם, מה שלומך?",
    "עִבְרִית עם ניקוד: בְּרֵאשִׁית בָּרָא",
    "हिन्दी: नमस्ते दुनिया, आप कैसे हैं?",
    "संस्कृतम् क्षत्रिय ज्ञान श्री",
    "ไทย: สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "ქართული ენა, Հայերեն լեզու, አማርኛ ቋንቋ",
    "தமிழ் மொழி, ಕನ್ನಡ, తెలుగు, മലയാളം, বাংলা ভাষা",
    "ᠮᠣᠩᠭᠣᠯ mongolian, ᏣᎳᎩ cherokee, ᚠᚢᚦᚨᚱᚲ runes",
]
# CJK.
L += [
    "中文：你好，世界！我们今天去公园散步。",
    "繁體中文：臺灣的夜市非常熱鬧。",
    "日本語：こんにちは世界、カタカナとひらがなと漢字。",
    "ｶﾀｶﾅ半角 and ｱｲｳｴｵ halfwidth katakana",
    "한국어: 안녕하세요 세계, 오늘 날씨가 좋네요.",
    "CJK extension B: 𠀀𠀁𠀂 𪚥 𤭢 and ext A: 㐀㐁",
    "CJK compatibility: 豈 更 車 賈 滑 and supplement 丽 丸",
    "mixed中文English混合text123数字",
    "。、「」『』【】〔〕・ー～ Japanese punctuation",
    "漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字",
    "CJK ext C-F: 𪜀 𫝀 𫠠 𬺰 and ext G: 𰀀",
]
# Emoji.
L += [
    "I love it 😀😃😄😁 so much ❤️",
    "skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿",
    "ZWJ families: 👨‍👩‍👧‍👦 👩‍❤️‍👨 🏳️‍🌈 🧑‍💻",
    "flags: 🇺🇸 🇬🇧 🇯🇵 🇩🇪 🇫🇷 and keycaps 1️⃣ #️⃣",
    "new emoji 🥰 🦄 🫠 🫶 🪿 (Unicode 11+)",
    "emoji🙂glued🙂to🙂words",
]
# Control, zero-width and odd spaces.
L += [
    "control\x01chars\x02in\x03text\x1b[31mred\x1b[0m",
    "delete\x7fchar and bell\x07 and backspace\x08here",
    "vertical\x0btab and form\x0cfeed",
    "C1 controls: \x80\x85\x9f here",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "bom\ufeffin the middle and \ufeffat a word start",
    "soft\u00adhyphen in-ter\u00adna\u00adtion\u00adal",
    "non\u00a0breaking\u00a0space and narrow\u202fnbsp",
    "en\u2002em\u2003thin\u2009hair\u200aideographic\u3000space",
    "line\u2028separator and paragraph\u2029separator",
    "ogham\u1680space and mongolian\u180evowel separator",
    "word joiner\u2060here and invisible\u2063separator",
    "LRM\u200e RLM\u200f LRE\u202a PDF\u202c isolates\u2066x\u2069",
    "replacement \ufffd char and private use \ue000\uf8ff\U000f0000",
    "unassigned \u0378 \u0380 \U0001fffe and noncharacter \ufdd0",
    "Arabic format \u0600\u0601 and \u0890 pound mark above (Unicode 14)",
    "info separators \x1c\x1d\x1e\x1f between",
    "\u3000\u3000ideographic spaces only\u3000",
    "\u00a0",
    "\u200b\u200b\u200b",
    "tag chars \U000e0041\U000e0042 and variation selectors \ufe0f\ufe0e and \U000e0100",
]
# Fullwidth and math.
L += [
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ ａｎｄ ｄｉｇｉｔｓ １２３ ！？",
    "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𝕯𝖔𝖚𝖇𝖑𝖊 𝟙𝟚𝟛 math alphanumerics",
    "∀x∈ℝ: x² ≥ 0 ⇒ √(x²) = |x| ± ε ∑∏∫∂∇",
    "quotes “double” ‘single’ «guillemets» „low“ ‹single›",
    "dashes – — ‒ ― ‐ ‑ and ellipsis … bullets • ‣ ⁃",
    "currency € £ ¥ ₹ ₽ ₩ ₿ ¢ and symbols § ¶ † ‡ © ®",
    "brackets ⟨angle⟩ ⟦white⟧ ⦃curly⦄ ⌈ceil⌉ ⌊floor⌋",
    "Unicode 10+ punctuation: ⹀ ⹁ ⹂ ⹏ ⹒",
    "Thai punctuation ๏ ๚ ๛ and Tibetan ༄ ༅ ། Armenian ՝ ՞",
    "misc symbols ☃ ★ ☆ ♠ ♥ ⚡ ✓ ✗ ➜ ⌘ ⏎",
]
# Special tokens' literal text.
L += [
    "hello [SEP] world",
    "[CLS] starts here",
    "ends with [SEP]",
    "[CLS][SEP][MASK][UNK][PAD]",
    "The capital of France is [MASK].",
    "unknown [UNK] token in the middle",
    "lowercase [sep] [cls] [mask] do not match",
    "spaces [ SEP ] and broken [SEP [MASK and SEP]",
    "glued[SEP]words[MASK]here",
    "[[SEP]] nested [[[MASK]]]",
    "[MASK] [MASK] [MASK]",
    "[PAD] padding token in text",
    "a[CLS]b[SEP]c",
    "[SEP]",
    " [MASK] ",
]
# Long words and long lines.
L += [
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101,
    "Supercalifragilisticexpialidocious" * 4,
    "é" * 101 + " " + "é" * 100,
    "x" * 300,
    "中" * 120,
    "Lopado­temacho­selacho­galeo­kranio­leipsano­drim­hypo­trimmato­silphio­karabo­melito­katakechy­meno­kichl­epi­kossypho­phatto­perister­alektryon­opte­kephallio­kigklo­peleio­lagoio­siraio­baphe­tragano­pterygon",
    "http://example.com/" + "very-long-path-segment/" * 8 + "index.html",
    "0123456789" * 15,
]
for i in range(12):
    n = rng.randint(150, 400)
    L.append(" ".join(rng.choice(words) for _ in range(n)))
L.append(", ".join(str(rng.randint(0, 10 ** 6)) for _ in range(200)))
L.append("".join(rng.choice("!@#$%^&*()[]{}<>?/\\|~`'\";:.,-_=+") for _ in range(300)))

# Random mixtures from character pools, including every class above.
pools = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    " \t\u00a0\u3000\u2009",
    ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`",
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÉÎÕÜßİıΣσςЁё",
    "\u0301\u0308\u0327\u0303\u0323",
    "αβγδεζηθλμπρστφχψωАБВГДЕЖЗИЙКЛабвгдежз",
    "你好世界中文漢字日本語こんにちはカタカナ한국어안녕",
    "😀👍🏽❤️🇺🇸👨‍👩‍👧",
    "\x01\x1b\x7f\u200b\u200c\u200d\ufeff\u00ad",
    "ＡＢＣａｂｃ１２３！？",
    "«»“”‘’–—…•€£¥",
]
for i in range(130):
    n = rng.randint(1, 60)
    s = "".join(rng.choice(rng.choice(pools)) for _ in range(n))
    if rng.random() < 0.15:
        s = s[: n // 2] + rng.choice(["[SEP]", "[CLS]", "[MASK]", "[UNK]"]) + s[n // 2:]
    L.append(s)

assert all("\n" not in s and "\r" not in s for s in L)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer_corpus.txt")
with open(out, "w", encoding="utf-8", newline="\n") as f:
    for s in L:
        f.write(s + "\n")
print("wrote %d lines to %s" % (len(L), out))
