"""Train a character-level GPT on Tiny Shakespeare: phase 05's run, now in PyTorch, fast.

The recipe is phase 05's (random windows, next-character cross-entropy, AdamW with weight decay on
the 2-D tensors only, warmup then cosine decay, gradient clipping, a held-out validation split), on
phase 07's GPT and whatever device phase 06's helper picks. (Phase 05 also left the position table
undecayed; here both embedding tables are decayed, as nanoGPT does.) The default preset is tuned for
a small CPU: on a 2-core CPU it aims at a validation loss below 1.85 nats per character within 90
seconds (notes/03-training-a-char-gpt.md records what was measured, and how it compares with a
well-known small recipe run on the same machine). The `char-10m` preset is the same recipe at 10M
parameters for a GPU or an Apple-silicon Mac.

What to watch while it runs: the progress bar (loss, tokens per second, time left), the
validation loss printed at intervals, then samples, a loss curve and pictures of what each
attention head looks at.

Run:  python phase-07-gpt/code/train_char.py
      python phase-07-gpt/code/train_char.py --preset char-10m --device mps --steps 5000
"""

import argparse
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from phase00.corpus import add_corpus_flags, write_atomically
from phase00.figures import add_out_flag, scratch_dir
from phase00.flags import (
    add_seed_flag,
    nonnegative_float,
    nonnegative_int,
    output_file,
    positive_int,
    script_parser,
)
from phase03.char_tokenizer import CharTokenizer, sample_start
from phase05.train_transformer import (
    add_adamw_flags,
    add_sampling_flags,
    draw_attention_maps,
    training_text,
)
from phase05.train_transformer import plot_losses as plot_loss_curves
from phase05.transformer import training_bytes
from phase06.device import (
    add_device_flag,
    add_threads_flag,
    check_fits_on_device,
    pick_device,
    synchronize,
)
from phase07.model import GPT, PRESETS, GPTConfig, add_gpt_shape_flags, add_preset_flag, preset

# The tuned CPU recipe of the default preset. Every field but min_lr_ratio has a flag.
DEFAULTS = {"preset": "char-1m", "batch": 32, "steps": 680, "lr": 5e-3,
            "warmup": 50, "min_lr_ratio": 0.1, "eval_every": 340}


