"""Export a model we trained to a folder Hugging Face loads: config.json + model.safetensors.

A checkpoint from phase 07 (`train_char.py` saves {"model", "config", "chars"}) or phase 08
(`train.py` saves {"model", "model_config", "tokenizer", ...}) is read as data only, with
torch.load(..., weights_only=True): a file someone sends you cannot run code on your machine.
Its weights are converted to GPT2LMHeadModel's layout (convert.py) and written with
save_pretrained(): config.json (the shape, in GPT2Config's words) and model.safetensors (the
tensors in the safetensors format, Hugging Face 2022: a header of names, shapes and offsets,
then raw numbers; loading it runs no code at all, unlike a pickle).

Then the folder is loaded back with GPT2LMHeadModel.from_pretrained(folder), as anyone would,
and its logits are compared with our model's on a few sequences. A GPT-2-tokenizer checkpoint
also gets the tokenizer files (GPT2TokenizerFast built from GPT-2's own two files); a character
model gets its alphabet as chars.json (Hugging Face has no character tokenizer for GPT-2).

Run:  python phase-09-comparison/code/export_hf.py --checkpoint scratch/phase-07-gpt/char_gpt.pt
      python phase-09-comparison/code/export_hf.py --checkpoint runs/quickstart/best.pt --to my_gpt
"""

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import GPT2LMHeadModel

from phase00.figures import scratch_dir
from phase00.flags import check_fits_in_memory, output_folder, script_parser
from phase03.gpt2_tokenizer import find_gpt2_files
from phase06.device import limit_cpu_threads
from phase07.generate import DEFAULT_MODEL
from phase07.model import GPT, GPTConfig
from phase09.convert import (
    GPT2_VOCAB_SIZE,
    NotAModelError,
    describe_file,
    hf_logits,
    max_abs_diff,
    tensor_mismatches,
    to_hf,
)
from phase09.tokenizers_compare import hf_gpt2_tokenizer

# Every file export() may write; an existing folder holding only these is overwritten.
EXPORT_FILES = ("config.json", "generation_config.json", "model.safetensors", "chars.json",
                "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja")


MAKE_ONE = ("train one with python phase-07-gpt/code/train_char.py (it saves a model file) or "
            "python phase-08-training/code/train.py (its run folder holds best.pt and last.pt)")


