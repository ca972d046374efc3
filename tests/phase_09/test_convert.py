"""Our GPT and Hugging Face's GPT2LMHeadModel: lossless conversion both ways, equal logits in
float32 and float64, identical greedy text, the NumPy model equal to both, exports that
from_pretrained loads, and a clear message when GPT-2's weights cannot be had offline."""

import json
import re
from dataclasses import asdict

import numpy as np
import pytest
import torch
from transformers import GPT2LMHeadModel

from phase03.char_tokenizer import CharTokenizer
from phase05.transformer import Transformer
from phase07.model import GPT, GPTConfig
from phase07.train_char import save_model
from phase09 import convert, export_hf
from phase09.convert import (
    NotAModelError,
    PretrainedUnavailable,
    from_hf,
    from_hf_state,
    greedy_hf,
    greedy_ours,
    hf_config,
    hf_logits,
    load_pretrained,
    max_abs_diff,
    numpy_config,
    our_config,
    to_hf,
    to_hf_state,
    to_numpy,
    to_numpy_state,
)
from phase09.export_hf import check_export, export, load_our_checkpoint
from phase09.numpy_to_gpt2 import carry, numpy_stages, torch_stages

# Two random configs: neither is GPT-2 small (context < 1024, vocabulary != 50,257).
CONFIGS = {
    "3-layers-4-heads": GPTConfig(vocab_size=1000, context=64, n_layer=3, n_head=4, n_embd=64),
    "2-layers-3-heads-hand": GPTConfig(vocab_size=317, context=40, n_layer=2, n_head=3,
                                       n_embd=48, attention="hand"),
}


