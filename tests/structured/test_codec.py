"""Schema-aware encoding of workflows (kelp.structured.codec), on the bundled workflow data only.

One codec is built for the module from the 12 sample workflows and the 37 valid SchemaStore
fixtures (small vocabularies, so most strings are spelled with subwords).
"""

import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kelp.structured.automaton import INF
from kelp.structured.codec import CodecError, SchemaCodec, byte_level_bytes
from kelp.structured.lexer import NUMBER_PATTERN
from kelp.structured.vocab import (
    ARR,
    ARR_END,
    BOS,
    END,
    EOS,
    FALSE,
    NULL,
    NUM,
    OBJ,
    OBJ_END,
    PAD,
    SPECIALS,
    STR,
    TRUE,
)
from kelp.structured.workflow_corpus import (
    SAMPLE_DIR,
    SCHEMASTORE_TESTS_DIR,
    load_schema,
    validator,
)
from kelp.structured.workflow_yaml import load_workflow

_SUFFIXES = (".yml", ".yaml", ".json")


def fixture_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES)


def load(path: Path):
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else load_workflow(text)


SAMPLES = fixture_files(SAMPLE_DIR)
VALID = fixture_files(SCHEMASTORE_TESTS_DIR / "test")
INVALID = fixture_files(SCHEMASTORE_TESTS_DIR / "negative_test")
DOC_FILES = SAMPLES + VALID
DOCS = [load(p) for p in DOC_FILES]


@pytest.fixture(scope="module")
def codec():
    return SchemaCodec.build(load_schema(), DOCS, n_strings=512, n_subwords=512)


def same(a, b) -> bool:
    """Equal, key order and JSON types (1 vs 1.0 vs true) included."""
    return a == b and json.dumps(a) == json.dumps(b)


def shuffled(value, rnd: random.Random):
    """``value`` with the keys of every object in a random order."""
    if isinstance(value, dict):
        items = [(k, shuffled(v, rnd)) for k, v in value.items()]
        rnd.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


def is_partial(p, d) -> bool:
    """``p`` is what a prefix of ``d``'s encoding can show: containers hold a prefix of their
    entries, every entry but the last complete, the last one partial; a string a prefix of it."""
    if isinstance(d, dict):
        if not isinstance(p, dict):
            return False
        keys = list(p)
        if keys != list(d)[:len(keys)]:
            return False
        return all(same(p[k], d[k]) for k in keys[:-1]) and (not keys or is_partial(p[keys[-1]], d[keys[-1]]))
    if isinstance(d, list):
        if not isinstance(p, list) or len(p) > len(d):
            return False
        return all(same(x, y) for x, y in zip(p[:-1], d)) and (not p or is_partial(p[-1], d[len(p) - 1]))
    if isinstance(d, str):
        return isinstance(p, str) and d.startswith(p)
    return same(p, d)


def test_the_bundled_fixtures_are_all_there():
    assert (len(SAMPLES), len(VALID), len(INVALID)) == (12, 37, 20)


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_round_trip(codec, path):
    doc = load(path)
    ids = codec.encode(doc)
    assert ids[0] == BOS and ids[-1] == EOS and BOS not in ids[1:] and EOS not in ids[:-1]
    assert all(0 < t < codec.vocab.size for t in ids)
    assert same(codec.decode(ids), doc)
    assert same(codec.decode(ids[1:-1]), doc), "<bos> and <eos> are optional"
    assert same(codec.decode([PAD] + ids + [PAD, PAD]), doc), "<pad> is ignored"
    assert codec.encode(doc) == ids


