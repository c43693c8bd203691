"""Cross-validated NER feature experiments (issue 22): which additions to the CRF help?

Trains python-crfsuite on K folds of whole 100-sentence blocks of an ANERcorp-format
file, with the shipped feature extractor plus candidate additions, and prints each
candidate's exact-span F1 per fold, its mean and spread. The blocks of the shipped
model's held-aside part (``split_holdout``, seed 12) are left out of every fold, so
that part stays unseen while features are chosen.

Candidates (``--configs``, comma-separated):
  base        the shipped features (``NerFeatures``, spelled by ``training_items``)
  emb         + the fastText vector of the word as dense features (tasks/embeddings.py),
              as ``NerFeatures(vectors="dense")`` ships it
  ecl         + embedding k-means cluster ids (cover unseen words through subwords):
              ``vectors="clusters"``
  emb+ecl     both: ``vectors="both"``
  emb3        + the vectors of the neighbours (±1) as dense features too (bench only)
  doc         + document consistency: first-pass labels of the same stem in the
              neighbouring sentences (a window standing for the article)
  aqmar       + AQMAR Wikipedia NER as extra training data (MIS* -> MISC)
  aqmar-o     + AQMAR with MIS* dropped to O
Combine with '+', e.g. ``emb+ecl+doc``.

``--two-stage`` instead measures the shipped two-stage trainer itself
(``tasks.entities.ner_train.train_prepared``, ``two_stage=True``) on each fold: its
jackknifed first pass is made from the training folds only (never the test fold), and
the first stage alone is scored beside it on the same fold, with the same span repairs
and documents (blocks of ``DOC_BLOCK`` sentences) as ``akhbar train ner``:

    python bench/ner_experiments.py --two-stage --folds 3 --jobs 2

    python bench/ner_experiments.py --data ../shared/eval/anercorp-camellab-train.txt \\
        --configs base,emb,ecl,doc --folds 5 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.entities import model as M  # noqa: E402

_CACHE = Path(os.environ.get("AKHBAR_CACHE_DIR", "/tmp")) / "ner-exp"
_STATE: dict = {}


def _prepared(path: str, name: str):
    """(toks, tags, morph per sentence) of a BIO file, cached on disk."""
    _CACHE.mkdir(parents=True, exist_ok=True)
    pkl = _CACHE / f"{name}.pkl"
    if pkl.is_file():
        return pickle.loads(pkl.read_bytes())
    from tasks.morphology import load_morphology

    sents = M.read_bio(path)
    toks, tags, morph = _prep(sents, load_morphology("auto"))
    per = []
    k = 0
    for t in toks:
        per.append({c: v[k:k + len(t)] for c, v in morph.items() if isinstance(v, list)})
        k += len(t)
    out = (toks, tags, per)
    pkl.write_bytes(pickle.dumps(out))
    return out


def read_aqmar(path: str, drop_mis: bool) -> list:
    """AQMAR sentences with PER/LOC/ORG kept and MIS0-3 as MISC (or O); stray tags O."""
    sents, cur = [], []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        line = line.strip()
        if not line:
            if cur:
                sents.append(cur)
                cur = []
            continue
        tok, _, tag = line.rpartition(" ")
        if not tok:
            tok, tag = tag, "O"
        bio, _, lab = tag.partition("-")
        lab = lab.strip("-`")
        if bio not in ("B", "I") or not lab:
            tag = "O"
        elif lab in ("PER", "LOC", "ORG"):
            tag = f"{bio}-{lab}"
        elif lab.startswith("MIS") and not drop_mis:
            tag = f"{bio}-MISC"
        else:
            tag = "O"
        cur.append((tok, tag))
    if cur:
        sents.append(cur)
    return sents


def _prepare_aqmar(path: str, drop_mis: bool):
    name = "aqmar-o" if drop_mis else "aqmar"
    pkl = _CACHE / f"{name}.pkl"
    if pkl.is_file():
        return pickle.loads(pkl.read_bytes())
    from tasks.morphology import load_morphology

    toks, tags, morph = _prep(read_aqmar(path, drop_mis), load_morphology("auto"))
    per, k = [], 0
    for t in toks:
        per.append({c: v[k:k + len(t)] for c, v in morph.items() if isinstance(v, list)})
        k += len(t)
    out = (toks, tags, per)
    _CACHE.mkdir(parents=True, exist_ok=True)
    pkl.write_bytes(pickle.dumps(out))
    return out


def _flat_morph(per: list[dict]) -> dict:
    out: dict = {}
    for d in per:
        for c, v in d.items():
            out.setdefault(c, []).extend(v)
    return out


def _prep(sents, morphology):
    from tasks.entities.ner_train import _prepare

    return _prepare(sents, morphology)


def base_features(toks, per, name: str, vectors: str | None = None):
    """The shipped features (``vectors`` as ``NerFeatures`` takes it), once per process."""
    from tasks.entities.ner_features import NerFeatures, training_items

    key = ("feats", name, vectors)
    if key not in _STATE:
        feats = NerFeatures(use_clusters=True, vectors=vectors)
        _STATE[key] = training_items(feats, toks, _flat_morph(per), None)
    return _STATE[key]


def _vector_use(cfg: set[str]) -> str | None:
    if "emb" in cfg and "ecl" in cfg:
        return "both"
    return "dense" if "emb" in cfg else "clusters" if "ecl" in cfg else None


def _vectors():
    if "wv" not in _STATE:
        from tasks.embeddings import load_vectors

        wv = load_vectors(_STATE["emb_dir"])
        import numpy as np

        allv = wv.vectors.astype(np.float32)
        _STATE["mu"] = allv.mean(0)
        _STATE["sd"] = allv.std(0) + 1e-6
        _STATE["wv"] = wv
    return _STATE["wv"]


def _dense(tok: str, scale: float) -> dict[str, float]:
    cache = _STATE.setdefault("dense", {})
    hit = cache.get(tok)
    if hit is None:
        from tasks.entities.gazetteers import _is_word

        wv = _vectors()
        if not _is_word(tok):
            hit = {}
        else:
            z = (wv.vector(tok) - _STATE["mu"]) / _STATE["sd"]
            hit = {f"e{k}": float(v) * scale for k, v in enumerate(z)}
        cache[tok] = hit
    return hit


def add_features(cfg: set[str], toks, feats, first_pass=None, window: int = 10):
    """Feature dicts per token per sentence: the base strings plus the candidates."""
    out = []
    for si, (ts, fs) in enumerate(zip(toks, feats, strict=True)):
        m = len(ts)
        rows = []
        doc = _doc_feats(si, toks, first_pass, window) if "doc" in cfg else None
        for i in range(m):
            d = fs[i]
            if "emb3" not in cfg and doc is None:
                rows.append(d)
                continue
            d = dict(d) if isinstance(d, dict) else dict.fromkeys(d, 1.0)
            if "emb3" in cfg:
                for off in (-1, 1):
                    if 0 <= i + off < m:
                        d.update({f"{off}:{k}": v for k, v in _dense(ts[i + off], 0.3).items()})
            if doc is not None:
                d.update(doc[i])
            rows.append(d)
        out.append(rows)
    return out


def _doc_key(tok: str) -> str | None:
    from tasks.entities.gazetteers import _is_word, normalize_name

    if not _is_word(tok):
        return None
    _, stem = M._strip_clitics(normalize_name(tok))
    return stem if len(stem) >= 3 else None


def _doc_feats(si, toks, first_pass, window):
    """Per token of sentence si: labels the first pass gave the same stem nearby."""
    lo, hi = max(0, si - window), min(len(toks), si + window + 1)
    index: dict[str, Counter] = {}
    for sj in range(lo, hi):
        labs = first_pass[sj]
        for j, t in enumerate(toks[sj]):
            k = _doc_key(t)
            if k is None:
                continue
            index.setdefault(k, Counter())[(labs[j][2:] if labs[j] != "O" else "O")] += 1
    rows = []
    own = first_pass[si]
    for i, t in enumerate(toks[si]):
        k = _doc_key(t)
        d: dict[str, float] = {}
        if k is not None:
            c = index[k].copy()
            c[(own[i][2:] if own[i] != "O" else "O")] -= 1
            total = sum(c.values())
            if total > 0:
                ent = {lab: n for lab, n in c.items() if lab != "O" and n > 0}
                for lab, n in ent.items():
                    d["dl=" + lab] = n / total
                if ent:
                    d["dmaj=" + max(ent, key=ent.get)] = 1.0
                else:
                    d["donly=O"] = 1.0
        rows.append(d)
    return rows


def train_predict(train_x, train_y, test_x, params):
    import pycrfsuite

    tr = pycrfsuite.Trainer(verbose=False)
    for x, y in zip(train_x, train_y, strict=True):
        tr.append(pycrfsuite.ItemSequence(x), y)
    tr.set_params(params)
    path = _CACHE / f"m-{os.getpid()}-{time.time_ns()}.crfsuite"
    tr.train(str(path))
    tg = pycrfsuite.Tagger()
    tg.open(str(path))
    pred = [tg.tag(pycrfsuite.ItemSequence(x)) for x in test_x]
    n_attr = len(tg.info().attributes)
    tg.close()
    size = path.stat().st_size
    path.unlink()
    return pred, {"bytes": size, "attrs": n_attr}


def _job(args):
    cfg_name, fold, train_idx, test_idx, opts = args
    _STATE["emb_dir"] = opts["emb_dir"]
    t0 = time.perf_counter()
    toks, tags, per = _prepared(opts["data"], "anercorp")
    cfg = set(cfg_name.split("+"))
    feats = base_features(toks, per, "anercorp", _vector_use(cfg))
    first = None
    if "doc" in cfg:
        first = opts["first_pass"][fold]
    x = add_features(cfg, toks, feats, first, opts["window"])
    tx = [x[i] for i in train_idx]
    ty = [tags[i] for i in train_idx]
    if "aqmar" in cfg or "aqmar-o" in cfg:
        a_toks, a_tags, a_per = _prepare_aqmar(opts["aqmar"], "aqmar-o" in cfg)
        a_feats = base_features(a_toks, a_per, "aqmar-o" if "aqmar-o" in cfg else "aqmar",
                                _vector_use(cfg))
        a_first = None
        if "doc" in cfg:
            a_first = [["O"] * len(t) for t in a_toks]
        tx += add_features(cfg, a_toks, a_feats, a_first, opts["window"])
        ty += list(a_tags)
    pred, info = train_predict(tx, ty, [x[i] for i in test_idx], opts["params"])
    gold = [tags[i] for i in test_idx]
    spans = [[(a, b, lab) for a, b, lab in M.bio_spans(p)] for p in pred]
    sc = M.score_spans(gold, spans)
    return cfg_name, fold, sc, pred, test_idx, round(time.perf_counter() - t0, 1), info


def _two_stage_job(args):
    """One outer fold of ``--two-stage``: (fold, two-stage scores, first stage's, seconds)."""
    fold, train_idx, test_idx, opts = args
    import tempfile

    from tasks.entities.ner_train import train_prepared

    t0 = time.perf_counter()
    toks, tags, per = _prepared(opts["data"], "anercorp")

    def part(idx):
        return ([toks[i] for i in idx], [tags[i] for i in idx],
                _flat_morph([per[i] for i in idx]))

    with tempfile.TemporaryDirectory(prefix="ner-cv-") as tmp:
        rep = train_prepared(part(train_idx), tmp, part(test_idx), morph_source="bama",
                             two_stage=True, folds=opts["inner_folds"], seed=12,
                             params=opts["params"])
    return fold, rep.scores, rep.first_scores, round(time.perf_counter() - t0, 1)


def two_stage_cv(folds, args, params) -> None:
    jobs = [(f, tr, te, {"data": args.data, "params": params,
                         "inner_folds": args.inner_folds}) for f, (tr, te) in enumerate(folds)
            if args.only_fold is None or f == args.only_fold]
    rows = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        for f, two, one, secs in pool.map(_two_stage_job, jobs):
            print(f"fold {f}: first stage {one['all']['f1']}, two stages {two['all']['f1']} "
                  f"({secs} s)", file=sys.stderr, flush=True)
            rows.append((f, two, one))
    print(f"# {len(rows)} of {len(folds)} outer folds, {args.inner_folds} jackknife folds "
          f"inside each, params {params}, {time.perf_counter() - t0:.0f} s, "
          f"load {os.getloadavg()[0]:.1f}")
    print("| model | F1 mean | sd | per fold | PER | LOC | ORG | MISC | P | R |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, k in (("first stage alone", 2), ("two stages", 1)):
        sc = [r[k] for r in sorted(rows, key=lambda r: r[0])]
        f1 = [x["all"]["f1"] for x in sc]

        def mean(lab, key="f1", sc=sc):
            return round(statistics.mean(x[lab][key] for x in sc), 1)

        print(f"| {name} | {statistics.mean(f1):.1f} | {statistics.pstdev(f1):.1f} | "
              f"{' '.join(f'{x:.1f}' for x in f1)} | {mean('PER')} | {mean('LOC')} | "
              f"{mean('ORG')} | {mean('MISC')} | {mean('all', 'p')} | {mean('all', 'r')} |")


def folds_of(n_sents: int, k: int, seed: int, exclude: set[int], block: int = 100):
    blocks = [b for b in range(-(-n_sents // block)) if b not in exclude]
    random.Random(seed).shuffle(blocks)
    fold_of = {b: i % k for i, b in enumerate(blocks)}
    out = []
    for f in range(k):
        test = [s for s in range(n_sents) if fold_of.get(s // block) == f]
        train = [s for s in range(n_sents) if s // block in fold_of and fold_of[s // block] != f]
        out.append((train, test))
    return out


def judge_repairs(pkl: str, data: str) -> None:
    """F1 of saved out-of-fold predictions with and without ``span_repair``'s repairs."""
    from tasks.entities import span_repair as R

    toks, tags, _ = _prepared(data, "anercorp")
    saved = pickle.loads(Path(pkl).read_bytes())
    print("| config | repair | F1 per fold | mean | ORG | PER |")
    print("|---|---|---|---|---|---|")
    for c, runs in saved.items():
        for name, fn in (("none", None), ("merge", R.merge_org_pieces),
                         ("split", R.split_person_from_org), ("both", R.repair_spans)):
            f1, org, per = [], [], []
            for _f, idx, pred in sorted(runs, key=lambda r: r[0]):
                spans = []
                for i, p in zip(idx, pred, strict=True):
                    sp = [(a, b, lab, 1.0) for a, b, lab in M.bio_spans(p)]
                    spans.append(fn(toks[i], sp) if fn else sp)
                sc = M.score_spans([tags[i] for i in idx], spans)
                f1.append(sc["all"]["f1"])
                org.append(sc["ORG"]["f1"])
                per.append(sc["PER"]["f1"])
            print(f"| {c} | {name} | {' '.join(map(str, f1))} | {statistics.mean(f1):.2f} | "
                  f"{statistics.mean(org):.2f} | {statistics.mean(per):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/eval/anercorp-camellab-train.txt")
    ap.add_argument("--aqmar", default="../shared/eval/aqmar-wikipedia-ner.txt")
    ap.add_argument("--configs", default="base,emb,ecl")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--c1", type=float, default=0.1)
    ap.add_argument("--c2", type=float, default=0.01)
    ap.add_argument("--window", type=int, default=10, help="doc: sentences on each side")
    ap.add_argument("--emb-dir", default=None, help="embeddings dir (default: shipped)")
    ap.add_argument("--save-predictions", default=None, metavar="PKL",
                    help="pickle the out-of-fold predictions of every config here")
    ap.add_argument("--first-pass", default=None, metavar="PKL",
                    help="doc: take the base predictions saved by --save-predictions")
    ap.add_argument("--judge-repairs", default=None, metavar="PKL",
                    help="only score saved predictions with and without the span repairs")
    ap.add_argument("--two-stage", action="store_true",
                    help="measure the shipped two-stage trainer against its first stage")
    ap.add_argument("--only-fold", type=int, default=None,
                    help="--two-stage: run this outer fold only")
    ap.add_argument("--inner-folds", type=int, default=3,
                    help="--two-stage: jackknife folds inside each training part")
    args = ap.parse_args()
    if args.judge_repairs:
        judge_repairs(args.judge_repairs, args.data)
        return
    toks, tags, _ = _prepared(args.data, "anercorp")
    n = len(toks)
    # the shipped held-aside part (seed 12, 10 %) stays out of every fold
    n_blocks = -(-n // 100)
    held = set(random.Random(12).sample(range(n_blocks), int(round(n_blocks * 0.1))))
    folds = folds_of(n, args.folds, args.seed, held)
    params = {"c1": args.c1, "c2": args.c2, "max_iterations": args.iterations,
              "feature.possible_transitions": True}
    if args.two_stage:
        two_stage_cv(folds, args, params)
        return
    opts = {"data": args.data, "aqmar": args.aqmar, "params": params,
            "emb_dir": args.emb_dir, "window": args.window, "first_pass": None}
    configs = args.configs.split(",")
    need_first = any("doc" in c.split("+") for c in configs)
    results: dict[str, list] = {}
    t0 = time.perf_counter()

    def run(cfgs, opts):
        # fold by fold, so that partial output already compares configs on the same folds
        jobs = [(c, f, tr, te, opts) for f, (tr, te) in enumerate(folds) for c in cfgs]
        done = []
        with ProcessPoolExecutor(args.jobs) as pool:
            for r in pool.map(_job, jobs):
                c, f, sc, _, _, secs, _ = r
                print(f"{c} fold {f}: F1 {sc['all']['f1']} (P {sc['all']['p']} R "
                      f"{sc['all']['r']}; PER {sc['PER']['f1']} ORG {sc['ORG']['f1']}) "
                      f"{secs} s", file=sys.stderr, flush=True)
                done.append(r)
        return done

    base_cfgs = [c for c in configs if "doc" not in c.split("+")]
    first_pass: list = []  # base out-of-fold predictions, for doc
    if need_first and args.first_pass:  # those saved by an earlier run
        first_pass = [("base", f, None, pred, idx, 0, None) for f, idx, pred in
                      pickle.loads(Path(args.first_pass).read_bytes())["base"]]
        base_cfgs = [c for c in base_cfgs if c != "base"]
    elif need_first and "base" not in base_cfgs:
        base_cfgs.insert(0, "base")
    out = run(base_cfgs, opts) if base_cfgs else []
    if need_first:
        out += first_pass
        # first-pass labels of every sentence: the base model's out-of-fold predictions
        # for each fold's test part; for its training part, the other folds' (stacking)
        oof = {}
        for c, _f, _sc, pred, test_idx, _secs, _info in out:
            if c == "base":
                for i, p in zip(test_idx, pred, strict=True):
                    oof[i] = p
        first = {}
        for f in range(args.folds):
            first[f] = [oof.get(i, ["O"] * len(toks[i])) for i in range(n)]
        opts = {**opts, "first_pass": first}
        out += run([c for c in configs if "doc" in c.split("+")], opts)
    for c, f, sc, _pred, _idx, secs, info in out:
        if sc is not None:
            results.setdefault(c, []).append((f, sc, secs, info))
    if args.save_predictions:  # to judge span repairs without retraining
        Path(args.save_predictions).write_bytes(pickle.dumps(
            {c: [(f, test_idx, pred) for c2, f, _, pred, test_idx, _, _ in out if c2 == c]
             for c in results}))
    print(f"# {args.folds} folds, params {params}, {time.perf_counter() - t0:.0f} s, "
          f"load {os.getloadavg()[0]:.1f}")
    print("| config | F1 mean | sd | per fold | PER | LOC | ORG | MISC | P | R | s/fold | MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in configs + [b for b in base_cfgs if b not in configs]:
        rs = sorted(results.get(c, []))
        if not rs:
            continue
        f1 = [r[1]["all"]["f1"] for r in rs]

        def mean(lab, key="f1", rs=rs):
            return round(statistics.mean(r[1][lab][key] for r in rs), 1)

        print(f"| {c} | {statistics.mean(f1):.1f} | {statistics.pstdev(f1):.1f} | "
              f"{' '.join(f'{x:.1f}' for x in f1)} | {mean('PER')} | {mean('LOC')} | "
              f"{mean('ORG')} | {mean('MISC')} | {mean('all', 'p')} | {mean('all', 'r')} | "
              f"{statistics.mean(r[2] for r in rs):.0f} | "
              f"{statistics.mean(r[3]['bytes'] for r in rs) / 2**20:.1f} |")


if __name__ == "__main__":
    main()
