"""Sampling from a GPT: temperature, top-k, top-p, and how much a KV cache saves.

A language model gives a probability for every possible next token; generation is a loop that
draws one, appends it, and asks again. How we draw changes the text:

- temperature T divides the logits before softmax: T < 1 sharpens the distribution (safer,
  more repetitive), T > 1 flattens it (more surprising, more mistakes);
- top-k keeps only the k most likely tokens (Fan, Lewis & Dauphin 2018, "Hierarchical Neural
  Story Generation");
- top-p, or nucleus sampling (Holtzman, Buys, Du, Forbes & Choi 2019, "The Curious Case of
  Neural Text Degeneration", ICLR 2020), keeps the smallest set of tokens whose probabilities
  add up to p, so the cut adapts: few candidates when the model is sure, many when it is not.

Without a cache, every new token runs the whole text through the model again, although the
keys and values of the earlier positions have not changed. The KV cache keeps them: each step
then computes one position instead of all of them. (No paper introduced it; fast Transformer
decoders kept per-layer keys and values early on, Tensor2Tensor's "cache" and GPT-2's "past":
note 02 has the story.) This script checks that both give the same tokens and measures the
speed-up: each path runs once to warm up, then the two alternate for --repeats rounds and the
median time of each is printed (a single cold run would mostly time the first call's start-up
costs, and charge them to whichever path ran first).

Run:  python phase-07-gpt/code/generate.py --model scratch/phase-07-gpt/char_gpt.pt
      python phase-07-gpt/code/generate.py --tokens 400 --temperature 1.2 --top-p 0.9
      python phase-07-gpt/code/generate.py --model runs/quickstart/best.pt   (phase 08's)
"""

import argparse
import statistics
import time
import zipfile
from pathlib import Path

import torch

from phase00.figures import scratch_dir
from phase00.flags import add_seed_flag, positive_int, probability_mass, script_parser
from phase03.char_tokenizer import CharTokenizer
from phase05.sample_transformer import add_temperature_and_top_k_flags
from phase06.device import add_device_flag, pick_device, synchronize
from phase07.model import GPT, GPTConfig, preset

DEFAULT_MODEL = scratch_dir(__file__) / "char_gpt.pt"
DEFAULT_PROMPT = "ROMEO:"


def load_model(path: Path, device: torch.device) -> tuple[GPT, CharTokenizer]:
    """A model and its characters, from a file of train_char.py or a checkpoint of phase 08.

    Read as data only (weights_only: no code in the file can run). train_char.py saves
    {"model", "config", "chars"}; phase 08's train.py saves a checkpoint with the model's shape
    under "model_config" and its tokenizer under "tokenizer": a character model of phase 08 is
    the same GPT and is accepted too. Anything else (a truncated file, a program, a checkpoint
    tokenised with GPT-2's BPE, weights that do not fit their config) raises ValueError with
    one sentence: what the file is, what was expected, and the command that makes the right one.
    """
    path = Path(path)
    make = "python phase-07-gpt/code/train_char.py --save"
    if not path.is_file():
        what = "a folder" if path.is_dir() else "nothing"
        raise FileNotFoundError(f"no model at {path} (found {what}): train one with {make} "
                                f"{path} (without --save it saves to {DEFAULT_MODEL})")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is not one
        raise ValueError(f"{path} is not a model file (torch.save writes a whole zip archive, "
                         f"and this is not one: it is empty, truncated or another kind of file); "
                         f"train a model with {make} MODEL.pt")
    try:  # mmap: a look at what the file holds without reading gigabytes of weights
        saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # torch reports a bad file as RuntimeError, EOFError, pickle errors
        reason = (str(err).splitlines() or [type(err).__name__])[0].split(". ")[0][:160]
        raise ValueError(f"{path} is not a model file torch.load can read ({reason}): it is "
                         f"truncated, damaged or another kind of file; train a model with "
                         f"{make} MODEL.pt") from None
    keys = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
    if isinstance(saved, dict) and "model_config" in saved:  # phase 08's train.py
        from phase08.train import load_checkpoint  # phase 08 checks its own format and checksum

        saved = load_checkpoint(path, map_location="cpu")
        spec = saved["tokenizer"]
        if spec.get("name") != "char":
            raise ValueError(f"{path} is a phase 08 checkpoint tokenised with "
                             f"{spec.get('name')!r}, and generate.py reads characters only: "
                             f"sample it with python phase-08-training/code/sample.py "
                             f"--checkpoint {path}")
        config, chars = saved["model_config"], spec.get("chars")
    elif isinstance(saved, dict) and {"model", "config", "chars"} <= saved.keys():
        config, chars = saved["config"], saved["chars"]
    else:
        raise ValueError(f"{path} is not a model saved by train_char.py (expected the keys "
                         f"chars, config, model; found {keys}); train one with {make} MODEL.pt")
    try:
        model = GPT(GPTConfig(**config))
        model.load_state_dict(saved["model"])  # checks every name and shape
        tokenizer = CharTokenizer.from_chars(chars, f"the model file {path}")
        if tokenizer.vocab_size != model.config.vocab_size:
            raise ValueError(f"it lists {tokenizer.vocab_size} characters for a vocabulary of "
                             f"{model.config.vocab_size}")
    except (TypeError, ValueError, RuntimeError) as err:
        if isinstance(err, NotImplementedError):  # a workbook exercise not yet written
            raise  # let it name itself, not pass for a damaged file
        reason = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise ValueError(f"{path} holds a model whose parts do not fit together ({reason}): "
                         f"it was edited or damaged; train it again with {make} "
                         f"MODEL.pt") from None
    return model.to(device).eval(), tokenizer


