"""What changed after GPT-2 (2019), each change switched on by itself and measured.

Phase 07 wrote GPT-2 by hand. Models built since (Llama, Qwen, the nanoGPT "speedruns") keep
its skeleton but change several pieces. Each change here is an OPTION of a model that reuses
phase 07's GPT, Block, CausalSelfAttention and MLP unchanged (phase 07's model.py stays exactly
GPT-2); an option only swaps one small part in:

- rope: rotary position embeddings (Su et al. 2021, "RoFormer"): no position table; each query
  and key is rotated by an angle proportional to its position, so q.k depends on the offset.
- rmsnorm: RMSNorm (Zhang & Sennrich 2019) instead of LayerNorm: divide by the root mean square,
  no mean subtracted, no shift.
- qk_norm: RMSNorm on every head's queries and keys before their dot product, so scores stay
  bounded. The idea is Henry et al. 2020's ("Query-Key Normalization": l2 normalisation and a
  learned scale); Dehghani et al. 2023 used LayerNorm at 22B parameters; RMSNorm is the later
  form (the nanoGPT speedrun's, there without a learned gain).
- activation "relu2": squared ReLU in the MLP (So et al. 2021, "Primer"); "swiglu": a gated MLP,
  silu(x W) * (x V) (Shazeer 2020, "GLU Variants Improve Transformer"), its hidden width 8C/3 so
  the parameter count stays GPT-2's.
- untied: the output head is its own matrix, not the token embedding table.
- bias=False (phase 07's own GPTConfig field): no biases in Linear layers and norms.
- Muon (Jordan et al. 2024): for the hidden 2-D matrices, SGD momentum, then the update is
  replaced by roughly the nearest orthogonal matrix (Newton-Schulz iteration, no SVD; its
  strong directions evened out, its near-zero ones left small); AdamW keeps the embeddings, the
  head, the norms and the biases.

With every option off, ModernGPT IS phase 07's GPT: the same modules, the same weights, the same
logits (tested), so phase 09's Hugging Face parity still holds for it.

The ablation trains each row on the char task of phase 07 (Tiny Shakespeare, train_char.py's
batches, schedule and evaluation), over several seeds, and prints one table: validation loss at
equal steps, and the GPT-2 recipe given the same wall-clock seconds as the full modern recipe.

Run:  python phase-09-comparison/code/after_gpt2.py                 (phase 07's 680 steps, 30 runs,
                                                                    one thread: the README's table)
      python phase-09-comparison/code/after_gpt2.py --jobs 2        (the same losses, two at once)
      python phase-09-comparison/code/after_gpt2.py --quick         (a tiny smoke run)
      python phase-09-comparison/code/after_gpt2.py --newton-schulz (what Muon does to a real
                                                                    gradient, in a second)
      python phase-09-comparison/code/after_gpt2.py --norms         (LayerNorm against RMSNorm,
                                                                    timed)
"""

import argparse
import functools
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from phase00.corpus import add_corpus_flags
from phase00.figures import add_out_flag, save_figure
from phase00.flags import (
    add_seed_flag,
    check_fits_in_memory,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    script_parser,
)
from phase05.train_transformer import training_text
from phase06.device import add_threads_flag, thread_count
from phase07.model import GPT, PRESETS, GPTConfig, KVCache
from phase07.train_char import evaluate, get_batch, lr_at, param_groups
from phase08.config import PRESETS as PRESETS_08
from phase08.config import TrainConfig
from phase08.train import ARCHITECTURES, Architecture, training_memory
from phase09.timing import (
    flags_typed,
    machine,
    markdown_table,
    refuse_quick_overrides,
    take_turns,
)
from phase09.timing import spread as time_spread

ACTIVATIONS = ("gelu", "relu2", "swiglu")


