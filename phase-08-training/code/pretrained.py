"""Someone else's trained weights as the start of our run: GPT-2's, a Hugging Face folder, ours.

A run from random weights spends its first hours learning what every English text shares: which
tokens are common, that a space comes before most words, how a sentence goes on. OpenAI trained
GPT-2 on about 40 GB of web text (Radford et al. 2019) and published the weights. Phase 07 wrote
GPT-2's architecture by hand with GPT-2's own tensor names, so those weights fit our model as
they are, once three things are read by hand:

- **config.json**, the shape: layers, heads, width, context, vocabulary. Hugging Face writes
  only what differs from GPT-2 small's defaults (`GPT2_DEFAULTS`), so a missing key means the
  default. Options our GPT does not have (another activation, no tied head, ...) are refused by
  name rather than loaded into a model that computes something else.
- **model.safetensors**, the numbers (Hugging Face 2022). The whole format: 8 bytes, a
  little-endian integer N; N bytes of JSON saying, for each tensor, its dtype, shape and where its
  bytes lie; then the raw bytes, back to back. `read_safetensors` reads it with `open()` and
  `json`, and nothing in the file can run code (a pickle can). Older folders hold
  `pytorch_model.bin` instead, read with `torch.load(..., weights_only=True)`.
- **the names**, the layout: four matrices per block (attn.c_attn, attn.c_proj, mlp.c_fc,
  mlp.c_proj) are stored (in, out), as OpenAI's code computed x @ W; nn.Linear stores (out, in).
  `from_hf_state` transposes those four, drops the attention-mask buffers some versions saved,
  adds the `transformer.` prefix that GPT2Model's files lack, and ties the head to the token
  table. Phase 09 checks the result against Hugging Face's own model (`convert.py`).

A source is one of: `gpt2`, `gpt2-medium`, `gpt2-large`, `gpt2-xl` (downloaded once from the
Hugging Face Hub by `huggingface_hub`, into the same cache phase 09's `from_pretrained` uses); a
local folder with config.json and the weights (as `save_pretrained` or phase 09's `export_hf.py`
writes it); or a checkpoint of our `train.py` (its weights only: a new run starts its own
optimizer, schedule and data). `train.py --init-from SOURCE` starts a run from one, `hellaswag.py
--model SOURCE` and `val_loss.py --model SOURCE` score one. Offline, with nothing cached, a
download says so in one line at once.

Run:  python phase-08-training/code/pretrained.py --model gpt2
      python phase-08-training/code/pretrained.py --model scratch/phase-09-comparison/hf_export
"""

import argparse
import json
import socket
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from phase00.flags import check_fits_in_memory, script_parser
from phase07.model import GPT, GPTConfig
from phase08.runfolder import load_checkpoint

HUB_MODELS = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
HF_HOST = "huggingface.co"
HUB_CACHE: str | None = None  # None: the Hub's own cache (~/.cache/huggingface); tests move it
CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # the first one a folder has is read
CHARS_FILE = "chars.json"  # a character model's alphabet, as export_hf.py writes it
# The four matrices that GPT-2's Conv1D stores as (in, out) and nn.Linear as (out, in).
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                  "mlp.c_proj.weight")
# Buffers (not parameters) that some transformers versions put in a GPT-2 state dict.
NON_PARAMETERS = (".attn.bias", ".attn.masked_bias")
# GPT2Config's defaults, which config.json leaves out (save_pretrained writes the differences).
GPT2_DEFAULTS: dict[str, object] = {
    "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
    "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
    "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
    "reorder_and_upcast_attn": False, "tie_word_embeddings": True}
# What our GPT computes; a config asking for anything else is refused by name.
OUR_GPT2: dict[str, object] = {
    "activation_function": "gelu_new", "n_inner": None, "layer_norm_epsilon": 1e-5,
    "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
    "reorder_and_upcast_attn": False, "tie_word_embeddings": True}
# safetensors' names for the dtypes it stores, and PyTorch's.
SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
                      "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
                      "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
MAX_HEADER = 100 * 2**20  # a header of names and shapes is kilobytes; more is not a header


