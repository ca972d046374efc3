"""A training run as one plain record: every knob named, typed, checked, and saved with the run.

Phase 07's training script had a dozen flags. A real run has forty knobs: the model's shape,
the data, the optimizer, the schedule, evaluation, precision, bookkeeping. Scattered over a
script they are easy to lose; a checkpoint that forgets one cannot be resumed faithfully.
So a run is one `TrainConfig`, a dataclass of plain types (str, int, float, bool):

- a **preset** names a tested combination (`cpu-smoke`, `shakespeare-char`, ...): only the
  fields it changes from the defaults below, so the difference between two presets is
  readable at a glance;
- any field can be overridden: `--set lr=1e-3 --set n_layer=6` or the matching flag
  (`--lr 1e-3`); an unknown preset or field is an error that lists the valid ones;
- each field has a validator (the same ones as every flag of the course, `phase00.flags`), so
  `--set lr=-1` stops at once, as `--lr -1` does;
- the record goes into every checkpoint as a dict of plain types, which is what lets
  `torch.load(..., weights_only=True)` read a checkpoint without running any code from it, and
  lets `--resume` rebuild the exact run.

Part of the design is what is NOT here: where the checkpoints go (`--run-dir`), where figures go
(`--out`) and the device's peak FLOP/s (`--peak-flops`) are about this machine, not the run, so
a run moved to another machine resumes unchanged.

Run:  python phase-08-training/code/config.py --preset shakespeare-char --set lr=1e-3
"""

import argparse
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

from phase00.flags import (
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    script_parser,
)
from phase06.device import DEVICE_CHOICES
from phase08.budget import GPT2_SMALL as BUDGET_GPT2
from phase08.budget import mac_plans
from phase08.prepare_data import FINEWEB_FOLDER