@dataclass(frozen=True)
class ModernConfig(GPTConfig):
    """Phase 07's GPTConfig plus one switch per post-2019 change; all off is GPT-2."""

    rope: bool = False
    rmsnorm: bool = False
    qk_norm: bool = False
    activation: str = "gelu"
    untied: bool = False
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of "
                             f"{list(ACTIVATIONS)}")
        if self.rope and self.head_dim % 2:
            raise ValueError(f"rotary embeddings turn pairs of numbers: the head size "
                             f"n_embd / n_head must be even, got {self.head_dim}")


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * g: LayerNorm without the mean and without the shift."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary_tables(head_dim: int, length: int, base: float = 10000.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position * frequency, (length, head_dim / 2): pair i turns at base^(-2i/d)."""
    freqs = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * freqs[None, :]
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Turn each pair (x[i], x[i + d/2]) of x (..., T, d) by its position's angle."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class ModernQKV(nn.Linear):
    """Phase 07's c_attn (x -> [q | k | v]), with q and k then normalised and/or rotated.

    CausalSelfAttention.forward calls self.c_attn(x) and splits the result, so swapping this in
    changes nothing else in attention: the cache, the mask and both attention paths are phase
    07's. `offset` is the position of the first row of x (ModernGPT sets it from the KV cache).
    """

    def __init__(self, config: ModernConfig) -> None:
        super().__init__(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.n_head, self.head_dim, self.rope = config.n_head, config.head_dim, config.rope
        self.q_norm = RMSNorm(config.head_dim) if config.qk_norm else None
        self.k_norm = RMSNorm(config.head_dim) if config.qk_norm else None
        cos, sin = rotary_tables(config.head_dim, config.context, config.rope_base)
        self.register_buffer("cos", cos.float(), persistent=False)
        self.register_buffer("sin", sin.float(), persistent=False)
        self.offset = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = super().forward(x).split(C, dim=2)
        q, k = (t.view(B, T, self.n_head, self.head_dim) for t in (q, k))
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rope:
            cos = self.cos[self.offset:self.offset + T, None, :]  # (T, 1, d/2): every head
            sin = self.sin[self.offset:self.offset + T, None, :]
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        return torch.cat([q.reshape(B, T, C), k.reshape(B, T, C), v], dim=2)


class ReLUSquared(nn.Module):
    """max(0, x)^2 (So et al. 2021)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x).square()


class SwiGLU(nn.Module):
    """[a | b] -> silu(a) * b: the first half gates the second (Shazeer 2020)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=-1)
        return nn.functional.silu(a) * b


class NoPositions(nn.Module):
    """Stands where the position table was: adds zeros (RoPE puts positions inside attention)."""

    def __init__(self, n_embd: int) -> None:
        super().__init__()
        self.n_embd = n_embd
        # An empty tensor that follows the model's .to(dtype/device), so the zeros match the
        # token vectors they are added to (bfloat16 included); not saved in a checkpoint.
        self.register_buffer("like", torch.zeros(0), persistent=False)

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        return self.like.new_zeros(len(pos), self.n_embd)


