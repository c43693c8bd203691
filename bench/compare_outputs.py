"""Compare two akhbar datasets table by table, apart from the run's own ids and clock.

Usage::

    python bench/compare_outputs.py OUT_A OUT_B

Exits 0 when files, articles, sentences, tokens and entities hold the same rows and
values (sorted by their keys; ``run_id``, ``batch_id`` and ``processed_at`` ignored),
e.g. the same inputs run by two versions of akhbar, before and after an optimisation.
"""

from __future__ import annotations

import sys

import pandas as pd

TABLES = ("files", "articles", "sentences", "tokens", "entities")
VOLATILE = {"run_id", "batch_id", "processed_at"}
KEYS = ("file_id", "article_id", "sentence_index", "token_index", "token_start")


def _frame(out: str, name: str) -> pd.DataFrame:
    df = pd.read_parquet(f"{out}/{name}")
    df = df.drop(columns=[c for c in df.columns if c in VOLATILE])
    keys = [c for c in KEYS if c in df.columns]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    same = True
    for name in TABLES:
        a, b = (_frame(out, name) for out in argv)
        try:
            pd.testing.assert_frame_equal(a, b)
            print(f"{name}: identical, {len(a):,} rows")
        except AssertionError as exc:
            same = False
            print(f"{name}: DIFFERENT: {str(exc)[:500]}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
