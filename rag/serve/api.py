"""The HTTP layer over an open index: JSON endpoints under /api, and the page that shows a whole
source document with a passage marked (what the web page's "Open the source" opens).

A shell like the CLI: it parses requests, calls `Index`, and converts `RagError`s into JSON
errors `{"error": message}`; 400 for a bad request, 404 for an unknown document or path,
413 for a body over `max_request_bytes`, 401 without the access token when one is set,
503 when the index itself cannot serve (stale, model missing).
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Callable, Mapping

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from rag import __version__
from rag.config import MODES
from rag.errors import QueryError, RagError
from rag.index import Index
from rag.serve.render import pdf_source_page_html, source_page_html

SOURCE_PAGE_HEADERS = {
    # The document is untrusted text: even if escaping ever failed, nothing on the page could run.
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                "frame-ancestors 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class AskRequest(BaseModel):
    """The body of POST /api/ask; omitted options take the index's settings."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(description="the question, in plain words")
    k: int | None = Field(None, description="how many passages to return (1 to max_k, default 5)")
    sources: list[str] | None = Field(None, description="only search these documents (see /api/documents)")
    history: list[str] = Field(default_factory=list,
                               description="earlier questions of the conversation, oldest first")
    mode: str | None = Field(None, description=f"one of {', '.join(MODES)} (default hybrid)")


class EvidenceDoc(BaseModel):
    rank: int
    score: float


class PassageDoc(BaseModel):
    """One passage of an answer (documentation of the JSON contract; see the README)."""

    model_config = ConfigDict(extra="allow")

    rank: int
    source: str
    start: int = Field(description="offset of the passage in the file (Unicode code points)")
    end: int
    line_start: int
    line_end: int
    score: float = Field(description="ranking score of the mode (RRF, cosine or BM25)")
    confidence: float = Field(description="cosine similarity to the question or its best sentence")
    low_confidence: bool
    text: str = Field(description="exactly file_text[start:end]")
    highlights: list[list[int]] = Field(description="[start, end] offsets of supporting sentences")
    dense: EvidenceDoc | None
    lexical: EvidenceDoc | None
    page: int | None = Field(None, description="1-based page of the passage's start (PDF, DOCX "
                             "with page breaks); null for formats without pages")
    page_end: int | None = Field(None, description="1-based page of the passage's end")
    highlight_pages: list[int | None] = Field(default_factory=list,
                                              description="the page of each highlight, in order")
    support: float | None = Field(None, description="calibrated probability that this passage "
                                  "answers (hybrid mode with the abstainer); null otherwise")


class AnswerDoc(BaseModel):
    """The answer to a question, as `rag ask --json` prints it; fields are only ever added."""

    model_config = ConfigDict(extra="allow")

    question: str
    answered: bool = Field(description="support >= support_threshold where support is given, "
                           "else confidence >= threshold")
    confidence: float = Field(description="the best passage's cosine confidence")
    threshold: float = Field(description="the cosine cut (min_confidence)")
    mode: str
    used_history: bool
    passages: list[PassageDoc]
    support: float | None = Field(None, description="the best passage's calibrated support")
    support_threshold: float | None = Field(None, description="the abstainer's calibrated cut")


class Error(BaseModel):
    error: str


class DocumentEntry(BaseModel):
    source: str
    characters: int
    passages: int
    sha256: str


class SkippedEntry(BaseModel):
    source: str
    reason: str


class DocumentList(BaseModel):
    documents: list[DocumentEntry]
    skipped: list[SkippedEntry] = Field(default_factory=list,
                                        description="files of the folder not indexed, and why")


class Uploaded(BaseModel):
    source: str = Field(description="the name the file was saved under (sanitised)")
    message: str


class DocumentText(BaseModel):
    source: str
    text: str


class Health(BaseModel):
    status: str
    version: str
    documents: int
    passages: int
    model: str
    built: str


ERRORS = {400: {"model": Error}, 401: {"model": Error}, 413: {"model": Error}, 503: {"model": Error}}
OPEN_PATHS = ("/api/health", "/api/docs", "/api/openapi.json")
"""Served without the access token: they show what is indexed in counts, never document text."""


