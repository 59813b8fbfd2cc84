"""The library's own errors; interfaces convert them at the edge (exit code, page message, 4xx JSON)."""


class RagError(Exception):
    """Base class: a message that says what went wrong and how to fix it."""


class ConfigError(RagError):
    """A setting has a value that cannot work."""


class DocumentError(RagError):
    """The documents folder or a document cannot be used."""


class IndexMissingError(RagError):
    """There is no built index where one was expected."""


class StaleIndexError(RagError):
    """The index no longer matches its documents or settings."""


class IndexCorruptError(RagError):
    """An index file is missing, truncated or from an unknown format version."""


class IndexWriteError(RagError):
    """The index could not be written (disk full, no permission); the previous one is unchanged."""


class IndexLockedError(RagError):
    """Another process is building the index right now."""


class QueryError(RagError):
    """A question or its options are not acceptable (empty, k out of range, unknown source)."""


class ModelError(RagError):
    """The embedding model cannot be loaded."""


class EvalDataError(RagError):
    """A question file or benchmark folder for `rag eval` cannot be used (names the line or file)."""


class BenchError(RagError):
    """A benchmark could not run: a server it started did not come up, or refused a request."""
