"""Our GPT and Hugging Face's GPT2LMHeadModel are the same model: convert weights both ways, check.

Phase 07 wrote GPT-2's architecture by hand and gave every tensor GPT-2's name. Hugging Face's
`transformers` library (Wolf et al. 2020, "Transformers: State-of-the-Art Natural Language
Processing") ships the same architecture as `GPT2LMHeadModel`. If ours is right, a state dict
moved from one to the other must give the same logits and the same greedy text. This script
moves it both ways and measures the difference.

The one real difference is a layout. OpenAI's GPT-2 code stored the four big matrices of a block
(attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) as (in, out) and computed x @ W + b, a layer
Hugging Face keeps under the name `Conv1D`. PyTorch's nn.Linear, which phase 07 uses, stores
(out, in) and computes x @ W^T + b. Same numbers, transposed: the conversion is four transposes
per block, and everything else (embeddings, LayerNorms, biases) is copied as it is.

The name Conv1D comes from OpenAI's TensorFlow code, which wrote each of these layers as a
one-dimensional convolution of width 1 (a kernel of shape (1, in, out) slid along the sequence):
a width-1 convolution applies the same matrix at every position, which is exactly a linear
layer. Hugging Face kept the name and the (in, out) layout so the original weights load as they
are.

The settings that make the two models the same function, each checked in hf_config():
- GELU "gelu_new": the tanh approximation, as GPT-2 and our nn.GELU(approximate="tanh");
- layer_norm_epsilon 1e-5, as our nn.LayerNorm(eps=1e-5);
- dropout 0 everywhere (resid_pdrop, embd_pdrop, attn_pdrop): dropout draws random masks, and
  two libraries draw differently, so parity is checked without it (and in eval mode anyway);
- a tied head (tie_word_embeddings): lm_head.weight IS transformer.wte.weight in both;
- the attention implementation named explicitly: "eager" (their hand path: scores, mask,
  softmax, like our "hand") or "sdpa" (F.scaled_dot_product_attention, like our "fast").

Some versions of transformers keep a causal-mask buffer per block (attn.bias, attn.masked_bias)
in the state dict. It is not a parameter; from_hf_state() drops it.

Run:  python phase-09-comparison/code/convert.py                    (two random configs)
      python phase-09-comparison/code/convert.py --pretrained gpt2  (GPT-2's weights; online)
"""

import argparse
import socket
from dataclasses import asdict

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from phase00.flags import nonnegative_int, positive_int
from phase05.transformer import Transformer, TransformerConfig
from phase06.device import limit_cpu_threads
from phase07.model import GPT, GPTConfig

# The four matrices that GPT-2's Conv1D stores as (in, out) and nn.Linear as (out, in).
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                  "mlp.c_proj.weight")
# Buffers (not parameters) that some transformers versions put in a GPT-2 state dict.
NON_PARAMETERS = (".attn.bias", ".attn.masked_bias")
ATTN_IMPLEMENTATIONS = ("eager", "sdpa")
HF_HOST = "huggingface.co"
# The library warns about settings we choose on purpose (an end token for a tiny vocabulary,
# the default loss); keep its errors, drop the chatter.
hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()


def hf_config(config: GPTConfig, attn_implementation: str = "eager") -> GPT2Config:
    """The GPT2Config that describes the same function as our GPTConfig."""
    if not config.bias:
        raise ValueError("GPT2LMHeadModel always has biases: convert a model with bias=True")
    if attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise ValueError(f"unknown attention implementation {attn_implementation!r}; choose "
                         f"one of {list(ATTN_IMPLEMENTATIONS)}")
    last = config.vocab_size - 1  # GPT-2's <|endoftext|> is its last token; keep it in range
    return GPT2Config(vocab_size=config.vocab_size, n_positions=config.context,
                      n_embd=config.n_embd, n_layer=config.n_layer, n_head=config.n_head,
                      n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                      resid_pdrop=config.dropout, embd_pdrop=config.dropout,
                      attn_pdrop=config.dropout, tie_word_embeddings=True,
                      scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False,
                      reorder_and_upcast_attn=False, bos_token_id=last, eos_token_id=last,
                      attn_implementation=attn_implementation)


