"""The training loop of a real run: accumulate, schedule, clip, checkpoint, resume, and report.

Phase 07 trained a GPT in one short loop. This is the same loop with the pieces a run of hours
or days needs, each one a small, separate function:

- **Gradient accumulation.** A step of 0.5M tokens does not fit in memory at once, so it is
  split into `grad_accum` micro-batches whose gradients add up in `.grad` before one optimizer
  step. Each micro-batch's loss is divided by `grad_accum` BEFORE backward, so the sum is the
  gradient of the mean loss over the whole step: clipping and the optimizer see the same
  numbers as with one big batch (a test checks 4 micro-steps of 2 == 1 step of 8 in float64).
- **AdamW with decay groups.** Weight decay (Loshchilov & Hutter 2017, "Decoupled Weight Decay
  Regularization") pulls the 2-D weight matrices and embeddings towards zero; biases and
  LayerNorm parameters are left alone (phase 07's `param_groups`). The "fused" implementation
  (one kernel for every tensor) is used where the device supports it.
- **Warmup, then cosine.** The learning rate climbs linearly for `warmup` steps (Goyal et al.
  2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour": large early steps from
  random weights are unstable), then follows half a cosine down to `min_lr_ratio` of its peak
  (Loshchilov & Hutter 2016, "SGDR: Stochastic Gradient Descent with Warm Restarts"). Step 0
  uses peak/warmup, never 0: a step with lr 0 is a wasted step (phase 07's `lr_at`).
- **Gradient clipping** (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training
  recurrent neural networks"): if the gradient's global norm exceeds `clip`, scale it down to
  `clip`. One bad batch then moves the weights a bounded distance.
- **Mixed precision** (Micikevicius et al. 2017, "Mixed Precision Training"): under
  `torch.autocast` the big matrix products run in bfloat16 while the weights and the optimizer
  stay float32. bfloat16 keeps float32's exponent range, so no loss scaling is needed; we never
  use float16 (it needs a GradScaler, which MPS does not support well). phase 06's
  `autocast_dtype` says what the device supports; float32 is the fallback, said once.
- **torch.compile** (optional, `--compile`): the training forward and backward run through the
  compiled module; evaluation, sampling and checkpoints use the plain one (its state_dict has
  no `_orig_mod.` prefixes).
- **Checkpoints and exact resume.** `last.pt` is written every evaluation (and at the end, and on
  Ctrl-C); `best.pt` only when the validation loss improves. Each holds the model, the
  optimizer's moments, the step, the config, the tokenizer, every random generator's state and
  the loader's position, all as tensors and plain types, so `torch.load(path,
  weights_only=True)` reads it without running code from the file. Each is written to a
  temporary file and renamed, so a crash mid-save leaves the previous checkpoint intact.
  `--resume` continues the same run: on a CPU its loss curve is bit-for-bit the one an
  uninterrupted run draws (a test checks it). With several processes the data resumes exactly
  too; only rank 0's random generators are saved, so the others draw new dropout masks.
- **Watching.** A progress line every `log_every` steps: loss, learning rate, gradient norm,
  tokens per second, MFU (model FLOPs utilisation: `flops_per_token` x tokens/s over the
  `--peak-flops` you give for your device), time per step, ETA and device memory; a JSONL log
  with every step; a loss plot; validation loss and samples along the way. A loss that turns
  NaN or infinite stops the run, names the step and the last good checkpoint, and lists the
  usual causes.

Run:  python phase-08-training/code/train.py --preset cpu-smoke
      python phase-08-training/code/train.py --preset shakespeare-char --device mps
      python phase-08-training/code/train.py --preset shakespeare-char --resume
"""

import argparse
import contextlib
import inspect
import json
import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch.nn.parallel import DistributedDataParallel

