"""Put an uploaded file into the documents folder: a sanitised name, a known format, a size limit,
never over an existing file unless asked, and written atomically (a hidden temporary file in the
same folder, synced, then linked or renamed into place), so a failed upload leaves nothing
half-written and the watcher never indexes a partial file (hidden files are not documents).
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from pathlib import Path

from rag.errors import QueryError
from rag.ingest.readers import READERS

MAX_NAME_CHARS = 160
_UNSAFE = re.compile(r"[^\w .,()\[\]+=@&'-]+")
_MAGIC = {".pdf": (b"%PDF-",), ".docx": (b"PK\x03\x04",)}
"""What a file of these formats starts with (a PDF may have a few bytes of junk before it)."""


class UploadError(QueryError):
    """An upload that cannot be accepted (bad name, format, size or contents)."""


class UploadExistsError(UploadError):
    """A document of that name exists and overwriting was not asked for."""


def safe_name(name: str) -> str:
    """The file name to store an upload under: its last path component, NFC, without control
    or unusual characters; a name that is empty, hidden or without a readable suffix is refused."""
    if not isinstance(name, str):
        raise UploadError("the upload needs a file name")
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    base = _UNSAFE.sub("_", base).strip(" .") if not base.startswith(".") else base
    if not base or base.startswith(".") or base in (".", ".."):
        raise UploadError(f"{name!r} is not a usable file name (empty, hidden or a folder)")
    stem, dot, suffix = base.rpartition(".")
    if not dot or "." + suffix.lower() not in READERS:
        known = ", ".join(sorted(READERS))
        raise UploadError(f"{base!r}: only these formats can be indexed: {known}")
    if len(base) > MAX_NAME_CHARS:
        base = stem[: MAX_NAME_CHARS - len(suffix) - 1] + "." + suffix
    return base


def save_upload(docs_dir: Path, name: str, data: bytes, *, max_bytes: int,
                overwrite: bool = False) -> str:
    """Store `data` as a document named after `name` in `docs_dir`; returns the source name."""
    source = safe_name(name)
    if not data:
        raise UploadError(f"{source}: the file is empty")
    if len(data) > max_bytes:
        raise UploadError(f"{source} is {len(data) / 1e6:.3g} MB, over the upload limit of "
                          f"{max_bytes / 1e6:g} MB")
    suffix = "." + source.rpartition(".")[2].lower()
    magic = _MAGIC.get(suffix)
    if magic and not any(m in data[:1024] for m in magic):
        raise UploadError(f"{source} is not a {suffix[1:].upper()} file (its contents do not start as one)")
    folder = Path(docs_dir)
    if not folder.is_dir():
        raise UploadError(f"the documents folder {folder} does not exist")
    target = folder / source
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise UploadError(f"{source} exists in the documents folder and is not a plain file")
    if target.exists() and not overwrite:
        raise UploadExistsError(f"{source} already exists in the documents folder; send overwrite=true to replace it")
    temporary = folder / f".upload-{secrets.token_hex(8)}.tmp"
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails if the name appeared meanwhile: never overwrites
            except FileExistsError:
                raise UploadExistsError(f"{source} already exists in the documents folder; "
                                        "send overwrite=true to replace it") from None
    finally:
        temporary.unlink(missing_ok=True)
    return source
