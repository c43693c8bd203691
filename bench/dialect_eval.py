"""The dialect identifier on a real day of news: MSA rate and its share of a run's time.

Usage::

    python bench/dialect_eval.py ../shared/corpora/saudinewsnet/2015-08-04.zip
        [--model tasks/models/dialect] [--chunk-size 250] [--show 5]

Runs every chunk of the inputs through clean -> segment -> annotate (morphology and
NER as a default run, dialect off) -> dedup signatures -> Parquet write (to a scratch
directory), and separately times the
learned identifier and the rules on the same articles, in this one process. Prints the
label counts, the MSA rate of each, and the identifier's CPU time as a share of the
stages plus itself (Prefect and the commit are left out, so the true share of a run
is smaller). Formal news is unlabelled: this is a check, never training data.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--model", default=None, help="model directory (default: the shipped one)")
    ap.add_argument("--chunk-size", type=int, default=250)
    ap.add_argument("--show", type=int, default=5, help="non-MSA articles to print")
    args = ap.parse_args(argv)

    from flows.runtime import prepare_environment

    prepare_environment()
    from tasks import annotate, clean, dedup, fetch, segment, write
    from tasks.config import FetchConfig, PipelineParams
    from tasks.dialect import identify_dialect_rules
    from tasks.dialect.model import SHIPPED_DIR, load_model

    params = PipelineParams(inputs=args.inputs)
    no_dialect = params.annotate.model_copy(update={"dialect": "none"})
    config = FetchConfig()
    records = fetch.fetch_batch(fetch.discover_sources(args.inputs, config), config,
                                known={}, quarantine_dir="/tmp/akhbar-dialect-q").records
    model = load_model(args.model or SHIPPED_DIR)
    scratch = tempfile.mkdtemp(prefix="akhbar-dialect-bench-")
    stage_cpu = model_cpu = rules_cpu = 0.0
    labels: list[tuple[str, float]] = []
    rules: list[str] = []
    texts: list[str] = []
    titles: list[str] = []
    for k in range(0, records.num_rows, args.chunk_size):
        c0 = time.process_time()
        cleaned = clean.clean_batch(records.slice(k, args.chunk_size), params.clean)
        seg = segment.segment_batch(cleaned.articles)
        res = annotate.annotate_batch(cleaned.articles, seg.tokens, no_dialect)
        dedup.signatures_for_articles(res.articles, params.dedup)
        tables = {"sentences": seg.sentences, "tokens": res.tokens, "entities": res.entities}
        write.write_batch(tables, scratch, str(k), params.write)
        c1 = time.process_time()
        chunk = res.articles.column("text").to_pylist()
        labels += model.identify(chunk)
        c2 = time.process_time()
        rules += [identify_dialect_rules(t) for t in chunk]
        c3 = time.process_time()
        stage_cpu += c1 - c0
        model_cpu += c2 - c1
        rules_cpu += c3 - c2
        texts += chunk
        titles += res.articles.column("title").to_pylist()
    shutil.rmtree(scratch, ignore_errors=True)
    n = len(labels)
    got = Counter(lab for lab, _ in labels)
    print(f"{records.num_rows} records, {n} articles, {sum(map(len, texts)):,} characters")
    print(f"model {model.method}: " + ", ".join(f"{k} {v}" for k, v in got.most_common())
          + f"; MSA {100 * got['MSA'] / max(n, 1):.2f} %")
    rc = Counter(rules)
    print("rules: " + ", ".join(f"{k} {v}" for k, v in rc.most_common())
          + f"; MSA {100 * rc['MSA'] / max(n, 1):.2f} %")
    share = model_cpu / (stage_cpu + model_cpu) if stage_cpu else 0.0
    print(f"cpu: stages {stage_cpu:.1f} s, model {model_cpu:.2f} s ({100 * share:.2f} % of "
          f"stages + model), rules {rules_cpu:.2f} s")
    shown = 0
    for (lab, score), title, text in zip(labels, titles, texts, strict=True):
        if lab != "MSA" and shown < args.show:
            print(f"  {lab} {score:.2f} {title!r}: {text[:120]!r}")
            shown += 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
