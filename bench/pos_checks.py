"""Checks of the tagger's output on a real day of news (issue 23), through the CLI.

Usage (from the project root):
    .venv/bin/python bench/pos_checks.py [--input ../shared/corpora/saudinewsnet/2015-07-21.zip]
        [--out /tmp/pos-check] [--reuse]

Runs ``akhbar run INPUT --out OUT`` (unless ``--reuse`` and OUT holds a dataset), then:

1. Buckwalter characters in lemmas: ``akhbar query`` counts tokens whose lemma holds one
   of `` ` { } | < > & * $ ~ `` or a Latin letter while the token itself has none.
2. pos/upos agreement: for every distinct (token, lemma, pos, upos, gloss) row, when the
   analyzer has a reading of the token's UPOS, the row must be one such reading: its
   (lemma, pos) pair is a reading of that UPOS, and the gloss is that reading's.

Prints the counts and up to 10 examples of each failure; exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NON_WORD_POS = frozenset({"punc", "digit", "latin", "foreign"})
sys.path.insert(0, str(ROOT))

_BW_SQL = (
    "select text, lemma, upos, count(*) as n from tokens "
    "where regexp_matches(lemma, '[`{}|<>&*$~A-Za-z]') and not regexp_matches(text, '[A-Za-z]') "
    "group by 1, 2, 3 order by n desc"
)


def _akhbar(*args: str) -> str:
    exe = ROOT / ".venv" / "bin" / "akhbar"
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"akhbar {args[0]} exited {proc.returncode}: {proc.stderr[-800:]}")
    return proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default="../shared/corpora/saudinewsnet/2015-07-21.zip")
    ap.add_argument("--out", default="/tmp/pos-check")
    ap.add_argument("--reuse", action="store_true", help="check OUT as it is, without a run")
    args = ap.parse_args()
    out = Path(args.out)
    if not (args.reuse and (out / "tokens").is_dir()):
        _akhbar("run", args.input, "--out", str(out))

    rows = [json.loads(line) for line in
            _akhbar("query", str(out), _BW_SQL, "--format", "json").splitlines() if line.strip()]
    n_bw = sum(r["n"] for r in rows)
    total = json.loads(_akhbar("query", str(out), "select count(*) as n from tokens",
                               "--format", "json").splitlines()[0])["n"]
    print(f"tokens: {total}; lemmas with a Buckwalter character: {n_bw}")
    for r in rows[:10]:
        print("  ", r)

    import pyarrow.dataset as ds

    from tasks.morphology import load_morphology
    from tasks.morphology.pos_features import _GLOSS, _LEX, _POS, _UPOS

    table = ds.dataset(str(out / "tokens"), format="parquet").to_table(
        columns=["text", "lemma", "pos", "upos", "gloss", "morph_source"])
    counts = Counter(zip(*(table.column(c).to_pylist()
                           for c in ("text", "lemma", "pos", "upos", "gloss")), strict=True))
    morphology = load_morphology("bama")
    checked = bad = disagree = memory_only = 0
    examples, disagreements = [], []
    for (text, lemma, pos, upos, gloss), n in counts.items():
        readings = morphology.readings(text)
        of_tag = [r for r in readings if r[_UPOS] == upos]
        if not of_tag or pos in _NON_WORD_POS:
            continue
        checked += n
        if all(r[_POS] != pos for r in of_tag):
            disagree += n
            if len(disagreements) < 10:
                disagreements.append((text, lemma, pos, upos, n))
        match = [r for r in of_tag if r[_LEX] == lemma and r[_POS] == pos]
        if not match and gloss is None and all(r[_LEX] != lemma for r in of_tag):
            # the treebank memory's lemma, which no reading has (docs/annotation.md)
            memory_only += n
            continue
        if not match:
            # the dictionary lemma of a reading in the treebank's convention (ابْن for
            # بِن "son", رَسْمِيّ for رَسْمِيّاً): its pos and gloss still are that reading's
            match = [r for r in of_tag if r[_POS] == pos and r[_GLOSS] == gloss]
        if not match or all(r[_GLOSS] != gloss for r in match):
            bad += n
            if len(examples) < 10:
                examples.append((text, lemma, pos, upos, gloss, n,
                                 [(r[_LEX], r[_POS], r[_UPOS]) for r in readings][:4]))
    print(f"word tokens with a reading of their UPOS: {checked}; whose pos is no reading of "
          f"that UPOS: {disagree}; with the treebank memory's lemma and no gloss: "
          f"{memory_only}; whose (lemma, pos, gloss) is not one such reading: {bad}")
    for e in disagreements:
        print("   pos/upos:", e)
    for e in examples:
        print("   reading:", e)
    if n_bw or disagree or bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
