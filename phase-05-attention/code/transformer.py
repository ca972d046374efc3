"""A decoder-only transformer (GPT-2's architecture) in NumPy, every backward pass by hand.

The pieces of this phase stacked into a language model. Tokens become vectors (embeddings,
phase 03), positions are added in (positional.py), and N identical blocks each let every
position gather information from the earlier ones (attention.py) and then think about it alone
(a small MLP), each sub-layer wrapped in a pre-LN residual connection (layernorm.py):

    x = wte[ids] + wpe[positions]                       (B, T, d)
    for each block:  x = x + attn(ln_1(x))              positions talk to each other
                     x = x + mlp(ln_2(x))               each position thinks on its own
    logits = ln_f(x) @ wte^T                            (B, T, V): a score for every next token

The MLP is Linear(d, 4d) -> GELU (tanh approximation) -> Linear(4d, d). With `positions=
"learned"`, tied head, biases everywhere and LayerNorm eps 1e-5 this is exactly GPT-2's
architecture (Radford et al. 2019), and `load_state_dict` takes GPT-2's own parameter names and
layouts ("h.0.attn.c_attn.weight" of shape (d, 3d), ...), so phase 09 can load real GPT-2
weights into this NumPy model and compare its logits with PyTorch and Hugging Face.

Weight tying (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models"): the
output layer reuses the token embedding table, so "which vector means token i" is learned once.
Initialisation as in common GPT-2 reproductions: weights and embeddings N(0, 0.02) (OpenAI's
released GPT-2 code drew token embeddings with std 0.02 and positions with 0.01), and, as the
GPT-2 paper describes, the two projections that write into the residual stream (attn.c_proj,
mlp.c_proj) scaled down by 1/sqrt(2 n_layer), because 2 n_layer of them add up along the
residual path.

Sinusoidal positions (an option, not GPT-2's) are scaled by 0.02, the size of the token
embeddings at initialisation: at full size (each row has length sqrt(d/2)) they would drown the
tokens, and the model would learn almost nothing about which character it is reading.

Run:  python phase-05-attention/code/transformer.py --n-layers 2 --d-model 32 --n-heads 4
"""

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from phase00.corpus import write_atomically
from phase00.flags import add_seed_flag, check_fits_in_memory, positive_int, script_parser
from phase02.layers import Activation, SoftmaxCrossEntropy
from phase03.embeddings import Embedding
from phase04.char_rnn import LayerGroup
from phase05.attention import Linear, MultiHeadAttention
from phase05.layernorm import LayerNorm
from phase05.positional import sinusoidal_encoding

POSITIONS = ("learned", "sinusoidal", "none")
# Our layers call their arrays W, b (Linear, Embedding) and g, b (LayerNorm), the math's names;
# GPT-2's checkpoints call them weight and bias. The model speaks GPT-2's names.
GPT2_NAMES = {"W": "weight", "b": "bias", "g": "weight"}


@dataclass
class TransformerConfig:
    """The shape of the model. GPT-2 small is vocab_size=50257, context=1024, d_model=768,
    n_heads=12, n_layers=12, positions="learned", tied_head=True."""

    vocab_size: int
    context: int = 64
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    positions: str = "learned"
    tied_head: bool = True
    ln_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "d_model", "n_heads", "n_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads "
                             f"({self.n_heads}): each head gets d_model / n_heads dimensions")
        if self.positions not in POSITIONS:
            raise ValueError(f"unknown positions {self.positions!r}; choose one of {POSITIONS}")
        if self.positions == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"sinusoidal positions need an even d_model, got {self.d_model}")


