"""What a start from trained weights buys, measured on a CPU: transfer learning in miniature.

Fine-tuning GPT-2 (`train.py --preset finetune-shakespeare`) needs OpenAI's weights, a download.
The idea it rests on can be measured on any machine, offline, in minutes, with the course's own
preset `shakespeare-gpt2` (4 layers x 128, GPT-2's tokenizer, 7,234,432 parameters):

1. **pretrain** it on one text, Python's standard library source, which every machine has
   (`train.py --source stdlib`): code and its English comments and docstrings;
2. **fine-tune** it on another, Tiny Shakespeare, starting from step 1's `best.pt`
   (`train.py --init-from`), for `--steps` steps;
3. **from scratch**: the same steps, data, seed and settings, from random weights.

Both runs of Shakespeare evaluate before their first step, so the table starts where each one
starts. Then each model is scored on the first text's validation split too: what fine-tuning
cost the model on the text it came from, the "catastrophic forgetting" of McCloskey & Cohen
(1989). It draws `transfer_curves.png`.

The three runs are ordinary train.py runs in `--run-dir` (pretrain/, finetune/, scratch/): sample
from them, score them with val_loss.py, resume them. A folder that holds them already is
refused, as train.py refuses one, unless `--overwrite`.

Run:  python phase-08-training/code/transfer.py                  (about 10 min on a 2-core CPU)
      python phase-08-training/code/transfer.py --pretrain-steps 200 --steps 100
"""

import argparse
import math
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from phase00.figures import save_figure
from phase00.flags import positive_float, positive_int, script_parser
from phase06.device import add_device_flag, device_from_flag
from phase08.config import PRESETS, make_config
from phase08.loader import TokenShards
from phase08.prepare_data import META_FILE
from phase08.quickstart import full_val_loss
from phase08.runfolder import check_folder
from phase08.train import (
    RUNS_DIR,
    CheckpointError,
    TrainingDiverged,
    add_run_flags,
    read_log,
    resolve_data,
    train,
)
from phase08.val_loss import load_any

PRESET = "shakespeare-gpt2"
RUNS = ("pretrain", "finetune", "scratch")


def prepare(source: str, data_dir: Path, offline: bool) -> Path:
    """The GPT-2-token folder of a built-in text, prepared on first use (as train.py does)."""
    cfg = make_config(PRESET, {"source": source})
    return resolve_data(cfg, data_dir, offline, verbose=False)


