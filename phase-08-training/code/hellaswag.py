"""HellaSwag: does the model know how an everyday scene goes on? A score beside the loss.

A validation loss says how well a model predicts text like its training text. It cannot be
compared across tokenizers or datasets, and it says little about what the model "knows".
HellaSwag (Zellers, Holtzman, Bisk, Farhadi & Choi 2019, "HellaSwag: Can a Machine Really Finish
Your Sentence?") is a multiple-choice test built for that: each of its 10,042 validation
examples is the start of a scene ("A man is sitting on a roof. He") and four endings, one
written by a person and three made by a language model and kept only if they fooled other
models. People pick the right ending about 95% of the time; chance is 25%.

A model that only predicts the next token answers it without being taught anything new: append
each ending to the context, measure how surprised the model is by the ending's tokens (their
cross-entropy, exactly the training loss, restricted to the ending), and pick the least
surprising ending. Two ways to add up the surprise:

- **acc**: the ending with the lowest total loss (sum over its tokens). Long endings pay for
  every extra token, so this favours short ones.
- **acc_norm**: the ending with the lowest loss per token (the mean over its tokens), which
  removes that bias. This is the number GPT-2 reproductions quote: OpenAI's GPT-2 124M scores
  about 29.5% acc_norm on the validation set this way, GPT-2 XL (1.5B) about 49%.

(The widely used evaluation harness of EleutherAI normalises by the ending's length in
characters instead of tokens and cleans the text first, and reports about 31% for GPT-2 124M:
the same idea, a slightly different number. Compare like with like.)

The validation file is downloaded once from the dataset's public repository into
data/hellaswag/ (git-ignored). Offline, the program says where to put it.

The model is any source val_loss.py and train.py --init-from read: a checkpoint of ours,
a Hugging Face folder, or OpenAI's GPT-2 by name (`--model gpt2`, downloaded once), so the
reference point itself can be measured: GPT-2 before and after fine-tuning (notes/10).

Run:  python phase-08-training/code/hellaswag.py --model runs/gpt2-124m/best.pt
      python phase-08-training/code/hellaswag.py --model gpt2 --limit 500
"""

import argparse
import json
import time
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from phase00.corpus import DATA_DIR, read_text_file, write_atomically
from phase00.flags import nonnegative_int, script_parser
from phase06.device import add_device_flag, autocast, pick_device
from phase07.model import GPT
from phase08.prepare_data import Codec
from phase08.pretrained import HUB_MODELS, source_name

SPLITS = ("train", "val", "test")
URL = "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_{split}.jsonl"
HELLASWAG_DIR = DATA_DIR / "hellaswag"
VAL_EXAMPLES = 10_042
FIELDS = ("ctx", "endings", "label")