class ModernGPT(GPT):
    """Phase 07's GPT with the options of ModernConfig swapped in; all off, it is GPT itself."""

    def __init__(self, config: ModernConfig) -> None:
        super().__init__(config)
        C = config.n_embd
        changed = config.rope or config.rmsnorm or config.qk_norm or config.untied
        changed = changed or config.activation != "gelu"
        for block in self.transformer.h:
            if config.rmsnorm:
                block.ln_1, block.ln_2 = RMSNorm(C), RMSNorm(C)
            if config.rope or config.qk_norm:
                block.attn.c_attn = ModernQKV(config)
            # Phase 07's MLP calls its non-linearity `gelu`; the swap keeps that slot, so the
            # layers keep their names and a checkpoint's keys read the same.
            if config.activation == "relu2":
                block.mlp.gelu = ReLUSquared()
            elif config.activation == "swiglu":  # 3 C h weights = GPT-2's 8 C^2 at h = 8C/3
                hidden = round(8 * C / 3)
                block.mlp.c_fc = nn.Linear(C, 2 * hidden, bias=config.bias)
                block.mlp.gelu = SwiGLU()
                block.mlp.c_proj = nn.Linear(hidden, C, bias=config.bias)
        if config.rmsnorm:
            self.transformer.ln_f = RMSNorm(C)
        if config.rope:
            self.transformer.wpe = NoPositions(C)
        if config.untied:
            self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        if changed:
            self.init_weights()  # phase 07's initialisation, over the swapped-in parts too

    def n_params(self, include_positions: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if include_positions or not isinstance(self.transformer.wpe, nn.Embedding):
            return n
        return n - self.transformer.wpe.weight.numel()

    def flops_per_token(self, T: int | None = None) -> int:
        """Phase 07's count, less the token table when the head is untied: the table is then
        only looked up (no multiply-adds), and the head's matrix is counted as lm_head."""
        flops = super().flops_per_token(T)
        if self.config.untied:
            flops -= 6 * self.transformer.wte.weight.numel()
        return flops

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        offset = 0 if cache is None else cache.length  # where the new tokens' positions start
        for block in self.transformer.h:
            if isinstance(block.attn.c_attn, ModernQKV):
                block.attn.c_attn.offset = offset
        return super().forward(idx, targets, cache)


# ---------------------------------------------------------------------------------------------
# Muon: momentum, then the update orthogonalised.

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Jordan et al. 2024's quintic


def newton_schulz(G: torch.Tensor, steps: int = 5,
                  coefficients: tuple[float, float, float] = NS_COEFFICIENTS) -> torch.Tensor:
    """An approximation of U V^T for G = U S V^T, with no SVD: scale G so every singular value
    is at most 1, then apply X <- a X + b (X X^T) X + c (X X^T)^2 X, which maps each singular
    value s to a s + b s^3 + c s^5 and leaves U and V alone. With Jordan's coefficients, 5 steps
    put every s above about 1/700 of the Frobenius norm into [0.6, 1.21]; smaller ones are
    lifted by up to about 485 (a^5) and end below 0.6 (singular_value_map). (1.5, -0.5, 0)
    converges to exactly 1, far more slowly."""
    a, b, c = coefficients
    X = G / (G.norm() + 1e-7)  # Frobenius norm >= the largest singular value
    tall = X.size(0) > X.size(1)
    if tall:  # work on the wide side: X X^T is then the smaller matrix
        X = X.T
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


BAND = (0.6, 1.21)  # where 5 quintic steps put every singular value above 1/700 of the norm


def singular_value_map(s: np.ndarray, steps: int = 5,
                       coefficients: tuple[float, float, float] = NS_COEFFICIENTS) -> np.ndarray:
    """What `steps` rounds of newton_schulz do to a singular value s of the scaled matrix."""
    a, b, c = coefficients
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    return s


def first_gradients(config: ModernConfig, train_data: torch.Tensor, batch: int,
                    seed: int) -> dict[str, torch.Tensor]:
    """The gradient of every hidden matrix (what Muon updates) at step 0 of a run, by name."""
    torch.manual_seed(seed)
    model = ModernGPT(config)
    x, y = get_batch(train_data, batch, config.context, torch.Generator().manual_seed(seed),
                     torch.device("cpu"))
    model(x, y)[1].backward()
    hidden = {id(p) for p in hidden_matrices(model)}
    return {name: p.grad.double() for name, p in model.named_parameters() if id(p) in hidden}


def show_newton_schulz(config: ModernConfig, train_data: torch.Tensor, batch: int, seed: int,
                       out_dir: Path | None) -> Figure:
    """Print and draw what 5 Newton-Schulz steps do: to a 2 x 2 example, and to the singular
    values of a real first gradient of each hidden matrix of the model."""
    print("\n0. Newton-Schulz, the heart of Muon: G -> about U V^T, with no SVD")
    G = torch.diag(torch.tensor([3.0, 0.1], dtype=torch.float64))
    scaled = G.diagonal() / G.norm()  # its singular values, scaled as newton_schulz scales them
    steps = [scaled.numpy()]
    for _ in range(5):
        steps.append(singular_value_map(steps[-1], 1))
    print(f"   G = diag(3, 0.1); scaled by its Frobenius norm {G.norm().item():.4f}: "
          f"s = ({scaled[0]:.4f}, {scaled[1]:.4f})")
    for k, v in enumerate(steps[1:], 1):
        print(f"   after step {k}: ({v[0]:.4f}, {v[1]:.4f})")
    diagonal = ", ".join(f"{v:.4f}" for v in newton_schulz(G).diagonal().tolist())
    print(f"   newton_schulz(G) = diag({diagonal}): thirty to one has become about two to "
          f"three (the steps swing; they do not settle on 1)")
    grads = first_gradients(config, train_data, batch, seed)
    print(f"   the {len(grads)} hidden matrices' first gradients (seed {seed}, batch {batch}); "
          f"singular values as a share of the Frobenius norm, before and after 5 steps:")
    curves = {}
    for name, g in grads.items():
        before = torch.linalg.svdvals(g / g.norm()).numpy()
        after = torch.linalg.svdvals(newton_schulz(g)).numpy()
        inside = float(np.mean((after >= BAND[0]) & (after <= BAND[1])))
        curves[name] = (before, after)
        print(f"   {name:34s} {tuple(g.shape)!s:11s} before {before.max():.3f} .. "
              f"{before.min():.1e}   after {after.max():.2f} .. {after.min():.1e}   "
              f"{inside:4.0%} in [{BAND[0]}, {BAND[1]}]")
    return plot_newton_schulz(curves, out_dir)


def plot_newton_schulz(curves: dict[str, tuple[np.ndarray, np.ndarray]],
                       out_dir: Path | None) -> Figure:
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    s = np.logspace(-5, 0, 400)
    left.semilogx(s, singular_value_map(s), label="Jordan's quintic, 5 steps")
    left.semilogx(s, singular_value_map(s, 5, (1.5, -0.5, 0.0)), label="classical cubic, 5 steps")
    left.axhspan(*BAND, color="0.88")
    left.axvline(1 / 700, color="0.4", ls=":", lw=1)
    left.text(1 / 700 * 1.2, 0.3, f"above about 1/700:\nlifted into {list(BAND)}", fontsize=8)
    left.set_xlabel("singular value s of G / ||G||_F (log scale)")
    left.set_ylabel("singular value after Newton-Schulz")
    left.set_title("The map applied to every singular value", fontsize=10)
    left.legend(fontsize=8)
    attention = next(name for name in curves if "attn.c_attn" in name)  # block 0's q, k, v
    mlp = next(name for name in curves if "mlp.c_fc" in name)  # block 0's MLP input
    for name, colour in ((attention, "tab:blue"), (mlp, "tab:green")):
        before, after = curves[name]
        rank = np.arange(1, len(before) + 1)
        short = name.removeprefix("transformer.").removesuffix(".weight")
        right.semilogy(rank, before, color=colour, lw=1, ls="--", label=f"{short}: G / ||G||_F")
        right.semilogy(rank, after, color=colour, lw=2, label=f"{short}: after 5 steps")
    right.axhspan(*BAND, color="0.88")
    right.set_xlabel("singular value, largest first")
    right.set_title(f"Real first gradients, before and after (grey: {list(BAND)})", fontsize=10)
    right.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out_dir, "newton_schulz.png")
    return fig


