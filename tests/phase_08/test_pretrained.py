"""A run that starts from trained weights (pretrained.py, train.py --init-from): safetensors read
by hand equal to the library's; a Hugging Face folder loaded into our GPT with Hugging Face's
logits; its shape taken, disagreeing shape flags refused, a shorter context cropped; an exact
resume; GPT-2 offline refused in one line at once; HellaSwag and the validation loss of a
folder equal to those of the same weights as our checkpoint; and fine-tuning that beats the
same steps from random weights. Hugging Face's library is the outside truth here (tests may
import it; phase 08's code does not)."""

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

from phase08 import hellaswag, pretrained, train, transfer, val_loss
from phase08.config import TrainConfig, make_config
from phase08.loader import TokenShards
from phase08.prepare_data import prepare_local
from phase08.pretrained import (
    GPT2_DEFAULTS,
    PretrainedUnavailable,
    config_from_hf,
    from_hf_state,
    load_model,
    open_source,
    read_safetensors,
)
from phase08.runfolder import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from tests.phase_08.test_scale import hellaswag_line

OTHER_TEXT = ("Every morning the baker lights the oven before dawn. The bread rises slowly, "
              "and the smell of it fills the street long before the shop opens its doors.\n")


def hf_folder(folder: Path, vocab_size: int, chars: list[str] | None = None, context: int = 32,
              seed: int = 0) -> GPT2LMHeadModel:
    """A GPT2LMHeadModel of a small random config saved with save_pretrained (and the alphabet
    of a character model, as export_hf.py writes it)."""
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab_size, n_positions=context, n_embd=16, n_layer=2,
                        n_head=2, bos_token_id=vocab_size - 1, eos_token_id=vocab_size - 1)
    hf = GPT2LMHeadModel(config).eval()
    hf.save_pretrained(folder)
    if chars is not None:
        (folder / "chars.json").write_text(json.dumps({"chars": chars}), encoding="utf-8")
    return hf


@pytest.fixture
def char_source(tmp_path: Path, char_data: Path) -> tuple[Path, GPT2LMHeadModel]:
    """A Hugging Face folder whose vocabulary is the made-up book's alphabet."""
    spec = TokenShards(char_data, "train").tokenizer
    return tmp_path / "hf", hf_folder(tmp_path / "hf", spec["vocab_size"], spec["chars"])


def run_args(data: Path, run_dir: Path, *more: str) -> list[str]:
    return ["--preset", "cpu-smoke", "--data", str(data), "--run-dir", str(run_dir),
            "--device", "cpu", "--offline", "--steps", "6", "--warmup", "1", "--eval-every",
            "3", "--sample-tokens", "0", *more]


# --- reading by hand ------------------------------------------------------------------------------

