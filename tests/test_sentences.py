from rag.ingest.sentences import is_hard_wrapped, normalize, paragraphs, split_sentences


def spans(text):
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_sentences_split_at_end_punctuation_and_keep_exact_offsets():
    text = "First one. Second one? Third!\nA new paragraph here."
    assert spans(text) == ["First one.", "Second one?", "Third!", "A new paragraph here."]


def test_abbreviations_and_initialisms_do_not_end_sentences():
    text = "Dr. Garner met the U.S. envoy. Then Mr. Kim left."
    assert spans(text) == ["Dr. Garner met the U.S. envoy.", "Then Mr. Kim left."]


def test_hard_wrapped_text_joins_lines_within_a_sentence():
    line = "word " * 15
    text = "\n".join([line.strip()] * 8) + ".\n\nNext paragraph is here."
    assert is_hard_wrapped(text)
    found = spans(text)
    assert len(found) == 2 and found[0].count("\n") == 7


def test_unwrapped_text_treats_each_line_as_a_paragraph():
    text = "A heading\nA long paragraph that goes on. And on."
    assert not is_hard_wrapped(text)
    assert paragraphs(text) == [(0, 9), (10, len(text))]


def test_headings_are_short_lines_without_end_punctuation():
    sentences = split_sentences("Part 2/11:\n\nThe Real Beneficiary\n\nKim gains the most. He wins.")
    assert [s.heading for s in sentences] == [True, True, False, False]


def test_normalize_folds_whitespace_only():
    assert normalize(" a\n b\t\tc  ") == "a b c"


def test_normalize_folds_every_kind_of_whitespace_like_the_regex_it_replaced():
    import re
    import sys

    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    text = f"{spaces}a{spaces}b\x1c\x1fc\u00a0\u2028d\u3000 e{spaces}"
    assert normalize(text) == re.sub(r"\s+", " ", text).strip() == "a b c d e"
