"""Render answers as HTML for the web page. Every piece of document text is escaped here.

The page's conversation, the passage cards, the source viewer page, and the page's CSS and
small scripts all live here, so that `app.py` only wires components and no other module
writes markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Sequence
from urllib.parse import quote, urlencode

from rag.search.answer import Answer, Passage

NO_ANSWER = "The documents don't answer this."
STRONG_MARGIN = 0.15
"""A passage this far above the cosine threshold is labelled a strong match (no abstainer)."""
STRONG_SUPPORT = 0.5
"""Where the calibrated abstainer applies, a passage is a strong match from this probability of
answering (more likely than not), and a weak one below the abstainer's threshold."""


@dataclass(frozen=True)
class Turn:
    """One exchange of the conversation: the question, then an answer or an error message."""

    question: str
    answer: Answer | None = None
    error: str | None = None


# -- passages and answers ------------------------------------------------------------------------


_SOFT_BREAK = re.compile(r"(?<=[^\s])[ \t]*\r?\n(?=[ \t]*[^\s])")


def reflow(text: str) -> str:
    """`text` with each single line break inside a paragraph shown as a space: one character
    for one, so every offset into it is still an offset into the file (blank lines stay)."""
    return _SOFT_BREAK.sub(lambda m: " " * len(m.group(0)), text)


def marked(text: str, offset: int, spans: Sequence[tuple[int, int]], tag: str = "mark",
           reflowed: bool = False) -> str:
    """`text` (which starts at `offset` in its file) escaped, with the file spans wrapped in <tag>;
    `reflowed`: soft line breaks shown as spaces (see `reflow`)."""
    if reflowed:
        text = reflow(text)
    parts, position = [], 0
    for start, end in sorted(spans):
        a, b = max(start - offset, position), min(end - offset, len(text))
        if a >= b:
            continue
        parts += [escape(text[position:a]), f"<{tag}>", escape(text[a:b]), f"</{tag}>"]
        position = b
    parts.append(escape(text[position:]))
    return "".join(parts)


def match_label(confidence: float, threshold: float, calibrated: bool = False) -> tuple[str, str]:
    """A reader's label and CSS class for a passage's score against the answer's cut: its
    calibrated support (a probability) where `calibrated`, else its cosine confidence."""
    if confidence < threshold:
        return "weak match · low confidence", "weak"
    strong = max(threshold, STRONG_SUPPORT) if calibrated else threshold + STRONG_MARGIN
    if confidence >= strong:
        return "strong match", "strong"
    return "good match", "good"


def passage_score(passage: Passage, answer: Answer | None = None) -> tuple[float, float, bool]:
    """The score a passage is judged by, its cut, and whether they are the calibrated support."""
    if answer is not None and passage.support is not None and answer.support_threshold is not None:
        return passage.support, answer.support_threshold, True
    return passage.confidence, answer.threshold if answer is not None else 0.0, False


def view_url(passage: Passage) -> str:
    """The relative address of the source viewer, opened at this passage."""
    query = [("start", passage.start), ("end", passage.end)]
    query += [("hl", f"{a}-{b}") for a, b in passage.highlights]
    return f"view/{quote(passage.source)}?{urlencode(query)}#passage"