def test_safetensors_read_by_hand_equal_the_librarys(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tensors = {"w32": torch.randn(3, 4), "w16": torch.randn(5, 2).half(),
               "wbf16": torch.randn(2, 3).bfloat16(), "scalar": torch.tensor(2.5),
               "empty": torch.zeros(0, 4), "ids": torch.arange(6, dtype=torch.int64)}
    save_file(tensors, tmp_path / "t.safetensors", metadata={"format": "pt"})
    path = tmp_path / "t.safetensors"
    ours, theirs = read_safetensors(path), load_file(path)
    assert set(ours) == set(theirs)
    for name, tensor in theirs.items():
        assert ours[name].dtype == tensor.dtype and ours[name].shape == tensor.shape, name
        assert torch.equal(ours[name], tensor), name
    whole = (tmp_path / "t.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(whole[:-5])
    with pytest.raises(ValueError, match="cut.safetensors"):  # the message names the file
        read_safetensors(tmp_path / "cut.safetensors")
    (tmp_path / "text.safetensors").write_text("not a safetensors file at all")
    with pytest.raises(ValueError, match="text.safetensors"):
        read_safetensors(tmp_path / "text.safetensors")


def test_config_json_defaults_are_gpt2configs_and_refusals_name_the_option() -> None:
    default = GPT2Config()
    assert {k: getattr(default, k) for k in GPT2_DEFAULTS} == GPT2_DEFAULTS
    assert config_from_hf({}).n_layer == 12 and config_from_hf({}).context == 1024
    for name, value in (("activation_function", "relu"), ("tie_word_embeddings", False),
                        ("scale_attn_by_inverse_layer_idx", True)):
        with pytest.raises(ValueError, match=name):
            config_from_hf({name: value})


def test_from_hf_state_transposes_drops_buffers_and_ties_the_head() -> None:
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=16, n_embd=8, n_layer=2, n_head=2))
    state = dict(hf.state_dict())
    state["transformer.h.0.attn.bias"] = torch.ones(1, 1, 16, 16)  # older versions kept a mask
    state["transformer.h.0.attn.masked_bias"] = torch.tensor(-1e4)
    ours = from_hf_state(state)
    assert not any(name.endswith((".attn.bias", ".attn.masked_bias")) for name in ours)
    conv = hf.transformer.h[1].attn.c_attn.weight  # Conv1D: (in, out)
    assert conv.shape == (8, 24)
    assert torch.equal(ours["transformer.h.1.attn.c_attn.weight"], conv.t())
    square = hf.transformer.h[0].attn.c_proj.weight  # (8, 8): its shape cannot tell
    assert torch.equal(ours["transformer.h.0.attn.c_proj.weight"], square.t())
    assert torch.equal(ours["transformer.h.0.ln_1.weight"], hf.transformer.h[0].ln_1.weight)
    for value in ours.values():  # copies: zeroing ours leaves Hugging Face's model as it was
        value.zero_()
    assert hf.transformer.h[0].ln_1.weight.abs().sum() > 0 and conv.abs().sum() > 0
    bare = GPT2Model(hf.config).state_dict()  # no prefix, no head: the Hub's gpt2 files
    back = from_hf_state(bare)
    assert "transformer.wte.weight" in back and "transformer.h.1.mlp.c_fc.weight" in back
    assert torch.equal(back["lm_head.weight"], back["transformer.wte.weight"])
    assert back["transformer.h.1.mlp.c_fc.weight"].shape == (32, 8)  # nn.Linear: (out, in)


# --- starting a run from a folder -----------------------------------------------------------------

def test_a_folder_source_gives_hugging_faces_logits_in_float64(char_source) -> None:
    folder, hf = char_source
    source = open_source(str(folder))
    cfg = train.shape_from_source(make_config("cpu-smoke"), source)
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context) == (2, 2, 16, 32)
    model = train.build_model(cfg, source.config.vocab_size)
    codec = train.make_codec(source.tokenizer)
    train.start_from(model, source, codec, offline=True, say=lambda s: None)
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, source.config.vocab_size, (2, 32), generator=g)
    with torch.no_grad():
        ours, theirs = model.double().eval()(idx), hf.double()(idx).logits
    assert (ours - theirs).abs().max().item() < 1e-10


def test_init_from_a_folder_trains_records_it_and_resumes_exactly(char_source, char_data: Path,
                                                                 tmp_path: Path) -> None:
    folder, hf = char_source
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train.main(run_args(char_data, whole, "--init-from", str(folder), "--set",
                        "eval_at_start=true"))
    log = train.read_log(whole / "log.jsonl")
    evals = [(r["step"], r["val_loss"]) for r in log if r["kind"] == "eval"]
    assert [s for s, _ in evals] == [0, 3, 6]
    first_loss = [r["loss"] for r in log if r["kind"] == "step"][0]
    assert first_loss < math.log(hf.config.vocab_size) + 1  # a start, not a blank
    saved = load_checkpoint(whole / "last.pt")
    assert saved["config"]["init_from"] == str(folder)
    assert saved["config"]["n_layer"] == 2 and saved["config"]["n_embd"] == 16
    assert saved["model_config"]["context"] == 32

    def stop_at_4(step: int, loss: float) -> None:
        if step == 4:
            raise KeyboardInterrupt

    cfg = make_config("cpu-smoke", {"data": str(char_data), "device": "cpu", "steps": 6,
                                    "warmup": 1, "eval_every": 3, "sample_tokens": 0,
                                    "init_from": str(folder), "eval_at_start": True})
    assert train.train(cfg, parts, on_step=stop_at_4, offline=True, verbose=False)["interrupted"]
    train.main(run_args(char_data, parts, "--init-from", str(folder), "--resume"))
    b, a = load_checkpoint(parts / "last.pt"), saved
    assert b["step"] == 6 and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    losses = [[r["loss"] for r in train.read_log(d / "log.jsonl") if r["kind"] == "step"]
              for d in (whole, parts)]
    assert losses[0] == losses[1]