def model(config: GPTConfig, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(config).eval()


def ids(config: GPTConfig, B: int = 2, T: int = 20, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.vocab_size, (B, T), generator=g)


def test_conv1d_layout_is_a_transpose() -> None:
    ours = model(CONFIGS["3-layers-4-heads"])
    theirs = to_hf(ours)
    assert theirs.transformer.h[0].attn.c_attn.weight.shape == (64, 192)
    assert torch.equal(theirs.transformer.h[0].mlp.c_fc.weight,
                       ours.transformer.h[0].mlp.c_fc.weight.t())
    assert theirs.lm_head.weight.data_ptr() == theirs.transformer.wte.weight.data_ptr()


def test_converted_states_are_copies() -> None:
    """Zeroing every converted array leaves our model as it was: the conversions copy (a view
    would let one model's training write into the other's weights)."""
    ours = model(CONFIGS["3-layers-4-heads"])
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    for converted in (to_hf_state(ours.state_dict()), to_numpy_state(ours.state_dict())):
        for value in converted.values():
            value[...] = 0
    assert all(torch.equal(v, before[k]) for k, v in ours.state_dict().items())


@pytest.mark.parametrize("name", CONFIGS)
def test_round_trip_is_lossless(name: str) -> None:
    ours = model(CONFIGS[name])
    back = from_hf(to_hf(ours), CONFIGS[name].attention)
    assert back.config == ours.config
    for key, value in ours.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key
    # and the state dicts alone, both ways
    state = ours.state_dict()
    assert all(torch.equal(state[k], v) for k, v in from_hf_state(to_hf_state(state)).items())


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("name", CONFIGS)
def test_logits_equal_float32_and_float64(name: str, attn: str) -> None:
    config = CONFIGS[name]
    ours, idx = model(config), ids(config)
    with torch.no_grad():
        assert max_abs_diff(ours(idx), hf_logits(to_hf(ours, attn), idx)) < 1e-5
        ours = ours.double()
        assert max_abs_diff(ours(idx), hf_logits(to_hf(ours, attn), idx)) < 1e-10


@pytest.mark.parametrize("name", CONFIGS)
def test_greedy_generation_is_identical_for_20_tokens(name: str) -> None:
    config = CONFIGS[name]
    ours = model(config)
    prompt = ids(config, B=1, T=8)
    mine, theirs = greedy_ours(ours, prompt, 20), greedy_hf(to_hf(ours), prompt, 20)
    assert mine.shape == (1, 28)
    assert torch.equal(mine, theirs)
    assert torch.equal(theirs, greedy_hf(to_hf(ours), prompt, 20, use_cache=False))


def test_numpy_equals_ours_equals_hugging_face_in_float64() -> None:
    config = CONFIGS["3-layers-4-heads"]
    ours = model(config).double()
    idx = ids(config)
    with torch.no_grad():
        logits_ours = ours(idx)
        logits_hf = hf_logits(to_hf(ours), idx)
    logits_np = to_numpy(ours).forward(idx.numpy())
    assert max_abs_diff(logits_np, logits_ours) < 1e-8
    assert max_abs_diff(logits_np, logits_hf) < 1e-8


def test_every_stage_agrees_from_numpy_to_gpt2() -> None:
    config = GPTConfig(vocab_size=50, context=12, n_layer=2, n_head=2, n_embd=16)
    params = Transformer(numpy_config(config), seed=3, dtype=np.float64).params
    diffs = carry(params, config, np.random.default_rng(0).integers(0, 50, (2, 12)))
    assert set(diffs) == {"numpy vs ours", "ours vs hf", "numpy vs hf"}
    for values in diffs.values():
        assert len(values) == 2 + 2 + 1  # embeddings, 2 blocks, ln_f, logits
        assert max(values) < 1e-8


def test_config_conversion_and_refusals() -> None:
    config = CONFIGS["3-layers-4-heads"]
    hf = hf_config(config, "sdpa")
    assert (hf.activation_function, hf.layer_norm_epsilon, hf.n_positions) == ("gelu_new",
                                                                               1e-5, 64)
    last = config.vocab_size - 1  # GPT-2's <|endoftext|> is its last id; here 999, not 50256
    assert (hf.bos_token_id, hf.eos_token_id) == (last, last)
    assert hf.tie_word_embeddings and hf.n_inner is None
    for implementation in ("eager", "sdpa"):  # the attention asked for is the one it gets
        assert hf_config(config, implementation)._attn_implementation == implementation
    assert our_config(hf) == config
    with pytest.raises(ValueError, match="biases"):
        hf_config(GPTConfig(vocab_size=10, context=8, n_layer=1, n_head=1, n_embd=4,
                            bias=False))
    with pytest.raises(ValueError, match="eager"):
        hf_config(config, "flash")
    hf.activation_function = "relu"
    with pytest.raises(ValueError, match="activation_function"):
        our_config(hf)
    for name, value in (("scale_attn_weights", False), ("attn_pdrop", 0.1), ("embd_pdrop", 0.1)):
        other = hf_config(config)
        setattr(other, name, value)
        with pytest.raises(ValueError, match=name):
            our_config(other)


def test_gpt2model_keys_get_our_prefix_and_the_tied_head() -> None:
    ours = model(CONFIGS["3-layers-4-heads"])
    state = ours.state_dict()
    bare = {name.removeprefix("transformer."): w for name, w in to_hf_state(state).items()
            if name != "lm_head.weight"}  # GPT2Model's keys, as phase 05's NumPy model has them
    back = from_hf_state(bare)
    assert set(back) == set(state)
    for name, w in state.items():
        assert torch.equal(back[name], w), name
    assert torch.equal(back["lm_head.weight"], back["transformer.wte.weight"])


def test_the_numpy_stages_end_in_the_models_own_logits() -> None:
    config = GPTConfig(vocab_size=50, context=12, n_layer=2, n_head=2, n_embd=16)
    numpy_model = Transformer(numpy_config(config), seed=3, dtype=np.float64)
    ids = np.random.default_rng(0).integers(0, 50, (2, 12))
    stages = numpy_stages(numpy_model, ids)
    assert [s.shape for s in stages] == [(2, 12, 16)] * 4 + [(2, 12, 50)]  # emb, 2 blocks, ln_f
    wte, wpe = numpy_model.wte.params["W"], numpy_model.wpe.params["W"]
    np.testing.assert_array_equal(stages[0], wte[ids] + wpe[:12])  # a lookup and a sum
    for i, block in enumerate(numpy_model.blocks):
        np.testing.assert_array_equal(stages[i + 1], block.forward(stages[i]))
    np.testing.assert_array_equal(stages[3], numpy_model.ln_f.forward(stages[2]))
    np.testing.assert_allclose(stages[4], numpy_model.forward(ids), rtol=0, atol=1e-12)


def test_mask_buffers_are_ignored() -> None:
    ours = model(CONFIGS["3-layers-4-heads"])
    state = to_hf_state(ours.state_dict())
    state["transformer.h.0.attn.bias"] = torch.ones(1, 1, 64, 64)  # older transformers kept one
    state["transformer.h.0.attn.masked_bias"] = torch.tensor(-1e4)
    converted = from_hf_state(state)
    assert set(converted) == set(ours.state_dict())


def test_pretrained_offline_fails_fast_and_clearly() -> None:
    with pytest.raises(PretrainedUnavailable, match="with a network"):
        load_pretrained("gpt2")


def test_export_of_phase07_and_phase08_checkpoints(tmp_path) -> None:
    config = GPTConfig(vocab_size=12, context=16, n_layer=2, n_head=2, n_embd=16)
    ours = model(config)
    tokenizer = CharTokenizer("hello world, abc")
    assert tokenizer.vocab_size == 12
    phase07_file = save_model(ours, tokenizer, tmp_path / "char_gpt.pt")
    phase08_file = tmp_path / "best.pt"  # a GPT-2-tokenizer model needs GPT-2's 50,257 rows
    gpt2_config = GPTConfig(vocab_size=50257, context=16, n_layer=1, n_head=2, n_embd=8)
    torch.save({"model": model(gpt2_config).state_dict(), "model_config": asdict(gpt2_config),
                "tokenizer": {"name": "gpt2"}, "step": 1}, phase08_file)
    for path in (phase07_file, phase08_file):
        loaded, spec = load_our_checkpoint(path)
        folder = export(loaded, spec, tmp_path / f"hf_{path.stem}")
        assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
        assert check_export(loaded, folder)[0] < 1e-6
        assert isinstance(GPT2LMHeadModel.from_pretrained(folder), GPT2LMHeadModel)
    assert json.loads((tmp_path / "hf_char_gpt" / "chars.json").read_text())["chars"] == \
        tokenizer.chars
    assert (tmp_path / "hf_best" / "tokenizer.json").is_file()


def test_export_leaves_the_model_alone_and_no_stale_files(tmp_path) -> None:
    ours = model(GPTConfig(vocab_size=50257, context=16, n_layer=1, n_head=2, n_embd=8)).double()
    folder = export(ours, {"name": "gpt2"}, tmp_path / "out")
    assert ours.transformer.wte.weight.dtype == torch.float64  # not converted in place
    assert (folder / "tokenizer.json").is_file()
    alphabet = [chr(0x100 + i) for i in range(50257)]  # a character model of the same size
    export(ours, {"name": "char", "chars": alphabet}, folder)  # over the old one
    assert not (folder / "tokenizer.json").exists() and (folder / "chars.json").is_file()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        export(ours, {}, folder)


def test_export_refuses_a_wrong_alphabet_and_keeps_the_old_export(tmp_path) -> None:
    ours = model(GPTConfig(vocab_size=12, context=16, n_layer=1, n_head=2, n_embd=16))
    folder = export(ours, {"name": "char", "chars": list("abcdefghijkl")}, tmp_path / "out")
    before = (folder / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="3 characters but the model's vocabulary has 12"):
        export(ours, {"name": "char", "chars": list("abc")}, folder)
    with pytest.raises(RuntimeError, match="halfway"):  # a failure while writing the new one
        export(ours, {"name": "char", "chars": Unserialisable(12)}, folder)
    assert (folder / "model.safetensors").read_bytes() == before  # the old export, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no half-written folder left


class Unserialisable(list):
    """An alphabet of the right length whose JSON writing fails, as a full disk would."""

    def __init__(self, n: int) -> None:
        super().__init__("x" * n)

    def __iter__(self):
        raise RuntimeError("halfway")


def test_export_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="train_char.py"):
        load_our_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt"):
        load_our_checkpoint(tmp_path / "other.pt")