def create_app(index: Index, token: str | None = None,
               session: Callable[[Mapping[str, str]], bool] | None = None) -> FastAPI:
    """A FastAPI app serving `index`: the JSON API under /api, the source viewer under /view.

    With `token`, or `session` (cookies -> whether they belong to a logged-in page user), every
    other path under /api and /view needs `Authorization: Bearer <token>` or such a session.
    """
    query = index.settings.query
    api = FastAPI(
        title="rag HTTP API",
        version=__version__,
        description="Questions answered with verbatim, cited passages of the indexed documents. "
        "POST /api/ask returns the same JSON as `rag ask --json`. Limits: k from 1 to "
        f"{query.max_k}, a question (and each earlier question) of at most "
        f"{query.max_question_chars} characters, a request body of at most "
        f"{query.max_request_bytes} bytes (413 above)."
        + (" Every endpoint but /health (and these docs) needs `Authorization: Bearer <token>` (401 without)."
           if token or session else ""),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    _add_error_handlers(api)

    # The response is Answer.to_dict() itself, not filtered through AnswerDoc (documentation only),
    # so fields added to the core's JSON appear here without a change.
    @api.post("/ask", responses={200: {"model": AnswerDoc}, **ERRORS}, response_model=None,
              summary="Answer a question")
    def ask(request: AskRequest) -> JSONResponse:
        """The ranked passages for the question, exactly as `rag ask --json` prints them."""
        answer = index.ask(request.question, k=request.k, sources=request.sources,
                           mode=request.mode, history=request.history)
        # A response, not a dict: FastAPI's jsonable_encoder would walk the answer first (0.6 ms
        # of a ~1.5 ms cached answer); to_dict() holds only JSON types already.
        return JSONResponse(answer.to_dict())

    @api.get("/documents", summary="The indexed documents")
    def documents() -> DocumentList:
        reload = getattr(index, "reload_if_changed", None)  # a LiveIndex: the newest build first
        if reload is not None:
            reload(wait=False)
        current = getattr(index, "current", index)  # one build for both lists
        return DocumentList(documents=[
            DocumentEntry(source=d.source, characters=d.characters, passages=d.passages,
                          sha256=d.sha256)
            for d in current.documents()
        ], skipped=[SkippedEntry(**s) for s in current.skipped()])

    @api.post("/documents", status_code=201, responses={409: {"model": Error}, **ERRORS},
              summary="Add a document (the file's bytes as the body)")
    async def upload(request: Request, name: str, overwrite: bool = False) -> Uploaded:
        """Save the body as `name` in the documents folder (a sanitised name, a readable format,
        at most the upload limit; 409 if it exists unless overwrite=true). The watcher indexes it:
        GET /api/documents lists it (or says why it was skipped) once the new build is in use."""
        from rag.ingest.uploads import UploadExistsError

        data = await request.body()
        try:
            source = index.add_document(name, data, overwrite=overwrite)
        except UploadExistsError as exc:
            raise HTTPException(409, str(exc)) from None
        return Uploaded(source=source, message=f"{source} saved; it is indexed within seconds "
                        "while the server watches the folder")

    @api.get("/documents/{source:path}", responses={404: {"model": Error}},
             summary="The full text of one indexed document")
    def document(source: str) -> DocumentText:
        return DocumentText(source=source, text=_document_text(index, source))

    @api.get("/health", responses={503: {"model": Error}}, summary="What is indexed")
    def health() -> Health:
        info = index.describe()
        return Health(status="ok", version=__version__, documents=info["documents"],
                      passages=info["passages"], model=info["model"], built=info["built"])

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    _add_error_handlers(app)

    @app.get("/view/{source:path}", response_class=HTMLResponse, include_in_schema=False)
    def view(
        source: str,
        start: int = 0,
        end: int | None = None,
        hl: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
        image: int | None = None,
    ) -> Response:
        """The whole document, the passage [start, end) marked and scrolled to (#passage); for a
        PDF the pages it is on first, rendered, the passage and highlights marked on them.
        With `image=N`, page N of the PDF as PNG (what those pages show)."""
        text = _document_text(index, source)
        if image is not None:
            return Response(index.page_image(source, image), media_type="image/png",
                            headers={**SOURCE_PAGE_HEADERS, "Cache-Control": "private, max-age=300"})
        end = len(text) if end is None else end
        if not 0 <= start < end <= len(text):
            raise QueryError(f"start and end must satisfy 0 <= start < end <= {len(text)}")
        highlights = [_span(h, start, end) for h in hl]
        pages = index.page_marks(source, start, end, highlights)
        if pages:
            html = pdf_source_page_html(source, text, start, end, highlights, pages)
        else:
            html = source_page_html(source, text, start, end, highlights,
                                    reflowed=index.soft_wrapped(source))
        return HTMLResponse(html, headers=SOURCE_PAGE_HEADERS)

    app.mount("/api", api)
    upload_bytes = int(index.settings.upload.max_mb * 1_000_000)
    app.add_middleware(Guard, max_bytes=query.max_request_bytes, token=token, session=session,
                       larger={("POST", "/api/documents"): upload_bytes})
    return app


class Guard:
    """ASGI middleware in front of the whole server: access control for /api and /view, then the
    body size limit for every path (the page's Gradio API included: it takes no uploads).

    The body is read here, at most max_bytes + 1 of it, before anything parses it; a larger one
    (declared or streamed) is answered 413 without reading the rest.
    """

    def __init__(self, app, max_bytes: int, token: str | None = None,
                 session: Callable[[Mapping[str, str]], bool] | None = None,
                 larger: Mapping[tuple[str, str], int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})
        """(method, path) -> a larger body limit (uploads)."""
        self.token = token
        self.session = session

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if (path.startswith(("/api/", "/view/")) and path not in OPEN_PATHS
                and not self._allowed(scope)):
            return await _json(send, 401, "this server needs an access token: send the header "
                               "'Authorization: Bearer <token>' (or log in on the page)",
                               [(b"www-authenticate", b"Bearer")])
        limit = self.larger.get((scope.get("method", ""), path), self.max_bytes)
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _json(send, 413, self._too_large(limit))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await _json(send, 413, self._too_large(limit))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    def _too_large(self, limit: int) -> str:
        return f"the request body is larger than {limit} bytes, the limit of this server"

    def _allowed(self, scope) -> bool:
        if not self.token and not self.session:
            return True
        from starlette.requests import HTTPConnection

        connection = HTTPConnection(scope)
        scheme, _, given = connection.headers.get("authorization", "").partition(" ")
        if self.token and scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), self.token.encode()):
            return True
        return bool(self.session and self.session(connection.cookies))