class MLP(LayerGroup):
    """Linear(d, 4d) -> GELU -> Linear(4d, d): each position, on its own, transformed."""

    def __init__(self, d_model: int, rng: np.random.Generator) -> None:
        self.c_fc = Linear(d_model, 4 * d_model, rng)
        self.act = Activation("gelu")  # phase 01's GELU, tanh approximation, as GPT-2
        self.c_proj = Linear(4 * d_model, d_model, rng)
        self.layers = {"c_fc": self.c_fc, "c_proj": self.c_proj}  # params: "c_fc.W", ...

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.c_proj.forward(self.act.forward(self.c_fc.forward(x)))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self.c_fc.backward(self.act.backward(self.c_proj.backward(dout)))


class Block(LayerGroup):
    """One pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, d_model: int, n_heads: int, eps: float, rng: np.random.Generator) -> None:
        self.ln_1 = LayerNorm(d_model, eps)
        self.attn = MultiHeadAttention(d_model, n_heads, rng, causal=True)
        self.ln_2 = LayerNorm(d_model, eps)
        self.mlp = MLP(d_model, rng)
        self.layers = {"ln_1": self.ln_1, "attn.c_attn": self.attn.c_attn,  # by GPT-2's names
                       "attn.c_proj": self.attn.c_proj, "ln_2": self.ln_2,
                       "mlp.c_fc": self.mlp.c_fc, "mlp.c_proj": self.mlp.c_proj}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = x + self.attn.forward(self.ln_1.forward(x))
        return x + self.mlp.forward(self.ln_2.forward(x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        # The residual "+" copies the gradient to both branches; each branch adds its share.
        dx = dout + self.ln_2.backward(self.mlp.backward(dout))
        return dx + self.ln_1.backward(self.attn.backward(dx))


def batch_shape(shape: tuple[int, ...], context: int) -> tuple[int, int]:
    """(B, T) of a batch of token ids of this `shape`, or a ValueError that says what was wrong:
    not one row of ids per sequence, or sequences longer than the model's context."""
    if len(shape) != 2:
        raise ValueError(f"expected token ids of shape (B, T), got {tuple(shape)}")
    B, T = shape
    if T > context:
        raise ValueError(f"sequence of {T} tokens is longer than the context of {context}: "
                         f"crop it to the last {context} tokens")
    return B, T


class Head:
    """The untied output layer: logits = x @ W^T with W of shape (V, d), no bias (as GPT-2)."""

    def __init__(self, W: np.ndarray) -> None:
        self.params: dict[str, np.ndarray] = {"W": W}
        self.grads: dict[str, np.ndarray] = {"W": np.zeros_like(W)}


