"""Errors for broken configuration or environment, and reason codes for bad data.

Bad *data* never raises: a file or article is recorded with one of the
``Reason`` codes below and the run goes on. Bad *configuration* or a broken
environment raises an ``AkhbarError`` whose message names the bad value.
"""

from __future__ import annotations

from enum import StrEnum


class AkhbarError(Exception):
    """Base class for errors that stop a run before or outside data processing."""


class ConfigError(AkhbarError, ValueError):
    """An option or parameter has a bad value; the message names it."""


class SchemaError(AkhbarError):
    """A table is missing a column a stage requires."""


class EnvironmentError_(AkhbarError):  # noqa: N801 - avoid shadowing the builtin
    """A resource the run needs (lexicon, model, output dir) is missing or broken."""


class LockError(AkhbarError):
    """Another live run holds the output directory's lock."""


class TransientError(AkhbarError):
    """A failure worth retrying (timeouts, connection resets, HTTP 429/5xx)."""


class Reason(StrEnum):
    """snake_case reason codes recorded in ``files.reason`` and the run summary."""

    # files: quarantined (bad data)
    EMPTY_FILE = "empty_file"
    BINARY_FILE = "binary_file"
    BAD_ENCODING = "bad_encoding"
    BAD_JSON = "bad_json"
    BAD_CSV = "bad_csv"
    BAD_RECORD = "bad_record"
    BAD_ARCHIVE = "bad_archive"
    UNSAFE_ARCHIVE_MEMBER = "unsafe_archive_member"
    ARCHIVE_BOMB = "archive_bomb"
    FILE_TOO_LARGE = "file_too_large"
    UNKNOWN_FORMAT = "unknown_format"
    NO_ARTICLES = "no_articles"
    NO_TEXT_EXTRACTED = "no_text_extracted"
    # files: failed (could not be read)
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    NOT_A_REGULAR_FILE = "not_a_regular_file"
    BROKEN_LINK = "broken_link"
    READ_ERROR = "read_error"
    HTTP_ERROR = "http_error"
    NETWORK_ERROR = "network_error"
    RETRIES_EXHAUSTED = "retries_exhausted"
    PROCESSING_ERROR = "processing_error"  # a stage crashed on this input (a bug: report it)
    # articles left out of a good file
    EMPTY_AFTER_CLEAN = "empty_after_clean"
    NOT_ARABIC = "not_arabic"
    # files: skipped
    UNCHANGED = "unchanged"
