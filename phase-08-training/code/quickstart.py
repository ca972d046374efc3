"""The whole pipeline in one command: prepare Tiny Shakespeare, train a GPT, sample, and compare.

This is the first thing to run in phase 08, and on a new machine. It needs no network (Tiny
Shakespeare comes from the cache, a download, or, failing both, the standard library's source)
and no GPU: on a laptop CPU it takes a few minutes, less on MPS or CUDA. It does, in order:

1. prepare_data.py's work: the text becomes character tokens in uint16 shards + meta.json;
2. a counting bigram model (phase 03) on the same tokens: P(next | current) from the training
   split's pair counts, scored on the validation split. It is the bar to clear: a model that
   looks back 64 characters must do clearly better than one that looks back one;
3. train.py's `shakespeare-char` run: phase 07's character GPT with the full training loop
   (AdamW, warmup + cosine, clipping, checkpoints in runs/quickstart/);
4. samples from the best checkpoint, and both validation losses over the same tokens, side by
   side.

`--smoke` runs the same four steps with the tiny `cpu-smoke` preset in seconds (the test suite
does); it learns too little to beat the bigram, and says so.

Run:  python phase-08-training/code/quickstart.py
      python phase-08-training/code/quickstart.py --smoke
"""

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from phase00.flags import add_seed_flag, nonnegative_int, positive_int, script_parser
from phase03.bigram import bigram_counts, bigram_probs, log_of
from phase06.device import add_device_flag, pick_device
from phase07.model import GPT
from phase08.config import make_config
from phase08.loader import BatchLoader, TokenShards
from phase08.prepare_data import dataset_folder, local_documents, prepare_local
from phase08.runfolder import check_folder
from phase08.sample import load_for_sampling
from phase08.train import (
    RUNS_DIR,
    CheckpointError,
    TrainingDiverged,
    add_run_flags,
    sample_text,
    train,
)

MARGIN = 0.3  # nats per character: "clearly below the bigram"


def prepare(path: Path | None, data_dir: Path, offline: bool) -> Path:
    """Character shards of Tiny Shakespeare (or of `path`), prepared unless already there."""
    docs, source, name = local_documents("tinyshakespeare", [path] if path else None, offline)
    folder = dataset_folder(name, "char", data_dir)
    print(f"   {source}: {sum(map(len, docs)):,} characters")
    meta = prepare_local(docs, "char", folder, source, verbose=False)
    print(f"   -> {folder}: {meta['splits']['train']['tokens']:,} train / "
          f"{meta['splits']['val']['tokens']:,} validation tokens, "
          f"{meta['tokenizer']['vocab_size']} distinct characters")
    return folder