def test_shape_flags_that_disagree_are_refused_and_a_shorter_context_crops(
        char_source, char_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, hf = char_source
    for flags, says in ((["--n-layer", "3"], "--n-layer 3 (" + str(folder) + " has 2)"),
                        (["--n-embd", "32", "--n-head", "4"], "--n-head 4"),
                        (["--context", "64"], "--context 64 (longer than the 32 rows")):
        with pytest.raises(SystemExit) as stop:
            train.main(run_args(char_data, tmp_path / "refused", "--init-from", str(folder),
                                *flags))
        assert stop.value.code == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and says in err and len(err.strip().splitlines()) == 1
    train.main(run_args(char_data, tmp_path / "short", "--init-from", str(folder), "--context",
                        "16"))
    saved = load_checkpoint(tmp_path / "short" / "last.pt")
    assert saved["model_config"]["context"] == 16
    assert saved["model"]["transformer.wpe.weight"].shape == (16, 16)
    source = open_source(str(folder))  # the crop itself: the first 16 rows, as they were
    cfg = train.shape_from_source(make_config("cpu-smoke", {"context": 16}), source, {"context"})
    model = train.build_model(cfg, source.config.vocab_size)
    train.start_from(model, source, train.make_codec(source.tokenizer), True, lambda s: None)
    assert torch.equal(model.transformer.wpe.weight, hf.transformer.wpe.weight[:16])
    # the same n_layer as the source's is no disagreement
    train.main(run_args(char_data, tmp_path / "same", "--init-from", str(folder), "--n-layer",
                        "2", "--steps", "1", "--eval-every", "1"))


def test_a_tokenizer_or_alphabet_other_than_the_datas_is_refused(tmp_path: Path,
                                                                  char_data: Path) -> None:
    spec = TokenShards(char_data, "train").tokenizer
    hf_folder(tmp_path / "other", spec["vocab_size"], list(reversed(spec["chars"])))
    cfg = make_config("cpu-smoke", {"data": str(char_data), "device": "cpu", "steps": 2,
                                    "warmup": 1, "init_from": str(tmp_path / "other")})
    with pytest.raises(ValueError, match="another alphabet"):
        train.train(cfg, tmp_path / "run", offline=True, verbose=False)


# --- GPT-2 itself, offline ------------------------------------------------------------------------

@pytest.mark.parametrize("offline", [True, False])
def test_gpt2_offline_is_one_line_at_once(tmp_path: Path, char_data: Path, offline: bool,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pretrained, "HUB_CACHE", str(tmp_path / "hub"))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    flag = ["--offline"] if offline else []
    says = "--offline was given" if offline else "huggingface.co cannot be reached"
    commands = [
        (train.main, ["--preset", "finetune-shakespeare", "--data", str(char_data),
                      "--run-dir", str(tmp_path / "run"), "--device", "cpu", *flag]),
        (val_loss.main, ["--model", "gpt2", "--data", str(char_data), *flag]),
        (hellaswag.main, ["--model", "gpt2-xl", "--path", str(tmp_path / "none.jsonl"), *flag]),
    ]
    (tmp_path / "none.jsonl").write_text(hellaswag_line(0, "a", ["b", "c", "d", "e"], 0))
    for main, argv in commands:
        start = time.perf_counter()
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert time.perf_counter() - start < 10
        err = capsys.readouterr().err
        assert stop.value.code == 1 and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1 and says in err, err
    with pytest.raises(PretrainedUnavailable, match="not in Hugging Face's local cache"):
        open_source("gpt2-medium", offline=offline)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_an_unknown_source_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="gpt2, gpt2-medium, gpt2-large, gpt2-xl"):
        open_source("gpt3")