DTYPES = ("auto", "float32", "bfloat16")  # never float16: it would need a GradScaler
SOURCES = ("tinyshakespeare", "stdlib")
TOKENIZERS = ("char", "gpt2")
ATTENTIONS = ("fast", "hand")
SELF_CHECKS = ("auto", "on", "off")
# Where prepare_data.py writes FineWeb-Edu's sample-10BT (inside the data folder, which
# TFS_DATA_DIR moves), and the command that does it.
FINEWEB_DATA = str(FINEWEB_FOLDER)
FINEWEB_COMMAND = ("python phase-08-training/code/prepare_data.py --hf-dataset "
                   "HuggingFaceFW/fineweb-edu --hf-config sample-10BT --max-tokens 10000000000")


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run. The defaults are the `shakespeare-char` recipe: phase 07's
    tuned character model (about 1M parameters), which learns Tiny Shakespeare on a CPU."""

    # data: a prepared folder, or a built-in source prepared on first use
    data: str = ""  # a folder written by prepare_data.py; "" = data/tokens/<source>-<tokenizer>
    source: str = "tinyshakespeare"
    tokenizer: str = "char"
    shuffle: int = 16384  # deal out each window of this many sequences at random; 0 = in order
    # model (phase 07's GPT; vocab_size comes from the data)
    architecture: str = "gpt2"  # phase 07's GPT; a later phase may register another (train.py)
    init_from: str = ""  # "" = random weights; or trained ones: gpt2, a folder, a checkpoint
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 144
    context: int = 64
    dropout: float = 0.0
    bias: bool = True
    attention: str = "fast"
    # optimisation: tokens per step = micro_batch * grad_accum * context (* ranks)
    micro_batch: int = 32
    grad_accum: int = 1
    steps: int = 800
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    clip: float = 1.0  # 0 = no clipping
    # evaluation and samples
    eval_at_start: bool = False  # also evaluate before the first step: where the run starts
    eval_every: int = 200
    eval_batches: int = 20
    sample_every: int = 0  # 0 = only at the end
    sample_tokens: int = 200
    temperature: float = 0.8
    top_k: int = 0  # 0 = off
    hellaswag_every: int = 0  # 0 = never during training (hellaswag.py scores a checkpoint)
    hellaswag_limit: int = 0  # examples per HellaSwag score; 0 = all 10,042
    # system
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    seed: int = 1337
    threads: int = 1  # CPU threads; 0 = PyTorch's choice (see the README: one is often faster)
    self_check: str = "auto"  # fast vs hand attention, device vs CPU logits: auto = on MPS only
    # bookkeeping
    log_every: int = 50
    checkpoint_every: int = 0  # 0 = at every evaluation and at the end
    checkpoint_minutes: float = 15.0  # and at least this often in wall time; 0 = never by time


# The fields GPT-2 small's presets share.
GPT2_SMALL_RUN: dict[str, object] = {
    "data": FINEWEB_DATA, "tokenizer": "gpt2", "shuffle": 0, "n_layer": 12, "n_head": 12,
    "n_embd": 768, "context": 1024, "beta2": 0.95, "min_lr_ratio": 0.1, "weight_decay": 0.1,
    "threads": 0, "sample_tokens": 64, "top_k": 50, "temperature": 1.0}
# ... and their Mac runs: compile off (MPS), 8 x 8 micro-batches, evaluations every 500 steps.
MAC_RUN: dict[str, object] = {
    "micro_batch": 8, "grad_accum": 8, "warmup": 300, "lr": 6e-4, "compile": False,
    "eval_every": 500, "eval_batches": 4, "checkpoint_every": 500, "hellaswag_every": 2000,
    "hellaswag_limit": 2000, "sample_every": 2000, "log_every": 10}

# Only what differs from the defaults above.
PRESETS: dict[str, dict[str, object]] = {
    # a few seconds anywhere: the test suite's run, and a check that everything works
    "cpu-smoke": {"n_layer": 2, "n_head": 2, "n_embd": 32, "context": 32, "micro_batch": 8,
                  "grad_accum": 2, "steps": 40, "warmup": 5, "eval_every": 20,
                  "eval_batches": 4, "sample_tokens": 60, "log_every": 10},
    # phase 07's tuned character recipe, trained longer: a few minutes on a laptop CPU
    "shakespeare-char": {"steps": 1200, "eval_every": 200},
    # GPT-2's tokenizer on the same text: 50,257 ids, so the embedding table is most of the model
    "shakespeare-gpt2": {"tokenizer": "gpt2", "n_layer": 4, "n_head": 4, "n_embd": 128,
                         "context": 64, "micro_batch": 8, "steps": 600, "lr": 2e-3,
                         "warmup": 50, "dropout": 0.1, "eval_every": 100, "eval_batches": 20,
                         "top_k": 50},
    # GPT-2 small as GPT-2 and GPT-3 small were trained: ~0.5M tokens per step (16 x 32 x 1024),
    # 19,073 steps = 10B tokens of FineWeb-Edu, lr 6e-4 with 715 warmup steps, betas (0.9, 0.95).
    # For one big GPU; if it runs out of memory, halve micro_batch and double grad_accum.
    # On k GPUs each rank does grad_accum micro-steps: use --grad-accum 32/k to keep 0.5M.
    "gpt2-124m": {**GPT2_SMALL_RUN, "micro_batch": 16, "grad_accum": 32, "steps": 19_073,
                  "lr": 6e-4, "warmup": 715, "compile": True, "eval_every": 250,
                  "eval_batches": 1, "checkpoint_every": 1000, "hellaswag_every": 1000,
                  "sample_every": 1000, "log_every": 1},
    # The Mac plans of budget.py: 64 sequences (65,536 tokens) per step, as many steps as the
    # hours buy at a measured 5,000 tokens/s. Smaller steps than the GPU's 0.5M: with a token
    # budget 10-20 times smaller, more (noisier) steps learn more than few large ones.
    **{name: {**GPT2_SMALL_RUN, **MAC_RUN, "steps": p.steps}
       for name, p in mac_plans().items() if p.shape is BUDGET_GPT2},
    # The 24-hour budget spent the Chinchilla way: a model near the compute-optimal size
    # (~20 tokens per parameter) instead of GPT-2 small on 3.5 tokens per parameter.
    "gpt-51m-mac-24h": {**GPT2_SMALL_RUN, **MAC_RUN, "n_layer": 8, "n_head": 8, "n_embd": 512,
                        "steps": mac_plans()["gpt-51m-mac-24h"].steps},
    # Fine-tuning (notes/10): OpenAI's GPT-2 small, from its own weights, on Tiny Shakespeare's
    # GPT-2 tokens (shakespeare-gpt2's data). The shape is GPT-2's; the context is cropped to
    # 256 (a play's lines are short, and a step costs a quarter). A learning rate 20 times
    # below pretraining's and a short warmup: the weights are already good, and large steps
    # would wash out what they know. 300 steps of 2,048 tokens: about two passes over the
    # 304,223 training tokens. Evaluated before the first step, and HellaSwag before and after.
    "finetune-shakespeare": {"init_from": "gpt2", "eval_at_start": True, "tokenizer": "gpt2",
                             "context": 256, "micro_batch": 8, "grad_accum": 1, "steps": 300,
                             "lr": 3e-5, "warmup": 20, "min_lr_ratio": 0.1, "beta2": 0.95,
                             "weight_decay": 0.1, "dropout": 0.1, "eval_every": 25,
                             "eval_batches": 8, "hellaswag_every": 300, "hellaswag_limit": 2000,
                             "sample_every": 100, "sample_tokens": 100, "temperature": 0.8,
                             "top_k": 50, "threads": 0, "log_every": 10,
                             "checkpoint_every": 100},
}


def choice(*valid: str) -> Callable[[str], str]:
    """A validator accepting one of `valid` (for text fields set with --set)."""
    def check(text: str) -> str:
        if text not in valid:
            raise argparse.ArgumentTypeError(f"expected one of {list(valid)}, got {text!r}")
        return text
    return check


def boolean(text: str) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def any_text(text: str) -> str:
    return text


# How the text of `--set field=value` becomes a checked value, field by field.
FIELD_TYPES: dict[str, Callable[[str], object]] = {
    "data": any_text, "source": choice(*SOURCES), "tokenizer": choice(*TOKENIZERS),
    "architecture": any_text, "init_from": any_text, "eval_at_start": boolean,
    "shuffle": nonnegative_int,
    "n_layer": positive_int, "n_head": positive_int, "n_embd": positive_int,
    "context": positive_int, "dropout": nonnegative_float, "bias": boolean,
    "attention": choice(*ATTENTIONS), "micro_batch": positive_int, "grad_accum": positive_int,
    "steps": positive_int, "lr": positive_float, "min_lr_ratio": nonnegative_float,
    "warmup": nonnegative_int, "weight_decay": nonnegative_float, "beta1": nonnegative_float,
    "beta2": nonnegative_float, "clip": nonnegative_float, "eval_every": positive_int,
    "eval_batches": positive_int, "sample_every": nonnegative_int,
    "sample_tokens": nonnegative_int, "temperature": positive_float, "top_k": nonnegative_int,
    "device": choice(*DEVICE_CHOICES), "dtype": choice(*DTYPES), "compile": boolean,
    "seed": nonnegative_int, "threads": nonnegative_int, "log_every": positive_int,
    "checkpoint_every": nonnegative_int, "checkpoint_minutes": nonnegative_float,
    "hellaswag_every": nonnegative_int,
    "hellaswag_limit": nonnegative_int, "self_check": choice(*SELF_CHECKS),
}
assert set(FIELD_TYPES) == {f.name for f in fields(TrainConfig)}, "every field needs a type"


def check_config(cfg: TrainConfig) -> TrainConfig:
    """Checks that involve several fields, or ranges the validators do not cover."""
    if cfg.n_embd % cfg.n_head:
        raise ValueError(f"n_embd ({cfg.n_embd}) must be divisible by n_head ({cfg.n_head})")
    for name in ("dropout", "beta1", "beta2"):
        if not 0 <= getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be in [0, 1), got {getattr(cfg, name)}")
    if not 0 <= cfg.min_lr_ratio <= 1:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {cfg.min_lr_ratio}")
    cores = os.cpu_count() or 1
    if cfg.threads > cores:
        raise ValueError(f"threads ({cfg.threads}) is more than this machine's {cores} CPU "
                         f"cores: more threads than cores only wait on one another")
    if cfg.warmup > cfg.steps:
        raise ValueError(f"warmup ({cfg.warmup}) is longer than the run ({cfg.steps} steps)")
    return cfg


def make_config(preset: str, overrides: dict[str, object] | None = None) -> TrainConfig:
    """The preset's config with overrides applied (already-typed values), checked."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets are {sorted(PRESETS)}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(FIELD_TYPES))
    if unknown:
        raise ValueError(f"unknown config fields {unknown}; valid fields are "
                         f"{sorted(FIELD_TYPES)}")
    return check_config(replace(TrainConfig(), **{**PRESETS[preset], **overrides}))


