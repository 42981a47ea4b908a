"""The dense encoders, loaded for real: MiniLM from its offline package (no hub), and kelp's own."""

import numpy as np
import pytest

from kelp.retrieval.encoders import EncoderError, MiniLMEncoder, OwnEncoder, load_encoder


def test_minilm_loads_offline_and_ranks_a_paraphrase_first(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = MiniLMEncoder(max_seq_length=64)
    docs = encoder.encode_documents(["def read_config(path):\n    return json.load(open(path))",
                                     "def send_email(to, body):\n    smtp.sendmail(to, body)"])
    query = encoder.encode_queries(["load the settings file"])
    assert docs.shape == (2, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert (query @ docs.T).argmax() == 0
    assert encoder.encode_documents([]).shape == (0, 384)


def test_bundled_encoder_is_deterministic_and_unit_norm():
    a = OwnEncoder().encode_queries(["parse the header line", "x"])
    b = load_encoder("ours").encode_queries(["parse the header line", "x"])
    assert a.shape == (2, 256) and (a == b).all()
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_encoder_errors(tmp_path):
    with pytest.raises(EncoderError, match="unknown encoder"):
        load_encoder("bert")
    with pytest.raises(EncoderError, match="missing"):
        OwnEncoder(tmp_path)
