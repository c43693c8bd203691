"""Fetch stage: discover inputs, read their bytes, expand archives, decode and parse records.

- ``sources``: discovery of files, directories, globs and URLs; reading with retries.
- ``archives``: zip/tar/gzip members and the decompression-bomb guard.
- ``decoding``: UTF-8/UTF-16/cp1256 detection and mojibake repair.
- ``formats``: format sniffing and the txt/json/jsonl/csv/html parsers.
- ``batch``: ``fetch_batch``, one ``files`` row per input plus the ``records`` table.
"""

from tasks.fetch.batch import (
    FILES_COLUMNS,
    FetchResult,
    fetch_batch,
    fetch_one_by_one,
    is_unchanged,
    read_input,
    write_quarantine,
)
from tasks.fetch.formats import sniff_format
from tasks.fetch.sources import (
    Source,
    discover_sources,
    file_id_for,
    is_transient,
    unmatched_inputs,
)

__all__ = [
    "FILES_COLUMNS",
    "FetchResult",
    "Source",
    "discover_sources",
    "fetch_batch",
    "fetch_one_by_one",
    "file_id_for",
    "unmatched_inputs",
    "is_transient",
    "is_unchanged",
    "read_input",
    "sniff_format",
    "write_quarantine",
]