def assignment(text: str) -> tuple[str, object]:
    """The argparse type of --set: "field=value" -> (field, checked value)."""
    field, sep, value = text.partition("=")
    field = field.strip().replace("-", "_")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected field=value, got {text!r}")
    if field not in FIELD_TYPES:
        raise argparse.ArgumentTypeError(f"unknown field {field!r}; valid fields are "
                                         f"{', '.join(sorted(FIELD_TYPES))}")
    try:
        return field, FIELD_TYPES[field](value.strip())
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"{field}: {err}") from None


def config_from_dict(record: dict) -> TrainConfig:
    """Rebuild a TrainConfig from the plain dict a checkpoint stores (unknown keys refused)."""
    valid = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(record) - valid)
    if unknown:
        raise ValueError(f"the saved config has fields this version does not know: {unknown}")
    return TrainConfig(**record)


def differences(cfg: TrainConfig) -> dict[str, object]:
    """The fields where cfg differs from the defaults: a short name for a run."""
    base = asdict(TrainConfig())
    return {k: v for k, v in asdict(cfg).items() if base[k] != v}


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = make_config(args.preset, dict(args.overrides))
    except ValueError as err:
        parser.error(str(err))
    print(f"preset {args.preset}: {len(differences(make_config(args.preset)))} field(s) differ "
          f"from the defaults, {len(args.overrides)} overridden here")
    base = asdict(TrainConfig())
    for name, value in asdict(cfg).items():
        mark = "  <- changed" if value != base[name] else ""
        print(f"  {name:17s} {value!r}{mark}")
    tokens = cfg.micro_batch * cfg.grad_accum * cfg.context
    print(f"tokens per optimizer step: {cfg.micro_batch} x {cfg.grad_accum} x {cfg.context} "
          f"= {tokens:,}; over {cfg.steps:,} steps: {tokens * cfg.steps:,} tokens")


def add_preset_flags(parser: argparse.ArgumentParser) -> None:
    """Give a script the two flags that choose a TrainConfig: `--preset`, a named recipe, and
    any number of `--set FIELD=VALUE` overrides, checked as make_config checks them."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="shakespeare-char",
                        help="a named recipe")
    parser.add_argument("--set", dest="overrides", type=assignment, action="append",
                        default=[], metavar="FIELD=VALUE",
                        help="override any config field, e.g. --set lr=1e-3 (repeatable; "
                             "python phase-08-training/code/config.py lists them)")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Show a preset, with overrides, as the training script would run it.")
    add_preset_flags(parser)
    return parser


if __name__ == "__main__":
    main()