def norm_timings(shape: tuple[int, int, int], repeats: int, warmup: int, seed: int
                 ) -> dict[str, list[float]]:
    """Seconds of one forward and backward pass through each norm, on one (batch, context,
    width) float32 tensor, the norms taking turns: nn.LayerNorm (one fused kernel), our RMSNorm
    (six plain PyTorch operations: square, mean, add, rsqrt, two products) and, where this
    torch has it, PyTorch's own nn.RMSNorm (torch.nn.functional.rms_norm)."""
    B, T, C = shape
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, C, generator=generator).requires_grad_()
    upstream = torch.randn(B, T, C, generator=generator)  # the gradient arriving from above
    norms: dict[str, nn.Module] = {"nn.LayerNorm (one fused kernel)": nn.LayerNorm(C),
                                   "our RMSNorm (six plain operations)": RMSNorm(C)}
    if hasattr(nn, "RMSNorm"):  # torch 2.4 and later
        norms["PyTorch's nn.RMSNorm (F.rms_norm)"] = nn.RMSNorm(C, eps=1e-5)

    def one_pass(norm: nn.Module) -> Callable[[], None]:
        def run() -> None:
            x.grad = None
            norm.zero_grad(set_to_none=True)
            norm(x).backward(upstream)

        return run

    return take_turns({name: one_pass(norm) for name, norm in norms.items()}, repeats, warmup)


def show_norm_timings(shape: tuple[int, int, int], quick: bool, seed: int) -> None:
    """Print norm_timings as a table, with each norm's time against LayerNorm's."""
    repeats, warmup = (3, 1) if quick else (50, 5)
    print(f"machine: {machine()}")
    print(f"0. LayerNorm against RMSNorm, one forward and backward pass on a {shape} float32 "
          f"tensor (batch, context, width: the ablation's residual stream), "
          f"{torch.get_num_threads()} CPU thread(s); median of {repeats}, taking turns after "
          f"{warmup} untimed round(s)\n")
    runs = norm_timings(shape, repeats, warmup, seed)
    median = {name: float(np.median(times)) for name, times in runs.items()}
    layer = median["nn.LayerNorm (one fused kernel)"]
    print(markdown_table(["norm", "ms per pass (median)", "fastest-slowest (ms)",
                          "time / LayerNorm's"],
                         [[name, f"{t * 1e3:.3f}", time_spread(runs[name], 1e3, 3),
                           f"{t / layer:.2f}x"] for name, t in median.items()]))
    if len(median) < 3:
        print("   (this torch has no nn.RMSNorm: PyTorch's own RMSNorm came in torch 2.4)")
    if quick:
        print("   (--quick: a tiny tensor; these times say nothing about the ablation's)")


class Muon(torch.optim.Optimizer):
    """For 2-D weight matrices: m <- mu m + g; u = g + mu m (Nesterov); W <- W - lr s NS(u),
    with s = sqrt(max(1, rows / cols)) so a tall matrix's update has a comparable size."""

    def __init__(self, params: list[nn.Parameter], lr: float = 0.02, momentum: float = 0.95,
                 ns_steps: int = 5) -> None:
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"Muon's lr must be a finite number >= 0, got {lr}")
        if not (math.isfinite(momentum) and 0 <= momentum < 1):
            raise ValueError(f"Muon's momentum must be in [0, 1) (0.95 is usual), got {momentum}: "
                             f"at 1 or above the momentum never forgets and grows without end")
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 1:
            raise ValueError(f"Muon's ns_steps must be a whole number >= 1 (5 is usual), got "
                             f"{ns_steps!r}: with no Newton-Schulz step the update is not "
                             f"orthogonalised")
        super().__init__(params, {"lr": lr, "momentum": momentum, "ns_steps": ns_steps})
        for group in self.param_groups:
            if any(p.dim() != 2 for p in group["params"]):
                raise ValueError("Muon updates matrices only; give other tensors to AdamW")

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = torch.zeros_like(p)
                m = state["momentum"].mul_(group["momentum"]).add_(p.grad)
                update = newton_schulz(p.grad + group["momentum"] * m, group["ns_steps"])
                scale = max(1.0, p.size(0) / p.size(1)) ** 0.5
                p.add_(update.to(p.dtype), alpha=-group["lr"] * scale)


def hidden_matrices(model: GPT) -> list[nn.Parameter]:
    """The 2-D weights inside the blocks: what Muon updates (not the embeddings or head)."""
    return [p for p in model.transformer.h.parameters() if p.dim() == 2]


