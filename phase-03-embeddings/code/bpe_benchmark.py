"""How fast is our pure-Python BPE? A benchmark that prints a table, next to tiktoken.

Speed claims belong in a benchmark you can rerun, not in prose. This script measures, on one
text (Tiny Shakespeare by default) and on the machine you run it on:
1. training: the naive trainer (recount everything after each merge) against the fast one
   (update the counts of the affected chunks only), at the same vocabulary size, and checks that
   they learn the same merges; then the fast trainer alone at the full vocabulary size;
2. encoding throughput in MB/s: our encoder against tiktoken (the Rust encoder OpenAI uses)
   built from the very same ranks, for our trained vocabulary and for GPT-2's 50,257 tokens, and
   checks that both give the same ids.
Each timing is the median of several runs. Our encoder starts every run with an empty chunk
cache, as it would on a new file: the cache fills as the text goes by.

Run:  python phase-03-embeddings/code/bpe_benchmark.py            (about 35 s)
      python phase-03-embeddings/code/bpe_benchmark.py --quick    (a few seconds)
"""

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import tiktoken

from phase00.corpus import add_corpus_flags, load_text
from phase00.flags import positive_int, script_parser
from phase03.bpe import BPETokenizer, train_fast, train_naive
from phase03.gpt2_tokenizer import find_gpt2_files, gpt2_tiktoken, gpt2_tokenizer

FULL = {"vocab_size": 4096, "naive_vocab_size": 1024, "repeats": 5}
QUICK = {"vocab_size": 1024, "naive_vocab_size": 300, "repeats": 2}
QUICK_CHARACTERS = 100_000


def median_seconds(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of `repeats` calls of run(), and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def machine() -> str:
    """One line that says what the numbers were measured on."""
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, tiktoken {tiktoken.__version__}")


def encode_row(label: str, ours: BPETokenizer, theirs: tiktoken.Encoding, text: str,
               repeats: int) -> list[str]:
    """Time both encoders on `text` (ours with a cold cache each run); one table row."""
    mb = len(text.encode("utf-8")) / 1e6

    def ours_cold() -> list[int]:
        fresh = BPETokenizer(ours.ranks, ours.special_tokens, ours.pattern, ours.name)
        return fresh.encode_ordinary(text)

    t_ours, ids_ours = median_seconds(ours_cold, repeats)
    t_theirs, ids_theirs = median_seconds(lambda: theirs.encode_ordinary(text), repeats)
    same = "yes" if ids_ours == ids_theirs else "NO"
    return [label, f"{mb / t_ours:.2f} MB/s", f"{mb / t_theirs:.2f} MB/s",
            f"{t_theirs / t_ours:.2f}x", same]


def print_table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    vocab = defaults["vocab_size"] if args.vocab_size is None else args.vocab_size
    naive_vocab = (defaults["naive_vocab_size"] if args.naive_vocab_size is None
                   else args.naive_vocab_size)
    repeats = defaults["repeats"] if args.repeats is None else args.repeats
    if min(vocab, naive_vocab) < 256:
        parser.error("--vocab-size and --naive-vocab-size must be >= 256 (the 256 bytes)")
    try:
        text, source = load_text(args.corpus, args.path)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    if args.quick:
        text = text[:QUICK_CHARACTERS]
    print(f"text: {source}, {len(text):,} characters ({len(text.encode('utf-8')) / 1e6:.2f} MB)")
    print(f"machine: {machine()}")
    print(f"each time is the median of {repeats} runs (the naive trainer: 1 run)\n")

    t_naive, naive = median_seconds(lambda: train_naive(text, naive_vocab), 1)
    t_fast_small, fast_small = median_seconds(lambda: train_fast(text, naive_vocab), repeats)
    t_fast, merges = median_seconds(lambda: train_fast(text, vocab), repeats)
    # A short text runs out of pairs before the vocabulary asked for: show the size reached.
    reached_small, reached = 256 + len(fast_small), 256 + len(merges)
    print_table(["training", "vocabulary", "time", "speed-up", "same merges"], [
        ["naive (recount all pairs)", f"{256 + len(naive):,}", f"{t_naive:.2f} s", "1x", ""],
        ["fast (incremental counts)", f"{reached_small:,}", f"{t_fast_small:.2f} s",
         f"{t_naive / t_fast_small:.0f}x", "yes" if naive == fast_small else "NO"],
        ["fast (incremental counts)", f"{reached:,}", f"{t_fast:.2f} s", "", ""],
    ])
    if reached < vocab or reached_small < naive_vocab:
        print(f"(training stopped early: this text has no pair left to merge after "
              f"{len(merges):,} merges, so the vocabulary is {reached:,}, not the {vocab:,} "
              f"asked for; timings this short measure little)")

    ours = BPETokenizer.from_merges([pair for pair, _ in merges])
    theirs = tiktoken.Encoding(name="ours", pat_str=ours.pattern, mergeable_ranks=ours.ranks,
                               special_tokens=ours.special_tokens)
    rows = [encode_row(f"our {vocab:,}-token BPE", ours, theirs, text, repeats)]
    try:
        folder = find_gpt2_files(download=False)
        rows.append(encode_row("GPT-2 (50,257 tokens)", gpt2_tokenizer(folder),
                               gpt2_tiktoken(folder), text, repeats))
    except FileNotFoundError as err:
        print(f"\n(GPT-2 row skipped: {err})")
    print()
    print_table(["encoding, same ranks", "ours (pure Python)", "tiktoken (Rust)",
                 "ours / tiktoken", "same ids"], rows)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Benchmark our BPE trainers and encoder against tiktoken.")
    # --quick changes the defaults, never a flag you typed: those are None until resolved below
    parser.add_argument("--vocab-size", type=positive_int, default=None,
                        help="vocabulary of the fast trainer and our encoder (default: 4096; with "
                             "--quick 1024)")
    parser.add_argument("--naive-vocab-size", type=positive_int, default=None,
                        help="vocabulary for the naive-vs-fast race; 4096 takes minutes (default: "
                             "1024; with --quick 300)")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="runs per timing; the median is reported (default: 5; with --quick "
                             "2)")
    parser.add_argument("--quick", action="store_true",
                        help="the first 100,000 characters, and smaller defaults for the three "
                             "flags above (those you give are used as given)")
    add_corpus_flags(parser)
    return parser


if __name__ == "__main__":
    main()