def hellaswag_file(split: str = "val", folder: Path = HELLASWAG_DIR,
                   download: bool = True, timeout: float = 60.0) -> Path:
    """The path of a split's JSONL file, downloaded once (all or nothing) if it is missing.

    Offline, or with download=False, a missing file is a FileNotFoundError that says where the
    file comes from and where to put it.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown HellaSwag split {split!r}; valid splits are {list(SPLITS)}")
    path = Path(folder) / f"hellaswag_{split}.jsonl"
    if path.is_file():
        return path
    url = URL.format(split=split)
    how = (f"download {url} on a machine with a network and put it at {path} (or pass "
           f"--path to a copy)")
    if not download:
        raise FileNotFoundError(f"no HellaSwag {split} file at {path}; {how}")
    # write_atomically uses a temporary name of this process's own: several ranks may download
    # at once, and two writers of one temporary file would mix their bytes. Each renames a
    # whole file; the last rename wins.
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
        write_atomically(path, payload)  # never a half file under `path`
    except Exception as err:  # no network, a proxy, a guard: all mean "could not download"
        raise FileNotFoundError(f"could not download HellaSwag's {split} file "
                                f"({type(err).__name__}: {err}); {how}") from None
    return path


def read_examples(path: Path, limit: int = 0) -> list[dict]:
    """The examples of a HellaSwag JSONL file (the first `limit`, or all when limit is 0).

    Each needs "ctx" (text), "endings" (four texts) and "label" (0-3); anything else in the
    line (activity_label, ctx_a, ctx_b, source_id, ...) is kept but not used. The file must be
    UTF-8 text (phase 00's read_text_file), and a line that is not such an example is an error
    naming the line.
    """
    examples = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not JSON ({err}): expected one HellaSwag "
                             f"example per line") from None
        if not isinstance(example, dict):
            raise ValueError(f"{path}, line {number}: expected a JSON object (a HellaSwag "
                             f"example), got {type(example).__name__}")
        missing = [k for k in FIELDS if k not in example]
        if missing:
            raise ValueError(f"{path}, line {number}: a HellaSwag example needs "
                             f"{list(FIELDS)}; missing {missing}")
        endings, label = example["endings"], example["label"]
        if (not isinstance(example["ctx"], str) or not isinstance(endings, list)
                or len(endings) != 4 or not all(isinstance(e, str) for e in endings)
                or isinstance(label, bool) or label not in range(4)):
            raise ValueError(f"{path}, line {number}: expected 4 endings (texts), a text ctx "
                             f"and a label 0-3, got endings {str(endings)[:80]}, a ctx of type "
                             f"{type(example['ctx']).__name__} and label {label!r}")
        examples.append(example)
        if limit and len(examples) == limit:
            break
    if not examples:
        raise ValueError(f"{path} holds no examples")
    return examples


def render(example: dict, codec: Codec, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The four candidate texts as token rows, and which positions belong to the ending.

    tokens (4, L): context tokens then ending tokens, padded with 0 at the right;
    mask (4, L): 1 on the ending's tokens, 0 elsewhere (context and padding).
    Each ending is encoded with a leading space (" " + ending), as it follows the context in
    running text, so its first word is the same token GPT-2 saw during training. Rows longer
    than the model's context lose tokens from the left: the ending is always kept whole.
    """
    ctx = codec.encode(example["ctx"])
    rows, masks = [], []
    for ending in example["endings"]:
        end = codec.encode(" " + ending)
        if len(end) >= context:
            raise ValueError(f"an ending of {len(end)} tokens does not fit a context of "
                             f"{context}")
        row = (ctx + end)[-context:]
        rows.append(row)
        masks.append([0] * (len(row) - len(end)) + [1] * len(end))
    width = max(map(len, rows))
    tokens = torch.zeros((4, width), dtype=torch.long)
    mask = torch.zeros((4, width), dtype=torch.long)
    for i, (row, m) in enumerate(zip(rows, masks, strict=True)):
        tokens[i, :len(row)] = torch.tensor(row)
        mask[i, :len(m)] = torch.tensor(m)
    return tokens, mask


Rendered = tuple[torch.Tensor, torch.Tensor, int]  # tokens (4, L), mask (4, L), label


def render_all(examples: list[dict], codec: Codec, context: int) -> list[Rendered]:
    """Every example as token rows, once: a run that scores HellaSwag every 1,000 steps encodes
    the text only at the start (and an ending too long for the context is an error then, not
    hours later)."""
    return [(*render(e, codec, context), e["label"]) for e in examples]


@torch.no_grad()
def ending_losses(model: GPT, tokens: torch.Tensor,
                  mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum, mean) of the cross-entropy over each row's ending tokens: two (4,) tensors.

    Position t's logits predict token t + 1, so the losses are shifted by one: the loss of
    ending token t comes from the logits at t - 1.
    """
    logits = model(tokens)  # (4, L, vocab)
    losses = F.cross_entropy(logits[:, :-1].float().flatten(0, 1), tokens[:, 1:].flatten(),
                             reduction="none").view(tokens.size(0), -1)  # (4, L - 1)
    target_mask = mask[:, 1:].to(losses.dtype)
    total = (losses * target_mask).sum(dim=1)
    return total, total / target_mask.sum(dim=1)


@torch.no_grad()
def evaluate(model: GPT, codec: Codec, examples: list[dict] | list[Rendered],
             device: torch.device, dtype: torch.dtype = torch.float32, rank: int = 0,
             world: int = 1, progress: bool = False, batch_examples: int = 8) -> dict:
    """Score examples[rank::world] (every example once across the ranks). The examples are
    HellaSwag's dicts, or render_all()'s rows.

    batch_examples examples (4 rows each) go through the model together, padded at the right
    to one width: a causal model never looks right, so padding after an ending changes none of
    its losses, and the mask leaves the padding out of the sums.
    Returns counts, so that several ranks' results add up: {"n", "correct" (acc),
    "correct_norm" (acc_norm)}; accuracy() turns them into fractions.
    """
    was_training = model.training
    model.eval()
    counts = {"n": 0, "correct": 0, "correct_norm": 0}
    mine = examples[rank::world]
    bar = tqdm(total=len(mine), desc="HellaSwag", unit="example", disable=not progress,
               leave=False)
    for start in range(0, len(mine), batch_examples):
        group = [(*render(e, codec, model.config.context), e["label"]) if isinstance(e, dict)
                 else e for e in mine[start:start + batch_examples]]
        width = max(tokens.size(1) for tokens, _, _ in group)
        tokens = torch.cat([F.pad(t, (0, width - t.size(1))) for t, _, _ in group])
        mask = torch.cat([F.pad(m, (0, width - m.size(1))) for _, m, _ in group])
        labels = torch.tensor([label for _, _, label in group])
        with autocast(device, dtype):
            total, mean = ending_losses(model, tokens.to(device), mask.to(device))
        counts["n"] += len(group)
        counts["correct"] += int((total.view(-1, 4).argmin(dim=1).cpu() == labels).sum())
        counts["correct_norm"] += int((mean.view(-1, 4).argmin(dim=1).cpu() == labels).sum())
        bar.update(len(group))
    bar.close()
    model.train(was_training)
    return counts


def accuracy(counts: dict) -> tuple[float, float]:
    """(acc, acc_norm) from evaluate()'s counts."""
    return counts["correct"] / counts["n"], counts["correct_norm"] / counts["n"]


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)

    from phase08.train import CheckpointError  # train imports this file: import it here
    from phase08.val_loss import load_any

    try:
        device = pick_device(args.device)
        # a file or folder of ours is read in a moment, so a wrong one is reported before the
        # data is looked for; a Hub model may be a long download, worth it only once the data
        # is known to be there
        local = args.model not in HUB_MODELS
        if local:
            model, codec, what = load_any(args.model, device, args.offline)
        path = args.path or hellaswag_file(args.split, download=not args.offline)
        examples = read_examples(path, args.limit)
        if not local:
            model, codec, what = load_any(args.model, device, args.offline)
        if codec.name != "gpt2":
            raise ValueError(f"{args.model} was trained on {codec.name} tokens; HellaSwag's "
                             f"English needs a model trained on the gpt2 tokenizer")
        rendered = render_all(examples, codec, model.config.context)  # a too-long ending: now
    except (FileNotFoundError, ValueError, CheckpointError, RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")
    print(f"1. {len(examples):,} HellaSwag examples from {path}")
    print(f"   model: {what}, {model.n_params():,} parameters, on {device}")
    start = time.perf_counter()
    counts = evaluate(model, codec, rendered, device, progress=True)
    acc, acc_norm = accuracy(counts)
    print(f"\n2. acc {acc:.4f} ({counts['correct']}/{counts['n']}), acc_norm {acc_norm:.4f} "
          f"({counts['correct_norm']}/{counts['n']}) in {time.perf_counter() - start:.1f} s")
    print("   chance is 0.25; OpenAI's GPT-2 124M scores about 0.295 acc_norm on all of val")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Score a model on HellaSwag (acc and "
                           "acc_norm): a checkpoint, a Hugging Face "
                           "folder, or gpt2.")
    parser.add_argument("--model", "--checkpoint", dest="model", type=source_name,
                        required=True, metavar="SOURCE",
                        help="a train.py checkpoint (best.pt or last.pt), a Hugging Face folder "
                             "(config.json + model.safetensors), or gpt2, gpt2-medium, "
                             "gpt2-large, gpt2-xl (downloaded once); --checkpoint is its "
                             "older name")
    parser.add_argument("--split", choices=SPLITS[:2], default="val",
                        help="which split (default: val, the one results are quoted on)")
    parser.add_argument("--path", type=Path, default=None,
                        help="a local HellaSwag JSONL file instead of the downloaded one")
    parser.add_argument("--limit", type=nonnegative_int, default=0,
                        help="score only the first N examples (default: 0 = all)")
    add_device_flag(parser)
    parser.add_argument("--offline", action="store_true", help="never use the network")
    return parser


if __name__ == "__main__":
    main()