def our_config(hf: GPT2Config, attention: str = "fast") -> GPTConfig:
    """Our GPTConfig from a GPT2Config, refusing the options our model does not have.

    Our GPT has one dropout rate for every place (GPTConfig.dropout); a GPT2Config whose three
    rates differ is refused rather than silently reduced to one of them.
    """
    unsupported = {"activation_function": (hf.activation_function, "gelu_new"),
                   "n_inner": (hf.n_inner, None),
                   "layer_norm_epsilon": (hf.layer_norm_epsilon, 1e-5),
                   "scale_attn_weights": (hf.scale_attn_weights, True),
                   "attn_pdrop": (hf.attn_pdrop, hf.resid_pdrop),
                   "embd_pdrop": (hf.embd_pdrop, hf.resid_pdrop),
                   "scale_attn_by_inverse_layer_idx": (hf.scale_attn_by_inverse_layer_idx, False),
                   "reorder_and_upcast_attn": (hf.reorder_and_upcast_attn, False),
                   "tie_word_embeddings": (hf.tie_word_embeddings, True)}
    for name, (value, ours) in unsupported.items():
        if value != ours and not (name == "n_inner" and value == 4 * hf.n_embd):
            raise ValueError(f"GPT2Config.{name} = {value!r}; our GPT implements only {ours!r}")
    return GPTConfig(vocab_size=hf.vocab_size, context=hf.n_positions, n_layer=hf.n_layer,
                     n_head=hf.n_head, n_embd=hf.n_embd, dropout=hf.resid_pdrop, bias=True,
                     attention=attention)


def is_conv1d(name: str) -> bool:
    return name.endswith(CONV1D_WEIGHTS)


def to_hf_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict -> GPT2LMHeadModel's: the same names, the four matrices transposed."""
    return {name: (w.t() if is_conv1d(name) else w).detach().clone()
            for name, w in state.items()}


def from_hf_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """GPT2LMHeadModel's state dict (or GPT2Model's, without the `transformer.` prefix) -> ours.

    Drops the non-parameter mask buffers; a missing lm_head.weight is the tied embedding.
    """
    out = {}
    for name, w in state.items():
        if name.endswith(NON_PARAMETERS):
            continue
        if not name.startswith(("transformer.", "lm_head.")):
            name = f"transformer.{name}"  # GPT2Model's keys have no prefix
        out[name] = (w.t() if is_conv1d(name) else w).detach().clone()
    out.setdefault("lm_head.weight", out["transformer.wte.weight"])
    return out


def to_hf(model: GPT, attn_implementation: str = "eager") -> GPT2LMHeadModel:
    """A GPT2LMHeadModel computing the same function as `model` (same dtype, eval mode)."""
    hf = GPT2LMHeadModel(hf_config(model.config, attn_implementation))
    hf.to(model.transformer.wte.weight.dtype)
    result = hf.load_state_dict(to_hf_state(model.state_dict()), strict=False)
    real_missing = [k for k in result.missing_keys if not k.endswith(NON_PARAMETERS)]
    if real_missing or result.unexpected_keys:
        raise ValueError(f"state dict does not fit GPT2LMHeadModel: missing {real_missing}, "
                         f"unexpected {result.unexpected_keys}")
    return hf.eval()


def from_hf(hf: GPT2LMHeadModel, attention: str = "fast") -> GPT:
    """Our GPT computing the same function as a GPT2LMHeadModel (same dtype, eval mode)."""
    model = GPT(our_config(hf.config, attention)).to(hf.transformer.wte.weight.dtype)
    model.load_state_dict(from_hf_state(hf.state_dict()))  # strict: every name must match
    return model.eval()


def numpy_config(config: GPTConfig) -> TransformerConfig:
    """Phase 05's TransformerConfig for GPT-2's architecture at our config's shape."""
    return TransformerConfig(vocab_size=config.vocab_size, context=config.context,
                             d_model=config.n_embd, n_heads=config.n_head,
                             n_layers=config.n_layer, positions="learned", tied_head=True,
                             ln_eps=1e-5)


