"""The training loop of a real run, short enough to read top to bottom, and the pieces it calls.

Phase 07 trained a GPT in one short loop. A run of hours or days needs more, and each extra
need is one named function, so the loop (`train_loop`) still reads like the list of what a step
does. In the order the notes teach them:

- **Warmup, then cosine** (`lr_at`, notes/02). The learning rate climbs linearly for `warmup`
  steps (Goyal et al. 2017: large early steps from random weights are unstable), then follows
  half a cosine down to `min_lr_ratio` of its peak (Loshchilov & Hutter 2016). Step 0 uses
  peak/warmup, never 0: a step with lr 0 is a wasted step.
- **Gradient accumulation** (`accumulate_gradients`, notes/02). A step of 0.5M tokens does not
  fit in memory at once, so it is split into `grad_accum` micro-batches whose gradients add up
  in `.grad` before one optimizer step. Each micro-batch's loss is divided by `grad_accum`
  BEFORE backward, so the sum is the gradient of the mean loss over the whole step (a test
  checks 4 micro-steps of 2 == 1 step of 8 in float64).
- **Gradient clipping** (`clip_gradients`, notes/03; Pascanu, Mikolov & Bengio 2013): if the
  gradient's global norm exceeds `clip`, scale it down to `clip`, so one bad batch moves the
  weights a bounded distance. A loss or norm that is NaN or infinite stops the run before the
  update (`check_finite`), naming the last good checkpoint.
- **AdamW with decay groups** (`make_optimizer`, notes/02; Loshchilov & Hutter 2017): weight
  decay on the 2-D weight matrices and embeddings only, the fused kernel where there is one.
- **Mixed precision** (`precision`, notes/03; Micikevicius et al. 2017): under `torch.autocast`
  the matrix products run in bfloat16 while weights and optimizer stay float32. bfloat16 keeps
  float32's exponent range, so no loss scaling is needed; float16 is never used.
- **Evaluation and samples** (`evaluate`, `sample_text`): the validation loss on the same
  tokens every time, with no random numbers, so evaluating never changes the run.
- **Checkpoints and exact resume** (`checkpoint_state`, `restore`, notes/04): `last.pt` holds
  everything the run is (weights, optimizer moments, step, config, tokenizer, every random
  generator, the loader's position), so `--resume` continues bit for bit (a test checks it).
  How the folder is kept safe (no overwriting, one run at a time, durable checksummed writes,
  Ctrl-C and SIGTERM) is the separate module `runfolder.py`.
- **torch.compile** (optional): the training forward and backward run through the compiled
  module; evaluation, sampling and checkpoints use the plain one.

Around the loop: `setup` builds the run (data, model, device checks, resume) and `Progress`
reports it (progress line with tokens/s, MFU, ETA and memory; the JSONL log; the plot).
A new run may start from trained weights instead of random ones (`--init-from`, notes/10):
GPT-2 by name, a Hugging Face folder or a checkpoint of ours gives the model its shape
(`shape_from_source`) and its weights (`start_from`, with pretrained.py), and `eval_at_start`
measures where the run starts before its first step.

Run:  python phase-08-training/code/train.py --preset cpu-smoke
      python phase-08-training/code/train.py --preset shakespeare-char --device mps
      python phase-08-training/code/train.py --preset shakespeare-char --resume
      python phase-08-training/code/train.py --preset finetune-shakespeare   (from GPT-2)
"""

import argparse
import contextlib
import inspect
import json
import math
import os
import random
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch.nn.parallel import DistributedDataParallel

from phase00.corpus import write_atomically
from phase00.figures import save_figure, scratch_dir
from phase00.flags import (
    check_fits_in_memory,
    gib,
    machine_memory_bytes,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    script_parser,
)
from phase06.device import (
    DEVICE_CHOICES,
    autocast,
    autocast_dtype,
    describe_device,
    memory_report,
    pick_device,
    synchronize,
)
from phase07.model import GPT, GPTConfig, add_gpt_shape_flags
from phase07.train_char import lr_at, param_groups
from phase08 import hellaswag
from phase08.config import (
    DTYPES,
    PRESETS,
    SOURCES,
    TOKENIZERS,
    TrainConfig,
    add_preset_flags,
    check_config,
    config_from_dict,
    make_config,
)
from phase08.device_checks import choose_dtype, self_check, set_attention
from phase08.distributed import (
    World,
    any_rank,
    leave,
    mean_over_ranks,
    min_over_ranks,
    sum_over_ranks,
    world_from_environment,
)
from phase08.distributed import start as start_distributed
from phase08.distributed import stop as stop_distributed
from phase08.loader import BatchLoader, TokenShards, read_meta
from phase08.prepare_data import (
    META_FILE,
    TOKENS_DIR,
    Codec,
    dataset_folder,
    local_documents,
    make_codec,
    prepare_local,
)
from phase08.pretrained import Source, load_weights, open_source, source_name, source_weights
from phase08.runfolder import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    RunFolderError,
    RunLock,
    StopSignals,
    check_folder,
    check_resume,
    load_checkpoint,
    save_checkpoint,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNS_DIR = Path(os.environ.get("TFS_RUNS_DIR", REPO_ROOT / "runs"))  # git-ignored
# Fields a resumed run may change: they touch neither the weights nor the data order. The
# grouping of a step (micro_batch, grad_accum) may change only if the tokens per step stay the
# same (runfolder.check_resume refuses otherwise).
RESUME_SAFE = {"data", "device", "compile", "threads", "eval_every", "sample_every",
               "sample_tokens", "temperature", "top_k", "log_every", "checkpoint_every",
               "checkpoint_minutes", "micro_batch", "grad_accum", "eval_at_start"}