def make_optimizers(model: GPT, use_muon: bool, lr: float, muon_lr: float,
                    weight_decay: float, betas: tuple[float, float] = (0.9, 0.99)
                    ) -> list[torch.optim.Optimizer]:
    """Phase 07's AdamW over everything, or Muon on the hidden matrices plus AdamW on the rest."""
    if not use_muon:
        return [torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas)]
    hidden = {id(p) for p in hidden_matrices(model)}
    rest = [p for p in model.parameters() if id(p) not in hidden]
    adamw_groups = [{"params": [p for p in rest if p.dim() >= 2], "weight_decay": weight_decay},
                    {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0}]
    return [Muon(hidden_matrices(model), lr=muon_lr),
            torch.optim.AdamW(adamw_groups, lr=lr, betas=betas)]


# ---------------------------------------------------------------------------------------------
# The modern recipe in phase 08's pipeline (train_modern.py): one architecture, registered.

MODERN_OPTIONS = {"rope": True, "rmsnorm": True, "qk_norm": True, "activation": "relu2",
                  "untied": True}  # every change; "no biases" is the preset's bias=False
MUON_LR_SCALE = 4.0  # Muon's rate as a multiple of AdamW's: the ablation's 0.02 against 5e-3


class OptimizerPair:
    """Muon and AdamW driven as one optimizer: the four things phase 08's loop asks of one
    (param_groups for the schedule, step, zero_grad, and a state_dict for exact resume)."""

    def __init__(self, muon: Muon, adamw: torch.optim.AdamW) -> None:
        self.optimizers = (muon, adamw)

    @property
    def param_groups(self) -> list[dict]:
        return [group for opt in self.optimizers for group in opt.param_groups]

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"muon": self.optimizers[0].state_dict(), "adamw": self.optimizers[1].state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizers[0].load_state_dict(state["muon"])
        self.optimizers[1].load_state_dict(state["adamw"])


def modern_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device
                     ) -> tuple[OptimizerPair, str]:
    """Phase 08's optimizer hook for the modern recipe: Muon at MUON_LR_SCALE x the schedule's
    rate on the hidden matrices (its group carries lr_scale, which phase 08's set_lr applies),
    and AdamW with the config's betas and decay on the rest."""
    muon, adamw = make_optimizers(model, True, cfg.lr, cfg.lr * MUON_LR_SCALE,
                                  cfg.weight_decay, (cfg.beta1, cfg.beta2))
    for group in muon.param_groups:
        group["lr_scale"] = MUON_LR_SCALE
    n_muon = sum(p.numel() for p in hidden_matrices(model))
    n_adamw = sum(p.numel() for p in model.parameters()) - n_muon
    return OptimizerPair(muon, adamw), (
        f"Muon (lr {MUON_LR_SCALE:g} x the schedule's, momentum 0.95, 5 Newton-Schulz steps) on "
        f"{len(muon.param_groups[0]['params'])} hidden matrices ({n_muon:,} weights); AdamW, "
        f"betas ({cfg.beta1}, {cfg.beta2}), decay {cfg.weight_decay} on the rest ({n_adamw:,})")


def register_modern() -> None:
    """Teach phase 08's train.py the "modern" architecture and two presets, `modern-char` and
    `modern-gpt2`: phase 08's shakespeare-char and shakespeare-gpt2 recipes with every change
    and Muon, nothing else changed. Idempotent."""
    ARCHITECTURES["modern"] = Architecture(
        lambda config: ModernGPT(ModernConfig(**config)), modern_optimizer, MODERN_OPTIONS,
        fixed={"bias": False})
    for ours, theirs in (("modern-char", "shakespeare-char"), ("modern-gpt2", "shakespeare-gpt2")):
        PRESETS_08[ours] = {**PRESETS_08[theirs], "architecture": "modern", "bias": False}


# ---------------------------------------------------------------------------------------------
# The ablation.

# (row name, the options it switches on, Muon or not). First each change alone on GPT-2, then a
# stack that adds them one at a time (each stack row keeps every change of the rows above it).
ROWS: list[tuple[str, dict, bool]] = [
    ("GPT-2 (phase 07)", {}, False),
    ("only RoPE", {"rope": True}, False),
    ("only RMSNorm", {"rmsnorm": True}, False),
    ("only QK-norm", {"qk_norm": True}, False),
    ("only ReLU^2", {"activation": "relu2"}, False),
    ("only SwiGLU", {"activation": "swiglu"}, False),
    ("only untied head", {"untied": True}, False),
    ("only no biases", {"bias": False}, False),
    ("only Muon", {}, True),
    ("stack: RoPE + RMSNorm", {"rope": True, "rmsnorm": True}, False),
    ("stack: + QK-norm", {"rope": True, "rmsnorm": True, "qk_norm": True}, False),
    ("stack: + ReLU^2", {"rope": True, "rmsnorm": True, "qk_norm": True,
                         "activation": "relu2"}, False),
    ("stack: + untied, no biases", {"rope": True, "rmsnorm": True, "qk_norm": True,
                                    "activation": "relu2", "untied": True, "bias": False},
     False),
    ("stack: + Muon (all)", {"rope": True, "rmsnorm": True, "qk_norm": True,
                             "activation": "relu2", "untied": True, "bias": False}, True),
]