def passage_html(passage: Passage, answer: Answer | None = None) -> str:
    """One passage card: file, lines, a labelled bar of its support (or, without the calibrated
    abstainer, its similarity), the text with its highlights."""
    score, threshold, calibrated = passage_score(passage, answer)
    label, level = match_label(score, threshold, calibrated)
    width = round(100 * min(max(score, 0.0), 1.0))
    meaning = (f"estimated probability {score:.2f} that this passage answers the question "
               f"(similarity {passage.confidence:.2f})" if calibrated else
               f"similarity {passage.confidence:.2f} between the question and this passage")
    lines = (f"line {passage.line_start}" if passage.line_start == passage.line_end
             else f"lines {passage.line_start}–{passage.line_end}")
    if passage.page is not None:  # a paged format: the page is the citation a reader can follow
        lines = (f"page {passage.page}" if passage.page == passage.page_end
                 else f"pages {passage.page}–{passage.page_end}")
    source = escape(passage.source)
    body = marked(passage.text, passage.start, passage.highlights, reflowed=passage.soft_wrapped)
    return (
        f'<article class="card {level}{" low" if passage.low_confidence else ""}" '
        f'data-source="{source}">'
        f'<header class="cite"><span class="rank">{passage.rank}</span>'
        f'<span class="file">{source}</span><span class="lines">{lines}</span></header>'
        f'<div class="meter" title="{meaning}; the documents count as answering from {threshold:.2f}">'
        f'<span class="bar"><span style="width:{width}%"></span></span>'
        f'<span class="label">{label}</span><span class="score">{score:.2f}</span></div>'
        f'<div class="text">{body}</div>'
        f'<footer><a class="open-source" href="{escape(view_url(passage))}" target="_blank" '
        f'rel="noopener" data-title="{source}, {lines}">Open the source ↗</a></footer>'
        f"</article>"
    )


def answer_html(answer: Answer) -> str:
    """The whole answer: what it is (or that the documents don't answer), then the passage cards."""
    if not answer.passages:
        head = f'<p class="abstain" role="status"><b>{NO_ANSWER}</b> No passage matched.</p>'
    elif not answer.answered:
        head = (
            f'<p class="abstain" role="status"><b>{NO_ANSWER}</b> The closest passages are shown '
            "below, marked low confidence.</p>"
        )
    else:
        count = len(answer.passages)
        how = "" if answer.mode == "hybrid" else f" ({escape(answer.mode)} search only)"
        head = (
            f'<p class="summary">{count} passage{"s" if count != 1 else ""} from the documents'
            f"{how}, best first; the <mark>highlighted</mark> sentence supports the answer.</p>"
        )
    if answer.used_history:
        head += '<p class="followup">Read as a follow-up to the earlier questions.</p>'
    cards = "".join(passage_html(p, answer) for p in answer.passages)
    return head + cards


def conversation_html(turns: Sequence[Turn]) -> str:
    """The whole conversation, oldest first; a short guide when it is empty."""
    if not turns:
        return (
            '<div class="empty"><p><b>Ask a question about the documents.</b></p><p>Answers are '
            "passages quoted word for word from the files, each cited by file and lines, with the "
            "supporting sentence highlighted. When the documents don't answer, the page says so.</p>"
            "<p>Follow-up questions use the conversation; <i>Clear</i> starts a new one.</p></div>"
        )
    parts = []
    for number, turn in enumerate(turns, start=1):
        if turn.error is not None:
            reply = f'<p class="error" role="alert">⚠ {escape(turn.error)}</p>'
        else:
            reply = answer_html(turn.answer)
        parts.append(
            f'<section class="turn" data-turn="{number}"><div class="question">'
            f"<span>{escape(turn.question)}</span></div>"
            f'<div class="answer">{reply}</div></section>'
        )
    return "".join(parts)


def header_html(info: dict) -> str:
    """The page's title and the status line below it."""
    return "<h1 class='title'>Ask the documents</h1>" + status_html(info)


def status_html(info: dict) -> str:
    """The line saying what is indexed."""
    built = str(info.get("built", "")).replace("T", " ").replace("+00:00", " UTC")
    return (
        f'<p class="status">Indexed: <b>{info["documents"]}</b> documents, '
        f'<b>{info["passages"]}</b> passages · model <code>{escape(str(info["model"]))}</code> · '
        f"built {escape(built)}</p>"
    )


# -- the source viewer ---------------------------------------------------------------------------


def source_page_html(
    source: str, text: str, start: int, end: int, highlights: Sequence[tuple[int, int]] = (),
    reflowed: bool = False,
) -> str:
    """A whole document as a standalone page, the passage [start, end) marked with id="passage";
    `reflowed`: soft line breaks shown as spaces, paragraphs kept."""
    if reflowed:
        text = reflow(text)
    return _standalone(
        escape(source), SOURCE_CSS,
        f'<header><b>{escape(source)}</b> · the cited passage is marked</header>'
        + _marked_document(text, start, end, highlights, "passage"),
    )


