"""An index folder describes itself: which build is current, and what each build was made from.

Layout of an index folder:
    CURRENT              the name of the build in use (replaced atomically when a build completes)
    .lock                held while a build runs
    build-<id>/          one complete build: manifest.json (written last), chunks.sqlite,
                         dense.faiss (or milvus.json naming the Milvus collection), lexical/,
                         sentences.npy
A build folder without a manifest is unfinished and is never read.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag import __version__
from rag.config import IndexSettings, ReaderSettings
from rag.embed.embedder import resolve_model
from rag.embed.onnx_backend import INT8_SCHEME
from rag.errors import IndexCorruptError, IndexMissingError
from rag.ingest.documents import folder_fingerprint
from rag.ingest.readers import FORMAT as READERS_FORMAT
from rag.store.faiss_store import choose_factory

FORMAT = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest.json of a build."""

    data: dict[str, Any]

    @property
    def docs_dir(self) -> Path | None:
        value = self.data.get("docs_dir")
        return Path(value) if value else None

    @property
    def fingerprint(self) -> dict[str, str]:
        return self.data["fingerprint"]

    @property
    def model(self) -> dict[str, Any]:
        return self.data["model"]

    @property
    def counts(self) -> dict[str, int]:
        return self.data["counts"]

    def stale_reasons(self, settings: IndexSettings | None, check_documents: bool = True) -> list[str]:
        """Why this build no longer matches its documents or the given settings (empty: fresh)."""
        reasons = []
        if settings is not None:
            wanted_model = resolve_model(settings.model).name
            if wanted_model != self.model.get("name"):
                reasons.append(f"the model is now {wanted_model!r}, the index has {self.model.get('name')!r}")
            wanted, recorded = settings.to_dict(), self.data["settings"]
            recorded = {"backend": "torch", **recorded}  # builds from before backends were torch
            if isinstance(recorded.get("readers"), dict):  # a reader bound added since: its default
                recorded = {**recorded, "readers": {**asdict(ReaderSettings()), **recorded["readers"]}}
            readers = self.data.get("readers_format")
            if readers != READERS_FORMAT:
                reasons.append(
                    "the index was built before rag read PDF, HTML and DOCX with page maps "
                    f"(stored format {readers or 'none'}, now {READERS_FORMAT}): it is rebuilt"
                )
            keys = ("chunking", "embed_sentences", "max_document_mb", "backend")
            for key in keys + (("readers",) if readers == READERS_FORMAT else ()):
                if recorded.get(key) != wanted[key]:
                    reasons.append(f"the setting {key} changed ({recorded.get(key)} -> {wanted[key]})")
            # how the stored sentence vectors were made (a model without token states, e.g. on Ray
            # workers, embeds them alone whatever the setting); builds from before: alone
            made = self.data.get("sentence_vectors", {}).get("method") or recorded.get("sentence_vectors", "separate")
            if wanted["embed_sentences"] and recorded.get("embed_sentences") and made != wanted["sentence_vectors"]:
                reasons.append(f"the setting sentence_vectors changed ({made} -> {wanted['sentence_vectors']}): "
                               "the stored sentence vectors were made the other way")
            if self.model.get("backend") == "onnx-int8" and self.model.get("quantization") != INT8_SCHEME:
                reasons.append("the int8 encoder changed (now one scale per output channel)")
            reasons.extend(_store_reasons(recorded, wanted))
            built = self.data.get("dense_index", "Flat")  # builds from before the setting were exact
            passages = self.data.get("counts", {}).get("passages", 0)
            wanted_index = choose_factory(settings.dense_index, passages, settings.exact_up_to)
            if settings.store == "milvus":
                wanted_index = f"milvus {settings.milvus_index}"
            if wanted_index != built and recorded.get("store", "faiss") == settings.store:
                reasons.append(f"the dense index is now {wanted_index!r}, the index has {built!r}")
            built_ef = self.data.get("dense_parameters", {}).get("efConstruction")
            if built_ef is not None and wanted_index == built and built_ef != settings.hnsw_ef_construction:
                reasons.append(
                    f"the setting hnsw_ef_construction changed ({built_ef} -> {settings.hnsw_ef_construction})"
                )
        if check_documents and self.docs_dir is not None:
            reasons.extend(compare_fingerprints(self.fingerprint, self.docs_dir))
        return reasons


_MILVUS_KEYS = ("milvus_uri", "milvus_db", "milvus_collection")


