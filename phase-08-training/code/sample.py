"""Text from a checkpoint: load it as data, rebuild the model, and sample.

A checkpoint written by train.py carries everything needed to talk to the model again: the
weights, the model's shape (`model_config`) and the tokenizer (`tokenizer`: GPT-2's, or the
alphabet of a character model). It is read with `torch.load(..., weights_only=True)`, which
accepts only tensors and plain Python values: a checkpoint someone sends you cannot run code on
your machine, as a full pickle could.

Three knobs shape the text (phase 07's `generate` does the work):
- `--temperature` divides the logits: below 1 the likely tokens get likelier (safer, duller),
  above 1 the distribution flattens (livelier, more mistakes);
- `--top-k` keeps only the k most likely tokens;
- `--top-p` keeps the smallest set of tokens whose probabilities add up to p (nucleus sampling,
  Holtzman et al. 2019, "The Curious Case of Neural Text Degeneration").

It also reads a model saved by phase 07's train_char.py (its weights, shape and characters).
A checkpoint whose weights are not finite numbers (a run that diverged) is refused with what was
found, instead of failing inside the sampler; a long sample shows its progress on stderr.

Run:  python phase-08-training/code/sample.py --checkpoint runs/quickstart/best.pt
      python phase-08-training/code/sample.py --prompt "ROMEO:" --temperature 0.6 --top-k 10
"""

import argparse
import math
from pathlib import Path

import torch
from tqdm import tqdm

from phase00.flags import (
    add_seed_flag,
    check_fits_in_memory,
    nonnegative_int,
    positive_int,
    probability_mass,
    script_parser,
    temperature,
)
from phase06.device import add_device_flag, add_threads_flag, pick_device
from phase07.model import GPT
from phase08.prepare_data import Codec, make_codec
from phase08.train import RUNS_DIR, CheckpointError, architecture, load_checkpoint

PHASE07_KEYS = {"model", "config", "chars"}  # what phase 07's train_char.py saves
CHUNK_TOKENS = 100  # generated per call, so a long sample can show its progress
BYTES_PER_TOKEN = 64  # a generated id as a tensor element, a Python int in a list, its text


class SamplingError(ValueError):
    """The model cannot be sampled from: its weights or its logits are not finite numbers."""


def phase07_checkpoint(path: Path, device: torch.device) -> dict | None:
    """A model file of phase 07's train_char.py in the shape of a train.py checkpoint (the
    weights, the model's shape and the characters it knows), or None if it is not one."""
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception:  # any reason it cannot be read: then it is not a phase 07 file either
        return None
    if not isinstance(saved, dict) or not PHASE07_KEYS <= saved.keys():
        return None
    return {"model": saved["model"], "model_config": saved["config"], "step": None,
            "tokenizer": {"name": "char", "chars": saved["chars"]}, "val_loss": None}


def build_model(checkpoint: dict, path: Path, device: torch.device) -> GPT:
    """The checkpoint's model (phase 07's GPT, or an architecture a later phase registered) in
    its shape, with its weights; a CheckpointError in one line if the architecture is unknown
    here, the shape is not a GPT's or the weights do not fit it."""
    name = checkpoint.get("config", {}).get("architecture", "gpt2")
    try:
        arch = architecture(name)
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from None
    try:
        model = arch.model(dict(checkpoint["model_config"]))
        model.load_state_dict(checkpoint["model"])
    except (TypeError, ValueError, RuntimeError) as err:  # unknown fields, bad sizes, keys
        if isinstance(err, NotImplementedError):  # a workbook exercise not yet written
            raise  # let it name itself, not pass for a damaged file
        lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [""]
        reason = (lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0])[:200]
        raise CheckpointError(f"the weights in {path} do not fit the model its model_config "
                              f"describes ({type(err).__name__}: {reason}): the file was "
                              f"changed, or made by another program") from None
    return model.to(device)


def check_weights_finite(model: GPT, path: Path) -> None:
    """Refuse weights holding NaN or infinity: every logit they touch would be NaN too."""
    bad = {name: int((~torch.isfinite(t)).sum()) for name, t in model.state_dict().items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())}
    if bad:
        first = next(iter(bad))
        raise SamplingError(
            f"{path} holds weights that are not finite numbers ({sum(bad.values()):,} NaN or "
            f"infinite values in {len(bad)} tensor(s), the first {first}): the run diverged "
            f"before this checkpoint was saved. Sample from an earlier one (best.pt, or a copy "
            f"you kept), and resume training from it with a lower --lr")


def load_for_sampling(path: Path, device: torch.device) -> tuple[GPT, Codec, dict]:
    """(model in eval mode, tokenizer, the checkpoint) from a train.py checkpoint or from
    phase 07's train_char.py model file, with weights checked to be finite numbers."""
    try:
        checkpoint = load_checkpoint(path, map_location=device)
    except CheckpointError as err:
        checkpoint = phase07_checkpoint(Path(path), device)
        if checkpoint is None:
            said = str(err).rstrip(".")
            raise CheckpointError(f"{said}. Expected a checkpoint of phase 08's train.py "
                                  f"(best.pt, last.pt) or a model of phase 07's "
                                  f"train_char.py") from None
    model = build_model(checkpoint, Path(path), device)
    codec = make_codec(checkpoint["tokenizer"], download=False)
    if codec.vocab_size != model.config.vocab_size:
        raise CheckpointError(f"{path}: the model has {model.config.vocab_size:,} token ids "
                              f"but its tokenizer {codec.vocab_size:,}: they do not belong "
                              f"together")
    check_weights_finite(model, Path(path))
    return model.eval(), codec, checkpoint