# The fields that shape the model: with init_from they come from the source (notes/10).
SHAPE_FIELDS = ("n_layer", "n_head", "n_embd", "context", "bias")


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite."""


# --- the data and the model (setup) --------------------------------------------------------------

def resolve_data(cfg: TrainConfig, data_root: Path = TOKENS_DIR, offline: bool = False,
                 verbose: bool = True) -> Path:
    """The prepared folder a run reads: cfg.data, or <source>-<tokenizer>, prepared if absent.

    Tiny Shakespeare that is neither cached nor downloadable falls back to the standard
    library's source (prepare_data says so), in a folder named after what it really holds.
    """
    if cfg.data:
        read_meta(Path(cfg.data))  # a clear error if it is not a prepared folder
        return Path(cfg.data)
    folder = dataset_folder(cfg.source, cfg.tokenizer, data_root)
    if (folder / META_FILE).is_file():
        return folder
    if verbose:
        print(f"   {folder} is not prepared yet: preparing it now (once)")
    docs, source, name = local_documents(cfg.source, None, offline)
    folder = dataset_folder(name, cfg.tokenizer, data_root)
    prepare_local(docs, cfg.tokenizer, folder, source, download=not offline, verbose=verbose)
    return folder


def training_memory(cfg: TrainConfig, vocab_size: int) -> float:
    """A rough lower bound, in bytes, of what one micro-step of this config holds at once in
    float32: weights, gradients and Adam's two moments (16 bytes a parameter); each layer's
    activations kept for backward (about 16 numbers per token and channel, plus, on the hand
    attention path, the T x T scores of each head, which the fused kernel never stores); and
    the logits with their softmax and gradient."""
    B, T, C, L, H, V = (cfg.micro_batch, cfg.context, cfg.n_embd, cfg.n_layer, cfg.n_head,
                        vocab_size)
    params = V * C + T * C + L * 12 * C * C
    scores = 2 * B * H * T * T if cfg.attention == "hand" else 0
    activations = L * (16 * B * T * C + scores) + 3 * B * T * V
    return 4.0 * (4 * params + activations)


def check_memory(cfg: TrainConfig, vocab_size: int, device: torch.device) -> None:
    """Refuse, before building anything, a config whose micro-step cannot fit in the device's
    memory (a GPU's own memory; on a CPU or a Mac's unified memory, the machine's)."""
    need = training_memory(cfg, vocab_size)
    what = (f"micro_batch {cfg.micro_batch} x context {cfg.context} with {cfg.n_layer} layers "
            f"of width {cfg.n_embd}")
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        if need > 0.9 * total:
            raise ValueError(f"{what} needs at least {gib(need)} and this GPU has "
                             f"{gib(total)}: lower micro_batch (raise grad_accum to keep the "
                             f"tokens per step) or context")
    elif machine_memory_bytes() is not None:
        check_fits_in_memory(need, what)


# The longest a single optimizer step may take on a CPU before a run is refused. A step is one
# stretch of C code that Ctrl-C cannot interrupt (Python handles the signal only between
# operations), so a config that needs an hour a step looks like a hang: --context 100000 by
# mistake, or GPT-2 small's 0.5M-token step on a laptop's CPU.
MAX_CPU_STEP_SECONDS = 600.0


def cpu_matmul_flops() -> float:
    """This CPU's speed at a float32 matrix product of 512 x 512 (the best of three, with the
    threads torch uses now), in FLOP per second: faster than any training step runs, since a
    step also does the softmax, layer norms and optimizer, which are slower per FLOP."""
    a = torch.randn(512, 512)
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * 512**3 / best


def check_step_time(cfg: TrainConfig, model: GPT, device: torch.device) -> None:
    """On a CPU, refuse a config whose every step would take more than MAX_CPU_STEP_SECONDS
    even at the speed of a plain matrix product (the estimate is a floor: the real step is
    slower). A GPU or a Mac's is not timed here: a step there is hundreds of times faster."""
    if device.type != "cpu":
        return
    flops = model.flops_per_token(cfg.context) * cfg.micro_batch * cfg.grad_accum * cfg.context
    speed = cpu_matmul_flops()
    seconds = flops / speed
    if seconds > MAX_CPU_STEP_SECONDS:
        raise ValueError(
            f"one step of micro_batch {cfg.micro_batch} x grad_accum {cfg.grad_accum} x "
            f"context {cfg.context} is {flops:.2g} FLOP: at least {seconds / 60:,.0f} minutes "
            f"on this CPU (it multiplies matrices at {speed / 1e9:,.0f} GFLOP/s), and "
            f"{cfg.steps:,} steps at least {seconds * cfg.steps / 3600:,.0f} hours. Lower "
            f"context, micro_batch or grad_accum, or train on a GPU or a Mac (--device)")


def build_model(cfg: TrainConfig, vocab_size: int) -> GPT:
    """The config's architecture (phase 07's GPT unless a later phase registered another) in
    the shape the config asks for."""
    arch = architecture(cfg.architecture)
    return arch.model({"vocab_size": vocab_size, "context": cfg.context, "n_layer": cfg.n_layer,
                       "n_head": cfg.n_head, "n_embd": cfg.n_embd, "dropout": cfg.dropout,
                       "bias": cfg.bias, "attention": cfg.attention, **arch.options})


def fused_adamw_supported(device: torch.device) -> bool:
    """Whether this PyTorch has a fused AdamW kernel for this device type."""
    if "fused" not in inspect.signature(torch.optim.AdamW).parameters:
        return False
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
        return device.type in _get_fused_kernels_supported_devices()
    except ImportError:  # older releases: CUDA only
        return device.type == "cuda"


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig,
                   device: torch.device) -> tuple[torch.optim.AdamW, str]:
    """AdamW over phase 07's two groups (decay on 2-D tensors only); fused where supported."""
    groups = param_groups(model, cfg.weight_decay)
    fused = fused_adamw_supported(device)
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                  **({"fused": True} if fused else {}))
    n_decay = sum(p.numel() for p in groups[0]["params"])
    n_plain = sum(p.numel() for p in groups[1]["params"])
    how = "fused" if fused else "not fused (no fused kernel for this device)"
    return optimizer, (f"AdamW ({how}), betas ({cfg.beta1}, {cfg.beta2}): decay "
                       f"{cfg.weight_decay} on {len(groups[0]['params'])} tensors "
                       f"({n_decay:,} weights), none on {len(groups[1]['params'])} "
                       f"({n_plain:,})")


@dataclass(frozen=True)
class Architecture:
    """A model a run can train. `model` builds it from a model_config dict (the shape fields of
    the config, plus `options`; a checkpoint stores that dict, so a resume rebuilds the same
    model), and `optimizer` gives its optimizer and a line describing it."""

    model: Callable[[dict], GPT]
    optimizer: Callable[[torch.nn.Module, TrainConfig, torch.device],
                        tuple[torch.optim.Optimizer, str]]
    options: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)  # config fields it needs at one value, e.g. bias


# The architectures this process knows, by the name in TrainConfig.architecture. Phase 08 trains
# GPT-2 only; phase 09's after_gpt2.py adds "modern" (the changes made since GPT-2, and Muon)
# when its train_modern.py runs this script, so that the whole pipeline (resume, evaluation,
# samples) serves it without phase 08 knowing the model.
ARCHITECTURES: dict[str, Architecture] = {
    "gpt2": Architecture(lambda config: GPT(GPTConfig(**config)), make_optimizer),
}


def architecture(name: str) -> Architecture:
    """The registered architecture called `name`, or a ValueError naming the ones known."""
    if name not in ARCHITECTURES:
        where = ("" if "modern" in ARCHITECTURES else  # already in train_modern.py: no hint
                 "; a later phase's script registers others: run it there (phase 09's "
                 "\"modern\": phase-09-comparison/code/train_modern.py trains it, "
                 "sample_modern.py beside it samples it)")
        raise ValueError(f"the architecture {name!r} is not known to this script (it knows "
                         f"{sorted(ARCHITECTURES)}){where}")
    return ARCHITECTURES[name]


def check_architecture(cfg: TrainConfig) -> None:
    """Refuse a config whose architecture is unknown, or that sets a field the architecture
    fixes (the modern recipe has no biases: bias=true would train something else)."""
    for key, value in architecture(cfg.architecture).fixed.items():
        if getattr(cfg, key) != value:
            setting = str(value).lower() if isinstance(value, bool) else value
            raise ValueError(f"the architecture {cfg.architecture!r} needs {key}={setting} (it "
                             f"is one of its changes), and this config has {key}="
                             f"{getattr(cfg, key)}: add --set {key}={setting}")


def precision(device: torch.device, requested: str) -> tuple[torch.dtype, str]:
    """The autocast dtype for this device and request, and one sentence saying why."""
    if requested == "float32":
        return torch.float32, "float32 everywhere (asked with dtype=float32)"
    supported = autocast_dtype(device, cpu_bf16=requested == "bfloat16")
    if requested == "bfloat16" and supported != torch.bfloat16:
        return torch.float32, (f"float32: bfloat16 is not supported on {device.type} here, "
                               f"so training falls back to float32")
    if supported == torch.bfloat16:
        return torch.bfloat16, (f"bfloat16 autocast on {device.type}: matrix products in "
                                f"bfloat16, weights and optimizer in float32")
    return torch.float32, (f"float32 (autocast off: {device.type} gains nothing from bfloat16 "
                           f"here; try --dtype bfloat16 to measure)")