class PretrainedUnavailable(RuntimeError):
    """A model of the Hugging Face Hub that is neither in the local cache nor downloadable."""


# --- the numbers: safetensors, read by hand -------------------------------------------------------

def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a .safetensors file, read with open() and json: name -> tensor.

    The layout: bytes 0-7 hold N, the header's length, as a little-endian unsigned integer;
    the next N bytes are JSON, {name: {"dtype": "F32", "shape": [768, 2304],
    "data_offsets": [begin, end]}, ...} (and maybe "__metadata__", plain strings); the tensors'
    bytes follow, each at 8 + N + begin. Each tensor is read straight into its own memory.
    """
    if sys.byteorder != "little":  # safetensors is little-endian, as every machine we target
        raise ValueError("safetensors stores numbers little-endian; this machine is not")
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as file:
        N = int.from_bytes(file.read(8), "little")  # the header's length in bytes
        if size < 8 or not 2 <= N <= min(MAX_HEADER, size - 8):
            raise ValueError(f"{path} is not a safetensors file: its first 8 bytes give a "
                             f"header of {N:,} bytes in a file of {size:,}")
        try:
            header = json.loads(file.read(N).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: the safetensors header is not JSON ({err})") from None
        if not isinstance(header, dict):
            raise ValueError(f"{path}: the safetensors header is not a JSON object")
        header.pop("__metadata__", None)
        start = 8 + N  # where the first tensor's bytes begin
        tensors = {}
        for name, entry in header.items():
            try:
                dtype = SAFETENSORS_DTYPES[entry["dtype"]]
                begin, end = (int(i) for i in entry["data_offsets"])
                tensor = torch.empty([int(n) for n in entry["shape"]], dtype=dtype)
            except (KeyError, TypeError, ValueError, RuntimeError) as err:
                raise ValueError(f"{path}: the header's entry for {name} is not a tensor this "
                                 f"reader knows (dtype one of {sorted(SAFETENSORS_DTYPES)}, "
                                 f"shape, data_offsets): {err!r}") from None
            raw = tensor.view(-1).view(torch.uint8)  # the tensor's own memory, as bytes
            if begin < 0 or end - begin != raw.numel() or start + end > size:
                raise ValueError(f"{path}: tensor {name} {entry['shape']} {entry['dtype']} "
                                 f"needs {raw.numel():,} bytes, the header gives bytes "
                                 f"{begin:,} to {end:,} of {size - start:,}")
            file.seek(start + begin)
            file.readinto(raw.numpy())  # the bytes land in the tensor: no copy
            tensors[name] = tensor
    return tensors


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of a Hugging Face folder under Hugging Face's names: model.safetensors (or
    its shards, listed in model.safetensors.index.json), else pytorch_model.bin."""
    folder = Path(folder)
    if (folder / WEIGHT_FILES[0]).is_file():
        return read_safetensors(folder / WEIGHT_FILES[0])
    index = folder / "model.safetensors.index.json"
    if index.is_file():  # a large model cut into several files; the index maps names to files
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        return {k: v for f in files for k, v in read_safetensors(folder / f).items()}
    if (folder / WEIGHT_FILES[1]).is_file():
        state = torch.load(folder / WEIGHT_FILES[1], map_location="cpu", weights_only=True)
        if isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()):
            return state
        raise ValueError(f"{folder / WEIGHT_FILES[1]} holds no state dict of tensors")
    raise FileNotFoundError(f"{folder} holds {CONFIG_FILE} but no weights: expected "
                            f"{' or '.join(WEIGHT_FILES)} (save_pretrained and phase 09's "
                            f"export_hf.py write model.safetensors)")


# --- the shape: config.json --------------------------------------------------------------------

def config_from_hf(raw: dict, attention: str = "fast", where: str = "GPT2Config") -> GPTConfig:
    """Our GPTConfig from a GPT-2 config (config.json as a dict, or GPT2Config.to_dict()),
    refusing by name any option our GPT does not compute. Missing keys are GPT-2's defaults.

    Dropout is not part of the shape: it is 0 here, and a run chooses its own.
    """
    raw = {**GPT2_DEFAULTS, **raw}
    for name, ours in OUR_GPT2.items():
        value = raw[name]
        if value != ours and not (name == "n_inner" and value == 4 * raw["n_embd"]):
            raise ValueError(f"{where}.{name} = {value!r}; our GPT implements only {ours!r}")
    return GPTConfig(vocab_size=raw["vocab_size"], context=raw["n_positions"],
                     n_layer=raw["n_layer"], n_head=raw["n_head"], n_embd=raw["n_embd"],
                     dropout=0.0, bias=True, attention=attention)