from phase00.figures import save_figure, scratch_dir
from phase00.flags import nonnegative_float, nonnegative_int, positive_float, positive_int
from phase06.device import (
    DEVICE_CHOICES,
    autocast,
    autocast_dtype,
    describe_device,
    memory_report,
    pick_device,
    synchronize,
)
from phase07.model import GPT, GPTConfig
from phase07.train_char import lr_at, param_groups
from phase08 import hellaswag
from phase08.config import (
    DTYPES,
    PRESETS,
    SOURCES,
    TOKENIZERS,
    TrainConfig,
    assignment,
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

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNS_DIR = Path(os.environ.get("TFS_RUNS_DIR", REPO_ROOT / "runs"))  # git-ignored
CHECKPOINT_FORMAT = "tfs-checkpoint"
CHECKPOINT_KEYS = ("format", "step", "model", "optimizer", "config", "model_config",
                   "tokenizer", "rng", "loader")
# Fields a resumed run may change: they touch neither the weights nor the data order.
RESUME_SAFE = {"data", "device", "compile", "threads", "eval_every", "sample_every",
               "sample_tokens", "temperature", "top_k", "log_every", "checkpoint_every"}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: truncated, corrupt, or not ours."""


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite."""


# --- data and model ---------------------------------------------------------------------------

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


def build_model(cfg: TrainConfig, vocab_size: int) -> GPT:
    """Phase 07's GPT in the shape the config asks for."""
    return GPT(GPTConfig(vocab_size=vocab_size, context=cfg.context, n_layer=cfg.n_layer,
                         n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout,
                         bias=cfg.bias, attention=cfg.attention))


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
        grad_accum = math.ceil(cfg.micro_batch * cfg.grad_accum / micro_batch)
        before = cfg.micro_batch * cfg.grad_accum
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


def score_hellaswag(model: GPT, codec: Codec, examples: list[hellaswag.Rendered],
                    device: torch.device,
                    dtype: torch.dtype, world: World) -> tuple[float, float, int]:
    """(acc, acc_norm, examples scored): each rank scores its share, the counts are added."""
    counts = hellaswag.evaluate(model, codec, examples, device, dtype, world.rank, world.size)
    counts = sum_over_ranks(counts, world, device)
    acc, acc_norm = hellaswag.accuracy(counts)
    return acc, acc_norm, counts["n"]


# --- one optimizer step -------------------------------------------------------------------

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


# --- checkpoints -------------------------------------------------------------------------------

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


def save_checkpoint(path: Path, state: dict) -> Path:
    """torch.save to a temporary file beside `path`, then rename: all or nothing.

    If anything fails (a full disk, Ctrl-C), the temporary file is deleted and the previous
    checkpoint under `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint as data only (weights_only=True: nothing in the file can run code).

    A missing, truncated, corrupt or foreign file gets a CheckpointError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train first (python phase-08-"
                                f"training/code/train.py), or give the right --run-dir")
    others = sorted(p.name for p in path.parent.glob("*.pt") if p != path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch reports damage as RuntimeError, EOFError, pickle errors...
        reason = (str(err).splitlines() or [""])[0].split(". ")[0][:200]  # the first sentence
        raise CheckpointError(
            f"cannot read the checkpoint {path} ({type(err).__name__}: {reason}). It is "
            f"truncated (a copy or a save that did not finish) or corrupt. Other checkpoints in "
            f"{path.parent}: {', '.join(others) or 'none'}") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint written by train.py (missing "
                              f"{missing or ['format']})")
    return state


# --- the record of a run -------------------------------------------------------------------

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
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, self.path)
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


# --- stopping cleanly ----------------------------------------------------------------------

class StopRequest:
    """Ctrl-C asks the run to stop after the current step (which is then saved).

    The first Ctrl-C only sets a flag: stopping in the middle of an optimizer step would leave
    half-updated weights. A second Ctrl-C interrupts at once (KeyboardInterrupt), as usual.
    Outside the main thread (where Python allows no signal handler) Ctrl-C is a plain
    KeyboardInterrupt, which train() also handles.
    """

    def __init__(self, verbose: bool = True) -> None:
        self.requested, self.verbose = False, verbose
        self.previous = None

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.verbose:
            print("\n   Ctrl-C: finishing this step, then saving a checkpoint (again to quit now)")

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def divergence_message(step: int, loss: float, norm: float, lr: float, cfg: TrainConfig,
                       dtype: torch.dtype, last_good: Path | None, last_step: int) -> str:
    where = (f"the last good checkpoint is {last_good} (step {last_step}); resume from it with "
             f"--resume {last_good} once the cause is fixed" if last_good is not None
             else "no checkpoint was saved before it")
    return (f"the loss became {loss} at step {step} (gradient norm {norm}, lr {lr:.3g}); the "
            f"weights were not updated with it. {where}. Usual causes: a learning rate too high "
            f"(lr={cfg.lr}: try a third of it, or a longer warmup than {cfg.warmup}); too little "
            f"precision ({str(dtype).removeprefix('torch.')}: try --dtype float32); a bad batch "
            f"(token ids beyond the vocabulary, a damaged shard: prepare the data again); no "
            f"clipping (clip={cfg.clip}).")


# --- the run -------------------------------------------------------------------------------

def train(cfg: TrainConfig | None, run_dir: Path, data_root: Path = TOKENS_DIR,
          out: Path | None = None, resume: Path | None = None,
          resume_overrides: dict[str, object] | None = None, peak_flops: float | None = None,
          offline: bool = False, on_step: Callable[[int, float], None] | None = None,
          verbose: bool = True, world: World | None = None) -> dict:
    """Train a new run (cfg) or resume one (resume = a checkpoint); return a summary.

    A resumed run takes its config from the checkpoint; resume_overrides may change only the
    RESUME_SAFE fields. on_step(step, loss) is called after each completed step (the tests use
    it to interrupt a run). Everything a learner sees is printed here.

    world: this process's place among several (DDP, started by torchrun; see distributed.py).
    Every rank runs this function; only rank 0 prints, logs, samples and saves.
    """
    world = world or World()
    say = print if verbose and world.is_main else (lambda *a, **k: None)
    run_dir = Path(run_dir)
    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        unsafe = sorted(set(resume_overrides or {}) - RESUME_SAFE)
        if unsafe:
            raise ValueError(f"a resumed run keeps its saved config; it may change only "
                             f"{sorted(RESUME_SAFE)}, not {unsafe}")
        cfg = replace(config_from_dict(checkpoint["config"]), **(resume_overrides or {}))
    if cfg is None:
        raise ValueError("give a config for a new run, or a checkpoint to resume")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        device = pick_device(cfg.device)
        if world.distributed:
            device = start_distributed(world, device.type)
    except RuntimeError as err:  # a device this machine does not have
        raise ValueError(str(err)) from None
    dtype, dtype_note = precision(device, cfg.dtype)
    if device.type == "cuda":  # TensorFloat-32 for the float32 products autocast leaves
        torch.set_float32_matmul_precision("high")
    if cfg.hellaswag_every and cfg.tokenizer != "gpt2":
        raise ValueError(f"HellaSwag is English text: it needs tokenizer=gpt2, not "
                         f"{cfg.tokenizer!r} (set hellaswag_every=0)")

    say(f"1. Data ({'resuming ' + str(resume) if resume else 'a new run'})")
    folder = resolve_data(cfg, data_root, offline, verbose)
    train_shards, val_shards = TokenShards(folder, "train"), TokenShards(folder, "val")
    codec = make_codec(train_shards.tokenizer, download=not offline)
    say(f"   {folder}: {train_shards.meta['source']}")
    say(f"   {codec.name} tokens ({codec.vocab_size:,} ids): train {len(train_shards):,}, "
        f"val {len(val_shards):,}")

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)  # noqa: NPY002 (the global generator, see rng_state)
    random.seed(cfg.seed)
    model = build_model(cfg, codec.vocab_size).to(device)
    if world.distributed:  # the same weights everywhere (DDP also broadcasts rank 0's), but
        torch.manual_seed(cfg.seed + world.rank)  # each rank its own dropout masks
    say(f"\n2. Model and optimizer on {describe_device(device)}"
        + (f", {world.size} processes" if world.distributed else ""))
    if checkpoint is None:
        cfg, dtype, dtype_note = check_device(model, cfg, device, dtype, dtype_note, say, world)
    optimizer, optimizer_note = make_optimizer(model, cfg, device)
    loader = BatchLoader(train_shards, cfg.micro_batch, cfg.context, world.rank, world.size,
                         shuffle=cfg.shuffle, seed=cfg.seed)
    start_step, best_val, last_val = 0, math.inf, None
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    last_saved: tuple[Path | None, int] = (None, 0)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        loader.load_state_dict(checkpoint["loader"])
        set_rng_state(checkpoint["rng"])  # rank 0's generators: the only ones saved
        start_step = int(checkpoint["step"])
        if world.distributed and world.rank:  # other ranks: their own dropout masks again
            torch.manual_seed(cfg.seed + world.rank + world.size * start_step)
        best_val = checkpoint.get("best_val_loss") or math.inf
        last_val = checkpoint.get("val_loss")
        last_saved = (Path(resume), start_step)
    train_model = torch.compile(model) if cfg.compile else model
    no_sync = None
    if world.distributed:
        train_model = DistributedDataParallel(
            train_model, device_ids=[device.index] if device.type == "cuda" else None)
        no_sync = train_model.no_sync
    hellaswag_examples = load_hellaswag(cfg, offline, codec) if cfg.hellaswag_every else []

    T = cfg.context
    tokens_per_step = loader.tokens_per_step * cfg.grad_accum
    flops_per_token = model.flops_per_token(T)
    say(f"   GPT {cfg.n_layer} layers x {cfg.n_head} heads x {cfg.n_embd}, context {T}: "
        f"{model.n_params():,} parameters, {flops_per_token / 1e6:,.1f} MFLOP per token")
    say(f"   {optimizer_note}")
    say(f"   precision: {dtype_note}")
    say("   compile: " + ("on (evaluation and sampling use the plain module)" if cfg.compile
                          else "off"))
    ranks = f" x {world.size} processes" if world.distributed else ""
    say(f"   step = {cfg.micro_batch} sequences x {cfg.grad_accum} micro-steps{ranks} x {T} "
        f"tokens = {tokens_per_step:,} tokens; {cfg.steps:,} steps = "
        f"{tokens_per_step * cfg.steps:,} tokens "
        f"({tokens_per_step * cfg.steps / len(train_shards):.1f} passes over train)")
    say(f"   lr {cfg.lr:g}: warmup {cfg.warmup} steps, cosine to {cfg.min_lr_ratio:g} x peak; "
        f"clip {cfg.clip:g}; run folder {run_dir}")

    def state(step: int) -> dict:
        return {"format": CHECKPOINT_FORMAT, "version": 1, "step": step,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "config": asdict(cfg), "model_config": asdict(model.config),
                "tokenizer": codec.spec, "rng": rng_state(), "loader": loader.state_dict(),
                "data": str(folder), "val_loss": last_val,
                "best_val_loss": None if math.isinf(best_val) else best_val,
                "tokens_seen": step * tokens_per_step}

    def save_last(step: int) -> None:
        nonlocal last_saved
        if world.is_main:
            save_checkpoint(last_path, state(step))
        last_saved = (last_path, step)

    log = (RunLog(run_dir / "log.jsonl", start_step if checkpoint is not None else None)
           if world.is_main else NoLog())
    say(f"\n3. Train from step {start_step} to {cfg.steps}")
    losses: list[float] = []
    step, interrupted = start_step, False
    t_start = t_last = time.perf_counter()
    steps_timed, seconds_timed, tokens_per_s = 0, 0.0, 0.0
    try:
        with StopRequest(verbose) as stop:
            for step in range(start_step, cfg.steps):
                lr = lr_at(step, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_ratio)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss = accumulate_gradients(train_model, loader, cfg.grad_accum, device, dtype,
                                            no_sync)
                loss = mean_over_ranks(loss, world)  # for the log: each rank saw its own slice
                norm = clip_gradients(model, cfg.clip)
                loss_value, norm_value = torch.stack([loss.float(), norm.float()]).tolist()
                if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
                    raise TrainingDiverged(divergence_message(
                        step + 1, loss_value, norm_value, lr, cfg, dtype, *last_saved))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                done = step + 1
                losses.append(loss_value)
                log.write(kind="step", step=done, loss=loss_value, lr=lr, grad_norm=norm_value,
                          tokens=done * tokens_per_step)

                if done % cfg.log_every == 0 or done == cfg.steps:
                    synchronize(device)  # a GPU's clock is honest only once its queue is done
                    now = time.perf_counter()
                    n = done - start_step - steps_timed
                    seconds_timed += now - t_last
                    steps_timed += n
                    tokens_per_s = n * tokens_per_step / (now - t_last)
                    ms_per_step = 1e3 * (now - t_last) / n
                    t_last = now
                    eta = (cfg.steps - done) * seconds_timed / steps_timed
                    mfu = (f"MFU {flops_per_token * tokens_per_s / world.size / peak_flops:6.2%}"
                           f" | " if peak_flops else "")
                    memory = ", ".join(f"{key} {value / 2**20:,.0f} MiB"
                                       for key, value in memory_report(device).items())
                    say(f"   step {done:>6}/{cfg.steps} | loss {loss_value:.4f} | lr {lr:.2e} |"
                        f" norm {norm_value:5.2f} | {tokens_per_s:>8,.0f} tok/s | {mfu}"
                        f"{ms_per_step:5.0f} ms/step | ETA {format_seconds(eta)} | {memory}")
                pause = time.perf_counter()  # evaluation and saving are not training time

                if done % cfg.eval_every == 0 or done == cfg.steps:
                    last_val = mean_over_ranks(torch.tensor(evaluate(
                        model, val_shards, cfg, device, dtype, world.rank, world.size),
                        device=device), world).item()  # on the device: NCCL needs it there
                    improved = last_val < best_val
                    best_val = min(best_val, last_val)
                    log.write(kind="eval", step=done, val_loss=last_val,
                              tokens=done * tokens_per_step)
                    say(f"   step {done:>6}: validation loss {last_val:.4f}"
                        f"{' (best so far: best.pt)' if improved else ''}")
                    if improved and world.is_main:
                        save_checkpoint(best_path, state(done))
                    if cfg.checkpoint_every == 0:
                        save_last(done)
                if cfg.checkpoint_every and done % cfg.checkpoint_every == 0:
                    save_last(done)
                if cfg.hellaswag_every and (done % cfg.hellaswag_every == 0
                                            or done == cfg.steps):
                    acc, acc_norm, n = score_hellaswag(model, codec, hellaswag_examples,
                                                       device, dtype, world)
                    log.write(kind="hellaswag", step=done, acc=acc, acc_norm=acc_norm, n=n)
                    say(f"   step {done:>6}: HellaSwag acc_norm {acc_norm:.4f} (acc {acc:.4f}, "
                        f"{n:,} examples; chance 0.25)")
                if (cfg.sample_every and done % cfg.sample_every == 0 and done < cfg.steps
                        and world.is_main):
                    text = sample_text(model, codec, cfg.sample_tokens, device, cfg.seed + done,
                                       cfg.temperature, cfg.top_k)
                    log.write(kind="sample", step=done, text=text)
                    say(f"   sample at step {done}: {text[:300]!r}")
                t_last += time.perf_counter() - pause
                if on_step is not None:
                    on_step(done, loss_value)
                if any_rank(stop.requested, world, device):  # every rank stops at the same step
                    interrupted = True
                    break
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
        interrupted = True
        if len(losses) + start_step != step + 1:  # stopped inside a step: its state is partial
            say(f"\n   Interrupted inside step {step + 1}: its update is incomplete, so the "
                f"last checkpoint ({last_saved[0]}, step {last_saved[1]}) is kept as it is.")
            log.close()
            return summary(cfg, losses, start_step, last_val, best_val, last_saved, True,
                           run_dir, tokens_per_s)
    done = start_step + len(losses)
    if done > last_saved[1] or last_saved[0] != last_path:
        save_last(done)
    log.close()
    if interrupted:
        say(f"\n   Stopped at step {done}: saved {last_path}. Continue the same run with "
            f"--resume (and the same --run-dir).")
    elapsed = time.perf_counter() - t_start
    say(f"   {done - start_step} steps in {elapsed:.1f} s; validation loss "
        f"{last_val if last_val is None else f'{last_val:.4f}'}, best {best_val:.4f}")
    if not interrupted and cfg.sample_tokens and world.is_main:
        text = sample_text(model, codec, cfg.sample_tokens, device, cfg.seed, cfg.temperature,
                           cfg.top_k)
        say(f"\n4. A sample ({cfg.sample_tokens} tokens, temperature {cfg.temperature}):\n{text}")
    if out is not None and world.is_main:
        plot_log(read_log(run_dir / "log.jsonl"), f"{run_dir.name}: {model.n_params():,} "
                 f"parameters", out, f"{run_dir.name}_loss.png")
    return summary(cfg, losses, start_step, last_val, best_val, last_saved, interrupted,
                   run_dir, tokens_per_s)


def summary(cfg: TrainConfig, losses: list[float], start_step: int, val: float | None,
            best: float, last_saved: tuple[Path | None, int], interrupted: bool,
            run_dir: Path, tokens_per_s: float) -> dict:
    return {"config": cfg, "losses": losses, "start_step": start_step,
            "step": start_step + len(losses), "val_loss": val,
            "best_val_loss": None if math.isinf(best) else best,
            "last_checkpoint": last_saved[0], "interrupted": interrupted,
            "run_dir": run_dir, "tokens_per_s": tokens_per_s}


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


# Config fields that also have a flag of their own (every field is reachable through --set).
FLAG_FIELDS = ("steps", "lr", "micro_batch", "grad_accum", "warmup", "context", "n_layer",
               "n_head", "n_embd", "dropout", "weight_decay", "clip", "eval_every",
               "eval_batches", "sample_every", "sample_tokens", "log_every", "checkpoint_every",
               "seed", "threads", "device", "dtype", "data", "source", "tokenizer", "shuffle")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Train a GPT from a preset: accumulation, AdamW, warmup + cosine, clipping, "
                    "mixed precision, checkpoints, exact resume.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="shakespeare-char",
                        help="a named recipe (default: shakespeare-char)")
    parser.add_argument("--set", dest="overrides", type=assignment, action="append",
                        default=[], metavar="FIELD=VALUE",
                        help="override any config field, e.g. --set lr=1e-3 (repeatable; "
                             "python phase-08-training/code/config.py lists them)")
    parser.add_argument("--steps", type=positive_int, help="optimizer steps")
    parser.add_argument("--lr", type=positive_float, help="peak learning rate")
    parser.add_argument("--micro-batch", type=positive_int, help="sequences per micro-step")
    parser.add_argument("--grad-accum", type=positive_int, help="micro-steps per step")
    parser.add_argument("--warmup", type=nonnegative_int, help="linear warmup steps")
    parser.add_argument("--context", type=positive_int, help="tokens per sequence")
    parser.add_argument("--n-layer", type=positive_int, help="transformer blocks")
    parser.add_argument("--n-head", type=positive_int, help="attention heads")
    parser.add_argument("--n-embd", type=positive_int, help="width")
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
    parser.add_argument("--seed", type=nonnegative_int, help="random seed")
    parser.add_argument("--threads", type=nonnegative_int, help="CPU threads (0 = PyTorch's "
                                                                "choice)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="where to train (default: "
                                                                 "auto = mps, cuda, then cpu)")
    parser.add_argument("--dtype", choices=DTYPES,
                        help="auto (what the device supports), float32 or bfloat16")
    parser.add_argument("--compile", action="store_const", const=True,
                        help="torch.compile the training model")
    parser.add_argument("--data", help="a folder written by prepare_data.py")
    parser.add_argument("--source", choices=SOURCES, help="built-in text, prepared on first use")
    parser.add_argument("--tokenizer", choices=TOKENIZERS, help="char or gpt2")
    parser.add_argument("--shuffle", type=nonnegative_int,
                        help="deal out each window of this many sequences in a random order "
                             "(0 = read in order)")
    parser.add_argument("--resume", nargs="?", const="last", default=None, metavar="CHECKPOINT",
                        help="continue a run: from <run-dir>/last.pt, or the file given")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="checkpoints and log (default: runs/<preset>/, git-ignored)")
    parser.add_argument("--data-dir", type=Path, default=TOKENS_DIR,
                        help=f"where prepared datasets live (default: {TOKENS_DIR})")
    parser.add_argument("--peak-flops", type=positive_float, default=None,
                        help="your device's peak FLOP/s in the training dtype, for MFU (e.g. "
                             "9.895e14 for an H100's bf16); without it MFU is not shown")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument("--out", type=Path, default=scratch_dir(__file__),
                        help="folder for the loss plot (default: the git-ignored scratch/)")
    args = parser.parse_args(argv)

    overrides = dict(args.overrides)
    for field in FLAG_FIELDS:
        value = getattr(args, field)
        if value is not None:
            overrides[field] = value
    if args.compile:
        overrides["compile"] = True
    run_dir = args.run_dir or RUNS_DIR / args.preset
    resume = None
    if args.resume is not None:
        resume = run_dir / "last.pt" if args.resume == "last" else Path(args.resume)
        unsafe = sorted(set(overrides) - RESUME_SAFE)
        if unsafe:
            parser.error(f"--resume continues the saved run with its own config; these fields "
                         f"would change it: {unsafe}. A resumed run may only change "
                         f"{sorted(RESUME_SAFE)}")
    try:
        world = world_from_environment()  # several processes when started by torchrun
    except ValueError as err:
        parser.error(str(err))
    finished = False
    try:
        cfg = None if resume else make_config(args.preset, overrides)
        result = train(cfg, run_dir, args.data_dir, args.out, resume, overrides,
                       args.peak_flops, args.offline, world=world)
        finished = True
    except (CheckpointError, TrainingDiverged, FileNotFoundError, ValueError,
            ConnectionError, RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")
    finally:
        stop_distributed(wait_for_others=finished)
    leave(world, 130 if result["interrupted"] else 0)  # several processes: exit here
    if result["interrupted"]:
        raise SystemExit(130)  # the shell's code for "stopped by Ctrl-C"


if __name__ == "__main__":
    main()