def check_device(model: GPT, cfg: TrainConfig, device: torch.device, dtype: torch.dtype,
                 dtype_note: str, say: Callable[[str], None], world: World | None = None
                 ) -> tuple[TrainConfig, torch.dtype, str]:
    """Before a new run: measure the precision (dtype=auto on MPS) and check the device's
    arithmetic (self_check: auto = on MPS), falling back where it is wrong (device_checks.py).

    Returns the config as it will really run: the chosen dtype, attention path and micro-batch
    are written into it, so the checkpoint records them and a resumed run keeps them.
    """
    if device.type == "mps" and cfg.dtype == "auto" and dtype == torch.bfloat16:
        say("   precision: dtype=auto on MPS, so measure instead of assuming")
        dtype = choose_dtype(model, device, cfg.micro_batch, say)  # at the size it will train
        dtype_note = f"{str(dtype).removeprefix('torch.')} (measured faster on this Mac, above)"
        cfg = replace(cfg, dtype=str(dtype).removeprefix("torch."))
    if cfg.self_check == "off" or (cfg.self_check == "auto" and device.type != "mps"):
        return cfg, dtype, dtype_note
    path, micro_batch, _ = self_check(model, device, dtype, cfg.micro_batch, say)
    world = world or World()
    # several processes must train alike: the smallest micro-batch, the hand path if any needs it
    micro_batch = min_over_ranks(micro_batch, world, device)
    if any_rank(path == "hand", world, device):
        path = "hand"
        set_attention(model, "hand")
    grad_accum = cfg.grad_accum
    if micro_batch != cfg.micro_batch:
        before = cfg.micro_batch * cfg.grad_accum
        # the largest micro-batch that fits and divides the step: the step keeps its sequences
        micro_batch = max(m for m in range(1, micro_batch + 1) if before % m == 0)
        grad_accum = before // micro_batch
        after = micro_batch * grad_accum
        say(f"   micro-batch {cfg.micro_batch} -> {micro_batch}, gradient accumulation "
            f"{cfg.grad_accum} -> {grad_accum}: {after} sequences per step"
            + ("" if after == before else f" instead of {before}"))
    return replace(cfg, attention=path, micro_batch=micro_batch, grad_accum=grad_accum), \
        dtype, dtype_note



def load_hellaswag(cfg: TrainConfig, offline: bool, codec: Codec) -> list[hellaswag.Rendered]:
    """HellaSwag's validation examples for scoring during training (downloaded once), encoded
    once, before the first step."""
    path = hellaswag.hellaswag_file("val", hellaswag.HELLASWAG_DIR, download=not offline)
    return hellaswag.render_all(hellaswag.read_examples(path, cfg.hellaswag_limit), codec,
                                cfg.context)


# --- the pieces of one step (notes/02 and notes/03) ----------------------------------------------

def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group this step's learning rate (from the schedule, lr_at). A
    group may carry an "lr_scale" (phase 09's Muon runs at a multiple of AdamW's rate)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def accumulate_gradients(model: torch.nn.Module, loader: BatchLoader, n_micro: int,
                         device: torch.device, dtype: torch.dtype = torch.float32,
                         no_sync: Callable[[], contextlib.AbstractContextManager] | None = None
                         ) -> torch.Tensor:
    """Run n_micro micro-batches forward and backward, adding their gradients in .grad.

    Each loss is divided by n_micro before backward: the gradients then add up to the gradient
    of the mean loss of the whole step. Returns that mean loss (a detached scalar tensor).
    no_sync (several processes, part 2): a context that skips the gradient all-reduce, entered
    for every micro-batch but the last, before its forward pass.
    """
    total = None
    for micro in range(n_micro):
        x, y = loader.next_batch()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        last = micro == n_micro - 1
        with (no_sync() if no_sync is not None and not last else contextlib.nullcontext()):
            with autocast(device, dtype):
                _, loss = model(x, y)
            loss = loss / n_micro  # BEFORE backward: the sum of the parts is the mean
            loss.backward()
        total = loss.detach() if total is None else total + loss.detach()
    return total


def clip_gradients(model: torch.nn.Module, clip: float) -> torch.Tensor:
    """Scale the gradient down to global norm `clip` if it is longer; return the norm before.
    clip = 0 only measures it (a limit of infinity multiplies every gradient by exactly 1)."""
    return torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else math.inf)


def check_finite(loss: torch.Tensor, norm: torch.Tensor, step: int, lr: float,
                 run: "Run") -> tuple[float, float]:
    """The step's loss and gradient norm as numbers, or TrainingDiverged if either is NaN or
    infinite: the update is never taken with them, so the weights stay as they were."""
    loss_value, norm_value = torch.stack([loss.float(), norm.float()]).tolist()
    if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
        raise TrainingDiverged(divergence_message(step, loss_value, norm_value, lr, run))
    return loss_value, norm_value


def divergence_message(step: int, loss: float, norm: float, lr: float, run: "Run") -> str:
    cfg, (last_good, last_step) = run.cfg, run.last_saved
    where = (f"the last good checkpoint is {last_good} (step {last_step}); resume from it with "
             f"--resume {last_good} once the cause is fixed" if last_good is not None
             else "no checkpoint was saved before it")
    precision_hint = (f"too little precision ({str(run.dtype).removeprefix('torch.')}: try "
                      f"--dtype float32)" if run.dtype != torch.float32 else
                      "damaged weights (the run is already in float32: restart from a "
                      "checkpoint that loads without a checksum error)")
    return (f"the loss became {loss} at step {step} (gradient norm {norm}, lr {lr:.3g}); the "
            f"weights were not updated with it. {where}. Usual causes: a learning rate too high "
            f"(lr={cfg.lr}: try a third of it, or a longer warmup than {cfg.warmup}); "
            f"{precision_hint}; a bad batch (token ids beyond the vocabulary, a damaged shard: "
            f"prepare the data again); no clipping (clip={cfg.clip}).")