# Single changes that --core leaves out, to fit a busy laptop's time budget.
OPTIONAL_ROWS = ("only SwiGLU", "only untied head", "only no biases")


def train_step(model: ModernGPT, optimizers: list[torch.optim.Optimizer], x: torch.Tensor,
               y: torch.Tensor) -> torch.Tensor:
    """One step of train_char.py's recipe: loss, gradients, clipping at 1, every optimizer."""
    _, loss = model(x, y)
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    for opt in optimizers:
        opt.step()
    return loss


def train_once(config: ModernConfig, use_muon: bool, data: tuple[torch.Tensor, torch.Tensor],
               args: argparse.Namespace, steps: int, seed: int) -> tuple[float, float, int]:
    """Train one model with train_char.py's recipe; (validation loss, seconds, parameters)."""
    train_data, val_data = data
    torch.manual_seed(seed)
    model = ModernGPT(config)
    optimizers = make_optimizers(model, use_muon, args.lr, args.muon_lr, args.weight_decay)
    peaks = [[group["lr"] for group in opt.param_groups] for opt in optimizers]
    generator = torch.Generator().manual_seed(seed)
    cpu = torch.device("cpu")
    warmup = min(args.warmup, steps)
    start = time.perf_counter()
    for step in range(steps):
        for opt, opt_peaks in zip(optimizers, peaks, strict=True):
            for group, peak in zip(opt.param_groups, opt_peaks, strict=True):
                group["lr"] = lr_at(step, peak, warmup, steps, 0.1)
        x, y = get_batch(train_data, args.batch, config.context, generator, cpu)
        loss = train_step(model, optimizers, x, y)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}")
    seconds = time.perf_counter() - start
    val = evaluate(model, val_data, args.batch, config.context, args.eval_batches, cpu, seed=2)
    return val, seconds, model.n_params()


def train_task(task: tuple) -> tuple[float, float, int]:
    """train_once on a tuple of its arguments, one thread (a worker process of run_all)."""
    torch.set_num_threads(1)
    return train_once(*task)


def run_all(tasks: list[tuple], pool: ProcessPoolExecutor | None
            ) -> Iterator[tuple[float, float, int]]:
    """train_once on every task, in order: one after another, or spread over the pool's worker
    processes of one thread each (--jobs). A run's losses depend only on its task and its
    thread count, so --jobs 4 gives the losses of --threads 1 (tested); the seconds then
    include the other jobs' share of the machine."""
    if pool is None:
        return (train_once(*task) for task in tasks)
    return pool.map(train_task, tasks)  # in the tasks' order, each as soon as it is done


def step_times(base: ModernConfig, modern: ModernConfig,
               data: tuple[torch.Tensor, torch.Tensor], args: argparse.Namespace,
               repeats: int = 20) -> tuple[float, float]:
    """Median seconds of one training step of GPT-2 (AdamW) and of the full recipe (Muon),
    timed in turns (phase 09's take_turns), so a busy machine slows both alike. The rows'
    own seconds are each timed alone, and a shared laptop's load moves them."""
    generator = torch.Generator().manual_seed(0)
    x, y = get_batch(data[0], args.batch, base.context, generator, torch.device("cpu"))
    steps = {}
    for name, config, use_muon in (("base", base, False), ("modern", modern, True)):
        model = ModernGPT(config)
        optimizers = make_optimizers(model, use_muon, args.lr, args.muon_lr, args.weight_decay)
        steps[name] = functools.partial(train_step, model, optimizers, x, y)
    runs = take_turns(steps, 2 if args.quick else repeats, warmup=1 if args.quick else 3)
    return float(np.median(runs["base"])), float(np.median(runs["modern"]))


def next_run(done: Iterator[tuple[float, float, int]], parser: argparse.ArgumentParser,
             name: str, seed: int) -> tuple[float, float, int]:
    """The next finished run; a run whose loss blew up ends the script in one line that names
    it (the rows above it are printed already)."""
    try:
        return next(done)
    except FloatingPointError as err:
        parser.exit(1, f"error: {name}, seed {seed}: {err}; try a smaller --lr (or --muon-lr "
                       f"for the Muon rows)\n")


def verdict(gap: float, ours: list[float], theirs: list[float]) -> str:
    """'better' or 'worse' only when the gap is larger than both rows' seed spreads."""
    if min(len(ours), len(theirs)) < 2:
        return "one seed: no spread to compare the gap with"
    noise = max(max(v) - min(v) for v in (ours, theirs)) / 2
    if abs(gap) <= noise:
        return f"within the seeds' spread of ±{noise:.3f}"
    return "better" if gap < 0 else "worse"


