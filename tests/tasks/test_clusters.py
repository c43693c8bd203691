"""Word clusters: training on a tiny corpus we write, the table format, and lookups."""

from __future__ import annotations

import json
import zipfile

import pytest

from tasks.clusters import (
    cluster_hierarchy,
    cluster_key,
    corpus_sentences,
    load_clusters,
    read_clusters,
    train_clusters,
)
from tasks.errors import ConfigError

pytest.importorskip("gensim")

# A toy "news" corpus: cities and verbs recur in the same frames, so they can cluster.
_FRAMES = [
    "وصل الوزير إلى {c} أمس",
    "أعلنت الحكومة في {c} اليوم",
    "زار الرئيس مدينة {c} صباح الأحد",
    "{v} الوزير البيان في المؤتمر",
    "{v} المتحدث الخبر للصحفيين",
]
_CITIES = ["الرياض", "جدة", "الدمام", "مكة", "القاهرة", "عمان"]
_VERBS = ["نشر", "قرأ", "أعلن", "كتب", "نقل"]


def _corpus(tmp_path):
    records = []
    for i in range(60):
        text = "\n".join(
            f.format(c=_CITIES[(i + j) % len(_CITIES)], v=_VERBS[(i + j) % len(_VERBS)])
            for j, f in enumerate(_FRAMES)
        )
        records.append({"title": "خبر", "content": text})
    path = tmp_path / "day.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("day.json", json.dumps(records, ensure_ascii=False))
    return path


def test_corpus_sentences_reads_zipped_json_records_as_keyed_tokens(tmp_path):
    sents = list(corpus_sentences([_corpus(tmp_path)]))
    assert len(sents) == 60 * 6  # a title line and five content lines per record
    assert ["وصل", "الوزير", "الي"] == sents[1][:3]  # إلى normalized to الي


def test_train_writes_nested_clusters_and_a_card_reproducibly(tmp_path):
    corpus = [str(_corpus(tmp_path))]
    a = train_clusters(corpus, tmp_path / "a", min_count=2, epochs=3, dim=16, sizes=(2, 4))
    b = train_clusters(corpus, tmp_path / "b", min_count=2, epochs=3, dim=16, sizes=(2, 4))
    assert a["sha256"] == b["sha256"]  # same seed, same model
    wc = read_clusters(tmp_path / "a" / "clusters.tsv")
    assert wc.sizes == (2, 4)
    assert wc.lookup("الرياض") is not None
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert a["sha256"] in card and "Seed" in card
    # nested: every fine cluster sits inside one coarse cluster
    parents: dict[str, set] = {}
    for ids in wc.table.values():
        parents.setdefault(ids[1], set()).add(ids[0])
    assert all(len(p) == 1 for p in parents.values())


def test_lookup_strips_proclitics_and_normalizes(tmp_path):
    (tmp_path / "clusters.tsv").write_text(
        "#sizes\t2\t4\nرياض\t0\t1\nالرياض\t1\t3\nمدرسه\t0\t0\n", encoding="utf-8"
    )
    wc = read_clusters(tmp_path / "clusters.tsv")
    assert wc.lookup("والرياض") == ("1", "3")  # و stripped
    assert wc.lookup("للرياض") == ("1", "3")  # لل -> ال
    assert wc.lookup("مدرسةٌ") == ("0", "0")  # teh marbuta and diacritics normalized
    assert wc.lookup("غيرموجود") is None
    assert cluster_key("عام ٢٠١٥") == "عام 0000"


def test_bad_clusters_file_is_a_config_error(tmp_path):
    (tmp_path / "clusters.tsv").write_text("word\t1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="clusters.tsv"):
        read_clusters(tmp_path / "clusters.tsv")
    assert load_clusters(str(tmp_path / "missing")) is None


def test_hierarchy_levels_nest():
    import numpy as np

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(m, 0.1, size=(20, 3)) for m in (-5, 0, 5)])
    coarse, fine = cluster_hierarchy(x, (2, 3), seed=1)
    assert len(set(fine)) == 3
    for f in set(fine):
        assert len(set(coarse[fine == f])) == 1


def test_a_missing_corpus_path_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope"):
        train_clusters([str(tmp_path / "nope")], tmp_path / "out")