@torch.no_grad()
def evaluate(model: GPT, shards: TokenShards, cfg: TrainConfig, device: torch.device,
             dtype: torch.dtype = torch.float32, rank: int = 0, world: int = 1) -> float:
    """Mean loss over the first eval_batches steps' worth of a split (eval_batches * grad_accum
    micro-batches, read in order): the same tokens at every evaluation, whatever the grouping.

    Uses no random numbers at all, so evaluating never changes the course of training.
    """
    was_training = model.training
    model.eval()
    loader = BatchLoader(shards, cfg.micro_batch, cfg.context, rank, world)
    n = max(1, min(cfg.eval_batches * cfg.grad_accum, len(shards) // loader.tokens_per_step))
    losses = []
    for _ in range(n):
        x, y = loader.next_batch()
        with autocast(device, dtype):
            losses.append(model(x.to(device), y.to(device))[1].float())
    model.train(was_training)
    return torch.stack(losses).mean().item()


@torch.no_grad()
def sample_text(model: GPT, codec: Codec, n_tokens: int, device: torch.device, seed: int,
                temperature: float = 0.8, top_k: int | None = None, top_p: float | None = None,
                prompt: str = "") -> str:
    """Text from the model, with its own random generator (the training stream is untouched).

    An empty prompt starts from `<|endoftext|>` (gpt2) or a newline (characters).
    """
    if prompt:
        ids = codec.encode(prompt)
    elif codec.eot is not None:
        ids = [codec.eot]
    else:
        ids = codec.encode("\n") if "\n" in codec.spec.get("chars", []) else [0]
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    out = model.generate(idx, n_tokens, temperature=temperature, top_k=top_k or None,
                         top_p=top_p, generator=generator)
    text = codec.decode(out[0, len(ids):].tolist())
    return (prompt + text) if prompt else text


def score_hellaswag(model: GPT, codec: Codec, examples: list[hellaswag.Rendered],
                    device: torch.device,
                    dtype: torch.dtype, world: World) -> tuple[float, float, int]:
    """(acc, acc_norm, examples scored): each rank scores its share, the counts are added."""
    counts = hellaswag.evaluate(model, codec, examples, device, dtype, world.rank, world.size)
    counts = sum_over_ranks(counts, world, device)
    acc, acc_norm = hellaswag.accuracy(counts)
    return acc, acc_norm, counts["n"]


# --- the run: what setup builds and the loop uses ------------------------------------------------

@dataclass
class Run:
    """Everything a run is while it trains: the parts setup() built, and where it stands."""

    cfg: TrainConfig
    world: World
    device: torch.device
    dtype: torch.dtype
    model: GPT  # the plain module: evaluation, sampling, checkpoints
    train_model: torch.nn.Module  # what trains: the same weights, maybe compiled or under DDP
    no_sync: Callable[[], contextlib.AbstractContextManager] | None
    optimizer: torch.optim.Optimizer
    loader: BatchLoader
    val_shards: TokenShards
    codec: Codec
    data: Path
    run_dir: Path
    say: Callable[[str], None]
    hellaswag_examples: list[hellaswag.Rendered]
    start_step: int = 0
    best_val: float = math.inf
    last_val: float | None = None
    last_saved: tuple[Path | None, int] = (None, 0)  # the newest last.pt and its step
    saved_at: float = 0.0  # time.monotonic() of the newest save of last.pt

    @property
    def tokens_per_step(self) -> int:
        return self.loader.tokens_per_step * self.cfg.grad_accum


def is_due(done: int, every: int, steps: int) -> bool:
    """Every `every` steps (0 = never), and at the last step."""
    return bool(every) and (done % every == 0 or done == steps)


# --- the loop (notes/00 walks through it line by line) -------------------------------------------

def train_loop(run: Run, progress: "Progress",
               on_step: Callable[[int, float], None] | None = None) -> dict:
    """Steps start_step+1 .. cfg.steps of the run; stop early, saved, on Ctrl-C or SIGTERM."""
    cfg, completed, step = run.cfg, run.start_step, run.start_step
    stop = StopSignals(run.say)
    try:
        with stop:
            for step in range(run.start_step, cfg.steps):
                lr = lr_at(step, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_ratio)
                set_lr(run.optimizer, lr)
                loss = accumulate_gradients(run.train_model, run.loader, cfg.grad_accum,
                                            run.device, run.dtype, run.no_sync)
                loss = mean_over_ranks(loss, run.world)  # each rank saw its own slice
                norm = clip_gradients(run.model, cfg.clip)
                loss, norm = check_finite(loss, norm, step + 1, lr, run)
                run.optimizer.step()
                run.optimizer.zero_grad(set_to_none=True)
                completed = done = step + 1
                progress.step(done, loss, lr, norm)

                with progress.paused():  # evaluating and saving are not training time
                    if is_due(done, cfg.eval_every, cfg.steps):
                        if evaluate_and_report(run, progress, done):
                            save(run, "best.pt", done)
                    if last_checkpoint_due(run, done):
                        save(run, "last.pt", done)
                    if is_due(done, cfg.hellaswag_every, cfg.steps):
                        hellaswag_and_report(run, progress, done)
                    if is_due(done, cfg.sample_every, cfg.steps) and done < cfg.steps:
                        sample_and_report(run, progress, done)
                if on_step is not None:
                    on_step(done, loss)
                if any_rank(stop.requested, run.world, run.device):  # all ranks stop together
                    return finish(run, progress, done, interrupted=True)
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
        if completed == step + 1 and not stop.requested:  # a first one, between steps: save
            return finish(run, progress, completed, interrupted=True)
        kept = (f"{run.last_saved[0]} (step {run.last_saved[1]})" if run.last_saved[0]
                else "none was saved yet")
        run.say(f"\n   Interrupted at once after step {completed}: nothing more is saved; the "
                f"last checkpoint is {kept}.")
        return progress.close(run, completed, interrupted=True, partial=True)
    return finish(run, progress, cfg.steps, interrupted=False)


def last_checkpoint_due(run: Run, done: int) -> bool:
    """When to save last.pt: every checkpoint_every steps (0 = at every evaluation), and at
    least every checkpoint_minutes of wall time, whatever a step costs (all ranks agree)."""
    cfg = run.cfg
    by_steps = (done % cfg.checkpoint_every == 0 if cfg.checkpoint_every
                else is_due(done, cfg.eval_every, cfg.steps))
    by_time = (cfg.checkpoint_minutes > 0
               and time.monotonic() - run.saved_at >= 60 * cfg.checkpoint_minutes)
    return by_steps or any_rank(by_time, run.world, run.device)


def save(run: Run, name: str, step: int) -> None:
    """Save the run's whole state as <run_dir>/name (rank 0 writes; every rank keeps count)."""
    path = run.run_dir / name
    failure = None
    if run.world.is_main:
        previous = f"step {run.last_saved[1]}" if name == "last.pt" and run.last_saved[0] else ""
        try:
            save_checkpoint(path, checkpoint_state(run, step), previous)
        except OSError as err:  # a full disk: every rank stops, none waits for rank 0
            failure = err
    if any_rank(failure is not None, run.world, run.device):
        raise failure or OSError(f"rank 0 could not save {path}: see its message")
    if name == "last.pt":
        run.last_saved, run.saved_at = (path, step), time.monotonic()


def finish(run: Run, progress: "Progress", done: int, interrupted: bool) -> dict:
    """After the last step, or a stop between steps: save last.pt, then the sample and plot."""
    if done > run.last_saved[1] or run.last_saved[0] != run.run_dir / "last.pt":
        save(run, "last.pt", done)
    if interrupted:
        run.say(f"\n   Stopped at step {done}: saved {run.run_dir / 'last.pt'}. Continue the "
                f"same run with --resume (and the same --run-dir).")
    return progress.close(run, done, interrupted)


# --- checkpoints: the state of a run, and back (notes/04) ----------------------------------------

def rng_state() -> dict:
    """Every random generator's state, as tensors and plain types (weights_only can read it)."""
    # NumPy's and Python's global generators: this loop draws nothing from them, but code you
    # add might, and an exact resume must not depend on remembering that.
    np_kind, np_keys, np_pos, np_gauss, np_cached = np.random.get_state(legacy=True)  # noqa: NPY002
    py_version, py_state, py_gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": [np_kind, np_keys.tolist(), int(np_pos), int(np_gauss), float(np_cached)],
             "python": [py_version, list(py_state), py_gauss]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, gauss, cached))  # noqa: NPY002
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def checkpoint_state(run: Run, step: int) -> dict:
    """Everything needed to continue the run exactly, as tensors and plain types."""
    return {"format": CHECKPOINT_FORMAT, "version": 2, "step": step,
            "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
            "config": asdict(run.cfg), "model_config": asdict(run.model.config),
            "tokenizer": run.codec.spec, "rng": rng_state(), "loader": run.loader.state_dict(),
            "data": str(run.data), "val_loss": run.last_val,
            "best_val_loss": None if math.isinf(run.best_val) else run.best_val,
            "tokens_seen": step * run.tokens_per_step, "tokens_per_step": run.tokens_per_step,
            "world_size": run.world.size, "device_type": run.device.type}