def to_numpy_state(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Our state dict -> phase 05's: GPT-2's layouts (as Hugging Face), no `transformer.`
    prefix, and no lm_head (the NumPy model ties it to wte by construction)."""
    return {name.removeprefix("transformer."): w.detach().cpu().numpy().copy()
            for name, w in to_hf_state(state).items() if name != "lm_head.weight"}


def from_numpy_state(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Phase 05's parameters (GPT-2 names and layouts) -> our state dict."""
    return from_hf_state({name: torch.from_numpy(np.array(w)) for name, w in params.items()})


def to_numpy(model: GPT) -> Transformer:
    """Phase 05's NumPy transformer with our model's weights, in the model's precision."""
    dtype = np.float64 if model.transformer.wte.weight.dtype == torch.float64 else np.float32
    numpy_model = Transformer(numpy_config(model.config), dtype=dtype)
    numpy_model.load_state_dict(to_numpy_state(model.state_dict()))
    return numpy_model


def max_abs_diff(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """The largest |a - b| over every entry, as a Python float."""
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


@torch.no_grad()
def hf_logits(hf: GPT2LMHeadModel, idx: torch.Tensor) -> torch.Tensor:
    """GPT2LMHeadModel's logits (B, T, vocab) for token ids (B, T)."""
    return hf(input_ids=idx).logits


@torch.no_grad()
def greedy_ours(model: GPT, idx: torch.Tensor, n: int) -> torch.Tensor:
    """n greedy tokens from our GPT: top_k=1 leaves one token with all the probability."""
    return model.generate(idx, n, top_k=1)


@torch.no_grad()
def greedy_hf(hf: GPT2LMHeadModel, idx: torch.Tensor, n: int, use_cache: bool = True
              ) -> torch.Tensor:
    """n greedy tokens from Hugging Face's generate(), never stopping early at an end token."""
    return hf.generate(idx, attention_mask=torch.ones_like(idx), max_new_tokens=n,
                       do_sample=False, use_cache=use_cache, eos_token_id=None,
                       pad_token_id=hf.config.vocab_size - 1)


class PretrainedUnavailable(RuntimeError):
    """GPT-2's weights could not be found in the local cache nor downloaded."""


def network_reachable(host: str = HF_HOST, timeout: float = 3.0) -> bool:
    """True when a TCP connection to host:443 opens within `timeout` seconds."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except (OSError, RuntimeError):  # no DNS, no route, or a test that forbids the network
        return False


def load_pretrained(name: str = "gpt2") -> GPT2LMHeadModel:
    """Hugging Face's pretrained GPT-2 (from its cache, else downloaded), in eval mode.

    Offline, with nothing cached, raises PretrainedUnavailable at once, saying what to do
    (the library itself retried the download for about 23 s on this project's offline machine).
    """
    online = network_reachable()
    try:
        hf = GPT2LMHeadModel.from_pretrained(name, local_files_only=not online,
                                             attn_implementation="eager")
    except OSError as err:
        where = "the download failed" if online else f"{HF_HOST} cannot be reached"
        raise PretrainedUnavailable(
            f"GPT-2's weights ({name!r}) are not in Hugging Face's local cache and {where}. "
            f"Run this once with a network (they are about 500 MB and are cached afterwards), "
            f"or compare random-initialised configs instead (leave out --pretrained). "
            f"Detail: {str(err).splitlines()[0][:200]}") from None
    return hf.eval()


def parity_report(config: GPTConfig, attn_implementation: str, seq_len: int, n_tokens: int,
                  seed: int) -> dict[str, float | bool | int]:
    """Build our GPT at `config`, convert it both ways, and measure every difference.

    Greedy text from random weights falls into repetition within a few steps (one token over
    and over), so "20 identical tokens" may be only one or two real decisions. Two stronger
    checks sit beside it: the number of distinct tokens the greedy text contains, and the
    largest-logit choice of both models at every position of the random input (each position
    an independent decision, 2 x seq_len of them) plus the logits along the whole greedy path.
    """
    torch.manual_seed(seed)
    ours = GPT(config).eval()
    idx = torch.randint(0, config.vocab_size, (2, seq_len))
    prompt = idx[:1, : max(1, seq_len // 2)]
    report: dict[str, float | bool | int] = {}
    back = from_hf(to_hf(ours, attn_implementation), config.attention)
    report["round trip lossless"] = all(torch.equal(ours.state_dict()[k], v)
                                        for k, v in back.state_dict().items())
    report["positions compared"] = idx.numel()
    # float32 first: there round-off is largest, and a near-tie could flip a choice
    for dtype, label in ((torch.float32, "float32"), (torch.float64, "float64")):
        ours = ours.to(dtype)
        hf = to_hf(ours, attn_implementation)
        with torch.no_grad():
            mine, theirs = ours(idx), hf_logits(hf, idx)
        report[f"max |logits diff| {label}"] = max_abs_diff(mine, theirs)
        report[f"same top token, {label}"] = torch.equal(mine.argmax(-1), theirs.argmax(-1))
        path = greedy_ours(ours, prompt, n_tokens)
        report[f"greedy identical, {label}"] = torch.equal(path, greedy_hf(hf, prompt, n_tokens))
        with torch.no_grad():  # the whole next-token distribution at every step of the path
            report[f"path: max |diff| {label}"] = max_abs_diff(ours(path), hf_logits(hf, path))
    report["distinct greedy tokens"] = len(set(path[0, prompt.shape[1]:].tolist()))
    return report


def key_table(config: GPTConfig) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(name, our shape, Hugging Face's shape) for the embeddings and block 0."""
    with torch.device("meta"):
        ours = GPT(config)
        hf = GPT2LMHeadModel(hf_config(config))
    theirs = hf.state_dict()
    return [(name, tuple(w.shape), tuple(theirs[name].shape))
            for name, w in ours.state_dict().items() if ".h." not in name or ".h.0." in name]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert our GPT to Hugging Face's "
                                                 "GPT2LMHeadModel and back; compare logits "
                                                 "and greedy text.")
    parser.add_argument("--attn-implementation", choices=ATTN_IMPLEMENTATIONS, default="eager",
                        help="Hugging Face's attention: eager (written out) or sdpa (fused); "
                             "default: eager")
    parser.add_argument("--seq-len", type=positive_int, default=24,
                        help="tokens per sequence compared (default: 24)")
    parser.add_argument("--tokens", type=positive_int, default=20,
                        help="greedy tokens generated by both (default: 20)")
    parser.add_argument("--pretrained", default=None, metavar="NAME",
                        help="also load this pretrained model (e.g. gpt2) from Hugging Face "
                             "into our GPT; needs a network once")
    parser.add_argument("--prompt", default="The meaning of life is",
                        help="prompt for the pretrained comparison")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default: 0)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="CPU threads for PyTorch (default: 1)")
    args = parser.parse_args(argv)
    limit_cpu_threads(args.threads)

    config = GPTConfig(vocab_size=1000, context=64, n_layer=3, n_head=4, n_embd=64)
    print("1. The same names, two layouts (block 0 shown; ours nn.Linear, theirs Conv1D)")
    for name, mine, theirs in key_table(config):
        note = "transposed" if is_conv1d(name) else ""
        print(f"   {name:36s} ours {str(mine):14s} theirs {str(theirs):14s} {note}")

    configs = {
        "A": GPTConfig(vocab_size=1000, context=64, n_layer=3, n_head=4, n_embd=64),
        "B": GPTConfig(vocab_size=317, context=40, n_layer=2, n_head=3, n_embd=48,
                       attention="hand"),
    }
    print(f"\n2. Random configs, converted both ways; Hugging Face attention: "
          f"{args.attn_implementation}")
    for label, cfg in configs.items():
        shape = {k: v for k, v in asdict(cfg).items() if k not in ("dropout", "bias")}
        print(f"   config {label}: {shape}")
        seq_len = min(args.seq_len, cfg.context - args.tokens)
        if seq_len < 2:
            parser.error(f"--tokens {args.tokens} leaves no room in a context of {cfg.context}")
        if seq_len < args.seq_len:
            print(f"      (--seq-len {args.seq_len} cut to {seq_len}: with {args.tokens} greedy "
                  f"tokens it must fit the context of {cfg.context})")
        for key, value in parity_report(cfg, args.attn_implementation, seq_len, args.tokens,
                                        args.seed).items():
            shown = f"{value:.2e}" if isinstance(value, float) else value
            print(f"      {key:30s} {shown}")

    if args.pretrained:
        print(f"\n3. {args.pretrained} from Hugging Face, loaded into our GPT")
        try:
            hf = load_pretrained(args.pretrained)
        except PretrainedUnavailable as err:
            print(f"   skipped: {err}")
            return
        ours = from_hf(hf)
        from phase03.gpt2_tokenizer import gpt2_tiktoken

        enc = gpt2_tiktoken()
        idx = torch.tensor([enc.encode(args.prompt)])
        print(f"   {ours.n_params():,} parameters; max |logits diff| on the prompt: "
              f"{max_abs_diff(ours(idx), hf_logits(hf, idx)):.2e}")
        mine, theirs = greedy_ours(ours, idx, args.tokens), greedy_hf(hf, idx, args.tokens)
        print(f"   ours:   {enc.decode(mine[0].tolist())!r}")
        print(f"   theirs: {enc.decode(theirs[0].tolist())!r}")
        print(f"   same tokens: {torch.equal(mine, theirs)}")


if __name__ == "__main__":
    main()