def _store_reasons(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """A change of vector store, or of the Milvus collection the vectors are in."""
    built_store = recorded.get("store", "faiss")  # builds from before the setting were FAISS
    if built_store != wanted["store"]:
        return [f"the setting store changed ({built_store} -> {wanted['store']})"]
    if built_store != "milvus":
        return []
    return [
        f"the setting {key} changed ({recorded.get(key)!r} -> {wanted[key]!r})"
        for key in _MILVUS_KEYS if recorded.get(key) != wanted[key]
    ]


def compare_fingerprints(indexed: dict[str, str], docs_dir: Path) -> list[str]:
    """What changed in `docs_dir` since the index recorded `indexed`."""
    if not docs_dir.is_dir():
        return [f"the documents folder {docs_dir} is gone"]
    current = folder_fingerprint(docs_dir)
    reasons = []
    for source in sorted(set(indexed) | set(current)):
        if source not in current:
            reasons.append(f"{source} was deleted")
        elif source not in indexed:
            reasons.append(f"{source} is new")
        elif current[source] != indexed[source]:
            reasons.append(f"{source} changed")
    return reasons


def current_build(index_dir: Path) -> Path:
    """The folder of the build in use; a clear error when there is none."""
    pointer = Path(index_dir) / CURRENT
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except FileNotFoundError:
        raise IndexMissingError(f"no index in {index_dir}/: build it with `rag index`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{pointer} cannot be read ({exc}); rebuild with `rag index`") from None
    folder = Path(index_dir) / name
    valid = name.startswith("build-") and "/" not in name and "\x00" not in name
    if not valid or not (folder / MANIFEST).is_file():
        raise IndexCorruptError(
            f"{pointer} names a build ({name!r}) that is not there; rebuild with `rag index`"
        )
    return folder


_REQUIRED = {"model": dict, "settings": dict, "fingerprint": dict, "counts": dict, "created": str}


def read(build: Path) -> Manifest:
    path = Path(build) / MANIFEST
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}); rebuild with `rag index`") from None
    version = data.get("format") if isinstance(data, dict) else None
    if isinstance(version, int) and version > FORMAT:
        raise IndexCorruptError(
            f"{path} has index format {version}, written by a newer rag "
            f"({data.get('package_version', 'unknown version')}); this rag ({__version__}) reads "
            f"format {FORMAT}: rebuild with `rag index` (or upgrade rag)"
        )
    if version != FORMAT:
        raise IndexCorruptError(
            f"{path} has index format {version!r}; this version of rag reads format {FORMAT}: "
            "rebuild with `rag index`"
        )
    wrong = [key for key, kind in _REQUIRED.items() if not isinstance(data.get(key), kind)]
    if wrong:
        raise IndexCorruptError(
            f"{path} lacks {', '.join(wrong)} or has the wrong type; rebuild with `rag index`"
        )
    return Manifest(data)


def file_record(build: Path) -> dict[str, dict[str, Any]]:
    """Size and CRC-32 of every file of a build (but the manifest), to detect damage on open.

    CRC-32 rather than a cryptographic hash: it detects accidental damage at ~600 MB/s, where
    sha256 manages ~75 MB/s on this machine (tampering is not what it guards against).
    """
    build = Path(build)
    return {
        path.relative_to(build).as_posix(): {"bytes": path.stat().st_size, "crc32": _crc32(path)}
        for path in sorted(p for p in build.rglob("*") if p.is_file() and p.name != MANIFEST)
    }


def verify(build: Path, manifest: Manifest) -> None:
    """Raise IndexCorruptError when a file the manifest records is missing, truncated or altered.

    Manifests written before files were recorded are not checked (their loaders still are).
    """
    recorded = manifest.data.get("files")
    if not isinstance(recorded, dict):
        return
    for name, expected in recorded.items():
        path = Path(build) / name
        try:
            size = path.stat().st_size
            if size != expected["bytes"]:
                problem = f"is {size} bytes, {expected['bytes']} were written (truncated or damaged)"
            elif _crc32(path) != expected["crc32"]:
                problem = "does not match its checksum (damaged)"
            else:
                problem = ""
        except FileNotFoundError:
            problem = "is missing"
        except (OSError, KeyError, TypeError) as exc:
            problem = f"cannot be checked ({exc})"
        if problem:
            raise IndexCorruptError(f"{path} {problem}; rebuild with `rag index`")


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def write(build: Path, data: dict[str, Any]) -> Manifest:
    """Write the manifest last: its presence marks the build complete."""
    data = {"format": FORMAT, "package_version": __version__, **data}
    _atomic_write(Path(build) / MANIFEST, json.dumps(data, indent=2, sort_keys=True))
    return Manifest(data)


def point_to(index_dir: Path, build: Path) -> None:
    """Make `build` the current one, atomically."""
    _atomic_write(Path(index_dir) / CURRENT, Path(build).name + "\n")


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