def restore(run: Run, checkpoint: dict, path: Path) -> None:
    """Put a checkpoint's state back into a freshly built run: weights, moments, data position,
    random generators (rank 0's: the only ones saved), step and losses."""
    run.model.load_state_dict(checkpoint["model"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    run.loader.load_state_dict(checkpoint["loader"])
    set_rng_state(checkpoint["rng"])
    run.start_step = int(checkpoint["step"])
    if run.world.distributed and run.world.rank:  # other ranks: their own dropout masks again
        torch.manual_seed(run.cfg.seed + run.world.rank + run.world.size * run.start_step)
    run.best_val = checkpoint.get("best_val_loss") or math.inf
    run.last_val = checkpoint.get("val_loss")
    run.last_saved = (Path(path), run.start_step)


# --- reporting: what the learner sees, and the log -----------------------------------------------

class Progress:
    """The run as the learner watches it: every step into the JSONL log, and every log_every
    steps a progress line (loss, lr, gradient norm, tokens/s, MFU, ms per step, ETA, memory).

    Time spent evaluating, saving and sampling is left out of tokens/s and the ETA (paused()).
    """

    def __init__(self, run: Run, log: "RunLog | NoLog", peak_flops: float | None,
                 out: Path | None) -> None:
        self.log, self.peak_flops, self.out, self.say = log, peak_flops, out, run.say
        self.start_step, self.steps, self.device = run.start_step, run.cfg.steps, run.device
        self.log_every, self.world_size = run.cfg.log_every, run.world.size
        self.tokens_per_step = run.tokens_per_step
        self.flops_per_token = run.model.flops_per_token(run.cfg.context)
        self.losses: list[float] = []
        self.t_start = self.t_last = time.perf_counter()
        self.steps_timed, self.seconds_timed, self.tokens_per_s = 0, 0.0, 0.0

    def step(self, done: int, loss: float, lr: float, norm: float) -> None:
        self.losses.append(loss)
        self.log.write(kind="step", step=done, loss=loss, lr=lr, grad_norm=norm,
                       tokens=done * self.tokens_per_step)
        if done % self.log_every and done != self.steps:
            return
        synchronize(self.device)  # a GPU's clock is honest only once its queue is done
        now = time.perf_counter()
        n = done - self.start_step - self.steps_timed
        self.seconds_timed += now - self.t_last
        self.steps_timed += n
        self.tokens_per_s = n * self.tokens_per_step / (now - self.t_last)
        ms_per_step = 1e3 * (now - self.t_last) / n
        self.t_last = now
        eta = (self.steps - done) * self.seconds_timed / self.steps_timed
        mfu = (f"MFU {self.flops_per_token * self.tokens_per_s / self.world_size / self.peak_flops:6.2%} | "  # noqa: E501
               if self.peak_flops else "")
        memory = ", ".join(f"{key} {value / 2**20:,.0f} MiB"
                           for key, value in memory_report(self.device).items())
        self.say(f"   step {done:>6}/{self.steps} | loss {loss:.4f} | lr {lr:.2e} | norm "
                 f"{norm:5.2f} | {self.tokens_per_s:>8,.0f} tok/s | {mfu}{ms_per_step:5.0f} "
                 f"ms/step | ETA {format_seconds(eta)} | {memory}")

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        pause = time.perf_counter()
        try:
            yield
        finally:
            self.t_last += time.perf_counter() - pause

    def close(self, run: Run, done: int, interrupted: bool, partial: bool = False) -> dict:
        """Close the log; unless stopped at once, report the result; unless stopped at all, a
        sample and the plot (a stopped run's plot would replace a finished one's). Returns the
        run's summary."""
        self.log.close()
        if not partial:
            best = run.best_val
            self.say(f"   {done - self.start_step} steps in "
                     f"{time.perf_counter() - self.t_start:.1f} s; validation loss "
                     f"{'None' if run.last_val is None else f'{run.last_val:.4f}'}, best "
                     f"{best:.4f}")
            cfg = run.cfg
            if not interrupted and cfg.sample_tokens and run.world.is_main:
                text = sample_text(run.model, run.codec, cfg.sample_tokens, run.device,
                                   cfg.seed, cfg.temperature, cfg.top_k)
                self.say(f"\n4. A sample ({cfg.sample_tokens} tokens, temperature "
                         f"{cfg.temperature}):\n{text}")
            if self.out is not None and run.world.is_main and not interrupted:
                source = run.val_shards.meta.get("source", run.data.name).split(" (")[0]
                plot_log(read_log(run.run_dir / "log.jsonl"), f"{run.run_dir.name}: "
                         f"{run.model.n_params():,} parameters, {source}", self.out,
                         f"{run.run_dir.name}_loss.png")
        return {"config": run.cfg, "losses": self.losses, "start_step": self.start_step,
                "step": self.start_step + len(self.losses), "val_loss": run.last_val,
                "best_val_loss": None if math.isinf(run.best_val) else run.best_val,
                "last_checkpoint": run.last_saved[0], "interrupted": interrupted,
                "run_dir": run.run_dir, "tokens_per_s": self.tokens_per_s}


def evaluate_and_report(run: Run, progress: Progress, done: int) -> bool:
    """The validation loss (averaged over ranks), logged and shown; True if it is the best."""
    loss = evaluate(run.model, run.val_shards, run.cfg, run.device, run.dtype, run.world.rank,
                    run.world.size)
    run.last_val = mean_over_ranks(torch.tensor(loss, device=run.device),
                                   run.world).item()  # on the device: NCCL needs it there
    improved = run.last_val < run.best_val
    run.best_val = min(run.best_val, run.last_val)
    progress.log.write(kind="eval", step=done, val_loss=run.last_val,
                       tokens=done * run.tokens_per_step)
    run.say(f"   step {done:>6}: validation loss {run.last_val:.4f}"
            f"{' (best so far: best.pt)' if improved else ''}")
    return improved


def evaluate_at_start(run: Run, progress: Progress) -> None:
    """Before the first step: the validation loss (and HellaSwag, if the run scores it) of the
    weights the run starts from, logged as step 0. For a run from trained weights this is the
    number every later one is measured against; best.pt starts as these weights."""
    with progress.paused():
        if evaluate_and_report(run, progress, 0):
            save(run, "best.pt", 0)
        if run.cfg.hellaswag_every:
            hellaswag_and_report(run, progress, 0)


def hellaswag_and_report(run: Run, progress: Progress, done: int) -> None:
    acc, acc_norm, n = score_hellaswag(run.model, run.codec, run.hellaswag_examples, run.device,
                                       run.dtype, run.world)
    progress.log.write(kind="hellaswag", step=done, acc=acc, acc_norm=acc_norm, n=n)
    run.say(f"   step {done:>6}: HellaSwag acc_norm {acc_norm:.4f} (acc {acc:.4f}, {n:,} "
            f"examples; chance 0.25)")


def sample_and_report(run: Run, progress: Progress, done: int) -> None:
    if not run.world.is_main:
        return
    cfg = run.cfg
    text = sample_text(run.model, run.codec, cfg.sample_tokens, run.device, cfg.seed + done,
                       cfg.temperature, cfg.top_k)
    progress.log.write(kind="sample", step=done, text=text)
    run.say(f"   sample at step {done}: {text[:300]!r}")


class RunLog:
    """A JSONL file, one JSON object per line: every step, evaluation and sample of the run.

    Resuming at step s first drops the records after s (the interrupted run's last steps,
    which the resumed run is about to redo), so the log reads as one uninterrupted run.
    """

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if resume_step is not None and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    record = json.loads(line)
                    if record.get("step", 0) <= resume_step:
                        kept.append(line)
        write_atomically(self.path, "".join(line + "\n" for line in kept).encode("utf-8"))
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, **record: object) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class NoLog:
    """The log of ranks other than 0: they write nothing (rank 0 writes for the run)."""

    def write(self, **record: object) -> None:
        pass

    def close(self) -> None:
        pass


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def plot_log(records: list[dict], title: str, out_dir: Path | None, name: str) -> Figure:
    """Training loss (every step, and a running mean) and validation loss against tokens."""
    steps = [r for r in records if r.get("kind") == "step"]
    evals = [r for r in records if r.get("kind") == "eval"]
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    if steps:
        x = [r["tokens"] for r in steps]
        y = np.array([r["loss"] for r in steps])
        ax.plot(x, y, color="tab:blue", alpha=0.25, lw=0.8, label="train (each step)")
        k = max(1, len(y) // 50)
        smooth = np.convolve(y, np.ones(k) / k, mode="valid")
        ax.plot(x[k - 1:], smooth, color="tab:blue", label=f"train (mean of {k} steps)")
    if evals:
        ax.plot([r["tokens"] for r in evals], [r["val_loss"] for r in evals], "o-",
                color="tab:red", ms=4, label="validation")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out_dir, name)
    return fig


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


# --- setup: data, model, device checks, resume ---------------------------------------------------

def on_main_first(work: Callable[[], object], world: World, device: torch.device) -> object:
    """Do `work` on rank 0 first (a download, a preparation), then on the other ranks, which
    then find it done. An error on rank 0 stops every rank instead of leaving them waiting."""
    result, failed = None, False
    if world.is_main:
        try:
            result = work()
        except Exception:
            failed = True
            any_rank(True, world, device)
            raise
    if any_rank(failed, world, device):
        raise RuntimeError("rank 0 failed to prepare what the run needs: see its message")
    return result if world.is_main else work()


def claim_folder(run_dir: Path, resume: Path | None, overwrite: bool, world: World,
                 device: torch.device) -> contextlib.AbstractContextManager:
    """Refuse a folder this run may not use (runfolder.py's rules) and lock it for this run.

    Every rank checks; rank 0 takes the lock and clears an old run if asked to overwrite. All
    ranks agree before going on, so a refusal stops them all."""
    lock, problem = RunLock(run_dir), None
    try:
        old_files = check_folder(run_dir, resume, overwrite)
        if world.is_main:
            lock.acquire()
            for path in old_files:
                path.unlink()
    except (RunFolderError, OSError) as err:  # OSError: a folder this user may not write
        problem = err
    if any_rank(problem is not None, world, device):
        lock.release()
        raise problem or RunFolderError(f"rank 0 may not use {run_dir}: see its message")
    return lock if world.is_main else contextlib.nullcontext()  # held until the run ends


def resumed_config(checkpoint: dict, overrides: dict[str, object] | None) -> TrainConfig:
    """The saved run's config, with only the RESUME_SAFE fields changed. Repeating a value the
    run already has is fine (the same command as before plus --resume); changing it is not."""
    saved = config_from_dict(checkpoint["config"])
    changed = {k: v for k, v in (overrides or {}).items() if getattr(saved, k, None) != v}
    unsafe = sorted(set(changed) - RESUME_SAFE)
    if unsafe:
        was = ", ".join(f"{k}={getattr(saved, k, None)!r}" for k in unsafe)
        raise ValueError(f"--resume continues the saved run with its own config, and these "
                         f"fields would change it: {unsafe} (saved: {was}). A resumed run may "
                         f"change only {sorted(RESUME_SAFE)}")
    return replace(saved, **changed)


def shape_from_source(cfg: TrainConfig, source: Source, given: Collection[str] = ()
                      ) -> TrainConfig:
    """The config with the source's shape: its layers, heads, width and biases, and its
    context unless a shorter one is asked for (the position table is cropped). `given` names
    the shape fields the learner set (flags, --set, or a preset that starts from a source);
    one that disagrees with the source is refused, naming each, rather than silently changed.
    """
    theirs = {"n_layer": source.config.n_layer, "n_head": source.config.n_head,
              "n_embd": source.config.n_embd, "bias": source.config.bias,
              "context": min(cfg.context, source.config.context) if "context" in given
              else source.config.context}
    said = {k: f"--{k.replace('_', '-')} {getattr(cfg, k)}" for k in SHAPE_FIELDS}
    said["bias"] = f"--set bias={cfg.bias}"  # the one shape field without a flag of its own
    wrong = [f"{said[k]} ({source.name} has {theirs[k]})" for k in SHAPE_FIELDS
             if k in given and k != "context" and getattr(cfg, k) != theirs[k]]
    if "context" in given and cfg.context > source.config.context:
        wrong.append(f"--context {cfg.context} (longer than the {source.config.context} rows "
                     f"of {source.name}'s position table: give {source.config.context} or less)")
    if wrong:
        raise ValueError(f"--init-from {source.name} brings its own shape, and "
                         f"{'; '.join(wrong)} disagree with it: the source sets the shape, and "
                         f"a context may only be cropped")
    return replace(cfg, **theirs)


def start_from(model: GPT, source: Source, codec: Codec, offline: bool,
               say: Callable[[str], None]) -> None:
    """Copy a source's weights into a freshly built model of its shape, once its tokenizer is
    known to be the data's: a token id must mean the same piece of text to both."""
    theirs, ours = source.tokenizer, codec.spec
    same = theirs.get("name") == ours["name"] and (
        ours["name"] != "char" or list(theirs.get("chars") or []) == list(ours["chars"]))
    if not same or source.config.vocab_size != codec.vocab_size:
        raise ValueError(f"--init-from {source.name} reads {source.config.vocab_size:,} "
                         f"{theirs.get('name')} tokens, the data {codec.vocab_size:,} "
                         f"{ours['name']} tokens{'' if same else ' of another alphabet'}: a "
                         f"model can only go on reading text cut into its own tokens (prepare "
                         f"the data with --tokenizer {theirs.get('name')})")
    load_weights(model, source_weights(source, offline))
    cropped = (f", its position table cropped from {source.config.context} to "
               f"{model.config.context} rows" if model.config.context < source.config.context
               else "")
    say(f"   starting from {source.describe()}{cropped}")


def setup(cfg: TrainConfig, checkpoint: dict | None, resume: Path | None, run_dir: Path,
          device: torch.device, data_root: Path, offline: bool, verbose: bool,
          world: World, source: Source | None = None) -> Run:
    """Build the run: data, model, device checks, optimizer, loader, and a resumed state.
    With a source (a new run with init_from), the model starts from its weights."""
    say = print if verbose and world.is_main else (lambda *a, **k: None)
    dtype, dtype_note = precision(device, cfg.dtype)
    if device.type == "cuda":  # TensorFloat-32 for the float32 products autocast leaves
        torch.set_float32_matmul_precision("high")
    if cfg.hellaswag_every and cfg.tokenizer != "gpt2":
        raise ValueError(f"HellaSwag is English text: it needs tokenizer=gpt2, not "
                         f"{cfg.tokenizer!r} (set hellaswag_every=0)")

    say(f"1. Data ({'resuming ' + str(resume) if resume else 'a new run'})")
    folder = on_main_first(lambda: resolve_data(cfg, data_root, offline, verbose), world, device)
    # shards are checked by size always, by hash on a folder's first use (loader.py): rank 0
    # does that once, the others then find it recorded
    train_shards, val_shards = on_main_first(
        lambda: (TokenShards(folder, "train"), TokenShards(folder, "val")), world, device)
    codec = make_codec(train_shards.tokenizer, download=not offline)
    say(f"   {folder}: {train_shards.meta['source']}")
    say(f"   {codec.name} tokens ({codec.vocab_size:,} ids): train {len(train_shards):,}, "
        f"val {len(val_shards):,}")
    check_memory(cfg, codec.vocab_size, device)
    for split, shards in (("train", train_shards), ("validation", val_shards)):
        if len(shards) < cfg.context + 1:
            raise ValueError(f"the {split} split holds {len(shards):,} tokens, fewer than one "
                             f"sequence of context {cfg.context} + 1: lower --context or give "
                             f"more text")

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)  # noqa: NPY002 (the global generator, see rng_state)
    random.seed(cfg.seed)
    model = build_model(cfg, codec.vocab_size).to(device)
    check_step_time(cfg, model, device)
    if source is not None:  # trained weights in place of the random ones just drawn
        start_from(model, source, codec, offline, say)
    if world.distributed:  # the same weights everywhere (DDP also broadcasts rank 0's), but
        torch.manual_seed(cfg.seed + world.rank)  # each rank its own dropout masks
    say(f"\n2. Model and optimizer on {describe_device(device)}"
        + (f", {world.size} processes" if world.distributed else ""))
    tokens_per_step = cfg.micro_batch * cfg.grad_accum * cfg.context * world.size
    if checkpoint is not None:
        check_resume(checkpoint, world.size, tokens_per_step, cfg.micro_batch, cfg.context)
    moved = checkpoint is not None and checkpoint.get("device_type", device.type) != device.type
    if moved:
        say(f"   this run was trained on {checkpoint['device_type']}; check {device.type} too")
    if checkpoint is None or moved:
        cfg, dtype, dtype_note = check_device(model, cfg, device, dtype, dtype_note, say, world)
    optimizer, optimizer_note = architecture(cfg.architecture).optimizer(model, cfg, device)
    loader = BatchLoader(train_shards, cfg.micro_batch, cfg.context, world.rank, world.size,
                         shuffle=cfg.shuffle, seed=cfg.seed)
    run = Run(cfg, world, device, dtype, model, model, None, optimizer, loader, val_shards,
              codec, Path(folder), run_dir, say, [])
    if checkpoint is not None:
        restore(run, checkpoint, resume)
    if cfg.compile:
        run.train_model = torch.compile(model)
    if world.distributed:  # DDP starts by giving every rank rank 0's weights
        run.train_model = DistributedDataParallel(
            run.train_model, device_ids=[device.index] if device.type == "cuda" else None)
        run.no_sync = run.train_model.no_sync
    if cfg.hellaswag_every:
        run.hellaswag_examples = on_main_first(lambda: load_hellaswag(cfg, offline, codec),
                                               world, device)
    describe_run(run, optimizer_note, dtype_note, len(train_shards))
    return run


