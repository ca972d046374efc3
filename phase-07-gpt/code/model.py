"""A GPT, written by hand in PyTorch: phase 05's transformer, now fast, batched and GPU-ready.

Every piece is one we built in NumPy in phase 05 with its backward pass; PyTorch's autograd
(phase 06) now writes the backward passes for us. The architecture is GPT-2's (Radford et al.
2019, "Language Models are Unsupervised Multitask Learners"), itself the decoder of Vaswani et
al. (2017) with the LayerNorm moved in front of each sub-layer:

    x = wte[idx] + wpe[positions]                        (B, T, C) token + learned position
    x = x + attn(ln_1(x))      for each of n_layer blocks  positions exchange information
    x = x + mlp(ln_2(x))                                   each position thinks on its own
    logits = ln_f(x) @ wte^T                             (B, T, vocab) tied output head

- Causal self-attention has two paths that compute the same thing: a hand path (scores, an
  explicit mask, softmax, weighted sum: the lesson) and a fast path through
  F.scaled_dot_product_attention, which fuses them into one kernel (FlashAttention-style where
  the hardware allows; Dao et al. 2022). The tests check they agree to 1e-10 in float64.
- The MLP is Linear(C, 4C) -> GELU (tanh approximation, as GPT-2) -> Linear(4C, C).
- Weight tying (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models"): the
  output layer IS the token embedding table, one tensor used twice.
- Initialisation as GPT-2: N(0, 0.02) for weights and embeddings, zeros for biases, and the two
  projections that add into the residual stream (attn.c_proj, mlp.c_proj) scaled down by
  1/sqrt(2 n_layer), so the sum of 2 n_layer contributions keeps a steady size. (OpenAI's own
  GPT-2 code drew the position table wpe from N(0, 0.01); 0.02 for it is Hugging Face's and
  nanoGPT's choice, which we follow.)
- A KV cache for generation: the keys and values of past positions never change, so keep them
  instead of recomputing them for every new token.

Parameter names and shapes follow Hugging Face's GPT-2 (transformer.h.0.attn.c_attn.weight ...),
except that our Linear layers store weights as (out, in) where GPT-2's Conv1D stores (in, out):
phase 09 converts between the two with a transpose and checks equal logits.

Run:  python phase-07-gpt/code/model.py --preset gpt2-124m          (count parameters and FLOPs)
"""

import argparse
import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from phase00.flags import positive_int, script_parser

ATTENTION_PATHS = ("fast", "hand")