def timed_generate(model: GPT, prompt: torch.Tensor, n: int, use_cache: bool, seed: int,
                   device: torch.device, **sampling: object) -> tuple[torch.Tensor, float]:
    """Generate n tokens; return them and the seconds it took (device synchronised)."""
    synchronize(device)
    start = time.perf_counter()
    out = model.generate(prompt, n, use_cache=use_cache,
                         generator=torch.Generator(device=device).manual_seed(seed), **sampling)
    synchronize(device)
    return out, time.perf_counter() - start


def compare_cache(model: GPT, prompt: torch.Tensor, n: int, seed: int, device: torch.device,
                  repeats: int, **sampling: object) -> tuple[torch.Tensor, bool, float, float]:
    """Time generation with and without the KV cache fairly; return (the text, whether every run
    gave the same tokens, median seconds without the cache, median seconds with it).

    A first call pays for things the later ones do not (memory the allocator grabs, kernels a
    GPU compiles or loads, caches the CPU warms), so each path runs once untimed first. Then the
    two alternate, cached first in even rounds and plain first in odd ones, so neither always
    runs on a machine the other just warmed or slowed; and the median of `repeats` rounds is
    reported, which one slow round (another program waking up) cannot move.
    """
    # use_cache -> the tokens of every run (warm-up included), and the timed runs' seconds
    runs: dict[bool, list[torch.Tensor]] = {True: [], False: []}
    times: dict[bool, list[float]] = {True: [], False: []}
    for use_cache in (True, False):  # the warm-up: run, keep the tokens, ignore the time
        runs[use_cache].append(timed_generate(model, prompt, n, use_cache, seed, device,
                                              **sampling)[0])
    for round_ in range(repeats):
        for use_cache in ((True, False) if round_ % 2 == 0 else (False, True)):
            out, seconds = timed_generate(model, prompt, n, use_cache, seed, device, **sampling)
            runs[use_cache].append(out)
            times[use_cache].append(seconds)
    text = runs[True][0]
    same = all(torch.equal(text, out) for out in runs[True] + runs[False])
    return text, same, statistics.median(times[False]), statistics.median(times[True])


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.prompt == "":
        parser.error("--prompt must hold at least one character: the model continues a text")
    try:
        device = pick_device(args.device)
        path = args.model or (DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None)
        if path is not None:
            model, tokenizer = load_model(path, device)
            origin = f"trained model {path}"
        else:
            text = "".join(chr(c) for c in range(32, 127)) + "\n"
            tokenizer = CharTokenizer(text, "printable ASCII")
            torch.manual_seed(args.seed)
            model = GPT(preset("char-1m", vocab_size=tokenizer.vocab_size)).to(device).eval()
            origin = "UNTRAINED char-1m model (its text is noise; its timing is real)"
        if args.prompt is None:  # the default, in characters this model knows
            args.prompt = next((p for p in (DEFAULT_PROMPT, "\n")
                                if all(c in tokenizer.stoi for c in p)), tokenizer.chars[0])
        prompt = torch.tensor([tokenizer.encode(args.prompt)], device=device)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        if isinstance(err, NotImplementedError):  # a workbook exercise not yet written
            raise  # let it name itself, not pass for a damaged file
        parser.exit(2, f"error: {err}\n")
    print(f"{origin}: {model.n_params():,} parameters, context {model.config.context}, "
          f"on {device}")
    sampling = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p}
    print(f"sampling: {sampling}, seed {args.seed}\n")
    text, same, t_plain, t_cache = compare_cache(model, prompt, args.tokens, args.seed, device,
                                                 args.repeats, **sampling)
    print(tokenizer.decode(text[0].tolist()))
    print(f"\n{args.tokens} tokens (median of {args.repeats} alternating runs of each, after a "
          f"warm-up run): {t_plain:.3f} s without the KV cache, {t_cache:.3f} s with it: "
          f"{t_plain / t_cache:.1f}x faster; same tokens: {same}")
    total = prompt.size(1) + args.tokens
    if total > model.config.context:
        print(f"(the text grew past the context of {model.config.context}: from there on the "
              f"window slides and every step recomputes it, with or without the cache)")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Sample from a GPT and measure the KV cache.")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"a model saved by train_char.py, or a character-level checkpoint "
                             f"of phase 08 (default: {DEFAULT_MODEL} if it exists, else an "
                             "untrained char-1m model, fine for timing)")
    parser.add_argument("--prompt", default=None,
                        help=f"text to continue (default: {DEFAULT_PROMPT!r}, or a newline or "
                             f"the model's first character if it does not know those)")
    parser.add_argument("--tokens", type=positive_int, default=200, help="tokens to generate")
    add_temperature_and_top_k_flags(parser)
    parser.add_argument("--top-p", type=probability_mass, default=None,
                        help="keep the smallest set with probability >= p, 0 < p <= 1 (default: "
                             "off)")
    add_device_flag(parser)
    add_seed_flag(parser)
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="timed runs of each path, after one warm-up run each; the median is "
                             "reported")
    return parser


if __name__ == "__main__":
    main()
