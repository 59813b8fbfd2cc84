"""The real model and real FAISS on the real seeds (model loaded once per session)."""

import json

import pytest

from tests.conftest import SEEDS

RUTTE = "NATO's new Secretary General Mark Rutte said"

# (question, file holding the answer, words the highlighted sentence must contain)
QUESTIONS = [
    ("What did NATO's Secretary General say about North Korean troops in Ukraine?",
     "004_5d5c85c0ad26f8dd.txt", "Mark Rutte"),
    ("How many of the North Korean soldiers joined Russian units according to Ukraine's intelligence?",
     "000_526aaf833095b6c5.txt", "2,000"),
    ("How many containers of artillery ammunition has North Korea shipped to Russia since 2023?",
     "001_7b96f2a4aa5ded35.txt", "6,700"),
    ("Who welcomed Belousov in North Korea?", "004_5d5c85c0ad26f8dd.txt", "No Kwang-chol"),
    ("What did Andriy Yermak say was forming?", "003_0998b58f91dd8604.txt", "axis of evil"),
    ("What is the special Buryat battalion?", "004_5d5c85c0ad26f8dd.txt", "Buryat"),
    ("Why could the language barrier hurt the North Korean troops' integration?",
     "000_526aaf833095b6c5.txt", "language barrier"),
    ("When were North Korean troops last in a real international war?",
     "001_7b96f2a4aa5ded35.txt", "1950s"),
    ("Which Russian politician met North Korea's defense minister No Kwang-chol?",
     "004_5d5c85c0ad26f8dd.txt", "Belousov"),
    ("How much is each North Korean soldier reportedly paid per month?",
     "000_526aaf833095b6c5.txt", "2,000"),
    ("Who said 10,000 North Korean men won't win the war for Putin?",
     "003_0998b58f91dd8604.txt", "Garner"),
]

# Harder phrasings (paraphrase, indirect reference): today found in the top 5, not always first.
# The evaluation set (eval/) measures these properly; this guards against regressions.
HARDER = [
    ("Which Russian defense minister visited Pyongyang?", "004_5d5c85c0ad26f8dd.txt", "Belousov"),
    ("Who does the author say is the real winner of the arrangement?",
     "000_526aaf833095b6c5.txt", "true victor"),
    ("What happened in Egypt that the blog compares to this deployment?",
     "002_b0a906fabdead24a.txt", "Egypt"),
    ("What did Russia do at the UN about arms purchases from North Korea?",
     "004_5d5c85c0ad26f8dd.txt", "veto"),
]


@pytest.mark.parametrize("question, source, words", [q for q in QUESTIONS if q[1]])
def test_known_questions_find_their_answer_passage_first(seed_index, question, source, words):
    answer = seed_index.ask(question)
    assert answer.answered, f"abstained (confidence {answer.confidence:.2f})"
    top = answer.passages[0]
    assert top.source == source
    text = seed_index.document_text(source)
    highlighted = " ".join(text[a:b] for a, b in top.highlights)
    assert words in top.text
    assert words in highlighted or words.split()[0] in highlighted


@pytest.mark.parametrize("question, source, words", HARDER)
def test_harder_questions_find_their_answer_in_the_top_five(seed_index, question, source, words):
    assert any(p.source == source and words in p.text for p in seed_index.ask(question).passages)


def test_offtopic_questions_are_not_answered(seed_index):
    for question in ["What is the best recipe for banana bread?",
                     "How do I configure a Kubernetes ingress controller?",
                     "Who won the 1998 football World Cup?"]:
        answer = seed_index.ask(question)
        assert not answer.answered, question
        assert answer.passages and all(p.low_confidence for p in answer.passages)


def test_every_passage_and_highlight_slices_back_to_the_file(seed_index):
    files = {p.name: p.read_bytes().decode("utf-8") for p in SEEDS.iterdir()}
    for question, *_ in QUESTIONS:
        for passage in seed_index.ask(question, k=8).passages:
            text = files[passage.source]
            assert text[passage.start : passage.end] == passage.text
            lines = text.split("\n")
            # The passage begins on line_start (maybe mid-line, in a hard-wrapped file).
            assert passage.text.startswith(lines[passage.line_start - 1].lstrip()[:20].rstrip()) or \
                passage.text[:20].split("\n")[0] in lines[passage.line_start - 1]
            for a, b in passage.highlights:
                assert passage.start <= a < b <= passage.end
                assert text[a:b].strip() == text[a:b]


def test_every_stored_passage_is_an_exact_span_within_limits(seed_index, embedder):
    store = seed_index.chunks
    chunks = store.chunks(range(store.chunk_count))
    files = {p.name: p.read_bytes().decode("utf-8") for p in SEEDS.iterdir()}
    covered = {name: set() for name in files}
    for stored in chunks:
        c = stored.chunk
        piece = files[c.source][c.start : c.end]
        assert piece and piece == piece.strip()
        assert embedder.count_tokens([" ".join(piece.split())])[0] <= embedder.max_tokens
        assert files[c.source].count("\n", 0, c.start) + 1 == c.line_start
        covered[c.source].update(range(c.start, c.end))
    for name, text in files.items():  # nothing is lost between passages
        missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered[name]]
        assert not missing, f"{name}: {len(missing)} characters in no passage"


def test_returned_passages_never_overlap(seed_index):
    for question, *_ in QUESTIONS:
        passages = seed_index.ask(question, k=10).passages
        for i, a in enumerate(passages):
            for b in passages[i + 1 :]:
                assert a.source != b.source or a.end <= b.start or b.end <= a.start


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_mode_answers_the_rutte_question(seed_index, mode):
    answer = seed_index.ask("What did NATO's Secretary General say about North Korean troops in Ukraine?",
                            mode=mode)
    assert answer.mode == mode
    assert RUTTE in answer.passages[0].text
    top = answer.passages[0]
    assert (top.dense is not None) == (mode != "lexical")


def test_source_filter_restricts_results(seed_index):
    answer = seed_index.ask("North Korean troops", k=5, sources=["003_0998b58f91dd8604.txt"])
    assert {p.source for p in answer.passages} == {"003_0998b58f91dd8604.txt"}


def test_follow_up_question_uses_the_previous_turn(seed_index):
    first = "How many troops did North Korea send to Russia according to Ukraine's intelligence?"
    follow = "And how many of them joined Russian units?"
    answer = seed_index.ask(follow, history=[first])
    assert answer.used_history
    assert "2,000 of these troops joined Russian units" in answer.passages[0].text
    assert not seed_index.ask("How many troops joined Russian units?", history=[first]).used_history


def test_answer_json_contract(seed_index):
    data = json.loads(json.dumps(seed_index.ask("Who is Mark Rutte?", k=3).to_dict()))
    assert set(data) >= {"question", "answered", "passages", "confidence", "mode"}
    passage = data["passages"][0]
    assert set(passage) >= {"rank", "source", "start", "end", "line_start", "line_end", "score",
                            "text", "highlights", "dense", "lexical", "confidence", "low_confidence"}
    assert [p["rank"] for p in data["passages"]] == [1, 2, 3]