@torch.no_grad()
def full_val_loss(model: GPT, shards: TokenShards, batch: int, context: int,
                  device: torch.device, max_batches: int = 0) -> tuple[float, int]:
    """The model's mean loss over the whole validation split, read once in order; and how
    many tokens that is (whole batches only: batch * context * n). max_batches > 0 reads only
    the first that many batches (val_loss.py's --batches, for a split of millions of tokens)."""
    model.eval()
    loader = BatchLoader(shards, batch, context)
    n = max(1, (len(shards) - 1) // loader.tokens_per_step)
    n = min(n, max_batches) if max_batches else n
    total = 0.0
    for _ in range(n):
        x, y = loader.next_batch()
        total += model(x.to(device), y.to(device))[1].item()
    return total / n, n * loader.tokens_per_step


def bigram_loss(train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int,
                n_targets: int) -> tuple[float, float]:
    """(train, validation) loss of a counting bigram with add-one smoothing (phase 03).

    The validation loss is over the same n_targets predictions as full_val_loss: token i + 1
    from token i, for i < n_targets.
    """
    log_P = log_of(bigram_probs(bigram_counts(train_ids, vocab_size), k=1.0))
    train = float(-log_P[train_ids[:-1], train_ids[1:]].mean())
    x, y = val_ids[:n_targets], val_ids[1:n_targets + 1]
    return train, float(-log_P[x, y].mean())


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    preset = "cpu-smoke" if args.smoke else "shakespeare-char"
    run_dir = args.run_dir or RUNS_DIR / ("quickstart-smoke" if args.smoke else "quickstart")
    for flag, path in (("--out", args.out), ("--data-dir", args.data_dir)):
        if path.exists() and not path.is_dir():
            parser.error(f"{flag} {path} is a file: give a folder")
    try:  # before any work: a folder that holds a run is never replaced unless asked
        check_folder(run_dir, None, args.overwrite)
    except ValueError as err:
        parser.exit(1, f"error: {err}\n")

    print("== 1. Prepare the data (character tokens) ==")
    try:
        folder = prepare(args.path, args.data_dir, args.offline)
    except (FileNotFoundError, ValueError, OSError) as err:
        parser.exit(1, f"error: {err}\n")
    train_shards, val_shards = TokenShards(folder, "train"), TokenShards(folder, "val")
    V = train_shards.tokenizer["vocab_size"]

    print(f"\n== 2. Train a GPT (preset {preset}) ==")
    overrides = {"data": str(folder), "device": args.device, "seed": args.seed,
                 "sample_tokens": 0}
    if args.steps:  # a shorter run keeps its warmup within the run
        overrides["steps"] = args.steps
        overrides["warmup"] = min(make_config(preset).warmup, args.steps // 10)
    try:
        cfg = make_config(preset, overrides)
        result = train(cfg, run_dir, args.data_dir, args.out, offline=args.offline,
                       overwrite=args.overwrite)
    except (CheckpointError, TrainingDiverged, FileNotFoundError, ValueError, OSError) as err:
        parser.exit(1, f"error: {err}\n")
    if result["interrupted"]:
        raise SystemExit(130)

    print("\n== 3. Samples from the best checkpoint ==")
    device = pick_device(args.device)
    model, codec, checkpoint = load_for_sampling(run_dir / "best.pt", device)
    print(f"   {run_dir / 'best.pt'} (step {checkpoint['step']})")
    for i in range(args.samples):
        text = sample_text(model, codec, 300 if not args.smoke else 80, device, args.seed + i,
                           temperature=0.8)
        print(f"--- sample {i + 1} ---\n{text}")

    print("\n== 4. Against a counting bigram, on the same validation tokens ==")
    model_loss, n_targets = full_val_loss(model, val_shards, cfg.micro_batch, cfg.context,
                                          device)
    bigram_train, bigram_val = bigram_loss(train_shards.read(0, len(train_shards)),
                                           val_shards.read(0, len(val_shards)), V, n_targets)
    print(f"   validation tokens scored: {n_targets:,} (of {len(val_shards):,}); uniform "
          f"guessing scores ln {V} = {math.log(V):.4f}")
    print(f"   counting bigram (add-one, {V} x {V} counts): train {bigram_train:.4f}, "
          f"validation {bigram_val:.4f} nats per character")
    print(f"   GPT ({model.n_params():,} parameters, {checkpoint['step']} steps): validation "
          f"{model_loss:.4f} nats per character")
    print(f"   (the run's log said {checkpoint['val_loss']:.4f}: that is the mean over its "
          f"{cfg.eval_batches} evaluation batches, a sample of the split; the line above reads "
          f"all of it)")
    gap = bigram_val - model_loss
    if gap >= MARGIN:
        verdict = f"the GPT beats the bigram by {gap:.2f} nats per character"
    elif args.smoke:
        verdict = (f"a smoke run is too short to learn much ({gap:+.2f} nats against the "
                   f"bigram); the full run is the same command without --smoke")
    else:
        verdict = (f"the GPT is only {gap:+.2f} nats from the bigram: train longer (--steps) or "
                   f"check the run's log in {run_dir}")
    print(f"   {verdict}")
    print(f"\nDone in {time.perf_counter() - start:.0f} s. More text (other seeds than the "
          f"samples above): python phase-08-training/code/sample.py --checkpoint "
          f"{run_dir / 'best.pt'} --seed {args.seed + args.samples}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Prepare Tiny Shakespeare, train a small GPT, "
                           "sample, and beat a bigram.")
    parser.add_argument("--smoke", action="store_true",
                        help="the tiny cpu-smoke preset: seconds, to check the pipeline")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="optimizer steps (default: the preset's, 1200; smoke 40)")
    parser.add_argument("--samples", type=nonnegative_int, default=2,
                        help="samples to print at the end")
    add_seed_flag(parser, 1337)
    add_device_flag(parser)
    parser.add_argument("--path", type=Path, default=None,
                        help="train on this text file instead of Tiny Shakespeare")
    add_run_flags(parser, __file__, run_dir="runs/quickstart/, or runs/quickstart-smoke/")
    return parser


if __name__ == "__main__":
    main()
