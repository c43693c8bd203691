"""Annotate's learned stages in µs per token, in one process: analysis, POS, NER.

Usage::

    python bench/annotate_stages.py INPUT... [--chunk-size 250] [--chunks 3] [--persistent]

Fetches, cleans and segments the inputs, then annotates ``--chunks`` chunks of
``--chunk-size`` records one after another in this process, timing (CPU seconds) the
morphology's analysis, the POS retag and the NER separately. The first chunk meets
empty per-process caches; the later ones reuse them (as a worker does). With
``--persistent`` the persistent caches (analyses, and the models' rows where the code
has them) are read and filled in ``$AKHBAR_CACHE_DIR``: run twice to see a warm cache.
Works on any checkout with the same stage functions (issue 21 compared main's).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cpu(fn, *args, **kwargs):
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--chunk-size", type=int, default=250)
    ap.add_argument("--chunks", type=int, default=3)
    ap.add_argument("--persistent", action="store_true")
    ap.add_argument("--detail", action="store_true",
                    help="then split each model's per-token work on the sequence runtime")
    args = ap.parse_args(argv)

    from flows.runtime import prepare_environment

    prepare_environment()
    from tasks import clean, fetch, segment
    from tasks.annotate import sentence_lists
    from tasks.config import FetchConfig, PipelineParams
    from tasks.entities import recognize_entities
    from tasks.morphology import load_morphology
    from tasks.morphology.tagger import load_tagger

    params = PipelineParams(inputs=args.inputs)
    sources = fetch.discover_sources(args.inputs, FetchConfig())
    records = fetch.fetch_batch(sources, FetchConfig(), known={},
                                quarantine_dir="/tmp/akhbar-stages-q").records
    (morphology, t_load_m) = _cpu(load_morphology, "bama")
    (tagger, t_load_p) = _cpu(load_tagger)
    from tasks.entities.model import load_model

    (_, t_load_n) = _cpu(load_model)
    print(f"load: morphology {t_load_m:.2f} s, POS {t_load_p:.2f} s, NER {t_load_n:.2f} s")
    retag_kw = {"persistent": True} if args.persistent and \
        "persistent" in inspect.signature(tagger.retag).parameters else {}
    ner_kw = {"persistent": True} if args.persistent and \
        "persistent" in inspect.signature(recognize_entities).parameters else {}
    total = {"analysis": 0.0, "pos": 0.0, "ner": 0.0}
    n_all = 0
    for k in range(args.chunks):
        chunk = records.slice(k * args.chunk_size, args.chunk_size)
        if not chunk.num_rows:
            break
        cleaned = clean.clean_batch(chunk, params.clean)
        tokens = segment.segment_batch(cleaned.articles).tokens
        sentences, starts = sentence_lists(tokens)
        docs = tokens.column("article_id").take(starts).to_pylist()
        n = tokens.num_rows
        gc.disable()  # as annotate_batch does
        morph, t_a = _cpu(morphology.analyze_sentences, sentences, persistent=args.persistent)
        morph, t_p = _cpu(tagger.retag, sentences, morphology, morph, **retag_kw)
        _, t_n = _cpu(recognize_entities, sentences, morph, "model", documents=docs, **ner_kw)
        if args.detail:
            _detail(sentences, morphology, morph, tagger, load_model(), n)
        gc.enable()
        times = {"analysis": t_a, "pos": t_p, "ner": t_n}
        print(f"chunk {k} ({n:,} tokens): " + ", ".join(
            f"{name} {1e6 * t / n:.1f}" for name, t in times.items()) + " µs/token")
        if k:
            for name, t in times.items():
                total[name] += t
            n_all += n
    if n_all:
        print("later chunks: " + ", ".join(
            f"{name} {1e6 * t / n_all:.1f}" for name, t in total.items())
            + f" µs/token (sum {1e6 * sum(total.values()) / n_all:.1f})")
    return 0


def _detail(sentences, morphology, morph, tagger, ner, n: int) -> None:
    """Each model once more on the chunk (its rows now held): keys, emissions, decode."""
    import numpy as np

    from tasks.morphology.pos_features import _reading_key
    from tasks.sequence import decode, encode

    lengths = np.array([len(s) for s in sentences])

    def pos_keys():
        codes, words = encode(w for s in sentences for w in s)
        types = [(w, _reading_key(morphology.readings(w))) for w in words]
        return {"word": (codes, types), "ctx": encode(morph["upos"])}

    def ner_keys():
        return {k: encode(v) for k, v in ner.keys(sentences, morph).items()}

    out = []
    for name, seq, keys_fn, aux in (("pos", tagger.sequence, pos_keys, morphology),
                                    ("ner", ner.sequence, ner_keys, None)):
        keys, t_k = _cpu(keys_fn)
        em, t_e = _cpu(seq.emissions, lengths, keys, aux)
        _, t_d = _cpu(decode, em, lengths, seq.weights.trans)
        out.append(f"{name}: keys {1e6 * t_k / n:.2f}, emissions {1e6 * t_e / n:.2f}, "
                   f"decode {1e6 * t_d / n:.2f}")
    _, t_r = _cpu(tagger.retag, sentences, morphology, morph)
    _, t_s = _cpu(ner.tag, sentences, morph)
    print("  held rows: " + "; ".join(out) + f" µs/token; whole retag {1e6 * t_r / n:.2f}, "
          f"whole NER tag {1e6 * t_s / n:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