class Transformer:
    """GPT-shaped decoder-only transformer with forward, backward and GPT-2-named parameters."""

    def __init__(self, config: TransformerConfig, seed: int = 0,
                 dtype: type = np.float64) -> None:
        self.config = c = config
        rng = np.random.default_rng(seed)
        self.wte = Embedding(c.vocab_size, c.d_model, rng, std=0.02)
        self.wpe = Embedding(c.context, c.d_model, rng, std=0.02) if c.positions == "learned" \
            else None
        self.pe = (0.02 * sinusoidal_encoding(c.context, c.d_model)
                   if c.positions == "sinusoidal" else None)
        self.blocks = [Block(c.d_model, c.n_heads, c.ln_eps, rng) for _ in range(c.n_layers)]
        self.ln_f = LayerNorm(c.d_model, c.ln_eps)
        self.head = None if c.tied_head else Head(rng.normal(0, 0.02, (c.vocab_size, c.d_model)))
        for name, layer in self.layers().items():  # GPT-2's initialisation
            if isinstance(layer, Linear):
                residual = name.endswith("c_proj")  # writes into the residual stream
                std = 0.02 / np.sqrt(2 * c.n_layers) if residual else 0.02
                layer.params["W"] = rng.normal(0.0, std, size=layer.params["W"].shape)
        self.to(dtype)
        self.loss_layer = SoftmaxCrossEntropy()

    def layers(self) -> dict[str, object]:
        """Every layer that holds parameters, by its GPT-2 name prefix."""
        out: dict[str, object] = {"wte": self.wte}
        if self.wpe is not None:
            out["wpe"] = self.wpe
        for i, block in enumerate(self.blocks):
            out |= {f"h.{i}.{name}": layer for name, layer in block.layers.items()}
        out["ln_f"] = self.ln_f
        if self.head is not None:
            out["lm_head"] = self.head
        return out

    @property
    def params(self) -> dict[str, np.ndarray]:
        """GPT-2 name -> the layer's own array (not a copy): optimizers update them in place."""
        return {f"{prefix}.{GPT2_NAMES[k]}": v for prefix, layer in self.layers().items()
                for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{prefix}.{GPT2_NAMES[k]}": v for prefix, layer in self.layers().items()
                for k, v in layer.grads.items()}

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def to(self, dtype: type) -> "Transformer":
        """Cast every parameter and gradient to `dtype` (float32 to train fast, float64 to
        check gradients)."""
        for layer in self.layers().values():
            for d in (layer.params, layer.grads):
                for k in d:
                    d[k] = d[k].astype(dtype)
        if self.pe is not None:
            self.pe = self.pe.astype(dtype)
        self.dtype = np.dtype(dtype)
        return self

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """Token ids (B, T) -> logits (B, T, vocab_size): position t scores token t + 1."""
        ids = np.asarray(ids)
        c = self.config
        B, T = batch_shape(ids.shape, c.context)
        x = self.wte.forward(ids)  # (B, T, d)
        if self.wpe is not None:
            x = x + self.wpe.forward(np.arange(T))  # (T, d) broadcast over the batch
        elif self.pe is not None:
            x = x + self.pe[:T]
        for block in self.blocks:
            x = block.forward(x)
        self.x_final = self.ln_f.forward(x)  # (B, T, d), kept for the head's gradient
        W_out = self.wte.params["W"] if self.head is None else self.head.params["W"]
        logits = self.x_final @ W_out.T  # (B, T, d) @ (d, V)
        assert logits.shape == (B, T, c.vocab_size)
        return logits

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill every gradient from dL/dlogits (B, T, V)."""
        B, T, V = dlogits.shape
        W_out = self.wte.params["W"] if self.head is None else self.head.params["W"]
        dW_out = dlogits.reshape(-1, V).T @ self.x_final.reshape(-1, self.config.d_model)
        dx = self.ln_f.backward(dlogits @ W_out)  # (B, T, d)
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        if self.wpe is not None:
            self.wpe.backward(dx.sum(axis=0))  # the same position row served every sequence
        self.wte.backward(dx)  # fills wte's gradient from the input side ...
        if self.head is None:
            self.wte.grads["W"] += dW_out  # ... and the tied head adds its share
        else:
            self.head.grads["W"][...] = dW_out

    def loss(self, ids: np.ndarray, targets: np.ndarray) -> float:
        """Mean cross-entropy of next-token prediction; keeps what backward_loss needs."""
        logits = self.forward(ids)
        B, T, V = logits.shape
        if targets.shape != (B, T):
            raise ValueError(f"targets must have the shape of ids {(B, T)}, got {targets.shape}")
        return self.loss_layer.forward(logits.reshape(B * T, V), targets.reshape(-1))

    def backward_loss(self) -> None:
        """Backward from the loss of the last loss() call."""
        B, T = self.wte.ids.shape
        dlogits = self.loss_layer.backward().reshape(B, T, -1).astype(self.dtype, copy=False)
        self.backward(dlogits)

    def attention_maps(self) -> list[np.ndarray]:
        """The attention weights of each block from the last forward: (B, H, T, T) each."""
        return [block.attn.P for block in self.blocks]

    def generate(self, ids: list[int], n_new: int, temperature: float = 1.0,
                 top_k: int | None = None, rng: np.random.Generator | None = None) -> list[int]:
        """Sample n_new tokens after `ids`, one at a time, from softmax(logits / temperature)."""
        rng = np.random.default_rng() if rng is None else rng
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        out = list(ids)
        for _ in range(n_new):
            window = np.array([out[-self.config.context:]])
            logits = self.forward(window)[0, -1].astype(np.float64) / temperature
            if top_k is not None and top_k < len(logits):
                logits[logits < np.sort(logits)[-top_k]] = -np.inf
            p = np.exp(logits - logits.max())  # subtract the max before exp: no overflow
            out.append(int(rng.choice(len(p), p=p / p.sum())))
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, by GPT-2 name."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Set every parameter from `state` (GPT-2 names and layouts), checking names/shapes."""
        own = self.params
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"state dict does not fit this model: missing {missing[:5]}"
                             f"{'...' if len(missing) > 5 else ''}, unexpected "
                             f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(f"{name}: expected shape {p.shape}, got {value.shape}")
            p[...] = value  # in place: optimizers keep pointing at the same arrays

    def save(self, path: Path) -> Path:
        """Write config and parameters to one .npz file, atomically (temporary file + rename)."""
        config = np.array(json.dumps(asdict(self.config)))
        return write_atomically(path, lambda f: np.savez(f, __config__=config,
                                                         **self.state_dict()))

    @classmethod
    def load(cls, path: Path, dtype: type | None = None) -> "Transformer":
        """Rebuild a model saved by save(). No pickle: a .npz of plain arrays and a JSON config.

        dtype: None keeps the precision the arrays were saved in (a float32-trained model comes
        back float32, a float64 one float64, as Transformer(config, dtype) was built); give one
        to cast.
        """
        path = Path(path)
        make = "train one with python phase-05-attention/code/train_transformer.py --save"
        if not path.is_file():
            what = "a folder" if path.is_dir() else "nothing"
            raise FileNotFoundError(f"no model file at {path} (found {what}): {make} {path}")
        try:
            with open(path, "rb") as f:
                if f.read(4) != b"PK\x03\x04":  # every .npz is a zip archive and starts so
                    raise ValueError("it is not a .npz (zip) archive at all")
            with np.load(path, allow_pickle=False) as data:
                if "__config__" not in data.files:
                    raise ValueError("it has no __config__ entry")
                config = TransformerConfig(**json.loads(str(data["__config__"])))
                arrays = [k for k in data.files if k != "__config__"]
                saved = data[arrays[0]].dtype if arrays else np.dtype(np.float64)
                model = cls(config, dtype=saved.type if dtype is None else dtype)
                model.load_state_dict({k: data[k] for k in data.files if k != "__config__"})
        except Exception as err:  # a truncated zip, a program, a pickle, another script's file:
            # each fails in its own way deep inside NumPy; the learner needs one sentence
            reason = (str(err).splitlines() or [type(err).__name__])[0][:200]
            raise ValueError(f"{path} is not a model saved by train_transformer.py (a .npz of "
                             f"arrays with a __config__ entry): {reason}. It may be truncated "
                             f"or another kind of file; {make} MODEL.npz") from None
        return model