def test_round_trip_uses_whole_strings_and_subwords(codec):
    v = codec.vocab
    all_ids = [t for doc in DOCS for t in codec.encode(doc)]
    assert any(v.is_string(t) for t in all_ids)
    assert any(v.is_subword(t) and len(v.subword(t)) > 1 for t in all_ids), "BPE merges are used"
    ids = codec.encode(DOCS[0])
    assert ids[1] == OBJ and v.describe(ids[2]) in ("S:'name'", "S:'on'")


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, len(DOCS) - 1), rnd=st.randoms(use_true_random=False))
def test_round_trip_with_shuffled_keys(codec, index, rnd):
    doc = shuffled(DOCS[index], rnd)
    assert validator(codec.schema).is_valid(doc)
    assert same(codec.decode(codec.encode(doc)), doc)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixtures_are_rejected(codec, path):
    doc = load(path)
    assert not validator(codec.schema).is_valid(doc)
    with pytest.raises(CodecError, match="the schema rejects this document: token [0-9]+ "):
        codec.encode(doc)
    codec.encode(doc, validate=False)  # still JSON data


@pytest.mark.parametrize("doc", [{"on": 1.5j}, {"on": (1, 2)}, {1: "x"}, {"on": float("nan")}, {"on": b"x"}],
                         ids=["complex", "tuple", "int-key", "nan", "bytes"])
def test_non_json_data_raises(codec, doc):
    with pytest.raises(CodecError):
        codec.encode(doc, validate=False)


def test_whole_strings_are_never_spelled(codec):
    """A string that has a token is always written as that token (the encoding is canonical)."""
    v = codec.vocab
    doc = {"on": "push", "jobs": {"build": {"runs-on": "ubuntu-latest", "steps": [{"run": "make"}]}}}
    ids = codec.encode(doc)
    assert v.string_id["ubuntu-latest"] in ids
    spelled = ids.index(v.string_id["runs-on"]) + 1
    assert ids[spelled] == v.string_id["ubuntu-latest"]
    # spelling it instead is not an encoding the automaton allows
    bad = ids[:spelled] + [STR] + [v.subword_id[bytes([b])] for b in b"ubuntu-latest"] + [END] + ids[spelled + 1:]
    with pytest.raises(ValueError, match="<end>"):
        codec.automaton.walk(bad[1:])
    assert same(codec.decode(bad), doc), "decode itself does not care"


# -- free strings and numbers on small schemas ---------------------------------------------------

FREE = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}


@pytest.fixture(scope="module")
def free_codec():
    return SchemaCodec.build(FREE, [{"k": "hello world", "x": "tests"}] * 5, n_strings=64, n_subwords=300)


@settings(max_examples=100, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=12).filter(lambda k: k != "\0key"),
                           st.text(max_size=20) | st.booleans() | st.none() | st.integers(-10**15, 10**15),
                           max_size=5))
def test_arbitrary_text_round_trips(free_codec, doc):
    assert same(free_codec.decode(free_codec.encode(doc)), doc)


@settings(max_examples=150, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10**20, 10**20))
def test_numbers_round_trip_within_the_documented_bounds(free_codec, x):
    doc = {"n": x}
    if re.fullmatch(NUMBER_PATTERN, json.dumps(x)):
        decoded = free_codec.decode(free_codec.encode(doc))
        assert same(decoded, doc)
    else:  # more than 16 digits around the point or a three-digit exponent
        with pytest.raises(CodecError):
            free_codec.encode(doc)


def test_number_spelling(free_codec):
    v = free_codec.vocab
    ids = free_codec.encode({"n": -1.5e-07})
    i = ids.index(NUM)
    assert b"".join(v.subword(t) for t in ids[i + 1:ids.index(END, i)]) == b"-1.5e-07"
    assert same(free_codec.decode(free_codec.encode({"n": 10**15})), {"n": 10**15})


def test_key_that_looks_like_the_pending_key_sentinel(free_codec):
    doc = {"\0key": 1, "b": 2}
    assert same(free_codec.decode(free_codec.encode(doc)), doc)


