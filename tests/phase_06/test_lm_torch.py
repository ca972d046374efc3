"""Phase 03's embedding, neural bigram and MLP language model against their PyTorch rebuilds."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from phase03.bigram import bigram_counts, bigram_probs, log_of, mean_nll
from phase03.char_tokenizer import CharTokenizer
from phase03.embeddings import Embedding
from phase03.mlp_lm import MLPLanguageModel, make_examples
from phase06.lm_torch import (
    TorchMLPLM,
    compare_bigram,
    compare_embedding,
    compare_mlp_lm,
    embedding_to_numpy,
    embedding_to_torch,
    mlp_lm_to_numpy,
    mlp_lm_to_torch,
    train_torch_bigram,
)


def test_embedding_lookup_and_scatter_gradient(rng: np.random.Generator) -> None:
    layer = Embedding(9, 4, rng)
    ids = np.array([[1, 1, 3], [8, 1, 0]])  # id 1 three times: its gradients must add up
    parity = compare_embedding(layer, ids, rng)
    assert parity.forward == 0.0 and parity.grads["W"] < 1e-12


def test_embedding_converters(rng: np.random.Generator) -> None:
    layer = Embedding(7, 3, rng)
    emb = embedding_to_torch(layer)
    assert emb.weight.shape == (7, 3) and emb.weight.dtype == torch.float64
    assert np.array_equal(embedding_to_numpy(emb).params["W"], layer.params["W"])


def test_bigram_loss_and_gradient(rng: np.random.Generator) -> None:
    parity = compare_bigram(Embedding(6, 6, rng), rng.integers(0, 6, 30), rng.integers(0, 6, 30))
    assert parity.forward < 1e-12 and parity.grads["W"] < 1e-12


def test_mlp_lm_parity_and_round_trip(rng: np.random.Generator) -> None:
    model = MLPLanguageModel(11, 4, 3, 10, rng)
    X, Y = make_examples(rng.integers(0, 11, 40), 4)
    parity = compare_mlp_lm(model, X[:12], Y[:12])
    assert parity.forward < 1e-8 and parity.worst_grad < 1e-6
    assert set(parity.grads) == {"C", "mlp.0.W", "mlp.0.b", "mlp.2.W", "mlp.2.b"}
    back = mlp_lm_to_numpy(mlp_lm_to_torch(model))
    assert all(np.array_equal(v, back.params[k]) for k, v in model.params.items())


def test_mlp_lm_checks_its_input() -> None:
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        TorchMLPLM(5, 3, 2, 4)(torch.zeros(2, 4, dtype=torch.long))


def test_torch_bigram_reaches_the_counting_model(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text * 4)
    ids = np.array(tok.encode(tiny_text * 4))
    model, losses = train_torch_bigram(ids, tok.vocab_size, 400, 256, 0.1, seed=0)
    floor = mean_nll(log_of(bigram_probs(bigram_counts(ids, tok.vocab_size), 0.0)), ids)
    log_P = F.log_softmax(model.W.weight.detach().double(), dim=-1).numpy()
    assert losses[0] == pytest.approx(np.log(tok.vocab_size), abs=1e-5)  # W = 0: uniform
    assert mean_nll(log_P, ids) < floor + 0.05
