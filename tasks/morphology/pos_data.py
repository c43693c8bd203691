"""UD treebank data for the POS tagger: CoNLL-U sentences of surface words, the split.

A surface word is rebuilt from the treebank's clitic-split tokens and carries the UPOS
and lemma of its content part, the way the treebank is scored: ``وللسلطة`` is NOUN,
``نشرتها`` VERB.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError

# UD tags of the leading clitics that are not the content part (و+، ب+، ال+ ...).
_FUNCTION_PREFIX = frozenset({"CCONJ", "ADP", "PART", "SCONJ", "DET"})
_DIAC_RE = re.compile("[\u064b-\u0652\u0670\u0640]")
_NORM_TABLE = str.maketrans({"إ": "ا", "أ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})

def norm_lemma(text: str | None) -> str:
    """Dediacritize and fold alef/yaa/teh-marbuta variants (how lemmas are compared)."""
    if not text:
        return ""
    return _DIAC_RE.sub("", text).translate(_NORM_TABLE).strip()




@dataclass(frozen=True)
class GoldWord:
    """A surface word rebuilt from clitic-split tokens, with its content part's tags."""

    form: str
    upos: str
    lemma: str


@dataclass
class GoldSentence:
    """One CoNLL-U sentence: its id, text, surface words and the original block."""

    sent_id: str
    text: str
    words: list[GoldWord]
    block: str = field(repr=False)


def arabic_lemma(lemma: str) -> str:
    """A treebank lemma as Arabic script: the Buckwalter dagger alif left in UD
    Arabic-PUD's lemmas (ه`ذا, ذ`لِكَ, ل`كِنَّ) becomes U+0670 (هٰذا), stray quotes go."""
    out = lemma.replace("`", "\u0670")
    if _ARABIC_RE.search(out):
        out = _STRAY_RE.sub("", out) or out
    return out


_ARABIC_RE = re.compile("[\u0621-\u064a]")
_STRAY_RE = re.compile("[\"'`]")


def content_part(rows: Sequence[Sequence[str]]) -> tuple[str, str]:
    """(lemma, upos) of a clitic-split word: drop enclitic pronouns, then proclitics.

    ``و + ل + السلطة`` -> the lemma and UPOS of ``السلطة``; ``نشرت + ها`` -> ``نشرت``.
    """
    parts = list(rows)
    while len(parts) > 1 and parts[-1][3] == "PRON":
        parts.pop()
    while len(parts) > 1 and parts[0][3] in _FUNCTION_PREFIX:
        parts.pop(0)
    return parts[0][2], parts[0][3]


def _surface_words(rows: list[list[str]]) -> list[GoldWord]:
    # A token glues onto the next when its MISC has SpaceAfter=No and neither is
    # punctuation: ل + أوباما -> لأوباما, but شولمان + "," stay two words.
    words = []
    i = 0
    while i < len(rows):
        parts = [rows[i]]
        while (
            "SpaceAfter=No" in parts[-1][9]
            and parts[-1][3] != "PUNCT"
            and i + 1 < len(rows)
            and rows[i + 1][3] != "PUNCT"
        ):
            i += 1
            parts.append(rows[i])
        i += 1
        lemma, upos = content_part(parts)
        words.append(GoldWord("".join(p[1] for p in parts), upos, lemma))
    return words


def read_conllu(paths: Path | str | Iterable[Path | str]) -> list[GoldSentence]:
    """Read CoNLL-U files into sentences of surface words (multiword-token lines skipped).

    Raises:
        FileNotFoundError: a file is missing.
        ConfigError: a file holds no sentence.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    sentences: list[GoldSentence] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"CoNLL-U file {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
        before = len(sentences)
        for block in re.split(r"\n\s*\n", text.strip()):
            sent_id, sent_text, rows = "", "", []
            for line in block.split("\n"):
                if line.startswith("# sent_id"):
                    sent_id = line.split("=", 1)[1].strip()
                elif line.startswith("# text ="):
                    sent_text = line.split("=", 1)[1].strip()
                elif line and not line.startswith("#"):
                    cols = line.split("\t")
                    if len(cols) == 10 and cols[0].isdigit():
                        rows.append(cols)
            if rows:
                sent_id = sent_id or f"{path.name}:{len(sentences) + 1}"
                if not sent_text:
                    sent_text = " ".join(r[1] for r in rows)
                sentences.append(GoldSentence(sent_id, sent_text, _surface_words(rows), block))
        if len(sentences) == before:
            raise ConfigError(f"CoNLL-U file {str(path)!r} holds no sentence")
    return sentences


def write_conllu(sentences: Iterable[GoldSentence], path: Path | str) -> None:
    """Write sentences back as CoNLL-U, each block exactly as it was read."""
    Path(path).write_text("".join(s.block.strip() + "\n\n" for s in sentences), encoding="utf-8")


def split_holdout(
    sentences: list[GoldSentence], fraction: float, seed: int
) -> tuple[list[GoldSentence], list[GoldSentence]]:
    """(train, held-aside): a seeded random ``fraction`` of whole sentences held aside."""
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_hold = round(len(sentences) * fraction)
    held = set(order[:n_hold])
    train = [s for i, s in enumerate(sentences) if i not in held]
    return train, [s for i, s in enumerate(sentences) if i in held]


