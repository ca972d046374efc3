"""Phase 05's transformer in PyTorch, with the very same parameter names, shapes and numbers.

Phase 05 built a GPT-shaped transformer in NumPy: LayerNorm, causal multi-head attention, a
GELU MLP, pre-LN residual blocks, token and position embeddings and a tied output head, every
backward pass written and gradient-checked by hand. This file writes the same model as
PyTorch modules, by hand (none of PyTorch's ready-made attention or transformer layers: the
attention is the four lines of phase 05's formula), and lets autograd do every backward pass.

The PyTorch model speaks phase 05's names: `state_dict()` has exactly the keys and shapes of
the NumPy model's `state_dict()` ("wte.weight" (V, d), "h.0.attn.c_attn.weight" (d, 3d), ...,
GPT-2's own names and layouts). So a converter is a copy:

    torch_model.load_state_dict({name: torch.tensor(array) for name, array in np_state.items()})

Two layout notes. Linear layers here are `Conv1D`: weight (n_in, n_out), y = x @ W + b, the
layout of phase 05, of GPT-2's released checkpoints (OpenAI's code implemented the layer as a
1-wide convolution, hence the name) and of Hugging Face's GPT2 (phase 09). nn.Linear stores the
transpose, (n_out, n_in), as mlp_torch.py showed. LayerNorm is PyTorch's own nn.LayerNorm, whose
`weight` and `bias` are phase 05's gain g and bias b, computed the same way (mean, biased
variance, eps inside the square root): the parity check below shows they agree to round-off.

The architecture and its history are phase 05's: attention from Vaswani et al. (2017,
"Attention Is All You Need"), layer normalisation from Ba, Kiros & Hinton (2016, "Layer
Normalization"), residual connections from He et al. (2015, "Deep Residual Learning for Image
Recognition"), the pre-LN GPT-2 layout from Radford et al. (2019, "Language Models are
Unsupervised Multitask Learners"), tied embeddings from Press & Wolf (2017, "Using the Output
Embedding to Improve Language Models").

Run:  python phase-06-pytorch/code/transformer_torch.py --d-model 16 --n-heads 2 --n-layers 2
      python phase-06-pytorch/code/transformer_torch.py --model MODEL.npz
      (MODEL.npz: a model saved by phase 05's train_transformer.py, run and sampled in PyTorch)
"""

import argparse
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from phase00.flags import add_seed_flag, check_fits_in_memory, script_parser, temperature
from phase03.char_tokenizer import CharTokenizer
from phase05.attention import MultiHeadAttention
from phase05.layernorm import LayerNorm
from phase05.positional import sinusoidal_encoding
from phase05.transformer import (
    GPT2_NAMES,
    Block,
    Transformer,
    TransformerConfig,
    add_shape_flags,
    batch_shape,
    training_bytes,
    vocabulary_size,
)
from phase06.device import limit_cpu_threads
from phase06.tensors import Parity, max_abs_diff, to_array, to_tensor


class Conv1D(nn.Module):
    """y = x @ weight + bias with weight of shape (n_in, n_out): phase 05's Linear, GPT-2's
    layout. Works on any leading shape: (B, T, n_in) -> (B, T, n_out)."""

    def __init__(self, n_in: int, n_out: int, std: float = 0.02) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * std)
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.n_in, self.n_out = n_in, n_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.n_in:
            raise ValueError(f"Conv1D({self.n_in} -> {self.n_out}) expects a last axis of "
                             f"{self.n_in}, got shape {tuple(x.shape)}")
        return x @ self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.n_in} -> {self.n_out}"


