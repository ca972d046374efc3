"""The whole NumPy transformer: gradient check, causality, overfitting one batch, save/load,
GPT-2 names and layouts, clear errors, and the training script on a small text."""

from pathlib import Path

import numpy as np
import pytest

from phase02.gradcheck import check_gradients, gradcheck_layer
from phase02.optimizers import AdamW
from phase05.train_transformer import clip_gradients, decay_groups, lr_at
from phase05.train_transformer import main as train_main
from phase05.transformer import Block, Transformer, TransformerConfig

TOL = 1e-6


def tiny(positions: str = "learned", tied: bool = True, seed: int = 1) -> Transformer:
    config = TransformerConfig(vocab_size=7, context=6, d_model=8, n_heads=2, n_layers=2,
                               positions=positions, tied_head=tied)
    model = Transformer(config, seed=seed)
    rng = np.random.default_rng(seed)
    for p in model.params.values():  # move LayerNorm gains and biases off their 1s and 0s
        p += rng.normal(0, 0.1, p.shape)
    return model


def test_block_gradcheck(rng: np.random.Generator) -> None:
    errors = gradcheck_layer(Block(8, 2, 1e-5, rng), rng.normal(size=(2, 5, 8)), rng)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("positions, tied", [("learned", True), ("sinusoidal", False),
                                             ("none", True)])
def test_whole_model_gradcheck(positions: str, tied: bool) -> None:
    model = tiny(positions, tied)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 7, (2, 5)), rng.integers(0, 7, (2, 5))
    model.loss(ids, targets)
    model.backward_loss()
    grads = {k: g.copy() for k, g in model.grads.items()}
    errors = check_gradients(lambda: model.loss(ids, targets), model.params, grads)
    assert max(errors.values()) < TOL, max(errors, key=errors.get)


def test_fresh_model_loss_is_ln_vocab() -> None:
    config = TransformerConfig(vocab_size=50, context=16, d_model=32, n_heads=4, n_layers=2)
    model = Transformer(config, seed=0)
    rng = np.random.default_rng(0)
    loss = model.loss(rng.integers(0, 50, (4, 16)), rng.integers(0, 50, (4, 16)))
    assert loss == pytest.approx(np.log(50), abs=0.05)


def test_model_is_causal() -> None:
    model = tiny()
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 7, (1, 6))
    base = model.forward(ids)
    for t in range(5):
        changed = ids.copy()
        changed[0, t + 1] = (changed[0, t + 1] + 1) % 7
        np.testing.assert_allclose(model.forward(changed)[0, :t + 1], base[0, :t + 1],
                                   atol=1e-12)


def test_overfits_one_batch() -> None:
    config = TransformerConfig(vocab_size=10, context=8, d_model=16, n_heads=2, n_layers=1)
    model = Transformer(config, seed=0, dtype=np.float32)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 10, (4, 8)), rng.integers(0, 10, (4, 8))
    opt = AdamW([model], lr=1e-2, weight_decay=0.0)
    first = model.loss(ids, targets)
    for _ in range(150):
        model.loss(ids, targets)
        model.backward_loss()
        opt.step()
    assert first > 2.0 and model.loss(ids, targets) < 0.05


def test_save_load_identical_logits(tmp_path: Path) -> None:
    model = tiny()
    ids = np.random.default_rng(0).integers(0, 7, (2, 6))
    path = model.save(tmp_path / "m.npz")
    again = Transformer.load(path)  # float64 saved, float64 back: the same model exactly
    assert again.dtype == model.dtype == np.float64
    np.testing.assert_array_equal(again.forward(ids), model.forward(ids))
    assert not list(tmp_path.glob(".tmp-*")), "no temporary file left behind"
    small = Transformer.load(model.to(np.float32).save(tmp_path / "f32.npz"))
    assert small.dtype == np.float32  # a float32-trained model comes back float32
    assert Transformer.load(path, dtype=np.float32).dtype == np.float32  # or cast on request


def test_gpt2_names_and_layouts() -> None:
    config = TransformerConfig(vocab_size=11, context=5, d_model=12, n_heads=3, n_layers=2)
    params = Transformer(config).params
    assert params["wte.weight"].shape == (11, 12) and params["wpe.weight"].shape == (5, 12)
    assert params["h.1.attn.c_attn.weight"].shape == (12, 36)  # Conv1D layout: (in, out)
    assert params["h.0.mlp.c_fc.weight"].shape == (12, 48)
    assert params["h.0.mlp.c_proj.weight"].shape == (48, 12)
    assert {"ln_f.weight", "ln_f.bias", "h.0.ln_1.weight", "h.0.ln_2.bias"} <= set(params)
    assert "lm_head.weight" not in params  # tied: the head is wte
    assert len(params) == 2 + 12 * 2 + 2


def test_load_state_dict_checks_names_and_shapes() -> None:
    model = tiny()
    state = model.state_dict()
    state["h.0.ln_1.weight"] = np.ones(5)
    with pytest.raises(ValueError, match=r"h.0.ln_1.weight: expected shape \(8,\)"):
        model.load_state_dict(state)
    del state["h.0.ln_1.weight"]
    with pytest.raises(ValueError, match="missing"):
        model.load_state_dict(state)


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="divisible by n_heads"):
        TransformerConfig(vocab_size=5, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="unknown positions"):
        TransformerConfig(vocab_size=5, positions="rotary")
    with pytest.raises(ValueError, match="longer than the context of 6"):
        tiny().forward(np.zeros((1, 7), dtype=int))


def test_lr_schedule_and_clipping() -> None:
    assert lr_at(0, 1.0, 10, 100) == pytest.approx(0.1)  # warmup never starts at 0
    assert lr_at(9, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_at(99, 1.0, 10, 100) == pytest.approx(0.1, abs=1e-3)
    grads = {"a": np.full(4, 3.0), "b": np.full(9, 4.0)}
    before = clip_gradients(grads, 1.0)
    assert before == pytest.approx(np.sqrt(36 + 144))
    assert np.sqrt(sum((g ** 2).sum() for g in grads.values())) == pytest.approx(1.0, rel=1e-5)


def test_weight_decay_skips_biases_and_norms() -> None:
    decay, rest = decay_groups(tiny())
    assert all(p.ndim == 2 for p in decay.params.values())
    assert "wte.weight" in decay.params and "wpe.weight" in rest.params
    assert "h.0.ln_1.weight" in rest.params and "h.0.attn.c_attn.bias" in rest.params


def test_training_script_learns(tmp_path: Path, tiny_text: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text * 30, encoding="utf-8")
    train_main(["--path", str(book), "--steps", "60", "--batch", "8", "--context", "16",
                "--d-model", "32", "--n-layers", "1", "--eval-every", "30",
                "--sample-chars", "20", "--save", str(tmp_path / "m.npz"),
                "--out", str(tmp_path)])
    out = capsys.readouterr().out
    losses = [float(line.split("val ")[1].split()[0]) for line in out.splitlines()
              if "  val " in line]
    assert losses[-1] < losses[0] - 0.5
    assert (tmp_path / "m.npz").is_file() and (tmp_path / "m.chars.json").is_file()
    assert (tmp_path / "transformer_loss.png").is_file()