# --- scoring a source -----------------------------------------------------------------------------

def test_hellaswag_and_val_loss_of_a_folder_equal_those_of_the_same_checkpoint(
        tmp_path: Path, book: str, capsys: pytest.CaptureFixture[str]) -> None:
    hf_folder(tmp_path / "hf", 50257, context=64)  # GPT-2's vocabulary: HellaSwag is English
    model = load_model(open_source(str(tmp_path / "hf")))
    checkpoint = tmp_path / "ours.pt"  # the same weights, as a train.py checkpoint holds them
    save_checkpoint(checkpoint, {
        "format": CHECKPOINT_FORMAT, "version": 2, "step": 0, "model": model.state_dict(),
        "optimizer": {}, "config": asdict(TrainConfig(tokenizer="gpt2")),
        "model_config": asdict(model.config), "tokenizer": {"name": "gpt2"}, "rng": {},
        "loader": {}})
    examples = tmp_path / "hellaswag_val.jsonl"
    examples.write_text("\n".join([
        hellaswag_line(0, "The cat sat on the", ["mat.", "moon and sang.", "dog.", "roof."], 0),
        hellaswag_line(1, "She opened the door and", ["left.", "a bird flew in.", "sat.",
                                                      "the rain came in."], 3),
        hellaswag_line(2, "He poured the tea", ["into a cup.", "up.", "slowly.", "out."], 0),
    ]) + "\n")
    data = tmp_path / "tokens" / "book-gpt2"
    prepare_local([book], "gpt2", data, "a made-up book", verbose=False, download=False)
    printed = []
    for source in (tmp_path / "hf", checkpoint):
        hellaswag.main(["--model", str(source), "--path", str(examples), "--device", "cpu",
                        "--offline"])
        val_loss.main(["--model", str(source), "--data", str(data), "--device", "cpu",
                       "--offline", "--batch", "2", "--context", "32", "--batches", "2"])
        out = capsys.readouterr().out
        printed.append([line.split(" in ")[0] for line in out.splitlines()
                        if line.startswith(("2. acc", "3. loss"))])
    assert printed[0] == printed[1]
    assert len(printed[0]) == 2


def test_pretrained_script_describes_a_folder(char_source, capsys) -> None:
    folder, hf = char_source
    pretrained.main(["--model", str(folder)])
    out = capsys.readouterr().out
    n = sum(p.numel() for p in hf.parameters())
    assert "F32" in out and "transposed" in out and f"{n:,} parameters" in out


# --- what a pretrained start buys -----------------------------------------------------------------

def test_fine_tuning_beats_the_same_steps_from_random_weights(tmp_path: Path, book: str) -> None:
    first, second = tmp_path / "tokens" / "baker-gpt2", tmp_path / "tokens" / "book-gpt2"
    prepare_local([OTHER_TEXT * 80], "gpt2", first, "a made-up story",
                  verbose=False, download=False)
    prepare_local([book], "gpt2", second, "a made-up book", verbose=False, download=False)
    tiny = {"n_layer": 1, "n_head": 2, "n_embd": 16, "context": 16, "micro_batch": 4,
            "eval_batches": 2, "device": "cpu", "lr": 1e-2}
    curves = transfer.experiment(first, second, tmp_path / "runs", pretrain_steps=40, steps=20,
                                 eval_every=10, overrides=tiny, offline=True, verbose=False)
    finetune, scratch = dict(curves["finetune"]), dict(curves["scratch"])
    assert sorted(finetune) == sorted(scratch) == [0, 10, 20]
    assert scratch[0] == pytest.approx(math.log(50257), abs=0.3)  # random weights: about ln V
    # A model that knows only the baker's story starts no better on Hamlet (it is sure of the
    # wrong words), but what it learned of English carries: it falls faster from there.
    for step in (10, 20):
        assert finetune[step] < scratch[step] - 0.3, (step, finetune, scratch)