def spread(values: list[float]) -> str:
    """mean +- half the range over seeds (the range is honest for 2 or 3 seeds)."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {(max(values) - min(values)) / 2:.3f}"


def row_colour(name: str) -> str:
    """GPT-2's rows grey (the equal-time one lighter), single changes blue, the stack orange."""
    if name.startswith("GPT-2"):
        return "0.55" if "phase 07" in name else "0.8"
    return "tab:blue" if name.startswith("only") else "tab:orange"


def plot_rows(names: list[str], losses: list[list[float]], out_dir: Path | None) -> Figure:
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    y = np.arange(len(names))[::-1]
    means = [float(np.mean(v)) for v in losses]
    ax.barh(y, means, color=[row_colour(n) for n in names])
    for yi, v in zip(y, losses, strict=True):
        ax.plot(v, [yi] * len(v), "k.", ms=4)
    ax.set_yticks(y, names)
    ax.set_xlim(min(min(v) for v in losses) - 0.05, max(max(v) for v in losses) + 0.05)
    ax.axvline(means[0], color="0.4", ls=":", lw=1)
    ax.set_xlabel("validation loss (nats per character; dots: seeds)")
    ax.set_title("After GPT-2: each change alone (blue), stacked (orange), on the char task",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_dir, "after_gpt2.png")
    return fig


# The flags of the ablation's runs, which the two one-off modes do not use; --norms draws no
# figure and reads no text either.
RUN_FLAGS = ("steps", "seeds", "lr", "muon_lr", "weight_decay", "warmup", "eval_batches", "core",
             "jobs")
UNUSED_BY_MODE = {"newton_schulz": RUN_FLAGS,
                  "norms": (*RUN_FLAGS, "corpus", "path", "out")}


