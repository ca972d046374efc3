"""Our byte-level BPE against the libraries: training against Hugging Face's, encoding against both.

Phase 03 wrote byte-level BPE in pure Python (Sennrich et al. 2016 brought BPE, Gage's 1994
compression trick, to words; Radford et al. 2019 made it byte-level for GPT-2) and timed it
against tiktoken. Here the third library joins: Hugging Face's `tokenizers` (Rust), which can
also TRAIN a byte-level BPE, which tiktoken cannot.

1. Training at the same vocabulary size: our incremental trainer (phase 03's train_fast) against
   `tokenizers`' BpeTrainer with a ByteLevel pre-tokenizer. The two do not learn the same merges
   (their pre-tokenizer and tie-breaking differ from GPT-2's regex and our smallest-ids rule),
   so this row compares speed only; the column "same merges" says so.
2. Encoding with GPT-2's own 50,257 tokens, the same ranks in all three: our encoder (a fresh
   chunk cache each run, as on a new file), tiktoken and Hugging Face's GPT2TokenizerFast; the
   last column checks the ids are identical.

Each time is the median of --repeats runs; the machine is printed with the tables.

Run:  python phase-09-comparison/code/bench_bpe.py
      python phase-09-comparison/code/bench_bpe.py --quick
"""

import argparse
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from phase00.corpus import CORPORA, load_text
from phase00.flags import positive_int
from phase03.bpe import BPETokenizer, train_fast
from phase03.bpe_benchmark import median_seconds
from phase03.gpt2_tokenizer import find_gpt2_files, gpt2_tiktoken, gpt2_tokenizer
from phase09.timing import machine, markdown_table
from phase09.tokenizers_compare import hf_gpt2_tokenizer


def train_hf(text: str, vocab_size: int) -> Tokenizer:
    """A byte-level BPE trained by Hugging Face's `tokenizers` on `text` (256 bytes + merges)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text], trainer=trainer)
    return tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time BPE training and encoding: ours, "
                                                 "tiktoken and Hugging Face's tokenizers.")
    parser.add_argument("--vocab-size", type=positive_int, default=1024,
                        help="vocabulary both trainers learn (default: 1024)")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="runs per timing; the median is reported (default: 3)")
    parser.add_argument("--quick", action="store_true",
                        help="the first 20,000 characters, vocabulary 300, 1 run")
    parser.add_argument("--corpus", choices=CORPORA, default="tinyshakespeare",
                        help="built-in corpus (default: tinyshakespeare)")
    parser.add_argument("--path", type=Path, default=None, help="benchmark on this text file")
    args = parser.parse_args(argv)
    if args.vocab_size < 257:
        parser.error("--vocab-size must be > 256: the 256 bytes come first, then the merges")
    try:
        text, source = load_text(args.corpus, args.path, download=False)
        folder = find_gpt2_files(download=False)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    vocab, repeats = args.vocab_size, args.repeats
    if args.quick:
        text, vocab, repeats = text[:20_000], min(vocab, 300), 1
    mb = len(text.encode("utf-8")) / 1e6
    print(f"text: {source}, {len(text):,} characters ({mb:.2f} MB)")
    print(f"machine: {machine()}")
    print(f"each time is the median of {repeats} run(s)\n")

    t_ours, merges = median_seconds(lambda: train_fast(text, vocab), repeats)
    t_hf, hf_trained = median_seconds(lambda: train_hf(text, vocab), repeats)
    ours_trained = BPETokenizer.from_merges([pair for pair, _ in merges], special_tokens=())
    print("1. Training a byte-level BPE")
    print(markdown_table(["trainer", "vocabulary", "time", "speed vs ours", "same merges"], [
        ["ours (phase 03 train_fast, Python)", f"{ours_trained.vocab_size:,}",
         f"{t_ours:.3f} s", "1.00x", ""],
        ["Hugging Face tokenizers BpeTrainer (Rust)", f"{hf_trained.get_vocab_size():,}",
         f"{t_hf:.3f} s", f"{t_ours / t_hf:.2f}x", "no (different rules; speed only)"],
    ]))

    ours, tik, hf = gpt2_tokenizer(folder), gpt2_tiktoken(folder), hf_gpt2_tokenizer(folder)

    def ours_cold() -> list[int]:
        fresh = BPETokenizer(ours.ranks, ours.special_tokens, ours.pattern, ours.name)
        return fresh.encode_ordinary(text)

    timings = {
        "ours (phase 03, Python)": median_seconds(ours_cold, repeats),
        "tiktoken (Rust)": median_seconds(lambda: tik.encode_ordinary(text), repeats),
        "Hugging Face GPT2TokenizerFast (Rust)": median_seconds(
            lambda: hf.encode(text, add_special_tokens=False), repeats),
    }
    reference = timings["ours (phase 03, Python)"][1]
    t_ref = timings["ours (phase 03, Python)"][0]
    print("\n2. Encoding with GPT-2's 50,257 tokens (the same files for all three)")
    print(markdown_table(["encoder", "tokens", "time", "MB/s", "speed vs ours", "same ids"], [
        [name, f"{len(ids):,}", f"{t:.3f} s", f"{mb / t:.2f}", f"{t_ref / t:.1f}x",
         "yes" if ids == reference else "NO"] for name, (t, ids) in timings.items()]))


if __name__ == "__main__":
    main()
