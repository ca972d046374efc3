"""The loss of any model on any prepared text: a checkpoint of ours, a Hugging Face folder, GPT-2.

A validation loss is the model's average surprise, in nats per token, at text it did not train
on. Two losses can be compared only when they score the same tokens: the same text, cut by the
same tokenizer, read in the same windows. train.py's progress line scores a sample of a run's
own validation split (eval_batches of it); this script scores any model on any folder that
prepare_data.py wrote, read once in order from its start (quickstart.py's full_val_loss), so that
"GPT-2 before fine-tuning", "GPT-2 after" and "our own run" stand on the same ground.

The model can be a train.py checkpoint (or phase 07's model file), a Hugging Face folder
(config.json + model.safetensors, as export_hf.py writes it), or one of OpenAI's GPT-2 models by
name, downloaded once (pretrained.py reads all three). Offline, with GPT-2 not cached, it says so
in one line. The data's tokenizer must be the model's: a token id has to mean the same piece of
text to both.

Run:  python phase-08-training/code/val_loss.py --model gpt2 --data data/tokens/tinyshakespeare-gpt2
      python phase-08-training/code/val_loss.py --model runs/finetune-shakespeare/best.pt
"""

import argparse
import math
from pathlib import Path

import torch

from phase00.flags import nonnegative_int, positive_int, script_parser
from phase06.device import add_device_flag, add_threads_flag, device_from_flag, limit_cpu_threads
from phase07.model import GPT
from phase08.loader import TokenShards
from phase08.prepare_data import TOKENS_DIR, Codec, dataset_folder, make_codec
from phase08.pretrained import PretrainedUnavailable, load_model, open_source, source_name
from phase08.quickstart import full_val_loss
from phase08.sample import load_for_sampling
from phase08.train import CheckpointError

DEFAULT_DATA = dataset_folder("tinyshakespeare", "gpt2", TOKENS_DIR)


def load_any(name: str, device: torch.device, offline: bool = False) -> tuple[GPT, Codec, str]:
    """(model in eval mode on `device`, its tokenizer, a line saying what it is) for any model:
    a file is a checkpoint (sample.py's loader, which also reads phase 07's model files and
    refuses weights that are not finite numbers); anything else a folder or a Hub name."""
    path = Path(name).expanduser()
    if path.is_file():
        model, codec, state = load_for_sampling(path, device)
        step = "a phase 07 model" if state.get("step") is None else f"step {state['step']:,}"
        return model, codec, f"{name} ({step} of a run of ours)"
    source = open_source(name, offline)
    codec = make_codec(source.tokenizer, download=not offline)
    return load_model(source, offline).to(device), codec, source.describe()


def same_tokenizer(model_spec: dict, data_spec: dict) -> bool:
    """Whether a model and a prepared folder cut text into the same tokens: the same tokenizer
    and, for characters, the same alphabet in the same order."""
    if model_spec.get("name") != data_spec.get("name"):
        return False
    return model_spec["name"] != "char" or list(model_spec["chars"]) == list(data_spec["chars"])


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None:
        limit_cpu_threads(args.threads)
    device = device_from_flag(parser, args.device)
    try:
        model, codec, what = load_any(args.model, device, args.offline)
        shards = TokenShards(args.data, args.split)
        data_spec = shards.tokenizer
        if not same_tokenizer(codec.spec, data_spec):
            raise ValueError(f"{args.model} reads {codec.name} tokens ({codec.vocab_size:,}) but "
                             f"{args.data} holds {data_spec.get('name')} tokens "
                             f"({data_spec.get('vocab_size'):,}) of another alphabet or kind: "
                             f"prepare the text with --tokenizer {codec.name}")
        context = args.context or model.config.context
        if context > model.config.context:
            raise ValueError(f"--context {context} is longer than the model's "
                             f"{model.config.context}")
        if len(shards) < args.batch * context + 1:
            raise ValueError(f"the {args.split} split of {args.data} holds {len(shards):,} "
                             f"tokens, fewer than one batch of {args.batch} x {context}: lower "
                             f"--batch or --context")
    except (FileNotFoundError, ValueError, CheckpointError, PretrainedUnavailable,
            RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")
    print(f"1. model: {what}, {model.n_params():,} parameters, on {device}")
    print(f"2. data: {args.data}, {args.split} split: {len(shards):,} {codec.name} tokens of "
          f"{shards.meta['source']}")
    loss, n_tokens = full_val_loss(model, shards, args.batch, context, device, args.batches)
    print(f"3. loss {loss:.4f} nats per token over its first {n_tokens:,} tokens (batches of "
          f"{args.batch} x {context}, in order); perplexity e^loss = {math.exp(loss):,.1f}")
    print(f"   (a model that knows nothing scores ln {codec.vocab_size:,} = "
          f"{math.log(codec.vocab_size):.4f})")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("The loss of any model (checkpoint, Hugging "
                           "Face folder, gpt2) on a prepared data folder.")
    parser.add_argument("--model", type=source_name, default="gpt2", metavar="SOURCE",
                        help="gpt2, gpt2-medium, gpt2-large, gpt2-xl (downloaded once), a Hugging "
                             "Face folder or a train.py checkpoint")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="a folder written by prepare_data.py")
    parser.add_argument("--split", choices=("val", "train"), default="val",
                        help="which split to score")
    parser.add_argument("--batch", type=positive_int, default=8, help="sequences per forward pass")
    parser.add_argument("--context", type=nonnegative_int, default=0,
                        help="tokens per sequence (default: 0 = the model's context)")
    parser.add_argument("--batches", type=nonnegative_int, default=0,
                        help="score only the first N batches (default: 0 = the whole split)")
    add_device_flag(parser)
    add_threads_flag(parser, default=None)
    parser.add_argument("--offline", action="store_true", help="never use the network")
    return parser


if __name__ == "__main__":
    main()
