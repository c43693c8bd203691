"""The table contract: every Parquet table akhbar writes, defined once.

Each field carries a human description in its Parquet field metadata
(``description``), and every written file carries ``akhbar.schema_version``
and ``akhbar.table`` in its schema metadata. ``akhbar schema [TABLE]`` prints them.
Offsets (``char_start``/``char_end``) always index ``articles.text``.
"""

from __future__ import annotations

import pyarrow as pa

# 1.1: published_date, source_name on sentences/tokens/entities; entities.name;
# articles.dialect_score (issues 24-26)
SCHEMA_VERSION = "1.1"

# Reason codes and statuses are data, not exceptions (see tasks/errors.py).
FILE_STATUSES = ("ok", "skipped_unchanged", "quarantined", "failed")
ENTITY_LABELS = ("PER", "LOC", "ORG", "MISC")


def _f(name: str, typ: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable, metadata={"description": description})


def _schema(table: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(
        fields,
        metadata={"akhbar.schema_version": SCHEMA_VERSION, "akhbar.table": table},
    )


_STR = pa.string()
_DSTR = pa.dictionary(pa.int32(), pa.string())  # low-cardinality text columns
_I32 = pa.int32()


# Article columns repeated on every sentence, token and entity (issue 25).
ARTICLE_COLUMNS = ("published_date", "source_name")


def _article_fields() -> list[pa.Field]:
    # Repeated from the article on every row of its children (issue 25), so that consumers
    # prune sentences, tokens and entities by date or source without a join.
    return [
        _f("published_date", pa.date32(), "articles.published_date of the row's article"),
        _f("source_name", _DSTR, "articles.source_name of the row's article"),
    ]


FILES = _schema(
    "files",
    [
        _f("file_id", _STR, "Stable id of the input: hash of source_uri and member", False),
        _f("source_uri", _STR, "Path or URL the input was read from", False),
        _f("member", _STR, "Member path inside an archive, null for plain files"),
        _f("bytes", pa.int64(), "Size of the raw input in bytes"),
        _f("sha256", _STR, "SHA-256 of the raw bytes"),
        _f("format", _STR, "Sniffed format: txt, json, jsonl, csv, html, or unknown"),
        _f(
            "encoding", _STR, "Detected text encoding (utf-8, utf-8-sig, utf-16, cp1256, iso8859_6)"
        ),
        _f(
            "status",
            _STR,
            "ok, skipped_unchanged, quarantined (bad data) or failed (unreadable)",
            False,
        ),
        _f("reason", _STR, "snake_case reason code when status is not ok"),
        _f("message", _STR, "Human message naming the file and the problem"),
        _f("n_articles", _I32, "Articles kept from this input in this run"),
        _f("n_rejected", _I32, "Articles of this input left out (empty, not Arabic, ...)"),
        _f("run_id", _STR, "Run that produced this row", False),
        _f("batch_id", _STR, "Batch the input was processed in"),
        _f("processed_at", pa.timestamp("us", tz="UTC"), "When the input was processed"),
    ],
)

ARTICLES = _schema(
    "articles",
    [
        _f("article_id", _STR, "Stable id derived from the input and the article content", False),
        _f("file_id", _STR, "Input the article came from (files.file_id)", False),
        _f("record_index", _I32, "Position of the record inside its input (JSON item, CSV row)"),
        _f("part", _I32, "1 for the main article, 2.. for articles after an إقرأ أيضاً marker"),
        _f("parent_article_id", _STR, "Main article of a related (part > 1) article"),
        _f("title", _STR, "Cleaned title"),
        _f("published_date", pa.date32(), "Publication date parsed from the input"),
        _f("published_raw", _STR, "Publication date as printed in the input"),
        _f("hijri_date", _STR, "Hijri date as printed (kept as text, never converted)"),
        _f("source_name", _STR, "Publishing site or agency"),
        _f("dateline", _STR, "Dateline city (e.g. الرباط)"),
        _f("url", _STR, "Article URL when known"),
        _f("author", _STR, "Author when known"),
        _f("text", _STR, "Cleaned body text; all offsets index this string"),
        _f("n_paragraphs", _I32, "Paragraphs in text"),
        _f("n_sentences", _I32, "Sentences in text"),
        _f("n_tokens", _I32, "Tokens in text"),
        _f("content_sha256", _STR, "SHA-256 of the normalized text (dediac, letter normalization)"),
        _f("dialect", _STR, "Dialect label: MSA, EGY, LEV, GLF, MGR, IRQ"),
        _f(
            "dialect_method",
            _STR,
            "How dialect was decided: linear:<model sha256 prefix> (the learned model), "
            "rules or camel-did",
        ),
        _f(
            "dialect_score",
            pa.float32(),
            "Probability of the dialect label (learned model: letter-weighted mean over the "
            "sentences that chose it; camel-did: its probability; rules: null)",
        ),
        _f("duplicate_of", _STR, "First-seen article with the same normalized text"),
        _f("near_duplicate_of", _STR, "Most similar earlier article above the MinHash threshold"),
        _f(
            "story_id",
            _STR,
            "Story the article belongs to: its text and edited reposts (stories.story_id)",
        ),
        _f("run_id", _STR, "Run that wrote the article", False),
    ],
)

SENTENCES = _schema(
    "sentences",
    [
        _f("article_id", _STR, "articles.article_id", False),
        _f("sentence_index", _I32, "0-based sentence number within the article", False),
        _f("paragraph_index", _I32, "0-based paragraph number within the article"),
        _f("text", _STR, "Sentence text (articles.text[char_start:char_end])"),
        _f("char_start", _I32, "Start offset into articles.text"),
        _f("char_end", _I32, "End offset (exclusive) into articles.text"),
        _f("n_tokens", _I32, "Tokens in the sentence"),
        *_article_fields(),
    ],
)

TOKENS = _schema(
    "tokens",
    [
        _f("article_id", _STR, "articles.article_id", False),
        _f("sentence_index", _I32, "sentences.sentence_index", False),
        _f("token_index", _I32, "0-based token number within the sentence", False),
        _f("text", _STR, "Surface form (articles.text[char_start:char_end])"),
        _f("char_start", _I32, "Start offset into articles.text"),
        _f("char_end", _I32, "End offset (exclusive) into articles.text"),
        _f("norm", _STR, "Dediacritized, alef/yaa/teh-marbuta normalized form"),
        _f("dediac", _STR, "Surface form without diacritics"),
        _f("translit", _STR, "Buckwalter transliteration (camel-tools ar2bw)"),
        _f("is_arabic", pa.bool_(), "Token is written in Arabic letters"),
        _f("lemma", _STR, "Lemma (lex) of the chosen analysis, diacritized"),
        _f("pos", _DSTR, "camel-tools POS tag of the chosen analysis (noun, verb, noun_prop, ...)"),
        _f("upos", _DSTR, "Universal Dependencies UPOS tag"),
        _f("diac", _STR, "Diacritized form of the chosen analysis"),
        _f(
            "gloss",
            _STR,
            "English gloss of the chosen reading's stem (no clitic glosses); "
            "NOAN (no analysis) for an unknown word",
        ),
        _f("bw", _STR, "Buckwalter morphological tag of the chosen analysis"),
        _f("d3tok", _STR, "D3 tokenization (clitics split with +)"),
        _f("is_oov", pa.bool_(), "Only the backoff analysis exists"),
        _f("analysis_count", _I32, "Number of analyses the analyzer returned"),
        _f("morph_source", _DSTR, "Morphology used: bama, calima-msa-r13, or a DB path"),
        *_article_fields(),
    ],
)

ENTITIES = _schema(
    "entities",
    [
        _f("article_id", _STR, "articles.article_id", False),
        _f("sentence_index", _I32, "sentences.sentence_index", False),
        _f("token_start", _I32, "First token of the span (tokens.token_index)", False),
        _f("token_end", _I32, "Token after the span (exclusive)", False),
        _f("char_start", _I32, "Start offset into articles.text, after any attached clitic"),
        _f("char_end", _I32, "End offset (exclusive) into articles.text"),
        _f("text", _STR, "Entity text (articles.text[char_start:char_end])"),
        _f(
            "name",
            _STR,
            "The name the text stands for: diacritics dropped, a kept ل+ال proclitic "
            "read as the article (للبنك الدولي -> البنك الدولي); count and group by it",
        ),
        _f("label", _DSTR, "PER, LOC, ORG or MISC"),
        _f("method", _DSTR, "How it was found (rules, camelbert)"),
        _f("score", pa.float32(), "Confidence in [0, 1]"),
        *_article_fields(),
    ],
)

STORIES = _schema(
    "stories",
    [
        _f(
            "story_id",
            _STR,
            "Story id, as in articles.story_id: the article_id of the story's first article",
            False,
        ),
        _f(
            "canonical_article_id",
            _STR,
            "Article the story's other articles were compared with (its first article)",
        ),
        _f("title", _STR, "Title of the canonical article"),
        _f("first_seen", pa.date32(), "Earliest published_date among the story's articles"),
        _f("last_seen", pa.date32(), "Latest published_date among the story's articles"),
        _f(
            "n_articles",
            _I32,
            "Articles in the story, including those of stories merged into it; "
            "for a merged story, only the articles still labelled with its id",
        ),
        _f("n_sources", _I32, "Distinct source_name values among those articles"),
        # "element": the item name Parquet readers give lists back (pyarrow writes it).
        _f(
            "sources",
            pa.list_(pa.field("element", _STR)),
            "Those source names, the most frequent first",
        ),
        _f(
            "merged_into",
            _STR,
            "Story this one was merged into when a later article joined them; "
            "null for a current story",
        ),
    ],
)

# Staging only (between fetch and clean); never published.
RECORDS = _schema(
    "records",
    [
        _f("file_id", _STR, "files.file_id", False),
        _f("record_index", _I32, "Position of the record inside its input", False),
        _f("layout", _STR, "news_txt (title/date/site lines, to be parsed) or fields", False),
        _f("title", _STR, "Title as given"),
        _f("body", _STR, "Body text as given (the whole file for news_txt)"),
        _f("date_raw", _STR, "Publication date as given"),
        _f("reference_time", _STR, "When the record was scraped (ISO), for relative dates"),
        _f("source", _STR, "Site or agency as given"),
        _f("url", _STR, "URL as given"),
        _f("author", _STR, "Author as given"),
    ],
)

TABLES: dict[str, pa.Schema] = {
    "files": FILES,
    "articles": ARTICLES,
    "sentences": SENTENCES,
    "tokens": TOKENS,
    "entities": ENTITIES,
    "stories": STORIES,
}


def empty_table(schema: pa.Schema) -> pa.Table:
    """An empty table with ``schema``."""
    return schema.empty_table()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder, add missing nullable columns as nulls, and cast ``table`` to ``schema``.

    Raises:
        SchemaError: a non-nullable column is missing, naming the column and table.
    """
    from tasks.errors import SchemaError

    cols = []
    for field in schema:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        elif field.nullable:
            cols.append(pa.nulls(table.num_rows, field.type))
        else:
            name = schema.metadata.get(b"akhbar.table", b"?").decode()
            raise SchemaError(f"table {name!r} is missing required column {field.name!r}")
    return pa.Table.from_arrays(cols, schema=schema)