async def _json(send, status: int, message: str, headers=()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def _document_text(index: Index, source: str) -> str:
    try:
        return index.document_text(source)
    except QueryError as exc:
        raise HTTPException(404, str(exc)) from None


def _span(value: str, start: int, end: int) -> tuple[int, int]:
    """A highlight given as 'a-b', which must lie inside the passage."""
    a, sep, b = value.partition("-")
    if not (sep and a.isdigit() and b.isdigit() and start <= int(a) < int(b) <= end):
        raise QueryError(f"hl={value!r}: a highlight is 'start-end' inside the passage")
    return int(a), int(b)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as {"error": message}: the library's own, validation, and HTTP ones."""

    @app.exception_handler(QueryError)
    def query_error(request: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RagError)
    def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=503)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request: " + _describe(exc.errors())}, status_code=400)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no endpoint {request.url.path}; see /api/docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /api/docs"
        return JSONResponse({"error": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


def _describe(errors) -> str:
    """Pydantic's error list as one readable line: 'body.k: Input should be a valid integer'."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = error.get("msg", "invalid")
        if error.get("type") == "json_invalid":
            message = "the body is not valid JSON"
        elif error.get("type") in ("model_attributes_type", "dict_type") and not where:
            message = ('the body must be a JSON object such as {"question": "..."}, '
                       "sent with Content-Type: application/json")
        elif error.get("type") == "missing":
            message = "this field is required"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts[:5]) or "the request is not valid"