def _standalone(title: str, css: str, body: str) -> str:
    """A standalone page (the source viewer's), phone-width ready; `title` already escaped."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{css}</style></head><body>{body}</body></html>"
    )


def _marked_document(text: str, start: int, end: int, highlights: Sequence[tuple[int, int]],
                     anchor: str) -> str:
    """The whole text escaped, the passage [start, end) in <mark id=anchor>, its highlights strong."""
    passage = marked(text[start:end], start, highlights, tag="strong")
    return (f'<div class="doc">{escape(text[:start])}<mark id="{anchor}">{passage}</mark>'
            f"{escape(text[end:])}</div>")


def pdf_source_page_html(source: str, text: str, start: int, end: int,
                         highlights: Sequence[tuple[int, int]], pages: Sequence) -> str:
    """A PDF passage: the pages it is on, rendered by the server (`?image=N`), with the passage
    and its supporting sentences marked where they are drawn, then the document's text as for
    any file. `pages` are rag.store.originals.PageMarks."""
    figures = []
    anchor = ' id="passage"'
    for marks in pages:
        boxes = []
        for kind, rects in (("passage", marks.passage), ("support", marks.highlights)):
            for left, top, right, bottom in rects:
                style = (f"left:{100 * left:.3f}%;top:{100 * top:.3f}%;"
                         f"width:{100 * (right - left):.3f}%;height:{100 * (bottom - top):.3f}%")
                boxes.append(f'<span class="box {kind}"{anchor if kind == "passage" else ""} '
                             f'style="{style}"></span>')
                if kind == "passage":
                    anchor = ""
        figures.append(
            f'<figure class="page" data-page="{marks.page}"><div class="sheet">'
            f'<img src="?image={marks.page}" alt="Page {marks.page} of {escape(source)}">'
            f'{"".join(boxes)}</div><figcaption>page {marks.page}</figcaption></figure>'
        )
    numbers = [m.page for m in pages]
    where = f"page {numbers[0]}" if len(numbers) == 1 else f"pages {numbers[0]}–{numbers[-1]}"
    text = reflow(text)  # a PDF's lines are its layout's, not the author's
    return _standalone(
        f"{escape(source)}, {where}", SOURCE_CSS + PDF_CSS,
        f'<header><b>{escape(source)}</b> · {where} · the cited passage is marked on the page</header>'
        f'<div class="pages">{"".join(figures)}</div>'
        '<h2 class="text-title">Text extracted from the PDF</h2>'
        + _marked_document(text, start, end, highlights, "passage-text"),
    )


PDF_CSS = """
.pages { padding: 12px 16px 0; }
.page { margin: 0 auto 16px; max-width: 900px; }
.sheet { position: relative; line-height: 0; box-shadow: 0 1px 6px rgba(0, 0, 0, 0.3); }
.sheet img { width: 100%; height: auto; display: block; }
.box { position: absolute; border-radius: 2px; scroll-margin-top: 30vh; }
.box.passage { background: rgba(255, 221, 87, 0.30); }
.box.support { background: rgba(255, 170, 0, 0.38); outline: 2px solid rgba(230, 140, 0, 0.9); }
figcaption { font-size: 12px; color: #57606a; text-align: center; padding-top: 4px; line-height: 1.4; }
.text-title { font-size: 14px; margin: 8px 16px 0; color: #57606a; }
mark#passage-text { background: #fff3c4; padding: 2px 0; }
mark#passage-text strong { background: #ffd54a; font-weight: inherit; }
"""

SOURCE_CSS = """
body { margin: 0; font: 15px/1.6 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: #1f2328; background: #fff; }
header { position: sticky; top: 0; padding: 8px 16px; background: #f6f8fa;
         border-bottom: 1px solid #d0d7de; font-size: 13px; overflow-wrap: anywhere; }
.doc { padding: 12px 16px 40vh; white-space: pre-wrap; overflow-wrap: anywhere; }
mark#passage { background: #fff3c4; padding: 2px 0; scroll-margin-top: 25vh; }
mark#passage strong { background: #ffd54a; font-weight: inherit; }
"""

# -- the page's own style and scripts ------------------------------------------------------------

SOURCE_PANEL = (
    '<aside id="source-panel" hidden aria-label="Source document">'
    '<div class="panel-head"><span class="source-title"></span>'
    '<button type="button" class="close" aria-label="Close the source">Close ✕</button></div>'
    '<iframe name="source-view" title="Source document"></iframe></aside>'
)

CONVERSATION_JS = """
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.open-source');
  const panel = document.getElementById('source-panel');
  if (!link || !panel) return;
  event.preventDefault();
  panel.querySelector('.source-title').textContent = link.dataset.title;
  panel.querySelector('iframe').src = link.href;
  panel.hidden = false;
  panel.querySelector('button.close').focus();
});
watch('value', () => {
  // Bring the newest answer's question to the top of the conversation box, not of the window.
  const turns = element.querySelectorAll('.turn');
  let box = element;
  while (box && !/(auto|scroll)/.test(getComputedStyle(box).overflowY)) box = box.parentElement;
  if (!turns.length || !box) return;
  const last = turns[turns.length - 1];
  box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 4;
});
"""

PANEL_JS = """
const panel = element.querySelector('#source-panel');
const close = () => { panel.hidden = true; panel.querySelector('iframe').src = 'about:blank'; };
panel.querySelector('button.close').addEventListener('click', close);
document.addEventListener('keydown', (event) => { if (event.key === 'Escape' && !panel.hidden) close(); });
"""

UPLOAD_HTML = (
    '<div class="upload"><label class="upload-pick">Add documents '
    '<input type="file" multiple accept=".pdf,.docx,.html,.htm,.xhtml,.md,.markdown,.txt,.text"></label>'
    '<label class="upload-replace"><input type="checkbox"> replace a document of the same name</label>'
    '<ul class="upload-status" aria-live="polite"></ul></div>'
)

UPLOAD_JS = """
// Each chosen file is POSTed to the HTTP API; the server saves it and its watcher indexes it.
// The list below says when each is ready (listed by /api/documents) or why it was skipped.
const input = element.querySelector('input[type=file]');
const replace = element.querySelector('.upload-replace input');
const list = element.querySelector('.upload-status');
const say = (item, text, kind) => { item.textContent = text; item.className = kind; };
const follow = (item, source, deadline) => {
  fetch('api/documents', {credentials: 'same-origin'}).then(r => r.json()).then(body => {
    const found = (body.documents || []).find(d => d.source === source);
    const skipped = (body.skipped || []).find(d => d.source === source);
    if (found) return say(item, `${source} is ready: ${found.passages} passages`, 'ready');
    if (skipped) return say(item, `${source} was not indexed: ${skipped.reason}`, 'failed');
    if (Date.now() > deadline) return say(item, `${source} is saved but not indexed yet (is the watcher on?)`, 'failed');
    setTimeout(() => follow(item, source, deadline), 1500);
  }).catch(() => setTimeout(() => follow(item, source, deadline), 3000));
};
input.addEventListener('change', () => {
  for (const file of input.files) {
    const item = document.createElement('li');
    list.appendChild(item);
    say(item, `${file.name}: uploading…`, 'busy');
    const url = 'api/documents?name=' + encodeURIComponent(file.name) + (replace.checked ? '&overwrite=true' : '');
    fetch(url, {method: 'POST', body: file, credentials: 'same-origin',
                headers: {'Content-Type': 'application/octet-stream'}})
      .then(r => r.json().then(body => ({ok: r.ok, body})))
      .then(({ok, body}) => {
        if (!ok) return say(item, `${file.name}: ${body.error}`, 'failed');
        say(item, `${body.source} saved; indexing…`, 'busy');
        follow(item, body.source, Date.now() + 15 * 60 * 1000);
      })
      .catch(error => say(item, `${file.name}: upload failed (${error})`, 'failed'));
  }
  input.value = '';
});
"""

PAGE_CSS = """
.gradio-container { max-width: 980px !important; margin: 0 auto !important; }
.status { margin: 0; color: var(--body-text-color-subdued); font-size: 0.9em; }
#conversation { padding: 4px 6px 0 2px; border-bottom: 1px solid var(--border-color-primary); }
.empty { padding: 12px 16px; border: 1px dashed var(--border-color-primary); border-radius: 8px;
         color: var(--body-text-color-subdued); }
.empty p { margin: 4px 0; }
.turn { margin: 0 0 22px; scroll-margin-top: 8px; }
.question { display: flex; justify-content: flex-end; margin-bottom: 8px; }
.question span { background: var(--color-accent-soft); border-radius: 14px 14px 2px 14px;
                 padding: 8px 12px; max-width: 85%; overflow-wrap: anywhere; }
.summary, .followup { margin: 4px 0 8px; color: var(--body-text-color-subdued); font-size: 0.92em; }
.abstain { margin: 4px 0 10px; padding: 10px 12px; border-radius: 8px; border-left: 4px solid #d4a72c;
           background: rgba(212, 167, 44, 0.14); }
.error { padding: 10px 12px; border-radius: 8px; border-left: 4px solid #cf222e;
         background: rgba(207, 34, 46, 0.10); overflow-wrap: anywhere; }
.card { border: 1px solid var(--border-color-primary); border-left: 4px solid #2da44e;
        border-radius: 8px; padding: 10px 12px; margin: 0 0 10px;
        background: var(--background-fill-primary); }
.card.good { border-left-color: #54aeff; }
.card.low { border-left-color: #afb8c1; opacity: 0.85; }
.cite { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; font-size: 0.92em; }
.cite .rank { font-weight: 700; }
.cite .file { font-weight: 600; font-family: var(--font-mono); overflow-wrap: anywhere; }
.cite .lines { color: var(--body-text-color-subdued); }
.meter { display: flex; align-items: center; gap: 8px; margin: 6px 0; font-size: 0.85em; }
.meter .bar { flex: 0 0 110px; height: 7px; border-radius: 4px; overflow: hidden;
              background: var(--border-color-primary); }
.meter .bar span { display: block; height: 100%; background: #2da44e; }
.card.good .meter .bar span { background: #54aeff; }
.card.low .meter .bar span { background: #afb8c1; }
.meter .score { color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums; }
.card .text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.55; }
.card mark, .summary mark { background: #fff3a3; color: #1f2328; padding: 0 1px; border-radius: 2px; }
.card.low mark { background: #eaeef2; }
.card footer { margin-top: 6px; font-size: 0.88em; }
.card footer a { color: var(--link-text-color, var(--color-accent)); text-decoration: none; }
.card footer a:hover { text-decoration: underline; }
#source-panel { position: fixed; top: 0; right: 0; bottom: 0; width: min(720px, 100vw); z-index: 1000;
                display: flex; flex-direction: column; background: #fff;
                box-shadow: -6px 0 24px rgba(0, 0, 0, 0.25); }
#source-panel[hidden] { display: none; }
#source-panel .panel-head { display: flex; gap: 8px; align-items: center; justify-content: space-between;
                            padding: 8px 12px; background: #24292f; color: #fff; font-size: 0.92em; }
#source-panel .source-title { overflow-wrap: anywhere; }
#source-panel .close { background: #fff; color: #24292f; border: 0; border-radius: 6px;
                       padding: 4px 10px; cursor: pointer; white-space: nowrap; }
#source-panel iframe { flex: 1; width: 100%; border: 0; }
.upload { display: grid; grid-template-columns: minmax(0, 1fr); gap: 6px; font-size: 0.92em; }
.upload-pick { display: grid; grid-template-columns: minmax(0, 1fr); gap: 4px; min-width: 0; }
.upload-pick input { width: 100%; min-width: 0; }
.upload-status { min-width: 0; margin: 0; padding-left: 18px; overflow-wrap: anywhere; }
.upload-status .ready { color: #1a7f37; }
.upload-status .failed { color: #cf222e; overflow-wrap: anywhere; }
@media (max-width: 640px) {
  .question span { max-width: 100%; }
  .meter .bar { flex-basis: 70px; }
}
"""