@dataclass(frozen=True)
class GPTConfig:
    """The shape of a GPT. The defaults are GPT-2 small (124M parameters)."""

    vocab_size: int = 50257
    context: int = 1024  # longest sequence the position table covers ("block size")
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # GPT-2 has biases in every Linear and LayerNorm
    attention: str = "fast"  # "fast": F.scaled_dot_product_attention; "hand": mask + softmax

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head "
                             f"({self.n_head}): each head gets n_embd / n_head dimensions")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.attention not in ATTENTION_PATHS:
            raise ValueError(f"unknown attention path {self.attention!r}; choose one of "
                             f"{list(ATTENTION_PATHS)}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


# Named shapes, from a character model that trains on a laptop CPU to GPT-2 XL. The character
# presets set vocab_size=65 (Tiny Shakespeare's characters); training scripts replace it with
# the real vocabulary size of their data.
PRESETS: dict[str, GPTConfig] = {
    "char-1m": GPTConfig(vocab_size=65, context=64, n_layer=4, n_head=4, n_embd=144),
    "char-10m": GPTConfig(vocab_size=65, context=256, n_layer=6, n_head=6, n_embd=384,
                          dropout=0.2),
    "gpt2-124m": GPTConfig(),
    "gpt2-medium": GPTConfig(n_layer=24, n_head=16, n_embd=1024),
    "gpt2-large": GPTConfig(n_layer=36, n_head=20, n_embd=1280),
    "gpt2-xl": GPTConfig(n_layer=48, n_head=25, n_embd=1600),
}


def preset(name: str, **overrides: object) -> GPTConfig:
    """A named config, with any fields overridden: preset("gpt2-124m", dropout=0.1)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets are {sorted(PRESETS)}")
    valid = {f.name for f in fields(GPTConfig)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown config fields {unknown}; valid fields are {sorted(valid)}")
    return replace(PRESETS[name], **overrides)


class KVCache:
    """The keys and values of every position seen so far, per layer, preallocated.

    k[layer], v[layer]: (B, n_head, context, head_dim); positions 0..length-1 are filled.
    """

    def __init__(self, config: GPTConfig, batch: int, device: torch.device,
                 dtype: torch.dtype) -> None:
        shape = (batch, config.n_head, config.context, config.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.length = 0  # positions stored (the same for every layer once a forward finishes)
        self.capacity = config.context

    def mismatch(self, config: GPTConfig, batch: int, device: torch.device,
                 dtype: torch.dtype) -> str | None:
        """Why this cache cannot serve a forward pass of `batch` sequences of a model with this
        config, device and dtype; None when it can. Writing keys into a cache of another shape,
        device or dtype would fail deep inside attention, or (a dtype) silently round them."""
        made_for = (len(self.k), *self.k[0].shape[1:])  # (n_layer, n_head, context, head_dim)
        expected = (config.n_layer, config.n_head, config.context, config.head_dim)
        if made_for != expected:
            return (f"the KV cache was made for another model shape: (layers, heads, context, "
                    f"head size) = {made_for}, this model has {expected}")
        if self.k[0].shape[0] != batch:
            return (f"the KV cache holds {self.k[0].shape[0]} sequence(s) but the input has "
                    f"{batch}: make the cache with the input's batch size")
        if self.k[0].device != device:
            return (f"the KV cache is on {self.k[0].device} but the input is on {device}: make "
                    f"the cache on the model's device")
        if self.k[0].dtype != dtype:
            return (f"the KV cache holds {self.k[0].dtype} but the model's weights are {dtype}: "
                    f"make the cache with the weights' dtype")
        return None


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: phase 05's MultiHeadAttention, in PyTorch."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.head_dim
        self.attention = config.attention
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.last_weights: torch.Tensor | None = None  # hand path: (B, H, T, T), for pictures

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C): every head attends, the heads are merged and projected.

        With a cache, x holds only the new positions: their keys and values are written into
        layer `layer` of the cache after the cache.length stored ones, and their queries attend
        over all of them (GPT.forward moves cache.length on once every layer has written)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        # (B, T, C) -> (B, n_head, T, head_dim): the heads become a batch dimension
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))
        past = 0
        if cache is not None:  # append this step's keys and values, attend over all of them
            past = cache.length
            cache.k[layer][:, :, past:past + T] = k
            cache.v[layer][:, :, past:past + T] = v
            k = cache.k[layer][:, :, :past + T]
            v = cache.v[layer][:, :, :past + T]
        p_drop = self.dropout if self.training else 0.0
        if self.attention == "hand":
            y = self.hand_attention(q, k, v, past, p_drop)
        elif past == 0:  # queries and keys are the same positions: the usual causal mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p_drop, is_causal=True)
        else:  # new queries at positions past..past+T-1 see every key up to their own
            mask = (torch.arange(past + T, device=x.device)[None, :]
                    <= torch.arange(past, past + T, device=x.device)[:, None])
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p_drop)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))

    def hand_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past: int,
                       p_drop: float) -> torch.Tensor:
        """softmax(q k^T / sqrt(d) + mask) v, written out: phase 05's attention_forward."""
        T, S = q.shape[2], k.shape[2]  # S = past + T keys
        scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.head_dim))  # (B, H, T, S)
        future = (torch.arange(S, device=q.device)[None, :]
                  > torch.arange(past, past + T, device=q.device)[:, None])  # (T, S)
        scores = scores.masked_fill(future, float("-inf"))
        weights = F.softmax(scores, dim=-1)
        self.last_weights = weights.detach()
        return F.dropout(weights, p_drop) @ v  # (B, H, T, head_dim)