def read_hf_config(folder: Path) -> tuple[GPTConfig, dict]:
    """(our config, the tokenizer) of a Hugging Face folder: config.json read with json, and
    the alphabet of chars.json for a character model (GPT-2's tokenizer otherwise)."""
    path = Path(folder) / CONFIG_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not JSON ({err})") from None
    if not isinstance(raw, dict) or raw.get("model_type") != "gpt2":
        kind = raw.get("model_type") if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"{path} describes a {kind!r} model, not GPT-2 (model_type 'gpt2')")
    config = config_from_hf(raw, where=str(path))
    chars_file = Path(folder) / CHARS_FILE
    if not chars_file.is_file():
        return config, {"name": "gpt2"}
    chars = json.loads(chars_file.read_text(encoding="utf-8")).get("chars")
    return config, {"name": "char", "chars": chars, "vocab_size": len(chars or [])}


# --- the names: Hugging Face's layout to ours -----------------------------------------------------

def is_conv1d(name: str) -> bool:
    return name.endswith(CONV1D_WEIGHTS)


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


def check_state(state: dict[str, torch.Tensor], config: GPTConfig, where: str) -> None:
    """Refuse weights that do not fit a GPT of this config, naming what is missing, extra or
    of another shape (load_state_dict would say it in a page; a shape edited by hand or weights
    from another model must not be half-loaded)."""
    with torch.device("meta"):  # shapes only: nothing is allocated to compare them
        expected = {name: tuple(w.shape) for name, w in GPT(config).state_dict().items()}
    found = {name: tuple(w.shape) for name, w in state.items()}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    resized = [f"{name} {found[name]} where the config says {expected[name]}"
               for name in sorted(set(found) & set(expected)) if found[name] != expected[name]]
    problems = ([f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []) + \
        ([f"{len(extra)} unknown (e.g. {extra[0]})"] if extra else []) + \
        ([f"{len(resized)} of another shape (e.g. {resized[0]})"] if resized else [])
    if problems:
        raise ValueError(f"{where}: the weights do not fit the shape its config gives: tensors "
                         f"{'; '.join(problems)}")


# --- the Hub: downloaded once, then from the cache ------------------------------------------------

def network_reachable(host: str = HF_HOST, timeout: float = 3.0) -> bool:
    """True when a TCP connection to host:443 opens within `timeout` seconds."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except (OSError, RuntimeError):  # no DNS, no route, or a test that forbids the network
        return False


def hub_folder(name: str, files: tuple[str, ...], offline: bool = False) -> Path:
    """The local folder holding `files` of the Hub's model `name`: the cache if it has them,
    else a download (once). Offline, or when huggingface.co cannot be reached, a
    PretrainedUnavailable in one line at once, instead of the library's retries."""
    from huggingface_hub import snapshot_download

    def complete(folder: str) -> Path | None:
        return Path(folder) if all((Path(folder) / f).is_file() for f in files) else None

    try:  # the cache first: no network needed, nothing downloaded twice
        cached = complete(snapshot_download(name, allow_patterns=list(files),
                                            local_files_only=True, cache_dir=HUB_CACHE))
    except Exception:  # noqa: BLE001 (not in the cache: the library's errors vary by version)
        cached = None
    if cached is not None:
        return cached
    how = (f"run this once with a network ({name} is cached afterwards), or give a local "
           f"folder or a train.py checkpoint instead")
    if offline or not network_reachable():
        why = "--offline was given" if offline else f"{HF_HOST} cannot be reached"
        raise PretrainedUnavailable(f"{name} ({', '.join(files)}) is not in Hugging Face's local "
                                    f"cache and {why}: {how}")
    try:
        folder = complete(snapshot_download(name, allow_patterns=list(files),
                                            cache_dir=HUB_CACHE))
    except Exception as err:  # noqa: BLE001 (a proxy, a timeout, a full disk: all one message)
        reason = (str(err).splitlines() or [""])[0][:200]
        raise PretrainedUnavailable(f"could not download {name} from {HF_HOST} "
                                    f"({type(err).__name__}: {reason}): {how}") from None
    if folder is None:
        raise PretrainedUnavailable(f"{name} on {HF_HOST} has no {' and '.join(files)}")
    return folder


# --- a source: what `--init-from` and `--model` name ----------------------------------------------

def source_name(text: str) -> str:
    """The argparse type of a flag naming a source: anything but an empty name."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected {', '.join(HUB_MODELS)}, a folder or a "
                                         f"checkpoint file, got an empty name")
    return text


@dataclass
class Source:
    """Where a model's weights come from, and what they are, before they are read."""

    name: str  # as the learner wrote it: gpt2, a folder, a checkpoint file
    kind: str  # "hub", "folder" or "checkpoint"
    config: GPTConfig  # the shape (dropout 0: a run chooses its own)
    tokenizer: dict  # {"name": "gpt2"}, or {"name": "char", "chars": [...]}
    state: dict[str, torch.Tensor] | None = None  # our names; read by source_weights()

    def describe(self) -> str:
        c = self.config
        what = {"hub": "GPT-2 from the Hugging Face Hub", "folder": "a Hugging Face folder",
                "checkpoint": "a train.py checkpoint, its weights only"}[self.kind]
        return (f"{self.name} ({what}): {c.n_layer} layers x {c.n_head} heads x {c.n_embd}, "
                f"context {c.context}, {c.vocab_size:,} {self.tokenizer['name']} tokens")


def open_source(name: str, offline: bool = False) -> Source:
    """A source's shape and tokenizer (its config; a checkpoint is read whole): a Hub name,
    a Hugging Face folder, or a train.py checkpoint. Every wrong input is one sentence."""
    name = str(name)
    if name in HUB_MODELS:
        config, tokenizer = read_hf_config(hub_folder(name, (CONFIG_FILE,), offline))
        return Source(name, "hub", config, tokenizer)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{path} is a folder without {CONFIG_FILE}: a Hugging Face "
                                    f"model folder holds config.json and model.safetensors")
        config, tokenizer = read_hf_config(path)
        return Source(name, "folder", config, tokenizer)
    if not path.exists():
        raise FileNotFoundError(f"{name} is neither a model of the Hub ({', '.join(HUB_MODELS)})"
                                f" nor a file or folder here")
    checkpoint = load_checkpoint(path)  # a train.py checkpoint, checksum checked
    arch = checkpoint.get("config", {}).get("architecture", "gpt2")
    if arch != "gpt2":
        raise ValueError(f"{path} holds a model of the architecture {arch!r}, not GPT-2's: "
                         f"only a GPT-2-shaped checkpoint can be a source")
    known = {f.name for f in fields(GPTConfig)}
    try:
        config = GPTConfig(**{k: v for k, v in checkpoint["model_config"].items() if k in known})
    except (TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{path}: its model_config is not a GPT's shape ({err})") from None
    config = replace(config, dropout=0.0, attention="fast")
    check_state(checkpoint["model"], config, str(path))
    return Source(name, "checkpoint", config, dict(checkpoint["tokenizer"]), checkpoint["model"])


def source_weights(source: Source, offline: bool = False) -> dict[str, torch.Tensor]:
    """The source's weights under our names and in our layout, checked against its shape
    (downloaded first for a Hub model not yet in the cache)."""
    if source.state is None:
        n = n_params_of(source.config)
        check_fits_in_memory(8 * n, f"{source.name} ({n:,} parameters, read then copied)")
        if source.kind == "hub":
            folder = hub_folder(source.name, (CONFIG_FILE, WEIGHT_FILES[0]), offline)
        else:
            folder = Path(source.name).expanduser()
        source.state = from_hf_state(read_weights(folder))
        check_state(source.state, source.config, source.name)
    return source.state


def n_params_of(config: GPTConfig) -> int:
    """Parameters of a GPT of this shape, tied head counted once, without building it."""
    with torch.device("meta"):
        return GPT(config).n_params()


def load_weights(model: GPT, state: dict[str, torch.Tensor]) -> None:
    """Copy a source's weights into `model`, a GPT of the source's shape whose context may be
    shorter: the position table keeps its first model.config.context rows (position 0 is
    position 0 in any window; the rows beyond are positions the model will never see)."""
    T = model.config.context
    wpe = state["transformer.wpe.weight"]
    assert T <= wpe.shape[0], f"a context of {T} needs {T} rows, the source has {wpe.shape[0]}"
    model.load_state_dict({**state, "transformer.wpe.weight": wpe[:T]})  # copies and casts


def load_model(source: Source, offline: bool = False, context: int | None = None) -> GPT:
    """A GPT (float32, eval mode) holding the source's weights, its position table cropped to
    `context` if that is shorter than the source's."""
    config = replace(source.config, context=min(context or source.config.context,
                                                source.config.context))
    model = GPT(config)
    load_weights(model, source_weights(source, offline))
    return model.eval()


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    theirs = None
    try:
        source = open_source(args.model, args.offline)
        print(f"1. {source.describe()}")
        if source.kind != "checkpoint":
            folder = (hub_folder(source.name, (CONFIG_FILE, WEIGHT_FILES[0]), args.offline)
                      if source.kind == "hub" else Path(args.model).expanduser())
            show_header(folder / WEIGHT_FILES[0])
            theirs = read_weights(folder)
            source.state = from_hf_state(theirs)
        model = load_model(source, args.offline)
    except (PretrainedUnavailable, FileNotFoundError, ValueError, OSError) as err:
        parser.exit(1, f"error: {err}\n")
    if theirs is not None:
        print("\n3. Their tensors -> ours (the embeddings and block 0; each of ours is named "
              "transformer.<theirs> if theirs is not already)")
        for name, w in source.state.items():
            if ".h." in name and ".h.0." not in name:
                continue
            hf_name = name if name in theirs else name.removeprefix("transformer.")
            if hf_name not in theirs:
                print(f"   {'(none: the head is the token table)':36s} -> {name} "
                      f"{tuple(w.shape)}")
                continue
            row = (f"   {hf_name:36s} {str(tuple(theirs[hf_name].shape)):13s} -> "
                   f"{str(tuple(w.shape)):13s} {'transposed' if is_conv1d(name) else ''}")
            print(row.rstrip())
        dropped = sorted(n for n in theirs if n.endswith(NON_PARAMETERS))
        print(f"   dropped: {len(dropped)} mask buffers, which are not parameters"
              + (f" (e.g. {dropped[0]})" if dropped else ""))
    print(f"\n4. Our GPT holds them: {model.n_params():,} parameters (the head is the token "
          f"table, counted once)")
    print(f"   train from it: python phase-08-training/code/train.py --init-from {args.model}")


def show_header(path: Path) -> None:
    """Print the start of a safetensors file's header, as read_safetensors reads it."""
    if not path.is_file():
        return
    with open(path, "rb") as file:
        N = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(N)) if N <= MAX_HEADER else {}
    header.pop("__metadata__", None)
    print(f"\n2. {path}: 8 bytes say {N:,}, then {N:,} bytes of JSON, then the numbers")
    for name, entry in list(header.items())[:4]:
        begin, end = entry["data_offsets"]
        print(f"   {name:36s} {entry['dtype']:4s} {str(entry['shape']):13s} bytes {begin:,} "
              f"to {end:,}")
    print(f"   ... {len(header)} tensors in all")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Read a pretrained GPT-2 (Hub, folder or "
                           "checkpoint) by hand and load it into our GPT.")
    parser.add_argument("--model", type=source_name, default="gpt2", metavar="SOURCE",
                        help=f"{', '.join(HUB_MODELS)} (downloaded once), a Hugging Face folder "
                             f"(config.json + model.safetensors) or a train.py checkpoint "
                             f"(default: gpt2)")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    return parser


if __name__ == "__main__":
    main()
