"""Evaluate exact/near-duplicate detection on SaudiNewsNet-style zips (issue 9).

Each zip holds one JSON array of articles with keys source, url, date_extracted, title,
author, content. The script signs and assigns the articles in batches as the pipeline
does, prints duplicate counts, the largest story clusters, timings, and a random sample of
near-duplicate pairs with estimated and true (exact, on shingle sets) Jaccard similarity.

    python bench/dedup_eval.py /work/shared/corpora/saudinewsnet/*.zip [--sample 40]
        [--batch 200] [--threshold 0.8] [--scale 100000] [--show 10]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.config import DedupConfig  # noqa: E402
from tasks.dedup import (  # noqa: E402
    DedupIndex,
    compute_signatures,
    normalize_for_dedup,
    signatures_to_numpy,
    summarize_duplicates,
)

# The whole pipeline targets 50k words/s; the index may add at most 10 % to that.
TARGET_WORDS_PER_S = 50_000


def read_zips(paths: list[str]) -> list[dict]:
    """Articles of every zip, each with an ``article_id`` of ``<zip stem>/<index>``."""
    articles = []
    for path in paths:
        with zipfile.ZipFile(path) as z:
            for member in z.namelist():
                if not member.endswith(".json"):
                    continue
                for i, item in enumerate(json.loads(z.read(member))):
                    item["article_id"] = f"{Path(path).stem}/{i}"
                    articles.append(item)
    return articles


def true_jaccard(a: str, b: str, k: int) -> float:
    """Exact Jaccard similarity of the word k-shingle sets of two normalized texts."""
    wa, wb = normalize_for_dedup(a).split(), normalize_for_dedup(b).split()
    sa = {tuple(wa[i : i + k]) for i in range(len(wa) - k + 1)}
    sb = {tuple(wb[i : i + k]) for i in range(len(wb) - k + 1)}
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def naive_datasketch(texts: list[str], config: DedupConfig) -> float:
    """Seconds for the textbook datasketch loop: MinHash per article + MinHashLSH insert."""
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    k = config.shingle_size
    for i, text in enumerate(texts):
        w = normalize_for_dedup(text).split()
        shingles = {" ".join(w[j : j + k]).encode() for j in range(len(w) - k + 1)}
        if not shingles:
            continue
        m = MinHash(num_perm=config.num_perm)
        m.update_batch(list(shingles))
        lsh.query(m)
        lsh.insert(str(i), m)
    return time.perf_counter() - t0


def scale_test(n: int, config: DedupConfig) -> None:
    """Assign, save and load an index of n articles with random signatures."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as out:
        index = DedupIndex.load(out, config)
        t_assign = 0.0
        for start in range(0, n, 1000):
            ids = [f"s{i}" for i in range(start, min(n, start + 1000))]
            sigs = rng.integers(0, 2**32, size=(len(ids), config.num_perm), dtype=np.uint32)
            offsets = pa.array(np.arange(len(ids) + 1, dtype=np.int32) * config.num_perm)
            table = pa.table(
                {
                    "article_id": ids,
                    "exact_hash": [f"h{i}" for i in ids],
                    "minhash": pa.ListArray.from_arrays(offsets, pa.array(sigs.reshape(-1))),
                }
            )
            t0 = time.perf_counter()
            index.assign(pa.table({"article_id": ids}), table)
            t_assign += time.perf_counter() - t0
            if start % 20_000 == 0:
                index.save(f"b{start}")
        t0 = time.perf_counter()
        index.save("last")
        t_save = time.perf_counter() - t0
        t0 = time.perf_counter()
        loaded = DedupIndex.load(out, config)
        t_load = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
        print(
            f"scale {n:,} random articles: assign {1e6 * t_assign / n:.0f} ms/1k articles "
            f"({t_assign:.2f} s), last save {t_save:.2f} s, load {t_load:.2f} s "
            f"({len(loaded):,} articles, {len(loaded.segments)} segments, {size / 1e6:.1f} MB)"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zips", nargs="+")
    ap.add_argument("--sample", type=int, default=40, help="near-duplicate pairs to print")
    ap.add_argument("--batch", type=int, default=200, help="articles per assign batch")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--show", type=int, default=10, help="largest clusters to print")
    ap.add_argument("--scale", type=int, default=0, help="also time a random index of N")
    ap.add_argument("--baseline", action="store_true", help="time naive datasketch too")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chars", type=int, default=160, help="text shown per pair side")
    args = ap.parse_args(argv)
    config = DedupConfig(threshold=args.threshold)

    articles = read_zips(args.zips)
    texts = [a["content"] or "" for a in articles]
    ids = [a["article_id"] for a in articles]
    by_id = {a["article_id"]: a for a in articles}
    n_words = sum(len(t.split()) for t in texts)
    print(f"{len(articles):,} articles, {n_words:,} words from {len(args.zips)} zip(s)")

    t0 = time.perf_counter()
    sig_parts = [
        compute_signatures(texts[i : i + args.batch], config, ids[i : i + args.batch])
        for i in range(0, len(texts), args.batch)
    ]
    t_sig = time.perf_counter() - t0
    signatures = pa.concat_tables(sig_parts)

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        index = DedupIndex.load(out, config)
        t_load0 = time.perf_counter() - t0
        parts, t_assign, t_save = [], 0.0, 0.0
        for i, sig in zip(range(0, len(ids), args.batch), sig_parts, strict=True):
            t0 = time.perf_counter()
            parts.append(index.assign(pa.table({"article_id": ids[i : i + args.batch]}), sig))
            t1 = time.perf_counter()
            index.save(f"b{i}")
            t_assign += t1 - t0
            t_save += time.perf_counter() - t1
        t0 = time.perf_counter()
        reloaded = DedupIndex.load(out, config)
        t_load = time.perf_counter() - t0
        # Idempotence on the real corpus: a re-run gives the same answers.
        again = pa.concat_tables(
            reloaded.assign(pa.table({"article_id": ids[i : i + args.batch]}), sig)
            for i, sig in zip(range(0, len(ids), args.batch), sig_parts, strict=True)
        )
    result = pa.concat_tables(parts)
    assert again.equals(result), "re-assign after reload changed answers"

    near = result.column("near_duplicate_of").to_pylist()
    table = result.append_column("title", pa.array([by_id[a]["title"].strip() for a in ids]))
    table = table.append_column("source_name", pa.array([by_id[a]["source"] for a in ids]))
    summary = summarize_duplicates(table, index, top=args.show)
    n_short = signatures.column("minhash").null_count
    print(
        f"exact duplicates: {summary.n_exact:,}   near duplicates: {summary.n_near:,}   "
        f"no MinHash (short): {n_short:,}   story merges: {len(index.merges)}"
    )
    print(
        f"near-duplicate stories (clusters of size >= 2): {summary.n_stories:,}, "
        f"holding {summary.n_in_stories:,} articles"
    )
    print(f"\nlargest clusters (top {args.show}):")
    for c in summary.largest:
        print(f"  {c['size']:3d}  {c['title'][:70]}  | {c['sources']}")

    words_k = n_words / 1000
    budget = n_words / TARGET_WORDS_PER_S
    print("\ntimings:")
    print(
        f"  signatures {t_sig:.2f} s ({1e6 * t_sig / len(ids):.0f} ms/1k articles, "
        f"{n_words / t_sig:,.0f} words/s)"
    )
    print(
        f"  assign     {t_assign:.2f} s ({1e6 * t_assign / len(ids):.0f} ms/1k articles); "
        f"save {t_save:.2f} s over {len(parts)} batches; load empty {t_load0 * 1000:.0f} ms, "
        f"load {len(reloaded):,} articles {t_load * 1000:.0f} ms"
    )
    total = t_sig + t_assign + t_save
    print(
        f"  dedup total {total:.2f} s = {100 * total / budget:.1f} % of the pipeline's "
        f"run time at {TARGET_WORDS_PER_S:,} words/s ({budget:.1f} s for {words_k:,.0f}k words)"
    )
    if args.baseline:
        t_naive = naive_datasketch(texts, config)
        print(f"  baseline: naive datasketch MinHash + MinHashLSH loop {t_naive:.2f} s")
    if args.scale:
        scale_test(args.scale, config)

    sig_mat = signatures_to_numpy(signatures.column("minhash"), config.num_perm)
    row = {aid: k for k, aid in enumerate(ids)}
    pairs = [(a, b) for a, b in zip(ids, near, strict=True) if b is not None]
    rng = random.Random(args.seed)
    sample = rng.sample(pairs, min(args.sample, len(pairs)))
    floor = config.threshold - 0.1
    ok = 0
    print(f"\nsample of {len(sample)} near-duplicate pairs (est = MinHash, true = exact):")
    for n, (a, b) in enumerate(sample, 1):
        est = float(np.mean(sig_mat[row[a]] == sig_mat[row[b]]))
        tj = true_jaccard(by_id[a]["content"], by_id[b]["content"], config.shingle_size)
        ok += tj >= floor
        print(f"[{n}] est {est:.2f} true {tj:.2f} {'OK' if tj >= floor else 'LOW'}")
        for aid in (a, b):
            art = by_id[aid]
            body = " ".join(art["content"].split())[: args.chars]
            print(f"    {aid} {art['source']}: {art['title'].strip()[:60]} || {body}")
    if sample:
        print(
            f"\nprecision (true Jaccard >= {floor:.2f}): {ok}/{len(sample)} = "
            f"{ok / len(sample):.3f}"
        )


if __name__ == "__main__":
    main()