def read_checkpoint(path: Path) -> dict:
    """torch.load a checkpoint as data only (weights_only=True), refusing with one sentence a
    path that is missing, a folder, damaged, or another kind of file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: {MAKE_ONE}")
    if not path.is_file():
        raise NotAModelError(f"{path} is {describe_file(path)}, not a checkpoint file: pass "
                             f"the .pt file itself ({MAKE_ONE})")
    # the loaded weights, our model and Hugging Face's copy: about three times the file
    check_fits_in_memory(3 * path.stat().st_size, f"the checkpoint {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch reports damage as RuntimeError, EOFError, pickle errors...
        kind = describe_file(path)
        if kind.startswith("a PyTorch file"):
            kind = "a PyTorch file that torch.load cannot read: truncated or damaged"
        raise NotAModelError(f"{path} is {kind}, not a checkpoint of phase 07 or 08 "
                             f"({type(err).__name__}). Expected the .pt file of "
                             f"train_char.py or train.py: {MAKE_ONE}") from None
    if not isinstance(state, dict) or "model" not in state:
        if isinstance(state, dict) and state and all(isinstance(v, torch.Tensor)
                                                     for v in state.values()):
            what = "weights without their config (a bare state dict)"
        else:
            keys = sorted(state)[:6] if isinstance(state, dict) else type(state).__name__
            what = f"a PyTorch file holding {keys}"
        raise NotAModelError(f"{path} is {what}, not a checkpoint of phase 07 or 08 (which "
                             f"holds 'model' and its config): {MAKE_ONE}")
    return state


def model_from_state(state: dict, path: Path) -> GPT:
    """Our GPT from a checkpoint's config and weights, every mismatch named before loading."""
    config = state.get("model_config", state.get("config"))  # phase 08, then phase 07
    fields = {f.name for f in dataclasses.fields(GPTConfig)}
    if not isinstance(config, dict) or not config:
        raise NotAModelError(f"{path} has no 'model_config' (phase 08) or 'config' (phase 07) "
                             f"describing the model's shape")
    unknown = sorted(set(config) - fields)
    if unknown:
        raise NotAModelError(f"{path}: its config has settings our GPT does not know: {unknown}")
    try:
        config = GPTConfig(**config)
    except (TypeError, ValueError) as err:
        raise NotAModelError(f"{path}: its config is not a valid GPTConfig ({err})") from None
    weights = state["model"]
    if not isinstance(weights, dict):
        raise NotAModelError(f"{path}: its 'model' entry is a {type(weights).__name__}, not a "
                             f"state dict")
    not_tensors = sorted(name for name, w in weights.items() if not isinstance(w, torch.Tensor))
    if not_tensors:
        raise NotAModelError(f"{path}: its weights hold entries that are not tensors "
                             f"({len(not_tensors)}, e.g. {not_tensors[0]!r}): use the checkpoint "
                             f"as training wrote it")
    with torch.device("meta"):  # shapes only: nothing is allocated to compare them
        expected = {name: tuple(w.shape) for name, w in GPT(config).state_dict().items()}
    problems = tensor_mismatches(expected, {name: tuple(w.shape) for name, w in weights.items()},
                                 "the config")
    if problems:
        raise NotAModelError(f"{path}: its weights do not match its config: tensors "
                             f"{'; '.join(problems)}. The file was changed or mixed from two "
                             f"runs; use the checkpoint as training wrote it")
    model = GPT(config)
    model.load_state_dict(weights)
    return model


def load_our_checkpoint(path: Path) -> tuple[GPT, dict]:
    """Our GPT (float32, eval mode) and the tokenizer spec from a phase 07 or 08 checkpoint.

    Every way a file can be wrong gets one sentence naming the file, what it is and how to make
    the right one: not there, a folder, damaged, another kind of file, a config that does not
    match the weights, an alphabet that does not match the vocabulary.
    """
    path = Path(path)
    state = read_checkpoint(path)
    if "model_config" in state:  # phase 08's train.py
        tokenizer = state.get("tokenizer", {})
    else:  # phase 07's train_char.py
        tokenizer = {"name": "char", "chars": state.get("chars")}
    if not isinstance(tokenizer, dict):
        raise NotAModelError(f"{path}: its tokenizer entry is not a dict")
    model = model_from_state(state, path)
    try:
        check_tokenizer(model, tokenizer)
    except ValueError as err:
        raise NotAModelError(f"{path}: {err}") from None
    return model.float().eval(), tokenizer


def check_folder(folder: Path) -> None:
    """Refuse a `folder` that holds anything an export did not write (it will be replaced), or
    a file where the folder should be."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise FileExistsError(f"{folder} is a file, not a folder: --to names the folder to "
                              f"write config.json and model.safetensors into")
    others = sorted(p.name for p in folder.iterdir()
                    if p.name not in EXPORT_FILES or not p.is_file())
    if others:
        raise FileExistsError(f"{folder} already holds files an export did not write "
                              f"({', '.join(others[:5])}): choose a new or empty folder")


def check_tokenizer(model: GPT, tokenizer: dict) -> None:
    """A character model's alphabet must have one character per token of its vocabulary; a
    GPT-2-tokenizer model must have a row for each of GPT-2's ids (more is fine: padding)."""
    chars = tokenizer.get("chars")
    vocab = model.config.vocab_size
    if tokenizer.get("name") == "gpt2":
        if vocab < GPT2_VOCAB_SIZE:
            raise ValueError(f"the model has {vocab} tokens but GPT-2's tokenizer makes ids up "
                             f"to {GPT2_VOCAB_SIZE - 1}: not a GPT-2-tokenizer model")
        return
    if chars is None:
        return
    if not isinstance(chars, list | tuple) or not all(isinstance(c, str) for c in chars):
        raise ValueError("the character tokenizer's alphabet is not a list of characters")
    if len(chars) != vocab:
        raise ValueError(f"the character tokenizer has {len(chars)} characters but the model's "
                         f"vocabulary has {vocab} tokens: they must match")