def start_ids(codec: Codec, prompt: str) -> list[int]:
    """The prompt's tokens; without one, `<|endoftext|>` (gpt2) or a newline (characters; the
    first character of the alphabet if the text had no newline), as train.py's samples do."""
    if prompt:
        return codec.encode(prompt)
    if codec.eot is not None:
        return [codec.eot]
    return codec.encode("\n") if "\n" in codec.spec.get("chars", []) else [0]


@torch.no_grad()
def check_logits_finite(model: GPT, ids: list[int], device: torch.device, path: Path) -> None:
    """One forward pass on the prompt: finite weights can still overflow to infinite logits."""
    logits = model(torch.tensor([ids[-model.config.context:]], device=device))
    if not bool(torch.isfinite(logits).all()):
        raise SamplingError(f"the weights of {path} are finite, but on this prompt they give "
                            f"logits that are not (NaN or infinite: the numbers overflow): the "
                            f"run diverged. Sample from an earlier checkpoint")


@torch.no_grad()
def generate(model: GPT, ids: list[int], n_tokens: int, device: torch.device, seed: int,
             temperature: float = 0.8, top_k: int | None = None, top_p: float | None = None,
             chunk: int = CHUNK_TOKENS, progress: bool = False) -> list[int]:
    """n_tokens new ids after `ids`: the same ids as one call of model.generate, made in calls
    of `chunk` tokens so that a progress bar can follow a long sample.

    Why the calls continue exactly where one long call would: the first call runs until the
    text is longer than the context; from there on, model.generate computes every step from the
    last `context` tokens alone (no cache), so a call given just the last context + 1 tokens
    and the same random generator draws the same next tokens. Keeping only those also stops
    the text from being copied whole at every step, which made a million tokens crawl.
    """
    ctx = model.config.context
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    new, done = [], 0
    with tqdm(total=n_tokens, unit="tok", desc="sampling", disable=not progress, leave=False,
              delay=2) as bar:  # to stderr, and only once a sample takes more than 2 s
        while done < n_tokens:
            step = min(n_tokens - done, max(chunk, ctx + 1 - idx.size(1)))
            try:
                out = model.generate(idx, step, temperature=temperature, top_k=top_k or None,
                                     top_p=top_p, generator=generator)
            except RuntimeError as err:
                if "probability tensor" not in str(err):
                    raise
                raise SamplingError(f"the model's probabilities became NaN or infinite after "
                                    f"{done:,} to {done + step:,} generated tokens: its logits "
                                    f"overflow (the run diverged). Sample from an earlier "
                                    f"checkpoint") from None
            new.append(out[0, idx.size(1):].cpu())
            idx = out[:, -(ctx + 1):]
            done += step
            bar.update(step)
    return torch.cat(new).tolist()


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> None:
    """Sample as the command line asks. `parser`: build_parser()'s, unless a later phase's
    script hands in its own (phase 09's sample_modern.py, which knows one more architecture)."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:  # one sample is held in memory at a time, as ids and then as text
        check_fits_in_memory(args.tokens * BYTES_PER_TOKEN, f"--tokens {args.tokens:,}")
    except ValueError as err:
        parser.error(str(err))
    try:
        device = pick_device(args.device)
        model, codec, checkpoint = load_for_sampling(args.checkpoint, device)
        ids = start_ids(codec, args.prompt)  # a character the alphabet lacks: say so now
        check_logits_finite(model, ids, device, args.checkpoint)
    except (FileNotFoundError, CheckpointError, ValueError, RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")

    val, step = checkpoint.get("val_loss"), checkpoint.get("step")
    print(f"1. {args.checkpoint}: {'a phase 07 model' if step is None else f'step {step:,}'}, "
          f"{model.n_params():,} parameters, {codec.name} tokens ({codec.vocab_size:,}), "
          f"validation loss {'n/a' if val is None or not math.isfinite(val) else f'{val:.4f}'}")
    print(f"   temperature {args.temperature}, top-k {args.top_k or 'off'}, "
          f"top-p {args.top_p or 'off'}, on {device}")
    for i in range(args.samples):
        try:
            new = generate(model, ids, args.tokens, device, args.seed + i, args.temperature,
                           args.top_k, args.top_p or None, progress=True)
        except SamplingError as err:
            parser.exit(1, f"error: {err}\n")
        text = codec.decode(new)
        print(f"\n2.{i + 1} ---\n{args.prompt + text if args.prompt else text}")


def build_parser(run: str = "quickstart") -> argparse.ArgumentParser:
    """The command line; `run` names the folder under runs/ whose best.pt is the default."""
    parser = script_parser("Sample text from a train.py checkpoint.")
    parser.add_argument("--checkpoint", type=Path, default=RUNS_DIR / run / "best.pt",
                        help="a checkpoint of train.py, or a model of phase 07's train_char.py "
                             f"(default: runs/{run}/best.pt)")
    parser.add_argument("--prompt", default="",
                        help="text to continue (default: a new " "document)")
    parser.add_argument("--tokens", type=positive_int, default=300,
                        help="tokens to generate per sample")
    parser.add_argument("--samples", type=positive_int, default=1, help="how many samples")
    parser.add_argument("--temperature", type=temperature, default=0.8,
                        help="below 1 safer, above 1 wilder")
    parser.add_argument("--top-k", type=nonnegative_int, default=0,
                        help="keep the k most likely tokens; 0 = all")
    parser.add_argument("--top-p", type=probability_mass, default=None,
                        help="keep the smallest set of tokens with this much probability, 0 < p "
                             "<= 1 (default: off)")
    add_seed_flag(parser, 1337)
    add_device_flag(parser)
    add_threads_flag(parser,
                     why="; as in train.py's presets, a small model is often slower on more")
    return parser


if __name__ == "__main__":
    main()
