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

The way in, from Hugging Face's layout to ours (from_hf_state, the config check config_from_hf),
is phase 08's `pretrained.py`: phase 08 needed it first, to start a run from GPT-2's weights.
This file adds the way out (to_hf_state, hf_config) and the comparison of the two models.

Run:  python phase-09-comparison/code/convert.py                    (two random configs)
      python phase-09-comparison/code/convert.py --pretrained gpt2  (GPT-2's weights; online)
"""

import argparse
import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from phase00.flags import add_seed_flag, check_fits_in_memory, positive_int, script_parser
from phase05.transformer import Transformer, TransformerConfig
from phase06.device import add_threads_flag, limit_cpu_threads
from phase07.model import GPT, GPTConfig
from phase08.pretrained import (  # phase 08 reads GPT-2's weights first; phase 09 compares
    CONV1D_WEIGHTS,  # noqa: F401 (the workbook's to_hf_state may use it, as ours uses is_conv1d)
    HF_HOST,
    NON_PARAMETERS,
    PretrainedUnavailable,
    config_from_hf,
    from_hf_state,
    is_conv1d,
    network_reachable,
)

ATTN_IMPLEMENTATIONS = ("eager", "sdpa")
GPT2_VOCAB_SIZE = 50257  # the ids GPT-2's tokenizer can produce
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
    """Our GPTConfig from a GPT2Config, refusing the options our model does not have (phase
    08's config_from_hf names them), and its dropout.

    Our GPT has one dropout rate for every place (GPTConfig.dropout); a GPT2Config whose three
    rates differ is refused rather than silently reduced to one of them.
    """
    for name in ("attn_pdrop", "embd_pdrop"):
        if getattr(hf, name) != hf.resid_pdrop:
            raise ValueError(f"GPT2Config.{name} = {getattr(hf, name)!r}; our GPT implements "
                             f"only one dropout rate, resid_pdrop = {hf.resid_pdrop!r}")
    return replace(config_from_hf(hf.to_dict(), attention), dropout=hf.resid_pdrop)


def to_hf_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict -> GPT2LMHeadModel's: the same names, the four matrices transposed."""
    return {name: (w.t() if is_conv1d(name) else w).detach().clone()
            for name, w in state.items()}


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


class NotAModelError(ValueError):
    """A file or folder handed to a script as a model that is not the kind of model expected."""


def describe_file(path: Path) -> str:
    """What a file that failed to load as a model looks like, from its first bytes, in words.

    A learner who passes the wrong file wants to hear what they passed ("a NumPy .npz archive",
    "a program"), not the name of the parser that choked on it.
    """
    path = Path(path)
    if not path.exists():
        return "not there (no such file or folder)"
    if path.is_dir():
        if (path / "config.json").is_file():
            return "a Hugging Face model folder (config.json), as export_hf.py writes"
        return "a folder"
    with open(path, "rb") as file:
        head = file.read(16)
    if not head:
        return "an empty file"
    if head.startswith(b"PK"):  # a zip archive: torch.save's format, and NumPy's .npz too
        if not zipfile.is_zipfile(path):
            return "a zip archive cut short (a copy or a save that did not finish)"
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any(name.endswith("data.pkl") for name in names):
            return "a PyTorch file (torch.save: a checkpoint or a model file)"
        if names and all(name.endswith(".npy") for name in names):
            return "a NumPy .npz archive (phase 05's transformer.py saves its weights so)"
        return "a zip archive, not a PyTorch file"
    if head.startswith(b"\x7fELF") or head.startswith((b"MZ", b"\xcf\xfa\xed\xfe")):
        return "a program (an executable)"
    if len(head) >= 9 and head[8:9] == b"{":  # 8 bytes of header length, then a JSON header
        return "a safetensors file (weights alone; export_hf.py puts one in a folder)"
    if b"\0" not in head:
        return "a text file"
    return "binary data of an unknown kind"


def gpt2_n_params(config: GPT2Config) -> int:
    """Parameters of a GPT2LMHeadModel with this config, from the shape alone (tied head)."""
    C, L = config.n_embd, config.n_layer
    inner = config.n_inner or 4 * C
    per_block = 4 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * (C * inner) + inner + C
    return (config.vocab_size + config.n_positions) * C + L * per_block + 2 * C


def tensor_mismatches(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]],
                      said_by: str) -> list[str]:
    """How the tensors `found` (name -> shape) differ from the `expected` ones: how many are
    missing, how many the config does not know, how many have another shape, each with a first
    example; empty when they match. said_by names what sets the shapes ("config.json")."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    resized = [f"{name} {found[name]} where {said_by} says {expected[name]}"
               for name in sorted(set(found) & set(expected)) if found[name] != expected[name]]
    return ([f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []) + \
        ([f"{len(extra)} not in the config (e.g. {extra[0]})"] if extra else []) + \
        ([f"{len(resized)} of another shape (e.g. {resized[0]})"] if resized else [])


def check_export_folder(folder: Path, config: GPT2Config) -> None:
    """Refuse an export folder whose model.safetensors does not hold the tensors config.json
    describes: missing ones, extra ones, or other shapes (e.g. a vocabulary size changed by
    hand). Reads only the file's header; no weights are loaded.

    from_pretrained would fill missing weights with random numbers and drop extra ones with no
    more than a warning: a model that loads and then writes nonsense.
    """
    from safetensors import safe_open

    weights = folder / "model.safetensors"
    try:
        with safe_open(weights, framework="pt") as file:
            found = {name: tuple(file.get_slice(name).get_shape()) for name in file.keys()}
    except Exception as err:  # the library reports damage with its own error type
        raise NotAModelError(f"cannot read {weights} ({describe_file(weights)}; "
                             f"{str(err).splitlines()[0][:120]}): export the model again with "
                             f"python phase-09-comparison/code/export_hf.py") from None
    with torch.device("meta"):
        expected = {name: tuple(w.shape) for name, w in GPT2LMHeadModel(config).state_dict()
                    .items() if not name.endswith(NON_PARAMETERS)}
    found = {name: shape for name, shape in found.items() if not name.endswith(NON_PARAMETERS)}
    if "lm_head.weight" not in found:  # the tied head is saved once, as the embedding
        expected.pop("lm_head.weight", None)
    problems = tensor_mismatches(expected, found, "config.json")
    if problems:
        raise NotAModelError(f"{folder}: config.json does not match model.safetensors: "
                             f"tensors {'; '.join(problems)}. Export the model again with "
                             f"python phase-09-comparison/code/export_hf.py rather than editing "
                             f"the folder")


def read_export_config(folder: Path) -> GPT2Config:
    """The GPT2Config of a local Hugging Face folder, refused clearly if it is not a GPT-2 one."""
    if not folder.exists():
        raise NotAModelError(f"no folder at {folder}: --pretrained takes a model name (gpt2) "
                             f"or a folder written by export_hf.py")
    if not folder.is_dir():
        raise NotAModelError(f"{folder} is {describe_file(folder)}; --pretrained takes a model "
                             f"name (gpt2) or a folder written by export_hf.py (config.json + "
                             f"model.safetensors)")
    missing = [n for n in ("config.json", "model.safetensors") if not (folder / n).is_file()]
    if missing:
        raise NotAModelError(f"{folder} has no {' and no '.join(missing)}: not a folder written "
                             f"by export_hf.py (make one with python phase-09-comparison/code/"
                             f"export_hf.py --checkpoint <your .pt> --to {folder})")
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if raw.get("model_type") != "gpt2":
            raise ValueError(f"its model_type is {raw.get('model_type')!r}, not 'gpt2'")
        config = GPT2Config.from_pretrained(folder)
    except (ValueError, AttributeError, TypeError, OSError) as err:
        raise NotAModelError(f"{folder}/config.json is not a GPT-2 config ("
                             f"{str(err).splitlines()[0][:160]})") from None
    check_export_folder(folder, config)
    return config


def load_pretrained(name: str = "gpt2", bytes_per_param: int = 12) -> GPT2LMHeadModel:
    """Hugging Face's pretrained GPT-2 (from its cache, else downloaded), or a folder that
    export_hf.py wrote, in eval mode.

    A local folder is checked before anything is loaded: a GPT-2 config.json, and weights
    that match it (check_export_folder). Its size, bytes_per_param times the parameters (the
    copies the caller will make), must fit in memory. Offline, with nothing cached, raises
    PretrainedUnavailable at once, saying what to do (the library itself retried the download
    for about 23 s on this project's offline machine).
    """
    local = Path(name).expanduser()
    if local.exists() or name.startswith(("/", ".", "~")):  # a path, not a model's name
        config = read_export_config(local)
        check_fits_in_memory(gpt2_n_params(config) * bytes_per_param,
                             f"the model in {local} ({gpt2_n_params(config):,} parameters)")
        return GPT2LMHeadModel.from_pretrained(local, attn_implementation="eager").eval()
    online = network_reachable()
    try:
        config = GPT2Config.from_pretrained(name, local_files_only=not online)
        check_fits_in_memory(gpt2_n_params(config) * bytes_per_param,
                             f"{name} ({gpt2_n_params(config):,} parameters)")
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


def prompt_codec(name: str, vocab_size: int
                 ) -> tuple[Callable[[str], list[int]], Callable[[list[int]], str]]:
    """(encode, decode) for a pretrained model's prompt: the alphabet of an export's chars.json
    (a character model), else GPT-2's tokenizer, whose ids the vocabulary must then hold."""
    chars_file = Path(name).expanduser() / "chars.json"
    if chars_file.is_file():
        try:
            chars = json.loads(chars_file.read_text(encoding="utf-8"))["chars"]
        except (ValueError, KeyError, TypeError) as err:
            raise NotAModelError(f"{chars_file} is not an alphabet written by export_hf.py "
                                 f"({err})") from None
        index = {c: i for i, c in enumerate(chars)}

        def encode(text: str) -> list[int]:
            unknown = sorted(set(text) - set(index))
            if unknown:
                raise ValueError(f"--prompt has characters the model never saw: {unknown[:10]}")
            return [index[c] for c in text]

        return encode, lambda ids: "".join(chars[i] for i in ids)
    if vocab_size < GPT2_VOCAB_SIZE:
        raise NotAModelError(f"{name} has a vocabulary of {vocab_size} tokens and no chars.json: "
                             f"GPT-2's tokenizer needs {GPT2_VOCAB_SIZE}, so its prompt cannot "
                             f"be encoded")
    from phase03.gpt2_tokenizer import gpt2_tiktoken

    enc = gpt2_tiktoken()
    return enc.encode, enc.decode


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
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_cpu_threads(args.threads)
    pretrained: tuple[GPT2LMHeadModel, GPT, torch.Tensor, Callable] | None = None
    if args.pretrained:  # checked first: a wrong folder is refused before any other work
        try:
            hf = load_pretrained(args.pretrained)
            ours = from_hf(hf)  # refuses a config our GPT does not implement
            encode, decode = prompt_codec(args.pretrained, hf.config.vocab_size)
            idx = torch.tensor([encode(args.prompt)])
        except PretrainedUnavailable as err:  # offline with nothing cached: fail at once
            parser.exit(1, f"error: {err}\n")
        except ValueError as err:  # NotAModelError, a config or a prompt that does not fit
            parser.exit(2, f"error: {err}\n")
        else:
            if idx.shape[1] == 0:
                parser.error("--prompt is empty: give the model at least one token to continue")
            if idx.shape[1] + args.tokens > hf.config.n_positions:
                parser.error(f"--prompt ({idx.shape[1]} tokens) + --tokens {args.tokens} is "
                             f"more than the model's context of {hf.config.n_positions}")
            pretrained = (hf, ours, idx, decode)

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

    if pretrained is not None:
        print(f"\n3. {args.pretrained} from Hugging Face, loaded into our GPT")
        hf, ours, idx, decode = pretrained
        print(f"   {ours.n_params():,} parameters; max |logits diff| on the prompt: "
              f"{max_abs_diff(ours(idx), hf_logits(hf, idx)):.2e}")
        mine, theirs = greedy_ours(ours, idx, args.tokens), greedy_hf(hf, idx, args.tokens)
        print(f"   ours:   {decode(mine[0].tolist())!r}")
        print(f"   theirs: {decode(theirs[0].tolist())!r}")
        print(f"   same tokens: {torch.equal(mine, theirs)}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Convert our GPT to Hugging Face's "
                           "GPT2LMHeadModel and back; compare logits "
                           "and greedy text.")
    parser.add_argument("--attn-implementation", choices=ATTN_IMPLEMENTATIONS, default="eager",
                        help="Hugging Face's attention: eager (written out) or sdpa (fused); "
                             "default: eager")
    parser.add_argument("--seq-len", type=positive_int, default=24,
                        help="tokens per sequence compared")
    parser.add_argument("--tokens", type=positive_int, default=20,
                        help="greedy tokens generated by both")
    parser.add_argument("--pretrained", default=None, metavar="NAME",
                        help="also load this pretrained model (e.g. gpt2) from Hugging Face "
                             "into our GPT; needs a network once (offline, with nothing "
                             "cached, the script stops at once with exit status 1). A folder "
                             "written by export_hf.py works too")
    parser.add_argument("--prompt", default="The meaning of life is",
                        help="prompt for the pretrained comparison")
    add_seed_flag(parser)
    add_threads_flag(parser)
    return parser


if __name__ == "__main__":
    main()