def describe_run(run: Run, optimizer_note: str, dtype_note: str, n_train: int) -> None:
    """Print what is about to train: size, FLOPs, optimizer, precision, the step's tokens."""
    cfg, say, T = run.cfg, run.say, run.cfg.context
    say(f"   GPT {cfg.n_layer} layers x {cfg.n_head} heads x {cfg.n_embd}, context {T}: "
        f"{run.model.n_params():,} parameters, {run.model.flops_per_token(T) / 1e6:,.1f} MFLOP "
        f"per token")
    say(f"   {optimizer_note}")
    say(f"   precision: {dtype_note}")
    say("   compile: " + ("on (evaluation and sampling use the plain module)" if cfg.compile
                          else "off"))
    ranks = f" x {run.world.size} processes" if run.world.distributed else ""
    tokens = run.tokens_per_step
    say(f"   step = {cfg.micro_batch} sequences x {cfg.grad_accum} micro-steps{ranks} x {T} "
        f"tokens = {tokens:,} tokens; {cfg.steps:,} steps = {tokens * cfg.steps:,} tokens "
        f"({tokens * cfg.steps / n_train:.1f} passes over train)")
    say(f"   lr {cfg.lr:g}: warmup {cfg.warmup} steps, cosine to {cfg.min_lr_ratio:g} x peak; "
        f"clip {cfg.clip:g}; run folder {run.run_dir}")