def eval_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(step, validation loss) of every evaluation a run logged, step 0 included."""
    return [(r["step"], r["val_loss"]) for r in read_log(run_dir / "log.jsonl")
            if r["kind"] == "eval"]


def experiment(first: Path, second: Path, run_dir: Path, pretrain_steps: int, steps: int,
               eval_every: int, overrides: dict[str, object] | None = None,
               overwrite: bool = False, offline: bool = False, verbose: bool = True
               ) -> dict[str, list[tuple[int, float]]]:
    """Pretrain on the folder `first`, then train on `second` twice for `steps` steps: from the
    pretrained best.pt and from random weights, with the same settings otherwise. Returns each
    Shakespeare run's (step, validation loss) list, step 0 included.

    overrides change every run's config alike (the tests shrink the model with them).
    """
    say = print if verbose else (lambda *a, **k: None)
    base = {"sample_tokens": 0, **(overrides or {})}
    warmup = make_config(PRESET).warmup
    runs = {
        "pretrain": {"data": str(first), "steps": pretrain_steps,
                     "warmup": min(warmup, pretrain_steps // 10),
                     "eval_every": min(make_config(PRESET).eval_every, pretrain_steps)},
        "finetune": {"data": str(second), "steps": steps, "warmup": min(warmup, steps // 10),
                     "eval_every": eval_every, "eval_at_start": True,
                     "init_from": str(run_dir / "pretrain" / "best.pt")},
    }
    runs["scratch"] = {k: v for k, v in runs["finetune"].items() if k != "init_from"}
    for i, (name, changes) in enumerate(runs.items(), start=1):
        what = {"pretrain": f"pretrain on {first.name}",
                "finetune": f"fine-tune on {second.name}, from the pretrained weights",
                "scratch": f"train on {second.name} from random weights"}[name]
        say(f"\n== {i}. {what}: {changes['steps']} steps into {run_dir / name} ==")
        cfg = make_config(PRESET, {**base, **changes})
        result = train(cfg, run_dir / name, out=None, overwrite=overwrite, offline=offline,
                       verbose=verbose)
        if result["interrupted"]:
            raise KeyboardInterrupt
    return {name: eval_curve(run_dir / name) for name in ("finetune", "scratch")}


def scores(run_dir: Path, folders: dict[str, Path], device: torch.device,
           max_batches: int = 0) -> dict[str, dict[str, tuple[float, int]]]:
    """Each run's best.pt scored on the validation split of each folder, read in order from
    its start: {run: {folder name: (loss, tokens scored)}}."""
    found: dict[str, dict[str, tuple[float, int]]] = {}
    for name in RUNS:
        model, _, _ = load_any(str(run_dir / name / "best.pt"), device)
        found[name] = {}
        for label, folder in folders.items():
            found[name][label] = full_val_loss(model, TokenShards(folder, "val"), 8,
                                               model.config.context, device, max_batches)
    return found


def plot(curves: dict[str, list[tuple[int, float]]], forgetting: dict[str, float], title: str,
         out: Path | None) -> Figure:
    """Left: both Shakespeare runs' validation loss against steps. Right: each model's loss on
    the pretraining text, before and after."""
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    for name, color, label in (("finetune", "tab:blue", "from the pretrained weights"),
                               ("scratch", "tab:red", "from random weights")):
        left.plot(*zip(*curves[name], strict=True), "o-", ms=3, color=color, label=label)
    left.set_xlabel("steps on Tiny Shakespeare")
    left.set_ylabel("validation loss (nats per GPT-2 token)")
    left.set_title(title)
    left.grid(alpha=0.3)
    left.legend()
    names = list(forgetting)
    right.bar(range(len(names)), [forgetting[n] for n in names],
              color=["tab:green", "tab:blue", "tab:red"][:len(names)])
    right.set_xticks(range(len(names)), names, fontsize=8)
    right.set_ylabel("loss on the pretraining text's validation")
    right.set_title("what fine-tuning forgets")
    right.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, out, "transfer_curves.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    run_dir = args.run_dir or RUNS_DIR / "transfer"
    for flag, path in (("--out", args.out), ("--data-dir", args.data_dir), ("--run-dir", run_dir)):
        if path.exists() and not path.is_dir():
            parser.error(f"{flag} {path} is a file: give a folder")
    if args.steps < 2 * args.eval_every:
        parser.error(f"--steps {args.steps} with --eval-every {args.eval_every}: give at least "
                     f"two evaluations to compare")
    device = device_from_flag(parser, args.device)
    try:  # before any work: three runs, none may replace an old one unless asked
        for name in RUNS:
            check_folder(run_dir / name, None, args.overwrite)
        first = prepare("stdlib", args.data_dir, args.offline)
        second = prepare("tinyshakespeare", args.data_dir, args.offline)
        if not (second / META_FILE).is_file() or second.name == first.name:
            raise FileNotFoundError("Tiny Shakespeare is neither cached nor downloadable, and "
                                    "the second text must differ from the first: put "
                                    "tinyshakespeare.txt in the data folder (phase 00's "
                                    "corpus.py), or run once with a network")
        overrides = {"device": args.device} | ({"lr": args.lr} if args.lr else {})
        curves = experiment(first, second, run_dir, args.pretrain_steps, args.steps,
                            args.eval_every, overrides, args.overwrite, args.offline)
    except (CheckpointError, TrainingDiverged, FileNotFoundError, ValueError, OSError,
            RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")
    except KeyboardInterrupt:
        raise SystemExit(130) from None

    V = TokenShards(second, "val").tokenizer["vocab_size"]
    print(f"\n== 4. Validation loss on {second.name}, nats per GPT-2 token (ln {V:,} = "
          f"{math.log(V):.4f}: a model that knows nothing) ==")
    print(f"   {'step':>6} | {'from the pretrained weights':>27} | {'from random weights':>19}")
    scratch = dict(curves["scratch"])
    for step, loss in curves["finetune"]:
        print(f"   {step:>6} | {loss:>27.4f} | {scratch.get(step, math.nan):>19.4f}")
    final = curves["scratch"][-1][1]
    caught = next((s for s, loss in curves["finetune"] if loss <= final), None)
    print(f"   after {args.steps} steps from random weights: {final:.4f}; the run from the "
          f"pretrained weights was there "
          + (f"by step {caught}" if caught is not None else "at no evaluation"))

    print("\n== 5. Each model's best.pt on both validation splits, read whole, in order ==")
    table = scores(run_dir, {first.name: first, second.name: second}, device)
    for name, label in (("pretrain", "pretrained only"), ("finetune", "then fine-tuned"),
                        ("scratch", "Shakespeare only")):
        row = ", ".join(f"{folder} {loss:.4f}" for folder, (loss, _) in table[name].items())
        print(f"   {label:17s} {row}")
    before, after = table["pretrain"][first.name][0], table["finetune"][first.name][0]
    print(f"   fine-tuning on {second.name} moved the loss on {first.name} from {before:.4f} to "
          f"{after:.4f} ({after - before:+.4f}): what it forgot of the first text")
    plot(curves, {label: table[name][first.name][0] for name, label in
                  (("pretrain", "pretrained"), ("finetune", "fine-tuned"),
                   ("scratch", "scratch"))},
         f"{PRESET}'s model on {second.name}", args.out)
    print(f"\nDone in {time.perf_counter() - start:.0f} s.")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Pretrain a small GPT on one text, fine-tune "
                           "it on another, against the same steps from "
                           "random weights.")
    parser.add_argument("--pretrain-steps", type=positive_int,
                        default=make_config(PRESET).steps,
                        help=f"steps on the first text (default: {PRESET}'s "
                             f"{make_config(PRESET).steps})")
    parser.add_argument("--steps", type=positive_int, default=200,
                        help="steps on Tiny Shakespeare, for each of the two runs")
    parser.add_argument("--eval-every", type=positive_int, default=25,
                        help="steps between evaluations of the two runs")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help=f"peak learning rate of all three runs (default: {PRESET}'s "
                             f"{PRESETS[PRESET]['lr']})")
    add_device_flag(parser)
    add_run_flags(parser, __file__, run_dir="runs/transfer/, git-ignored")
    return parser


if __name__ == "__main__":
    main()