def get_batch(data: torch.Tensor, batch: int, T: int, generator: torch.Generator,
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` random windows of T + 1 characters: inputs x = window[:-1], targets y = [1:]."""
    starts = torch.randint(0, len(data) - T, (batch,), generator=generator)
    windows = data[starts[:, None] + torch.arange(T + 1)]  # (batch, T + 1), one gather
    return windows[:, :-1].to(device), windows[:, 1:].to(device)


def lr_at(step: int, peak: float, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup from peak / warmup (never 0), then a cosine down to min_ratio * peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: weight decay on matrices (2-D: Linear weights, embeddings), none on biases
    and LayerNorm parameters. The tied embedding/head tensor appears once."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate(model: GPT, data: torch.Tensor, batch: int, T: int, n_batches: int,
             device: torch.device, seed: int = 1) -> float:
    """Mean loss over n_batches fixed random windows of `data` (the same every call)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    losses = [model(*get_batch(data, batch, T, generator, device))[1].item()
              for _ in range(n_batches)]
    model.train(was_training)
    return float(np.mean(losses))


def save_model(model: GPT, tokenizer: CharTokenizer, path: Path) -> Path:
    """Write weights, config and vocabulary to one file, atomically (temporary name + rename).

    Only tensors and plain Python types go in, so torch.load(..., weights_only=True) can read it
    back without running any code from the file.
    """
    state = {"model": model.state_dict(), "config": asdict(model.config),
             "chars": tokenizer.chars}
    return write_atomically(path, lambda f: torch.save(state, f))  # Ctrl-C: the old one intact


def plot_losses(history: dict[str, list], out_dir: Path | None) -> Figure:
    """Phase 05's loss figure, with this phase's bar of 1.85 nats."""
    return plot_loss_curves(history, out_dir, "Character-level GPT on Tiny Shakespeare",
                            target=1.85, filename="gpt_char_loss.png", bottom=1.2)


@torch.no_grad()
def plot_attention(model: GPT, tokenizer: CharTokenizer, text: str, device: torch.device,
                   out_dir: Path | None) -> Figure:
    """Every head of every block on one line of text, through the hand attention path."""
    was_training = model.training
    model.eval()
    paths = [block.attn.attention for block in model.transformer.h]
    for block in model.transformer.h:
        block.attn.attention = "hand"  # the hand path keeps its weights for us to draw
    try:
        model(torch.tensor([tokenizer.encode(text)], device=device))
        maps = [block.attn.last_weights[0].cpu().numpy() for block in model.transformer.h]
    finally:  # the model goes back as it came, even if the forward pass failed
        for block, path in zip(model.transformer.h, paths, strict=True):
            block.attn.attention = path
        model.train(was_training)
    return draw_attention_maps(maps, text, out_dir, "gpt_char_attention.png")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dropout is not None and args.dropout >= 1:
        parser.error(f"--dropout must be below 1, got {args.dropout}")
    if args.warmup > args.steps:
        parser.error(f"--warmup ({args.warmup}) is longer than the run (--steps {args.steps}): "
                     f"the learning rate would never reach its peak; choose a smaller --warmup")
    start_all = time.perf_counter()
    overrides = {k: v for k, v in (("n_layer", args.n_layer), ("n_head", args.n_head),
                                   ("n_embd", args.n_embd), ("dropout", args.dropout),
                                   ("context", args.context)) if v is not None}
    try:
        config: GPTConfig = preset(args.preset, attention=args.attention, **overrides)
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as err:
        parser.error(str(err))
    T, B = config.context, args.batch
    try:
        text, source, tokenizer = training_text(args.corpus, args.path, T)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    config = replace(config, vocab_size=tokenizer.vocab_size)
    try:  # before any tensor is made: --context 100000 is refused, not swapped to disk
        check_fits_on_device(training_bytes(config.vocab_size, T, config.n_embd, config.n_head,
                                            config.n_layer, B, 4, True,
                                            attention_maps=config.attention == "hand"),
                             f"training with --batch {B} --context {T} --n-embd "
                             f"{config.n_embd} --n-layer {config.n_layer}", device)
    except ValueError as err:
        parser.error(str(err))
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    data = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    n_val = len(data) // 10
    train_data, val_data = data[:-n_val], data[-n_val:]
    model = GPT(config).to(device)
    print(f"1. {source}: {len(text):,} characters, {tokenizer.vocab_size} distinct; "
          f"{len(train_data):,} train / {len(val_data):,} validation")
    print(f"   {args.preset}: {config.n_layer} layers x {config.n_head} heads x {config.n_embd}, "
          f"context {T}, dropout {config.dropout}: {model.n_params():,} parameters on {device} "
          f"({torch.get_num_threads()} CPU thread{'s' if torch.get_num_threads() > 1 else ''})")
    print(f"   {model.flops_per_token(T) / 1e6:.1f} MFLOP per training token")

    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr,
                                  betas=(0.9, 0.99))
    generator = torch.Generator().manual_seed(args.seed)
    history: dict[str, list] = {"step": [], "train": [], "eval_step": [], "val": []}
    print(f"\n2. Train {args.steps} steps of {B} x {T} characters, peak lr {args.lr}, warmup "
          f"{args.warmup}, cosine to {DEFAULTS['min_lr_ratio']} x peak, clip {args.clip}")
    start = time.perf_counter()
    bar = tqdm(range(args.steps), desc="training", unit="step", leave=False)
    for step in bar:
        lr = lr_at(step, args.lr, args.warmup, args.steps, DEFAULTS["min_lr_ratio"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, B, T, generator, device)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        if step % 10 == 0 or step == args.steps - 1:
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                bar.close()
                parser.exit(1, f"error: the loss became {loss_value} at step {step}: try a "
                               f"smaller --lr (now {args.lr})\n")
            history["step"].append(step + 1)  # steps done, as for the evaluations
            history["train"].append(loss_value)
            tokens_per_s = (step + 1) * B * T / (time.perf_counter() - start)
            bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens_per_s:,.0f}")
        if (step + 1) % args.eval_every == 0 or step == args.steps - 1:
            val = evaluate(model, val_data, B, T, args.eval_batches, device)
            history["eval_step"].append(step + 1)
            history["val"].append(val)
            synchronize(device)
            elapsed = time.perf_counter() - start
            tqdm.write(f"   step {step + 1:5d}  train {loss.item():.3f}  val {val:.3f}  "
                       f"lr {lr:.1e}  {elapsed:5.1f} s  "
                       f"{(step + 1) * B * T / elapsed:,.0f} tokens/s (evaluations included)")
    bar.close()
    synchronize(device)
    seconds = time.perf_counter() - start
    final = evaluate(model, val_data, B, T, 4 * args.eval_batches, device, seed=2)
    print(f"   trained in {seconds:.1f} s ({time.perf_counter() - start_all:.1f} s since the "
          f"script started); validation loss {final:.3f} nats ({final / math.log(2):.2f} bits) "
          f"per character, over {4 * args.eval_batches * B * T:,} characters")

    # Saved before anything else can fail: a finished run is never lost to a sampling error.
    save_path = save_model(model, tokenizer, args.save or scratch_dir(__file__) / "char_gpt.pt")

    print(f"\n3. Sample at temperature {args.temperature}")
    prompt = torch.tensor([tokenizer.encode(sample_start(text))], device=device)
    out = model.generate(prompt, args.sample_chars, temperature=args.temperature,
                         generator=torch.Generator(device=device).manual_seed(args.seed))
    print(tokenizer.decode(out[0].tolist()))

    print(f"\n4. Saved to {save_path}; sample more with: python phase-07-gpt/code/generate.py "
          f"--model {save_path}")

    print("\nFigures")
    plot_losses(history, args.out)
    plot_attention(model, tokenizer, text[:min(T, 40)], device, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train a character-level GPT.")
    add_preset_flag(parser, DEFAULTS["preset"],
                    [name for name in sorted(PRESETS) if name.startswith("char")])
    add_gpt_shape_flags(parser)
    parser.add_argument("--dropout", type=nonnegative_float, default=None,
                        help="override dropout (the presets: 0 for char-1m, 0.2 for char-10m)")
    parser.add_argument("--batch", type=positive_int, default=DEFAULTS["batch"],
                        help="windows per step")
    parser.add_argument("--steps", type=positive_int, default=DEFAULTS["steps"],
                        help="optimizer steps (default: %(default)s)")
    add_adamw_flags(parser, lr=DEFAULTS["lr"])
    parser.add_argument("--warmup", type=nonnegative_int, default=DEFAULTS["warmup"],
                        help="linear warmup steps")
    parser.add_argument("--eval-every", type=positive_int, default=DEFAULTS["eval_every"],
                        help="steps between validation losses (default: %(default)s)")
    parser.add_argument("--eval-batches", type=positive_int, default=20,
                        help="batches per validation loss")
    parser.add_argument("--attention", choices=["fast", "hand"], default="fast",
                        help="attention path")
    add_device_flag(parser)
    add_threads_flag(parser, None)
    add_sampling_flags(parser, chars=300)
    add_corpus_flags(parser)
    parser.add_argument("--save", type=output_file, default=None,
                        help="where to write the trained model (default: "
                             "scratch/phase-07-gpt/char_gpt.pt)")
    add_seed_flag(parser, 1337)
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