# --- a whole run ---------------------------------------------------------------------------------

def train(cfg: TrainConfig | None, run_dir: Path, data_root: Path = TOKENS_DIR,
          out: Path | None = None, resume: Path | None = None,
          resume_overrides: dict[str, object] | None = None, peak_flops: float | None = None,
          offline: bool = False, on_step: Callable[[int, float], None] | None = None,
          verbose: bool = True, world: World | None = None, overwrite: bool = False,
          shape_given: Collection[str] = ()) -> dict:
    """Train a new run (cfg) or resume one (resume = a checkpoint); return a summary.

    A new run needs an empty or new run_dir (or overwrite=True); a resumed run takes its config
    from the checkpoint, and resume_overrides may change only the RESUME_SAFE fields. on_step
    (step, loss) is called after each completed step (the tests use it to interrupt a run).
    A new run with cfg.init_from starts from that source's weights and shape (shape_given: the
    shape fields the learner set, checked against the source's).

    world: this process's place among several (DDP, started by torchrun; see distributed.py).
    Every rank runs this function; only rank 0 prints, logs, samples and saves.
    """
    world = world or World()
    run_dir = Path(run_dir)
    checkpoint = load_checkpoint(resume) if resume is not None else None
    if checkpoint is not None:
        cfg = resumed_config(checkpoint, resume_overrides)
    if cfg is None:
        raise ValueError("give a config for a new run, or a checkpoint to resume")
    check_config(cfg)  # a resumed run's changes too (e.g. more threads than this machine has)
    check_architecture(cfg)  # one this script knows, before the folder is touched
    if cfg.init_from and cfg.architecture != "gpt2" and checkpoint is None:
        raise ValueError(f"init_from copies GPT-2's weights into phase 07's GPT; the "
                         f"architecture {cfg.architecture!r} has other parts: start it from "
                         f"random weights (init_from \"\")")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        device = pick_device(cfg.device)
        if world.distributed:
            device = start_distributed(world, device.type)
    except RuntimeError as err:  # a device this machine does not have
        raise ValueError(str(err)) from None
    with claim_folder(run_dir, resume, overwrite, world, device):
        source = None
        if checkpoint is None and cfg.init_from:  # a resumed run has its weights already
            source = on_main_first(lambda: open_source(cfg.init_from, offline), world, device)
            cfg = check_config(shape_from_source(cfg, source, shape_given))
        run = setup(cfg, checkpoint, resume, run_dir, device, data_root, offline, verbose, world,
                    source)
        log = (RunLog(run_dir / "log.jsonl", run.start_step if checkpoint else None)
               if world.is_main else NoLog())
        run.saved_at = time.monotonic()
        progress = Progress(run, log, peak_flops, out)
        run.say(f"\n3. Train from step {run.start_step} to {cfg.steps}")
        if checkpoint is None and cfg.eval_at_start:
            evaluate_at_start(run, progress)
        return train_loop(run, progress, on_step)


