"""The POS retag's µs per token of two tagger models, side by side in one process (issue 23).

Usage (from the project root)::

    python bench/pos_speed.py INPUT... --models OLD_DIR NEW_DIR [--chunk-size 250] [--chunks 3]

Fetches, cleans, segments and analyzes ``--chunks`` chunks of ``--chunk-size`` records,
then times (CPU seconds) each model's ``retag`` on every chunk, the models taking turns
at going first, so both meet the same load. The first chunk meets empty per-type
caches; the later ones reuse them (as a worker does). No persistent cache is used.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--models", nargs="+", required=True, metavar="MODEL_DIR")
    ap.add_argument("--chunk-size", type=int, default=250)
    ap.add_argument("--chunks", type=int, default=3)
    args = ap.parse_args(argv)

    from flows.runtime import prepare_environment

    prepare_environment()
    from tasks import clean, fetch, segment
    from tasks.annotate import sentence_lists
    from tasks.config import FetchConfig, PipelineParams
    from tasks.morphology import load_morphology
    from tasks.morphology.tagger import load_tagger

    params = PipelineParams(inputs=args.inputs)
    sources = fetch.discover_sources(args.inputs, FetchConfig())
    records = fetch.fetch_batch(sources, FetchConfig(), known={},
                                quarantine_dir="/tmp/akhbar-pos-speed-q").records
    morphology = load_morphology("bama")
    taggers = []
    for d in args.models:
        t0 = time.process_time()
        taggers.append(load_tagger(d))
        print(f"load {d}: {time.process_time() - t0:.2f} s")
    later = [0.0] * len(taggers)
    n_later = 0
    for k in range(args.chunks):
        chunk = records.slice(k * args.chunk_size, args.chunk_size)
        if not chunk.num_rows:
            break
        cleaned = clean.clean_batch(chunk, params.clean)
        tokens = segment.segment_batch(cleaned.articles).tokens
        sentences, _ = sentence_lists(tokens)
        morph = morphology.analyze_sentences(sentences)
        n = tokens.num_rows
        times = [0.0] * len(taggers)
        # the models take turns going first, so neither always meets the warmer caches
        order = list(range(len(taggers)))
        for i in order[k % len(order):] + order[: k % len(order)]:
            gc.disable()
            t0 = time.process_time()
            taggers[i].retag(sentences, morphology, morph)
            times[i] = time.process_time() - t0
            gc.enable()
        print(f"chunk {k} ({n:,} tokens): " + ", ".join(
            f"{Path(d).name} {1e6 * t / n:.1f}" for d, t in zip(args.models, times, strict=True))
            + " µs/token")
        if k:
            later = [a + b for a, b in zip(later, times, strict=True)]
            n_later += n
    if n_later:
        base = later[0]
        print("later chunks: " + ", ".join(
            f"{Path(d).name} {1e6 * t / n_later:.1f} µs/token ({t / base:.2f}x)"
            for d, t in zip(args.models, later, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