# -- prefixes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_decode_prefix_of_every_prefix(codec, path):
    doc = load(path)
    ids = codec.encode(doc)
    aut = codec.automaton
    step = max(1, len(ids) // 400)  # the one long fixture: every 14th prefix
    assert codec.decode_prefix([]) is None and codec.decode_prefix(ids[:1]) is None
    state = aut.initial()
    for k in range(1, len(ids) + 1):
        if k > 1:
            state = aut.advance(state, ids[k - 1])
            assert state and aut.min_completion(state)[0] < INF
        if k % step and k < len(ids) - 2:
            continue
        partial = codec.decode_prefix(ids[:k])
        assert partial is None if k == 1 else is_partial(partial, doc), (k, partial)
    assert same(codec.decode_prefix(ids), doc)
    assert same(codec.decode_prefix(ids[:-1]), doc)


def test_decode_prefix_inside_spelled_values(codec):
    v = codec.vocab
    ids = [BOS, OBJ, v.string_id["name"], STR] + [v.subword_id[bytes([b])] for b in "hé€".encode()]
    assert codec.decode_prefix(ids) == {"name": "hé€"}
    assert codec.decode_prefix(ids[:-1]) == {"name": "hé"}, "a split character is left out"
    assert codec.decode_prefix(ids[:4]) == {"name": ""}
    assert codec.decode_prefix(ids[:3]) == {}, "a key without a value is left out"
    spelled_key = [BOS, OBJ, STR, v.subword_id[b"x"]]
    assert codec.decode_prefix(spelled_key) == {}
    number = [BOS, ARR, NUM, v.subword_id[b"1"]]
    assert codec.decode_prefix(number) == []


def test_encode_prefix_of_every_document(codec):
    for doc in DOCS:
        ids = codec.encode_prefix(doc)
        full = codec.encode(doc)
        assert ids == full[:len(ids)]
        assert set(full[len(ids):-1]) <= {OBJ_END, ARR_END} and len(full) - len(ids) >= 2
        state = codec.automaton.walk(ids[1:])
        assert not codec.automaton.accepts(state)
        assert codec.automaton.accepts(codec.automaton.walk(full[len(ids):-1], state))
        assert same(codec.decode_prefix(ids), doc)


def test_encode_prefix_allows_missing_required_keys(codec):
    aut = codec.automaton
    ids = codec.encode_prefix({"on": "push"})
    assert ids[-1] == codec.vocab.string_id["push"]
    state = aut.walk(ids[1:])
    assert aut.allowed(state)[codec.vocab.string_id["jobs"]] and not aut.allowed(state)[OBJ_END]
    with pytest.raises(CodecError):
        codec.encode({"on": "push"})
    doc = {"on": "push", "jobs": {"build": {"runs-on": "x", "steps": [{"run": "make"}]}}}
    ids = codec.encode_prefix(doc)
    full = codec.encode(doc)
    assert full[len(ids):] == [OBJ_END, ARR_END, OBJ_END, OBJ_END, OBJ_END, EOS]
    assert aut.min_completion(aut.walk(ids[1:])) == (6, OBJ_END)


def test_encode_prefix_rejects_what_cannot_continue(codec):
    with pytest.raises(CodecError, match="rejects this prefix"):
        codec.encode_prefix({"on": "push", "bogus": 1})
    with pytest.raises(CodecError, match="rejects this prefix"):
        codec.encode_prefix({"jobs": {"build": {"runs-on": None}}})
    with pytest.raises(CodecError):
        codec.encode_prefix({"on": {1, 2}})


# -- saving --------------------------------------------------------------------------------------


def test_save_and_load(codec, tmp_path):
    folder = tmp_path / "codec"
    codec.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["codec.json", "schema.json", "tokenizer.json"]
    meta = json.loads((folder / "codec.json").read_text(encoding="utf-8"))
    assert meta["format"] == 1 and meta["strings"] == codec.vocab.strings
    loaded = SchemaCodec.load(folder)
    assert loaded.schema == codec.schema
    assert loaded.vocab.strings == codec.vocab.strings and loaded.vocab.subwords == codec.vocab.subwords
    for doc in DOCS:
        ids = codec.encode(doc)
        assert loaded.encode(doc) == ids
        assert same(loaded.decode(ids), doc)
    assert loaded.encode_prefix(DOCS[0]) == codec.encode_prefix(DOCS[0])


def test_load_errors(codec, tmp_path):
    with pytest.raises(CodecError, match="cannot read"):
        SchemaCodec.load(tmp_path / "missing")
    folder = tmp_path / "codec"
    codec.save(folder)
    meta = json.loads((folder / "codec.json").read_text(encoding="utf-8"))
    (folder / "codec.json").write_text(json.dumps({**meta, "format": 99}), encoding="utf-8")
    with pytest.raises(CodecError, match="unknown format"):
        SchemaCodec.load(folder)
    (folder / "codec.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CodecError, match="cannot read"):
        SchemaCodec.load(folder)


def test_byte_level_bytes():
    assert byte_level_bytes("Ġthe") == b" the"
    assert byte_level_bytes("Ċ") == b"\n"
    assert byte_level_bytes("Ã©") == "é".encode()


# -- garbage -------------------------------------------------------------------------------------


def _garbage(codec):
    v = codec.vocab
    a = v.subword_id[b"a"]
    return {
        "empty": [],
        "bos-only": [BOS, EOS],
        "open-object": [OBJ],
        "open-array": [BOS, ARR, TRUE],
        "open-string": [STR, a],
        "unbalanced-close": [OBJ_END],
        "wrong-close": [ARR, OBJ_END],
        "wrong-close-2": [OBJ, ARR_END],
        "key-without-value": [OBJ, v.string_id["on"], OBJ_END],
        "non-string-key": [OBJ, TRUE, NULL, OBJ_END],
        "two-values": [TRUE, FALSE],
        "eos-inside": [TRUE, EOS, TRUE],
        "structure-in-string": [STR, OBJ, END],
        "string-token-in-string": [STR, v.string_id["on"], END],
        "end-outside": [END],
        "subword-outside": [a],
        "bad-id": [v.size],
        "negative-id": [-1],
    }


GARBAGE = ["empty", "bos-only", "open-object", "open-array", "open-string", "unbalanced-close", "wrong-close",
           "wrong-close-2", "key-without-value", "non-string-key", "two-values", "eos-inside", "structure-in-string",
           "string-token-in-string", "end-outside", "subword-outside", "bad-id", "negative-id"]


@pytest.mark.parametrize("name", GARBAGE)
def test_decode_of_garbage_raises_codec_error(codec, name):
    garbage = _garbage(codec)
    assert sorted(garbage) == sorted(GARBAGE)
    with pytest.raises(CodecError):
        codec.decode(garbage[name])


@pytest.mark.parametrize("spelled", [
    pytest.param((STR, b"\xff"), id="invalid-utf8"),
    pytest.param((STR, b"\xc3"), id="truncated-utf8"),
    pytest.param((NUM, b"a"), id="letters-as-number"),
    pytest.param((NUM, b""), id="empty-number"),
    pytest.param((NUM, b"1e"), id="unfinished-exponent"),
    pytest.param((NUM, "é".encode()), id="non-ascii-number"),
])
def test_decode_of_malformed_spelled_values_raises_codec_error(codec, spelled):
    kind, data = spelled
    ids = [kind] + [codec.vocab.subword_id[bytes([b])] for b in data] + [END]
    with pytest.raises(CodecError):
        codec.decode(ids)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_decode_of_random_sequences(codec, data):
    """Random sequences of structure tokens, whole strings and ASCII subwords: decode either
    raises CodecError or returns JSON data whose own encoding decodes to it again."""
    v = codec.vocab
    ascii_subwords = [t for b, t in v.subword_id.items() if all(32 <= c < 127 for c in b)]
    pool = [BOS, EOS, OBJ, OBJ_END, ARR, ARR_END, STR, END, TRUE, FALSE, NULL, PAD] + \
        list(range(v.string_offset, v.string_offset + 40)) + ascii_subwords[:60]
    ids = data.draw(st.lists(st.sampled_from(pool), max_size=14))
    try:
        value = codec.decode(ids)
    except CodecError:
        return
    assert same(codec.decode(codec.encode(value, validate=False)), value)
    assert codec.decode_prefix(ids) == value


def test_specials_layout():
    assert SPECIALS[PAD] == "<pad>" and SPECIALS[EOS] == "<eos>" and SPECIALS[END] == "<end>"
