import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kelp.retrieval.code_tokens import STOPWORDS, code_tokens, split_identifier


@pytest.mark.parametrize(
    "word, parts",
    [
        ("parseHTTPResponse2", ["parse", "HTTP", "Response", "2"]),
        ("XMLHttpRequest", ["XML", "Http", "Request"]),
        ("parse_args", ["parse", "args"]),
        ("__init__", ["init"]),
        ("sha256_hex", ["sha", "256", "hex"]),
        ("getX", ["get", "X"]),
        ("HTTP", ["HTTP"]),
        ("ABCd", ["AB", "Cd"]),
        ("v2beta", ["v", "2", "beta"]),
        ("___", []),
        ("größeÄnderung", ["größe", "Änderung"]),
    ],
)
def test_split_identifier(word, parts):
    assert split_identifier(word) == parts


def test_code_tokens_keeps_whole_identifiers_and_their_parts():
    assert code_tokens("def parseHTTPResponse2(self, raw_bytes): return the_body") == [
        "parsehttpresponse2", "parse", "http", "response", "2",
        "raw_bytes", "raw", "bytes",
        "the_body", "body",
    ]  # fmt: skip
    assert code_tokens("__init__ json.loads(x)") == ["init", "json", "loads"]
    assert code_tokens("Parse the HTTP response, e.g. a 404!") == ["parse", "http", "response", "404"]
    # term frequency is kept
    assert code_tokens("total = total + item_total") == ["total", "total", "item_total", "item", "total"]


def test_stopwords_single_letters_and_punctuation_are_dropped():
    assert code_tokens("the a of self cls def return pass elif") == []
    assert code_tokens("x = i + j * 2") == ["2"]
    assert code_tokens("+-*/ () [] {} :: -> == != <> ;") == []
    assert code_tokens("") == []
    assert {"the", "self", "def", "return"} <= STOPWORDS and len(STOPWORDS) < 40


def test_unicode_and_determinism():
    text = "Größe berechnen: größeÄnderung(wert_1)"
    assert code_tokens(text) == [
        "größe", "berechnen", "größeänderung", "größe", "änderung", "wert_1", "wert", "1",
    ]  # fmt: skip
    assert code_tokens(text) == code_tokens(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_gives_lowercase_nonempty_tokens(text):
    tokens = code_tokens(text)
    assert tokens == code_tokens(text)
    for token in tokens:
        assert isinstance(token, str) and token and token == token.lower()
        assert token not in STOPWORDS
        assert len(token) > 1 or token.isdigit()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)))
def test_ascii_tokens_come_from_the_text(text):
    lowered = text.lower()
    for token in code_tokens(text):
        assert token in lowered