class MLP(nn.Module):
    """Linear(C, 4C) -> GELU (tanh approximation) -> Linear(4C, C) -> dropout."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU, phase 01's gelu()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C), each position on its own."""
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=1e-5, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=1e-5, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        """(B, T, C) -> (B, T, C). Each branch reads a LayerNorm of the stream and adds into it;
        the cache and this block's layer number go on to attention."""
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2's architecture. forward(idx) -> logits; forward(idx, targets) -> (logits, loss)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(config.vocab_size, config.n_embd),
            "wpe": nn.Embedding(config.context, config.n_embd),
            "drop": nn.Dropout(config.dropout),
            "h": nn.ModuleList(Block(config) for _ in range(config.n_layer)),
            "ln_f": nn.LayerNorm(config.n_embd, eps=1e-5, bias=config.bias),
        })
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied: one tensor, used twice
        self.init_weights()

    def init_weights(self) -> None:
        """GPT-2's initialisation, drawn in place: N(0, 0.02) for every Linear weight and both
        embedding tables, zeros for the Linear biases (the LayerNorms keep PyTorch's ones and
        zeros), then the two projections that add into the residual stream of each block
        (attn.c_proj, mlp.c_proj) drawn again, narrower: std 0.02 / sqrt(2 n_layer)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):  # wte and wpe (OpenAI used 0.01 for wpe)
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # the projections that write into the residual
                nn.init.normal_(p, mean=0.0, std=residual_std)

    def n_params(self, include_positions: bool = True) -> int:
        """Parameters, each tensor counted once (the tied head is the embedding table)."""
        n = sum(p.numel() for p in self.parameters())
        return n if include_positions else n - self.transformer.wpe.weight.numel()

    def flops_per_token(self, T: int | None = None) -> int:
        """Training FLOPs per token: 6N for the weights (2 forward, 4 backward: a multiply and
        an add per weight; Kaplan et al. 2020, "Scaling Laws for Neural Language Models", count
        training as about 6N) plus 12 * n_layer * n_embd * T for attention's scores and weighted
        sums over T positions (the form Chowdhery et al. 2022, "PaLM", use for their "model
        FLOPs utilisation": the share of a device's peak arithmetic a run uses; phase 08).
        N here is every parameter but the position table (the head's matmul is real work).
        T is the sequence length, 1 to the context: the model cannot read a longer one."""
        c = self.config
        T = c.context if T is None else T
        if not 1 <= T <= c.context:
            raise ValueError(f"a sequence of {T} tokens: this model reads 1 to {c.context} "
                             f"(its context)")
        return 6 * self.n_params(include_positions=False) + 12 * c.n_layer * c.n_embd * T

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """idx (B, T) token ids -> logits (B, T, vocab); with targets also the mean loss.

        With a cache, idx holds only the NEW tokens; their positions continue after the cached
        ones. Without one, T may not exceed the context (crop longer inputs first).
        """
        if idx.dim() != 2:
            raise ValueError(f"expected token ids of shape (B, T), got {tuple(idx.shape)}")
        if targets is not None and targets.shape != idx.shape:
            raise ValueError(f"targets must have the shape of the inputs {tuple(idx.shape)} (the "
                             f"token after each input), got {tuple(targets.shape)}")
        B, T = idx.shape
        past = 0 if cache is None else cache.length
        if cache is not None:
            problem = cache.mismatch(self.config, B, idx.device, self.transformer.wte.weight.dtype)
            if problem:
                raise ValueError(problem)
        if past + T > self.config.context:
            raise ValueError(f"{past + T} positions exceed the context of {self.config.context}"
                             f" tokens: crop the input to its last {self.config.context} tokens")
        pos = torch.arange(past, past + T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache, i)
        if cache is not None:
            cache.length = past + T
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Append max_new_tokens sampled tokens to idx (B, T) and return (B, T + new).

        Each step: logits of the last position / temperature; keep the top_k largest and/or the
        smallest set whose probabilities add up to top_p (nucleus sampling, Holtzman et al.
        2019); softmax (max subtracted inside); draw. Only the last `context` tokens are ever
        fed to the model: a longer text is cropped from the left. With use_cache, the keys and
        values of past positions are kept, so each step computes one new position (the same
        tokens as without the cache, faster). Once the text is longer than the context, the
        window slides and every position in it changes, so each step recomputes the window.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        was_training = self.training
        self.eval()
        ctx = self.config.context
        cache = None
        try:  # the model's own mode back even if a step fails (or Ctrl-C stops the loop)
            for _ in range(max_new_tokens):
                if not use_cache or idx.size(1) > ctx:
                    logits = self(idx[:, -ctx:])  # the whole (cropped) window, from scratch
                elif cache is None:
                    cache = KVCache(self.config, idx.size(0), idx.device,
                                    self.transformer.wte.weight.dtype)
                    logits = self(idx, cache=cache)  # the prompt fills the cache
                else:
                    logits = self(idx[:, -1:], cache=cache)  # one new position
                next_id = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)
                idx = torch.cat([idx, next_id], dim=1)
        finally:
            self.train(was_training)
        return idx


def filter_logits(logits: torch.Tensor, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Set to -inf every logit outside the top_k and outside the top_p nucleus. (B, V)."""
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = F.softmax(sorted_logits, dim=-1)
        before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above
        drop_sorted = before >= top_p  # already covered top_p without this token: drop it
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, temperature: float, top_k: int | None,
                top_p: float | None, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row, (B, 1), drawn from the filtered, tempered distribution."""
    logits = filter_logits(logits.float() / temperature, top_k, top_p)
    probs = F.softmax(logits, dim=-1)  # softmax subtracts the max internally: no overflow
    return torch.multinomial(probs, num_samples=1, generator=generator)


def parameter_table(model: GPT) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, shape, count) of one block's tensors and of the embeddings: where N lives."""
    rows = []
    for name, p in model.named_parameters():
        if ".h." in f".{name}" and not name.startswith("transformer.h.0."):
            continue  # every block is the same: show block 0 only
        rows.append((name, tuple(p.shape), p.numel()))
    return rows


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    overrides = {} if args.context is None else {"context": args.context}
    config = preset(args.preset, **overrides)
    with torch.device("meta"):  # shapes only: no memory, no time spent drawing weights
        model = GPT(config)
    print(f"1. {args.preset}: {asdict(config)}")
    print(f"   parameters: {model.n_params():,} ({model.n_params(False):,} without the "
          f"position table)")
    print("   where they live (block 0 shown; the other blocks are identical):")
    block = 0
    for name, shape, count in parameter_table(model):
        if name.startswith("transformer.h.0."):
            block += count
        print(f"   {name:40s} {str(shape):16s} {count:>12,}")
    print(f"   one block: {block:,} = 12 C^2 + 13 C with C = {config.n_embd}: "
          f"{12 * config.n_embd ** 2 + 13 * config.n_embd:,}")
    print(f"   the head reuses transformer.wte.weight: "
          f"{model.lm_head.weight is model.transformer.wte.weight}")
    T = config.context
    per_token = model.flops_per_token(T)
    print(f"\n2. Training FLOPs per token at context {T}: 6 N + 12 L C T = "
          f"{6 * model.n_params(False):,} + {12 * config.n_layer * config.n_embd * T:,} = "
          f"{per_token / 1e9:.3f} GFLOP")
    for tokens in (1e9, 10e9):
        hours = per_token * tokens / 10e12 / 3600
        when = f"{hours:,.0f} hours" if hours >= 10 else f"{hours * 60:,.0f} minutes"
        print(f"   {tokens / 1e9:.0f}B tokens: {per_token * tokens:.2e} FLOPs; at 10 TFLOP/s "
              f"sustained, {when}")


def add_preset_flag(parser: argparse.ArgumentParser, default: str,
                    names: list[str] | None = None) -> None:
    """Give a script `--preset`: which of PRESETS (or of `names`) shapes its model."""
    shape = PRESETS[default]
    parser.add_argument("--preset", choices=names or sorted(PRESETS), default=default,
                        help=f"model shape (default: {default}: {shape.n_layer} layers, "
                             f"{shape.n_head} heads, {shape.n_embd} wide)")


def add_context_flag(parser: argparse.ArgumentParser, default: int | None = None) -> None:
    """Give a script `--context`: the longest sequence the model reads. None keeps the preset's
    (or the config's) own."""
    shown = "the preset's" if default is None else default
    parser.add_argument("--context", type=positive_int, default=default,
                        help=f"tokens per sequence, the most the model reads (default: {shown})")


def add_gpt_shape_flags(parser: argparse.ArgumentParser, n_layer: int | None = None,
                        n_head: int | None = None, n_embd: int | None = None,
                        context: int | None = None) -> None:
    """Give a script the four numbers that shape a GPTConfig besides its vocabulary: blocks,
    heads, width and context. A default of None keeps the preset's value, so the flag is an
    override."""
    for flag, default, meaning in (("--n-layer", n_layer, "transformer blocks"),
                                   ("--n-head", n_head, "attention heads per block"),
                                   ("--n-embd", n_embd, "width, the size of every token vector")):
        shown = "the preset's" if default is None else default
        parser.add_argument(flag, type=positive_int, default=default,
                            help=f"{meaning} (default: {shown})")
    add_context_flag(parser, context)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Build a GPT from a preset and count its parameters and FLOPs.")
    add_preset_flag(parser, "gpt2-124m")
    add_context_flag(parser)
    return parser


if __name__ == "__main__":
    main()