def training_bytes(vocab_size: int, context: int, d_model: int, n_heads: int, n_layers: int,
                   batch: int, itemsize: int = 4, tied: bool = True,
                   attention_maps: bool = True) -> int:
    """About the most memory one training step of a GPT-shaped transformer holds, in bytes.

    Parameters four times over (weights, gradients and AdamW's two moments); per block, the
    activations kept for the backward pass: about 20 arrays of (batch, context, d_model) and 3 of
    (batch, heads, context, context) (scores, weights and their gradient; attention_maps=False
    for a fused attention that never stores them, such as PyTorch's
    scaled_dot_product_attention); and the logits with their softmax and gradient, (batch,
    context, vocab) each. An estimate, to refuse settings that cannot fit before allocating
    anything (train_transformer.py, phases 06 and 07).
    """
    n_params = (vocab_size * d_model * (1 if tied else 2) + context * d_model
                + n_layers * (12 * d_model * d_model + 13 * d_model) + 2 * d_model)
    per_block = batch * context * (20 * d_model + 3 * n_heads * context * attention_maps)
    logits = 3 * batch * context * vocab_size
    return (4 * n_params + n_layers * per_block + logits) * itemsize


def vocabulary_size(text: str) -> int:
    """The argparse type of --vocab-size: a whole number of at least 2 tokens (with one there is
    nothing to choose between: every prediction is certain and the loss is 0)."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 tokens to choose between, got "
                                         f"{text!r} (with one, every prediction is certain and "
                                         f"the loss 0)")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = TransformerConfig(args.vocab_size, args.context, args.d_model, args.n_heads,
                                   args.n_layers, args.positions, not args.untied)
        check_fits_in_memory(training_bytes(config.vocab_size, config.context, config.d_model,
                                            config.n_heads, config.n_layers, 2, 8,
                                            config.tied_head),
                             f"--vocab-size {config.vocab_size} --context {config.context} "
                             f"--d-model {config.d_model} --n-layers {config.n_layers}")
    except ValueError as err:
        parser.error(str(err))
    model = Transformer(config, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    B, T = 2, config.context
    ids = rng.integers(0, config.vocab_size, size=(B, T))
    targets = np.roll(ids, -1, axis=1)

    print(f"1. Config: {asdict(config)}")
    print(f"   {model.n_params:,} parameters:")
    for name, p in list(model.params.items())[:14]:
        print(f"   {name:26s} {str(p.shape):12s} mean {p.mean():+.3f}  std {p.std():.4f}")
    if len(model.params) > 14:
        print(f"   ... and {len(model.params) - 14} more arrays")

    print(f"\n2. Forward a batch of token ids {ids.shape}")
    loss = model.loss(ids, targets)
    print(f"   logits {(B, T, config.vocab_size)}; attention weights per block "
          f"{model.attention_maps()[0].shape}")
    print(f"   loss {loss:.4f}; a model that knows nothing scores ln({config.vocab_size}) = "
          f"{np.log(config.vocab_size):.4f}")

    print("\n3. Backward: every gradient has its parameter's shape")
    model.backward_loss()
    norms = {k: float(np.linalg.norm(g)) for k, g in model.grads.items()}
    for name in list(norms)[:6]:
        print(f"   d loss / d {name:26s} norm {norms[name]:.4f}")
    print(f"   all {len(norms)} gradients filled and finite: "
          f"{all(np.isfinite(v) and v > 0 for v in norms.values())}")


def add_shape_flags(parser: argparse.ArgumentParser, context: int, d_model: int, n_heads: int,
                    n_layers: int, positions: bool = True) -> None:
    """Give a script the flags that shape a TransformerConfig, with these defaults: the longest
    sequence, the width, the heads, the blocks and, with positions=True, how positions are told
    (`--positions`) and whether the output matrix is the embedding's (`--untied`)."""
    parser.add_argument("--context", type=positive_int, default=context,
                        help="longest sequence, in tokens")
    parser.add_argument("--d-model", type=positive_int, default=d_model, help="width")
    parser.add_argument("--n-heads", type=positive_int, default=n_heads, help="heads")
    parser.add_argument("--n-layers", type=positive_int, default=n_layers, help="blocks")
    if positions:
        parser.add_argument("--positions", choices=POSITIONS, default="learned",
                            help="position information (default: learned, as GPT-2)")
        parser.add_argument("--untied", action="store_true",
                            help="a separate output matrix instead of reusing the embedding")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Build the NumPy transformer and run it once "
                           "forward and backward, printing every shape.")
    parser.add_argument("--vocab-size", type=vocabulary_size, default=65,
                        help="tokens in the vocabulary (default: 65, Tiny Shakespeare's chars)")
    add_shape_flags(parser, context=16, d_model=32, n_heads=4, n_layers=2)
    add_seed_flag(parser)
    return parser


if __name__ == "__main__":
    main()
