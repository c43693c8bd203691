"""Segment stage: paragraphs, sentences and word tokens with offsets into ``articles.text``.

Words come from camel-tools' ``simple_word_tokenize`` (punctuation split off,
clitics left attached); every token and sentence records ``char_start`` and
``char_end`` so that ``text[char_start:char_end]`` is its surface form.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import pyarrow as pa

from tasks.errors import SchemaError
from tasks.schemas import ARTICLE_COLUMNS, SENTENCES

# A sentence ends at . ! ? ؟ … (runs of them) followed by space or end of text,
# but not at a dot between digits (3.5) - the lookbehind/lookahead keep 3.5 whole.
_SENT_END = re.compile(r"(?:(?<!\d)\.|\.(?!\d)|[!?؟…])+(?=\s|$)")

TOKEN_BASE_COLUMNS = (
    "article_id",
    "sentence_index",
    "token_index",
    "text",
    "char_start",
    "char_end",
)


@dataclass
class SegmentResult:
    """Sentences and tokens of a batch of articles."""

    sentences: pa.Table
    tokens: pa.Table


def split_sentences(paragraph: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` within one paragraph, whitespace trimmed."""
    spans = []
    start = 0
    for m in _SENT_END.finditer(paragraph):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(paragraph)))
    out = []
    for s, e in spans:
        seg = paragraph[s:e]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg) - len(seg.rstrip())
        if e - trail > s + lead:
            out.append((s + lead, e - trail))
    return out


@functools.cache
def _tokenizer():
    """``simple_word_tokenize`` and a test for the characters where it can split a word."""
    import regex
    from camel_tools.tokenizers.word import simple_word_tokenize

    # simple_word_tokenize tries its symbol/emoji regex at every character of every word;
    # each of that regex's alternatives starts with one of these characters, so a word
    # without any (most Arabic words) is one token as it stands.
    starter = regex.compile(r"[\p{RI}\p{Emoji}\p{S}\p{P}0-9*#]")
    return simple_word_tokenize, starter.search


def tokenize_with_offsets(text: str, base: int = 0) -> list[tuple[str, int, int]]:
    """Words of ``text`` as ``(token, start, end)`` with offsets shifted by ``base``.

    The tokens are camel-tools' ``simple_word_tokenize(text)``: whitespace-separated
    words with punctuation and symbols split off.
    """
    tokenize, may_split = _tokenizer()
    out = []
    pos = 0
    find = text.find
    for word in text.split():
        i = find(word, pos)
        pos = i + len(word)
        if may_split(word) is None:
            out.append((word, base + i, base + pos))
            continue
        for tok in tokenize(word):  # pieces of the word, in order and contiguous
            out.append((tok, base + i, base + i + len(tok)))
            i += len(tok)
    return out


def segment_text(text: str) -> list[tuple[int, int, int, list[tuple[str, int, int]]]]:
    """Sentences of an article as ``(paragraph_index, start, end, tokens)``."""
    out = []
    offset = 0
    for p_index, para in enumerate(text.split("\n")):
        for s, e in split_sentences(para):
            toks = tokenize_with_offsets(para[s:e], offset + s)
            if toks:
                out.append((p_index, offset + s, offset + e, toks))
        offset += len(para) + 1
    return out


def segment_batch(articles: pa.Table) -> SegmentResult:
    """Split every article into sentences and tokens.

    Returns the ``sentences`` table and the ``tokens`` base columns
    (article_id, sentence_index, token_index, text, char_start, char_end).
    """
    for name in ("article_id", "text"):
        if name not in articles.column_names:
            raise SchemaError(
                f"segment needs articles column {name!r}; has {articles.column_names}"
            )
    # The article's date and source are added when the chunk is written (tasks.write).
    s_cols: dict[str, list] = {n: [] for n in SENTENCES.names if n not in ARTICLE_COLUMNS}
    t_aid: list[str] = []
    t_sent: list[int] = []
    t_idx: list[int] = []
    t_text: list[str] = []
    t_start: list[int] = []
    t_end: list[int] = []
    for aid, text in zip(
        articles.column("article_id").to_pylist(), articles.column("text").to_pylist(), strict=True
    ):
        for s_index, (p_index, start, end, toks) in enumerate(segment_text(text or "")):
            s_cols["article_id"].append(aid)
            s_cols["sentence_index"].append(s_index)
            s_cols["paragraph_index"].append(p_index)
            s_cols["text"].append(text[start:end])
            s_cols["char_start"].append(start)
            s_cols["char_end"].append(end)
            s_cols["n_tokens"].append(len(toks))
            n = len(toks)
            t_aid.extend([aid] * n)
            t_sent.extend([s_index] * n)
            t_idx.extend(range(n))
            for tok, ts, te in toks:
                t_text.append(tok)
                t_start.append(ts)
                t_end.append(te)
    sentences = pa.table({n: pa.array(v, type=SENTENCES.field(n).type) for n, v in s_cols.items()})
    i32 = pa.int32()
    tokens = pa.table(
        {
            "article_id": pa.array(t_aid, pa.string()),
            "sentence_index": pa.array(t_sent, i32),
            "token_index": pa.array(t_idx, i32),
            "text": pa.array(t_text, pa.string()),
            "char_start": pa.array(t_start, i32),
            "char_end": pa.array(t_end, i32),
        }
    )
    return SegmentResult(sentences=sentences, tokens=tokens)