class TorchMultiHeadAttention(nn.Module):
    """Causal (or not) multi-head self-attention, written out: phase 05's formula, line by line.

    c_attn makes Q, K, V for all heads at once (d -> 3d); c_proj mixes the heads (d -> d).
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = True) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}): "
                             f"each head gets d_model / n_heads dimensions")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.causal = causal
        self.c_attn = Conv1D(d_model, 3 * d_model)
        self.c_proj = Conv1D(d_model, d_model)
        self.P: torch.Tensor | None = None  # the last attention weights, kept for pictures

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"expected x of shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        B, T, d = x.shape
        H, dh = self.n_heads, self.d_head
        q, k, v = self.c_attn(x).split(d, dim=-1)  # each (B, T, d)
        q, k, v = (a.view(B, T, H, dh).transpose(1, 2) for a in (q, k, v))  # (B, H, T, dh)
        S = q @ k.transpose(-2, -1) / math.sqrt(dh)  # (B, H, T, T): query i against key j
        if self.causal:
            future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            S = S.masked_fill(future, float("-inf"))  # no weight on positions j > i
        P = torch.softmax(S, dim=-1)  # each row sums to 1
        self.P = P.detach()
        O = P @ v  # (B, H, T, dh): weighted averages of the values
        out = self.c_proj(O.transpose(1, 2).reshape(B, T, d))  # heads side by side, mixed
        assert out.shape == x.shape
        return out


class TorchTransformerMLP(nn.Module):
    """Conv1D(d, 4d) -> GELU (tanh approximation, as GPT-2) -> Conv1D(4d, d)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.c_fc = Conv1D(d_model, 4 * d_model)
        self.c_proj = Conv1D(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class TorchBlock(nn.Module):
    """Pre-LN block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, d_model: int, n_heads: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=eps)
        self.attn = TorchMultiHeadAttention(d_model, n_heads, causal=True)
        self.ln_2 = nn.LayerNorm(d_model, eps=eps)
        self.mlp = TorchTransformerMLP(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))  # positions talk to each other
        return x + self.mlp(self.ln_2(x))  # each position thinks on its own


class TorchTransformer(nn.Module):
    """Phase 05's Transformer as an nn.Module, configured by phase 05's TransformerConfig."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.d_model)
        self.wpe = nn.Embedding(c.context, c.d_model) if c.positions == "learned" else None
        if c.positions == "sinusoidal":  # fixed, not learned: a buffer, not a parameter
            pe = 0.02 * torch.from_numpy(sinusoidal_encoding(c.context, c.d_model))  # float64
            self.register_buffer("pe", pe, persistent=False)  # not in state_dict, as in NumPy
        else:
            self.pe = None
        self.h = nn.ModuleList(TorchBlock(c.d_model, c.n_heads, c.ln_eps)
                               for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model, eps=c.ln_eps)
        self.lm_head = None if c.tied_head else nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation, as phase 05: N(0, 0.02) everywhere, the projections into the
        residual stream (attn.c_proj, mlp.c_proj) N(0, 0.02 / sqrt(2 n_layers)), biases 0,
        LayerNorm gains 1."""
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, residual_std)
            elif p.ndim == 2:  # embeddings, Conv1D weights, an untied head
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith("weight"):  # the only 1-D weights are LayerNorm gains
                nn.init.ones_(p)
            else:  # biases
                nn.init.zeros_(p)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) -> logits (B, T, vocab_size): position t scores token t + 1."""
        c = self.config
        B, T = batch_shape(tuple(ids.shape), c.context)  # phase 05's checks
        x = self.wte(ids)  # (B, T, d)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=ids.device))  # (T, d) over the batch
        elif self.pe is not None:
            x = x + self.pe[:T].to(x.dtype)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        W_out = self.wte.weight if self.lm_head is None else self.lm_head.weight  # (V, d)
        logits = x @ W_out.T  # (B, T, V)
        assert logits.shape == (B, T, c.vocab_size)
        return logits

    def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy over every position of every sequence."""
        logits = self.forward(ids)
        if targets.shape != ids.shape:
            raise ValueError(f"targets must have the shape of ids {tuple(ids.shape)}, got "
                             f"{tuple(targets.shape)}")
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def generate(self, ids: list[int], n_new: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> list[int]:
        """Sample n_new tokens after `ids`, one at a time, from softmax(logits / temperature)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        device = self.wte.weight.device
        out = list(ids)
        for _ in range(n_new):
            window = torch.tensor([out[-self.config.context:]], device=device)
            logits = self.forward(window)[0, -1].float() / temperature
            p = torch.softmax(logits, dim=-1).cpu()  # softmax subtracts the max itself
            out.append(int(torch.multinomial(p, 1, generator=generator)))
        return out


# ---- converters: the names match, so converting is copying ------------------------------------

def gpt2_named(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Phase 05's layer-level names ("c_attn.W", "ln_1.g") in GPT-2's ("c_attn.weight")."""
    out = {}
    for name, value in params.items():
        prefix, _, last = name.rpartition(".")
        out[f"{prefix}.{GPT2_NAMES[last]}" if prefix else GPT2_NAMES[last]] = value
    return out


def load_from_numpy(module: nn.Module, params: dict[str, np.ndarray]) -> nn.Module:
    """Copy phase 05 arrays (by GPT-2 name) into `module`; load_state_dict checks every name and
    shape. The module takes the arrays' dtype."""
    dtype = next(iter(params.values())).dtype
    module.to(torch.float64 if dtype == np.float64 else torch.float32)
    module.load_state_dict({k: to_tensor(v) for k, v in params.items()})
    return module


def write_into_numpy(params: dict[str, np.ndarray], module: nn.Module) -> None:
    """Copy the module's parameters into phase 05 arrays (in place), matching GPT-2 names."""
    state = module.state_dict()
    for name, p in params.items():
        prefix, _, last = name.rpartition(".")
        p[...] = to_array(state[f"{prefix}.{GPT2_NAMES[last]}" if prefix else GPT2_NAMES[last]])


def layernorm_to_torch(ln: LayerNorm) -> nn.LayerNorm:
    return load_from_numpy(nn.LayerNorm(ln.d, eps=ln.eps), gpt2_named(ln.params))


def layernorm_to_numpy(ln: nn.LayerNorm) -> LayerNorm:
    out = LayerNorm(ln.normalized_shape[0], ln.eps)
    write_into_numpy(out.params, ln)
    return out


def attention_to_torch(mha: MultiHeadAttention) -> TorchMultiHeadAttention:
    module = TorchMultiHeadAttention(mha.d_model, mha.n_heads, mha.causal)
    return load_from_numpy(module, gpt2_named(mha.params))


def attention_to_numpy(module: TorchMultiHeadAttention) -> MultiHeadAttention:
    out = MultiHeadAttention(module.d_model, module.n_heads, np.random.default_rng(0),
                             module.causal)
    write_into_numpy(out.params, module)
    return out


def block_to_torch(block: Block) -> TorchBlock:
    module = TorchBlock(block.ln_1.d, block.attn.n_heads, block.ln_1.eps)
    return load_from_numpy(module, gpt2_named(block.params))


def block_to_numpy(module: TorchBlock) -> Block:
    out = Block(module.attn.d_model, module.attn.n_heads, module.ln_1.eps,
                np.random.default_rng(0))
    write_into_numpy(out.params, module)
    return out


def transformer_to_torch(model: Transformer) -> TorchTransformer:
    """The PyTorch model with exactly the NumPy model's weights (and dtype)."""
    return load_from_numpy(TorchTransformer(model.config), model.state_dict())


def transformer_to_numpy(module: TorchTransformer) -> Transformer:
    """The NumPy model with exactly the PyTorch model's weights (and dtype)."""
    dtype = np.float64 if module.wte.weight.dtype == torch.float64 else np.float32
    model = Transformer(module.config, dtype=dtype)
    model.load_state_dict({k: to_array(v) for k, v in module.state_dict().items()})
    return model


# ---- parity checks -----------------------------------------------------------------------------

def compare_layer(name: str, layer: LayerNorm | MultiHeadAttention | Block, module: nn.Module,
                  x: np.ndarray, rng: np.random.Generator) -> Parity:
    """Forward, and backward from a random upstream gradient: every parameter and the input."""
    out = layer.forward(x)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    x_t = to_tensor(x).requires_grad_(True)
    out_t = module(x_t)
    (out_t * to_tensor(dout)).sum().backward()  # sends exactly dout into the output
    theirs = dict(module.named_parameters())
    grads = {k: max_abs_diff(g, theirs[k].grad) for k, g in gpt2_named(layer.grads).items()}
    grads["x"] = max_abs_diff(dx, x_t.grad)
    return Parity(name, max_abs_diff(out, out_t), grads)


def compare_transformer(model: Transformer, ids: np.ndarray, targets: np.ndarray) -> Parity:
    """Logits and the gradient of every parameter of the mean cross-entropy, whole model."""
    module = transformer_to_torch(model)
    model.loss(ids, targets)
    model.backward_loss()
    logits = model.forward(ids)
    loss_t = module.loss(torch.as_tensor(ids), torch.as_tensor(targets))
    loss_t.backward()
    theirs = dict(module.named_parameters())
    grads = {k: max_abs_diff(g, theirs[k].grad) for k, g in model.grads.items()}
    c = model.config
    return Parity(f"phase 05 transformer {c.n_layers}L d{c.d_model} {c.positions}"
                  f"{'' if c.tied_head else ' untied'}",
                  max_abs_diff(logits, module(torch.as_tensor(ids))), grads)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = TransformerConfig(args.vocab_size, args.context, args.d_model, args.n_heads,
                                   args.n_layers, args.positions, not args.untied)
        # float64, a batch of 2: the NumPy model, its PyTorch twin and a fresh one, each with
        # gradients and the activations of a forward and backward pass
        check_fits_in_memory(3 * training_bytes(config.vocab_size, config.context,
                                                config.d_model, config.n_heads, config.n_layers,
                                                2, 8, config.tied_head),
                             f"--vocab-size {config.vocab_size} --context {config.context} "
                             f"--d-model {config.d_model} --n-layers {config.n_layers}")
    except ValueError as err:
        parser.error(str(err))
    if args.model is not None:  # read it first: a wrong file is refused before any work
        try:
            trained = Transformer.load(args.model, dtype=np.float32)
            tok = CharTokenizer.load(args.model.with_suffix(".chars.json"))  # saved beside it
        except (FileNotFoundError, ValueError) as err:
            parser.exit(2, f"error: {err}\n")
        if tok.vocab_size != trained.config.vocab_size:
            parser.exit(2, f"error: {args.model.with_suffix('.chars.json')} has "
                           f"{tok.vocab_size} characters but the model expects "
                           f"{trained.config.vocab_size}: they were not saved together\n")
    limit_cpu_threads(1)  # small tensors: one thread is faster (device.py explains)
    rng = np.random.default_rng(args.seed)
    d = config.d_model

    print("1. LayerNorm: phase 05's against PyTorch's own nn.LayerNorm")
    ln = LayerNorm(4)
    x1 = np.array([[1.0, 2.0, 3.0, 4.0]])
    print(f"   x = [1, 2, 3, 4]: NumPy {np.round(ln.forward(x1)[0], 4).tolist()}, nn.LayerNorm "
          f"{np.round(to_array(layernorm_to_torch(ln)(to_tensor(x1)))[0], 4).tolist()}")
    ln = LayerNorm(d)
    ln.params["g"] += rng.normal(0, 0.1, d)  # move the gain and bias off 1 and 0
    ln.params["b"] += rng.normal(0, 0.1, d)
    checks = [compare_layer(f"phase 05 LayerNorm = nn.LayerNorm (d={d})", ln,
                            layernorm_to_torch(ln), rng.normal(size=(2, 5, d)) * 3 + 1, rng)]

    print(f"\n2. Attention, a block and the whole model (d_model {d}, {config.n_heads} heads, "
          f"float64)")
    for causal in (True, False):
        mha = MultiHeadAttention(d, config.n_heads, rng, causal=causal)
        checks.append(compare_layer(f"phase 05 attention ({'causal' if causal else 'full'})",
                                    mha, attention_to_torch(mha), rng.normal(size=(2, 5, d)),
                                    rng))
    block = Block(d, config.n_heads, config.ln_eps, rng)
    for p in block.params.values():
        p += rng.normal(0, 0.05, p.shape)
    checks.append(compare_layer("phase 05 block", block, block_to_torch(block),
                                rng.normal(size=(2, 5, d)), rng))
    model = Transformer(config, seed=args.seed)
    for p in model.params.values():  # move LayerNorm gains and biases off 1 and 0
        p += rng.normal(0, 0.05, p.shape)
    ids = rng.integers(0, config.vocab_size, size=(2, config.context))
    targets = rng.integers(0, config.vocab_size, size=(2, config.context))
    checks.append(compare_transformer(model, ids, targets))
    print(f"   {'component':46s} {'forward':>10s} {'gradient':>10s} {'arrays':>6s}")
    for parity in checks:
        print(f"   {parity.line()}")

    module = transformer_to_torch(model)
    print(f"\n3. Same names, same shapes: {len(model.state_dict())} arrays, "
          f"{model.n_params:,} parameters on both sides")
    ours, theirs = model.state_dict(), module.state_dict()
    print(f"   state_dict keys identical, in the same order: {list(ours) == list(theirs)}")
    for name in list(ours)[:8]:
        print(f"   {name:26s} NumPy {str(ours[name].shape):10s} PyTorch "
              f"{str(tuple(theirs[name].shape)):10s}")
    print(f"   ... and {len(ours) - 8} more")
    back = transformer_to_numpy(module)
    print(f"   round trip NumPy -> PyTorch -> NumPy keeps every weight: "
          f"{all(np.array_equal(v, back.params[k]) for k, v in model.params.items())}")
    torch.manual_seed(args.seed)  # the fresh weights are random: seed them, or the loss wanders
    fresh = TorchTransformer(config)
    with torch.no_grad():
        loss0 = fresh.loss(torch.as_tensor(ids), torch.as_tensor(targets)).item()
    print(f"   a fresh PyTorch model (GPT-2 init, torch seed {args.seed}): loss {loss0:.4f}, "
          f"ln {config.vocab_size} = {math.log(config.vocab_size):.4f}")

    if args.model is not None:
        print(f"\n4. A model trained by phase 05, run by PyTorch: {args.model}")
        torch_trained = transformer_to_torch(trained)
        window = rng.integers(0, trained.config.vocab_size, size=(1, trained.config.context))
        gap = max_abs_diff(trained.forward(window), torch_trained(torch.as_tensor(window)))
        print(f"   {trained.n_params:,} parameters, float32: logits differ by {gap:.1e} "
              f"(float32 round-off)")
        start = "\n" if "\n" in tok.stoi else tok.chars[0]  # a text may have no newline
        sample = torch_trained.generate(tok.encode(start), 200, args.temperature,
                                        torch.Generator().manual_seed(args.seed))
        print("   sampled by PyTorch:\n   | " + tok.decode(sample).replace("\n", "\n   | "))


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("phase 05's transformer rebuilt in PyTorch "
                           "with the same names and weights.")
    parser.add_argument("--vocab-size", type=vocabulary_size, default=11,
                        help="tokens in the vocabulary")
    add_shape_flags(parser, context=8, d_model=16, n_heads=2, n_layers=2)
    parser.add_argument("--model", type=Path, default=None,
                        help="a model saved by phase 05's train_transformer.py: run it in PyTorch "
                             "and sample from it")
    parser.add_argument("--temperature", type=temperature, default=0.8,
                        help="sampling temperature with --model")
    add_seed_flag(parser)
    return parser


if __name__ == "__main__":
    main()