def export(model: GPT, tokenizer: dict, folder: Path) -> Path:
    """Write config.json, model.safetensors and the tokenizer's files into `folder`.

    The files are written into a new hidden folder beside `folder` first; only when all are
    written does it replace `folder` (an earlier export there, so no stale file survives). A
    failure halfway leaves the old export as it was. The caller's model is left as it is
    (to_hf copies the weights; the copy is made float32).
    """
    folder = Path(folder)
    check_folder(folder)
    check_tokenizer(model, tokenizer)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's folder is private; the export is an ordinary one
    try:
        to_hf(model, "sdpa").float().save_pretrained(staging, safe_serialization=True)
        if tokenizer.get("name") == "gpt2":
            hf_gpt2_tokenizer(find_gpt2_files(download=False)).save_pretrained(staging)
        elif tokenizer.get("chars"):
            (staging / "chars.json").write_text(json.dumps({"chars": tokenizer["chars"]},
                                                           ensure_ascii=False), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if folder.exists():  # the swap: old out of the way, new in, old deleted
        old = staging.with_name(staging.name.replace(".new-", ".old-"))
        folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old)
    else:
        staging.rename(folder)
    return folder


def check_export(model: GPT, folder: Path, seed: int = 0) -> tuple[float, float]:
    """Load `folder` the way anyone would; return the max |logits difference| from ours and
    the largest |logit| of ours (round-off is relative to it)."""
    hf = GPT2LMHeadModel.from_pretrained(folder).eval()
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, model.config.vocab_size, (2, min(16, model.config.context)),
                        generator=g)
    with torch.no_grad():
        ours = model(idx)
        return max_abs_diff(ours, hf_logits(hf, idx)), float(ours.abs().max())


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_cpu_threads(1)
    try:  # both checked before any work: the folder first, it costs nothing
        check_folder(args.to)
        model, tokenizer = load_our_checkpoint(args.checkpoint)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    print(f"1. {args.checkpoint}: {model.n_params():,} parameters, {model.config.n_layer} "
          f"layers x {model.config.n_head} heads x {model.config.n_embd}, context "
          f"{model.config.context}, vocabulary {model.config.vocab_size} "
          f"({tokenizer.get('name', '?')} tokens)")
    try:
        folder = export(model, tokenizer, args.to)
    except (FileExistsError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    print(f"\n2. Wrote {folder}:")
    for path in sorted(folder.iterdir()):
        print(f"   {path.name:28s} {path.stat().st_size:>12,} bytes")
    diff, size = check_export(model, folder)
    print(f"\n3. GPT2LMHeadModel.from_pretrained({str(folder)!r}) loads it; max |logits "
          f"difference| from our model: {diff:.1e} (float32)")
    print(f"   our largest |logit| is {size:.1f}, and round-off grows with the numbers: "
          f"relative to it, the difference is {diff / size:.1e}")
    print("   In Python:  from transformers import GPT2LMHeadModel; "
          f"GPT2LMHeadModel.from_pretrained({str(folder)!r})")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Export a phase 07 or 08 checkpoint to a "
                           "folder GPT2LMHeadModel.from_pretrained loads.")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL,
                        help="a train_char.py model file or a train.py checkpoint")
    parser.add_argument("--to", type=output_folder, default=scratch_dir(__file__) / "hf_export",
                        help="the folder to write (default: "
                             "scratch/phase-09-comparison/hf_export)")
    return parser


if __name__ == "__main__":
    main()