def refuse_unused_flags(parser: argparse.ArgumentParser, args: argparse.Namespace,
                        argv: list[str] | None) -> None:
    """--newton-schulz and --norms train nothing: a run's flag typed with one of them would be
    silently ignored, so it is a usage error that names it."""
    for mode, unused in UNUSED_BY_MODE.items():
        given = flags_typed(parser, argv, unused) if getattr(args, mode) else []
        if given:
            parser.error(f"--{mode.replace('_', '-')} trains nothing, so it does not use "
                         f"{', '.join(given)}: leave {'it' if len(given) == 1 else 'them'} out, "
                         f"or drop --{mode.replace('_', '-')} to run the ablation")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    refuse_quick_overrides(parser, args, argv, ("steps", "warmup", "eval_batches", "batch"))
    if args.quick:
        args.steps, args.warmup, args.eval_batches, args.batch = 3, 1, 1, 4
        shape = {"n_layer": 1, "n_head": 2, "n_embd": 16, "context": 16}
    else:
        base = PRESETS["char-1m"]
        shape = {"n_layer": base.n_layer, "n_head": base.n_head, "n_embd": base.n_embd,
                 "context": base.context}
    refuse_unused_flags(parser, args, argv)
    torch.set_num_threads(args.threads)  # one by default, as the published table ran
    if args.norms:
        show_norm_timings((args.batch, shape["context"], shape["n_embd"]), args.quick, args.seed)
        return
    if not args.newton_schulz and args.warmup > args.steps:
        parser.error(f"--warmup {args.warmup} is longer than the run (--steps {args.steps}): "
                     f"the rate would never reach its peak nor decay; choose a shorter warmup")
    if args.jobs > 1 and args.threads != 1:
        parser.error(f"--jobs runs every training on one thread; --threads {args.threads} "
                     f"would time the steps on another number: leave --threads out")
    try:
        text, source, tokenizer = training_text(args.corpus, args.path, shape["context"])
        sizes = TrainConfig(micro_batch=args.batch, **shape)  # phase 08's memory estimate
        check_fits_in_memory(args.jobs * training_memory(sizes, tokenizer.vocab_size),
                             f"--batch {args.batch} with {args.jobs} job(s) at once")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    data = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    n_val = len(data) // 10
    split = (data[:-n_val], data[-n_val:])
    base_config = ModernConfig(vocab_size=tokenizer.vocab_size, **shape)
    if args.newton_schulz:
        show_newton_schulz(base_config, split[0], args.batch, args.seed, args.out)
        return
    seeds = [args.seed + i for i in range(args.seeds)]
    print(f"1. {source}: {len(text):,} characters; {shape['n_layer']} layers x "
          f"{shape['n_head']} heads x {shape['n_embd']}, context {shape['context']}, batch "
          f"{args.batch}, {args.steps} steps, AdamW lr {args.lr} (Muon lr {args.muon_lr}), "
          f"seeds {seeds}, {torch.get_num_threads()} CPU threads")
    results = []
    rows = [row for row in ROWS if not (args.core and row[0] in OPTIONAL_ROWS)]
    # The steps are timed first, before any training: on a machine no other run keeps busy, and
    # in seconds, so that a problem in the timing stops the script before the long part.
    base_step, all_step = step_times(base_config, replace(base_config, **rows[-1][1]), split,
                                     args)
    equal_steps = max(1, round(args.steps * all_step / base_step))
    print(f"   one step, timed in turns (median): GPT-2 {base_step * 1e3:.1f} ms, all "
          f"{all_step * 1e3:.1f} ms ({all_step / base_step:.2f}x): GPT-2 gets {equal_steps} "
          f"steps for the same seconds")
    tasks = [(replace(base_config, **options), use_muon, split, args, args.steps, seed)
             for _, options, use_muon in rows for seed in seeds]
    pool = (ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"))
            if args.jobs > 1 else None)
    try:
        done = run_all(tasks, pool)
        for name, _, _ in rows:
            runs = [next_run(done, parser, name, seed) for seed in seeds]  # in the tasks' order
            losses = [r[0] for r in runs]
            results.append((name, losses, float(np.mean([r[1] for r in runs])), runs[0][2]))
            print(f"   {name:28s} val {spread(losses):15s} {results[-1][2]:6.1f} s", flush=True)
        equal = [(base_config, False, split, args, equal_steps, seed) for seed in seeds]
        done = run_all(equal, pool)
        runs = [next_run(done, parser, f"GPT-2 for {equal_steps} steps", seed) for seed in seeds]
    finally:  # on an error too: queued runs are dropped, not trained before the exit
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    same_time = ([r[0] for r in runs], float(np.mean([r[1] for r in runs])))
    print(f"   GPT-2 for {equal_steps} steps  val {spread(same_time[0]):15s} "
          f"{same_time[1]:6.1f} s")

    base_loss = float(np.mean(results[0][1]))
    print(f"\n2. Validation loss (mean ± half the range over {len(seeds)} seeds), {args.steps} "
          f"steps each; change = against GPT-2's {base_loss:.3f}")
    print("| model | parameters | val loss | change | seconds |")
    print("|---|---|---|---|---|")
    for name, losses, seconds, n in results:
        print(f"| {name} | {n:,} | {spread(losses)} | "
              f"{np.mean(losses) - base_loss:+.3f} | {seconds:.1f} |")
    print(f"| GPT-2, same seconds as 'all' ({equal_steps} steps, "
          f"{all_step / base_step:.2f}x) | {results[0][3]:,} | "
          f"{spread(same_time[0])} | {np.mean(same_time[0]) - base_loss:+.3f} | "
          f"{same_time[1]:.1f} |")
    gap = float(np.mean(results[-1][1]) - np.mean(same_time[0]))
    print(f"\n   at equal wall time the full recipe is {gap:+.3f} nats against GPT-2's "
          f"({verdict(gap, results[-1][1], same_time[0])}); a change is within noise where "
          f"it is smaller than the seeds' spread (±) of the rows it compares")
    print("\nFigures")
    plot_rows([r[0] for r in results] + [f"GPT-2, {equal_steps} steps (equal time)"],
              [r[1] for r in results] + [same_time[0]], args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train GPT-2 and each post-2019 change on the "
                           "char task; print validation losses.")
    parser.add_argument("--steps", type=positive_int, default=680,
                        help="optimizer steps per run (default: 680, train_char.py's)")
    parser.add_argument("--seeds", type=positive_int, default=2, help="seeds per row")
    parser.add_argument("--batch", type=positive_int, default=32, help="windows per step")
    parser.add_argument("--lr", type=positive_float, default=5e-3,
                        help="AdamW peak learning rate (default: 5e-3, train_char.py's)")
    parser.add_argument("--muon-lr", type=positive_float, default=0.02,
                        help="Muon peak learning rate")
    parser.add_argument("--weight-decay", type=nonnegative_float, default=0.1,
                        help="AdamW weight decay on matrices")
    parser.add_argument("--warmup", type=nonnegative_int, default=50, help="linear warmup steps")
    parser.add_argument("--eval-batches", type=positive_int, default=80,
                        help="batches for the final validation loss")
    parser.add_argument("--core", action="store_true",
                        help=f"skip the single-change rows {', '.join(OPTIONAL_ROWS)} (they "
                             f"stay in the cumulative rows): 6 runs fewer")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model (1 layer, width 16, context 16), 3 steps of batch 4: "
                             "checks the script runs (for tests)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--newton-schulz", action="store_true",
                      help="only show what Muon's Newton-Schulz steps do to a 2 x 2 example and "
                           "to the model's real first gradients (a second), with a figure")
    mode.add_argument("--norms", action="store_true",
                      help="only time nn.LayerNorm, our RMSNorm and PyTorch's nn.RMSNorm, forward "
                           "and backward, at the ablation's shape (a few seconds)")
    parser.add_argument("--jobs", type=thread_count, default=1,
                        help="train this many runs at once, each in its own process on one "
                             "thread (default: 1; on a machine with N cores try N, and the "
                             "losses are those of --threads 1)")
    add_threads_flag(parser, 1, "; the published table ran on one, and a run's losses repeat "
                                "exactly only at the same thread count")
    add_corpus_flags(parser)
    add_seed_flag(parser, 1337)
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