# Config fields that also have a flag of their own (every field is reachable through --set).
FLAG_FIELDS = ("init_from", "steps", "lr", "micro_batch", "grad_accum", "warmup", "context",
               "n_layer", "n_head", "n_embd", "dropout", "weight_decay", "clip", "eval_every",
               "eval_batches", "sample_every", "sample_tokens", "log_every", "checkpoint_every",
               "checkpoint_minutes", "seed", "threads", "device", "dtype", "data", "source",
               "tokenizer", "shuffle")


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> None:
    """Parse the command line and hand over to train(); every failure is one line, not a
    traceback (exit 1), and a run stopped by Ctrl-C or SIGTERM exits with 130. A later phase's
    script may pass its own parser (build_parser's, with its defaults)."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)

    overrides = dict(args.overrides)
    for name in FLAG_FIELDS:
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.compile:
        overrides["compile"] = True
    run_dir = args.run_dir or RUNS_DIR / args.preset
    # the shape fields the learner chose (or a preset that starts from a source): checked
    # against the source's shape, where the others simply take it
    shape_given = {f for f in SHAPE_FIELDS if f in overrides
                   or (f in PRESETS[args.preset] and "init_from" in PRESETS[args.preset])}
    resume = None
    if args.resume is not None:
        if args.overwrite:
            parser.error("--resume continues the run in its folder; --overwrite starts a new "
                         "one in its place: choose one")
        resume = run_dir / "last.pt" if args.resume == "last" else Path(args.resume)
    for flag, path in (("--out", args.out), ("--data-dir", args.data_dir)):
        if path.exists() and not path.is_dir():
            parser.error(f"{flag} {path} is a file: give a folder")
    try:
        world = world_from_environment()  # several processes when started by torchrun
    except ValueError as err:
        parser.error(str(err))
    finished = False
    try:
        cfg = None if resume else make_config(args.preset, overrides)
        result = train(cfg, run_dir, args.data_dir, args.out, resume, overrides,
                       args.peak_flops, args.offline, world=world, overwrite=args.overwrite,
                       shape_given=shape_given)
        finished = True
    except (CheckpointError, TrainingDiverged, FileNotFoundError, ValueError,
            ConnectionError, RuntimeError, OSError) as err:
        if isinstance(err, NotImplementedError):  # a workbook exercise not yet written
            raise  # let it name itself, not pass for a failed run
        parser.exit(1, f"error: {err}\n")
    finally:
        stop_distributed(wait_for_others=finished)
    leave(world, 130 if result["interrupted"] else 0)  # several processes: exit here
    if result["interrupted"]:
        raise SystemExit(130)  # the shell's code for "stopped by Ctrl-C" (or SIGTERM)


def add_run_flags(parser: argparse.ArgumentParser, script_file: str, run_dir: str) -> None:
    """Give a script the flags of where a training run reads and writes, as train() takes them:
    the run folder (`run_dir` says its default), permission to replace a run already there,
    the prepared data, the network, and the folder of the loss plot (the script's scratch
    folder). The folders are checked by main(), which says which flag names a file."""
    parser.add_argument("--run-dir", type=Path, default=None,
                        help=f"checkpoints and log (default: {run_dir})")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run in a --run-dir that holds one, deleting it (without "
                             "this, such a folder is refused)")
    parser.add_argument("--data-dir", type=Path, default=TOKENS_DIR,
                        help="where prepared datasets live")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument("--out", type=Path, default=scratch_dir(script_file),
                        help="folder for the loss plot (default: the git-ignored scratch/)")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train a GPT from a preset: accumulation, AdamW, warmup + cosine, "
                           "clipping, mixed precision, checkpoints, exact resume.")
    add_preset_flags(parser)
    parser.add_argument("--init-from", type=source_name, metavar="SOURCE",
                        help="start a new run from trained weights instead of random ones: "
                             "gpt2, gpt2-medium, gpt2-large, gpt2-xl (downloaded once), a "
                             "Hugging Face folder (config.json + model.safetensors) or a "
                             "train.py checkpoint (its weights only); the shape is the source's")
    parser.add_argument("--steps", type=positive_int, help="optimizer steps")
    parser.add_argument("--lr", type=positive_float, help="peak learning rate")
    parser.add_argument("--micro-batch", type=positive_int, help="sequences per micro-step")
    parser.add_argument("--grad-accum", type=positive_int, help="micro-steps per step")
    parser.add_argument("--warmup", type=nonnegative_int, help="linear warmup steps")
    add_gpt_shape_flags(parser)
    parser.add_argument("--dropout", type=nonnegative_float, help="dropout probability")
    parser.add_argument("--weight-decay", type=nonnegative_float, help="AdamW decay")
    parser.add_argument("--clip", type=nonnegative_float, help="gradient norm limit (0 = off)")
    parser.add_argument("--eval-every", type=positive_int, help="steps between evaluations")
    parser.add_argument("--eval-batches", type=positive_int, help="batches per evaluation")
    parser.add_argument("--sample-every", type=nonnegative_int,
                        help="steps between samples (0 = at the end only)")
    parser.add_argument("--sample-tokens", type=nonnegative_int, help="tokens per sample")
    parser.add_argument("--log-every", type=positive_int, help="steps between progress lines")
    parser.add_argument("--checkpoint-every", type=nonnegative_int,
                        help="steps between saves of last.pt (0 = at every evaluation)")
    parser.add_argument("--checkpoint-minutes", type=nonnegative_float,
                        help="save last.pt at least this often, in minutes of wall time, whatever "
                             "a step costs (0 = only by steps)")
    parser.add_argument("--seed", type=nonnegative_int, help="random seed")
    parser.add_argument("--threads", type=nonnegative_int,
                        help="CPU threads, at most this machine's cores (0 = PyTorch's choice)")
    parser.add_argument("--device", choices=DEVICE_CHOICES,
                        help="where to train (default: " "auto = mps, cuda, then cpu)")
    parser.add_argument("--dtype", choices=DTYPES,
                        help="auto (what the device supports), float32 or bfloat16")
    parser.add_argument("--compile", action="store_const", const=True,
                        help="torch.compile the training model")
    parser.add_argument("--data", help="a folder written by prepare_data.py")
    parser.add_argument("--source", choices=SOURCES, help="built-in text, prepared on first use")
    parser.add_argument("--tokenizer", choices=TOKENIZERS, help="char or gpt2")
    parser.add_argument("--shuffle", type=nonnegative_int,
                        help="deal out each window of this many sequences in a random order (0 = "
                             "read in order)")
    parser.add_argument("--resume", nargs="?", const="last", default=None, metavar="CHECKPOINT",
                        help="continue a run: from <run-dir>/last.pt, or the file given")
    add_run_flags(parser, __file__, run_dir="runs/<preset>/, git-ignored")
    parser.add_argument("--peak-flops", type=positive_float, default=None,
                        help="your device's peak FLOP/s in the training dtype, for MFU (e.g. "
                             "9.895e14 for an H100's bf16); without it MFU is not shown")
    return parser


if __name__ == "__main__":
    main()