def phase08_file(path, config: GPTConfig, weights: dict | None = None,
                 tokenizer: dict | None = None, **changes: object) -> str:
    """A phase-08-style checkpoint of a random model, with its config changed by `changes`."""
    weights = model(config).state_dict() if weights is None else weights
    torch.save({"model": weights, "model_config": {**asdict(config), **changes},
                "tokenizer": tokenizer or {"name": "char", "chars": list("abcdefghijkl")}},
               path)
    return str(path)


SMALL = GPTConfig(vocab_size=12, context=16, n_layer=1, n_head=2, n_embd=16)


@pytest.mark.parametrize("make, says", [
    (lambda p: p.write_bytes(open(phase08_file(p, SMALL), "rb").read()[:3000]),
     "zip archive cut short"),
    (lambda p: p.write_bytes(b"\x7fELF" + bytes(range(256))), "a program"),
    (lambda p: np.savez(p.with_suffix(".npz"), w=np.zeros(3)) or p.with_suffix(".npz")
     .rename(p), "NumPy .npz archive"),
    (lambda p: torch.save(model(SMALL).state_dict(), p), "without their config"),
    (lambda p: p.write_text("hello"), "a text file"),
    (lambda p: phase08_file(p, SMALL, n_layer=2), "12 missing"),  # a block absent
    (lambda p: phase08_file(p, SMALL, weights={**model(SMALL).state_dict(),
                                                "extra.weight": torch.ones(1)}),
     "1 not in the config (e.g. extra.weight)"),
    (lambda p: phase08_file(p, SMALL, weights={**model(SMALL).state_dict(), "step": 7}),
     "entries that are not tensors (1, e.g. 'step')"),
    (lambda p: phase08_file(p, SMALL, vocab_size=13), "(12, 16) where the config says (13, 16)"),
    (lambda p: phase08_file(p, SMALL, dropout_rate=0.1), "does not know: ['dropout_rate']"),
    (lambda p: phase08_file(p, SMALL, tokenizer={"name": "gpt2"}), "GPT-2's tokenizer"),
    (lambda p: phase08_file(p, SMALL, tokenizer={"name": "char", "chars": list("abc")}),
     "3 characters"),
])
def test_a_file_that_is_not_a_checkpoint_is_named_and_refused(tmp_path, make, says: str,
                                                              capsys) -> None:
    path = tmp_path / "model.pt"
    make(path)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        export_hf.main(["--checkpoint", str(path), "--to", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert str(path) in err and not out.exists()


@pytest.mark.parametrize("kind", ["file", "file on the way"])
def test_export_to_a_file_is_refused_before_loading(tmp_path, kind: str, capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    to = afile if kind == "file" else afile / "export"
    with pytest.raises(SystemExit) as stop:  # the checkpoint is missing: the folder comes first
        export_hf.main(["--checkpoint", str(tmp_path / "none.pt"), "--to", str(to)])
    assert stop.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
    assert afile.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def edited_export(tmp_path, **changes: object):
    """An export of a small char model whose config.json was then edited by hand."""
    folder = export(model(SMALL), {"name": "char", "chars": list("abcdefghijkl")},
                    tmp_path / "export")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


@pytest.mark.parametrize("changes, says", [
    ({}, None), ({"vocab_size": 13}, "(12, 16) where config.json says (13, 16)"),
    ({"n_layer": 2}, "12 missing"), ({"n_layer": 0}, "12 not in the config"),
    ({"model_type": "llama"}, "not 'gpt2'")])
def test_load_pretrained_checks_an_export_folder_against_its_weights(tmp_path, changes: dict,
                                                                     says: str | None) -> None:
    folder = edited_export(tmp_path, **changes)
    if says is None:
        assert load_pretrained(str(folder)).config.vocab_size == 12
    else:
        with pytest.raises(NotAModelError, match=re.escape(says)):
            load_pretrained(str(folder))


def test_convert_pretrained_folder_greedy_text_and_refusals(tmp_path, capsys) -> None:
    folder = edited_export(tmp_path)
    convert.main(["--pretrained", str(folder), "--prompt", "abc", "--tokens", "3",
                  "--seq-len", "4"])
    assert "same tokens: True" in capsys.readouterr().out
    for flags, says in ((["--prompt", "xyz"], "never saw: ['x', 'y', 'z']"),
                        (["--pretrained", "/bin/ls"], "/bin/ls is a program"),
                        (["--pretrained", str(tmp_path / "none")], "no folder at")):
        with pytest.raises(SystemExit) as stop:
            convert.main(["--pretrained", str(folder), "--tokens", "3", *flags])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and says in err and len(err.strip().splitlines()) == 1


def test_torch_stages_removes_its_hooks_even_when_the_run_fails() -> None:
    """A forward pass that raises must not leave hooks behind: the next pass would otherwise
    keep catching outputs into a list nobody reads."""
    ours = model(CONFIGS["3-layers-4-heads"]).eval()
    t = ours.transformer

    def failing() -> torch.Tensor:
        raise RuntimeError("a forward pass that fails")

    with pytest.raises(RuntimeError, match="fails"):
        torch_stages(t.h, t.drop, t.ln_f, failing)
    assert not any(m._forward_hooks for m in ours.modules()), "a hook was left behind"
    idx = torch.zeros((1, 5), dtype=torch.long)
    stages = torch_stages(t.h, t.drop, t.ln_f, lambda: ours(idx))
    assert len(stages) == 1 + len(t.h) + 1 + 1  # embeddings, each block, ln_f, logits
    assert not any(m._forward_hooks for m in ours.modules())
