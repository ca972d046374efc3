"""Our byte-level BPE against the libraries: training against Hugging Face's, encoding against both.

Phase 03 wrote byte-level BPE in pure Python (Sennrich et al. 2016 brought BPE, Gage's 1994
compression trick, to words; Radford et al. 2019 made it byte-level for GPT-2) and timed it
against tiktoken. Here the third library joins: Hugging Face's `tokenizers` (Rust), which can
also TRAIN a byte-level BPE, which tiktoken cannot.

1. Training at the same vocabulary size: our incremental trainer (phase 03's train_fast) against
   `tokenizers`' BpeTrainer with a ByteLevel pre-tokenizer. That pre-tokenizer splits text with
   GPT-2's regex, as ours does (the script checks: the same pieces); the two trainers may still
   break ties between equally frequent pairs differently (ours: the smallest ids). The column
   "same merges" compares the two lists of merges: the same set or not, and the first merge
   where the order differs.
2. Encoding with GPT-2's own 50,257 tokens, the same ranks in all three: our encoder (a fresh
   chunk cache each run, as on a new file; the fresh tokenizers are built before the clock
   starts), tiktoken and Hugging Face's GPT2TokenizerFast; the last column checks the ids are
   identical, on the whole text timed.
3. Where GPT2TokenizerFast's time goes: its encode of the same text with one stage taken away at
   a time (first the merges, by a model that does nothing; then the split too), so each
   difference is one stage's time; a difference no larger than the runs' spread is reported
   as too small to measure, never as a share. A check of the decomposition: its pieces, split
   beforehand and then merged on their own, must give the whole encode's ids.

Threads: of the contenders, only Hugging Face's Rust library can use several threads (our BPE is
pure Python, and tiktoken encodes one text on the calling thread; PyTorch and NumPy do no work
here). --threads sets its Rayon pool (timing.limit_rust_threads, before the library first runs)
and nothing else. After one untimed warm-up round, the contenders of each table take turns run
by run (timing.take_turns); each time is the median of --repeats runs, with the fastest and
slowest.

Run:  python phase-09-comparison/code/bench_bpe.py
      python phase-09-comparison/code/bench_bpe.py --quick
"""

import argparse
import json
import statistics
from collections.abc import Callable
from typing import Any

from tokenizers import Encoding, Tokenizer, decoders, models, pre_tokenizers, trainers

from phase00.corpus import add_corpus_flags, load_text
from phase00.flags import positive_int, script_parser, thread_count
from phase03.bpe import BPETokenizer, pretokenize, train_fast
from phase03.gpt2_tokenizer import (
    find_gpt2_files,
    gpt2_string_to_bytes,
    gpt2_tiktoken,
    gpt2_tokenizer,
)
from phase06.device import limit_cpu_threads
from phase09.timing import (
    limit_rust_threads,
    machine,
    markdown_table,
    refuse_quick_overrides,
    spread,
    take_turns,
)
from phase09.tokenizers_compare import first_difference, hf_gpt2_tokenizer

BytePair = tuple[bytes, bytes]
HF_FAST = "Hugging Face GPT2TokenizerFast (Rust)"
# Its encode, stripped one stage at a time.
WHOLE = "the whole encode"
NO_MERGES = "without the merges (a model that does nothing)"
NO_SPLIT = "without the split either (the text as one piece)"


def train_hf(text: str, vocab_size: int) -> Tokenizer:
    """A byte-level BPE trained by Hugging Face's `tokenizers` on `text` (256 bytes + merges)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text], trainer=trainer)
    return tokenizer


def our_merges(merges: list[tuple[tuple[int, int], int]]) -> list[BytePair]:
    """train_fast's merges ((left id, right id), count), merge k making token 256 + k, as the
    two byte strings each one joins."""
    spelled = {i: bytes([i]) for i in range(256)}
    pairs = []
    for k, ((a, b), _count) in enumerate(merges):
        spelled[256 + k] = spelled[a] + spelled[b]
        pairs.append((spelled[a], spelled[b]))
    return pairs


def hf_merges(tokenizer: Tokenizer) -> list[BytePair]:
    """A trained Tokenizer's merges in order, as byte strings (its model stores each side in
    GPT-2's printable spelling of bytes, as "left right" or, in newer versions, [left, right])."""
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    return [(gpt2_string_to_bytes(a), gpt2_string_to_bytes(b)) for a, b in pairs]


def compare_merges(ours: list[BytePair], theirs: list[BytePair]) -> str:
    """Do two trainers learn the same merges? The same set, and where the order first differs
    (merges counted from 1)."""
    first = first_difference(ours, theirs)
    if first is None:
        return f"yes: the same {len(ours):,} merges in the same order"
    shared = len(set(ours) & set(theirs))
    which = (f"the same set of {len(ours):,}" if set(ours) == set(theirs)
             else f"{shared:,} of {len(ours):,} shared")
    return f"{which}; the order differs from merge {first + 1}"


def hf_pieces(pre_tokenizer: Any, text: str) -> list[bytes]:
    """The pieces a Hugging Face pre-tokenizer cuts text into, as bytes (ByteLevel spells each
    piece's bytes in GPT-2's printable characters)."""
    return [gpt2_string_to_bytes(piece) for piece, _ in pre_tokenizer.pre_tokenize_str(text)]


def ordinary_copy(backend: Tokenizer) -> Tokenizer:
    """A copy of a tokenizer that reads special tokens such as <|endoftext|> as plain text, as
    encode_ordinary does (the flag is not part of what to_str saves, so it is set here)."""
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.encode_special_tokens = True
    return tokenizer


def without_merges(backend: Tokenizer) -> Tokenizer:
    """A copy of a tokenizer whose model does nothing: WordLevel with one entry, so every piece
    becomes the unknown token in one look-up. The split and the pipeline stay; the merges go."""
    tokenizer = ordinary_copy(backend)
    tokenizer.model = models.WordLevel({"<unk>": 0}, unk_token="<unk>")
    return tokenizer


def without_split(backend: Tokenizer) -> Tokenizer:
    """A copy of a tokenizer with no pre-tokenizer: given a whole text it sees one piece; given
    pieces already split (is_pretokenized=True) it takes them as they are."""
    tokenizer = ordinary_copy(backend)
    tokenizer.pre_tokenizer = None
    return tokenizer


def where_time_goes(backend: Tokenizer, text: str,
                    repeats: int) -> tuple[dict[str, list[float]], bool]:
    """Seconds of a tokenizer's encode with its stages taken away one at a time, taking turns;
    and whether its pieces, split beforehand and then merged, give the whole encode's ids."""
    whole, nothing = ordinary_copy(backend), without_merges(backend)
    neither = without_split(nothing)
    runs: dict[str, Callable[[], Encoding]] = {
        WHOLE: lambda: whole.encode(text, add_special_tokens=False),
        NO_MERGES: lambda: nothing.encode(text, add_special_tokens=False),
        NO_SPLIT: lambda: neither.encode(text, add_special_tokens=False)}
    pieces = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(text)]
    merged = without_split(backend).encode(pieces, is_pretokenized=True, add_special_tokens=False)
    return take_turns(runs, repeats), merged.ids == runs[WHOLE]().ids


def unreached_vocabulary(asked: int, ours: int, theirs: int) -> str | None:
    """What to say when a trainer stopped below the vocabulary asked for (a text whose every
    piece is already one token has no pair left to merge); None when both reached it."""
    if min(ours, theirs) >= asked:
        return None
    return (f"--vocab-size {asked:,} was not reached: this text ran out of pairs to merge "
            f"(every piece already one token) at {ours:,} tokens for ours and {theirs:,} for "
            f"Hugging Face's; a longer text has more pairs")


def stage_time(stage: str, slower: list[float], faster: list[float], whole: float) -> str:
    """A stage's time, as the difference between the medians of a run with the stage and one
    without it, and its share of the whole encode; or "too small to measure" when that
    difference is no larger than the runs' own spread (half the range of the wider of the two):
    a difference of two noisy medians can even come out negative."""
    time = statistics.median(slower) - statistics.median(faster)
    if min(len(slower), len(faster)) < 2:
        return f"{stage}: {time:+.3f} s, one run each, so no spread to judge it by"
    noise = max(max(runs) - min(runs) for runs in (slower, faster)) / 2
    if time <= noise:
        return (f"{stage}: too small to measure here ({time:+.3f} s, inside the runs' spread "
                f"of ±{noise:.3f} s)")
    return f"{stage} takes {time:.3f} s ({time / whole:.0%})"


def keeping(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> Callable[[], None]:
    """fn, wrapped to keep its latest result in results[name] (the timer drops results)."""
    def run() -> None:
        results[name] = fn()

    return run


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    refuse_quick_overrides(parser, args, argv, ("vocab_size", "repeats"))
    if args.vocab_size < 257:
        parser.error("--vocab-size must be > 256: the 256 bytes come first, then the merges")
    try:
        text, source = load_text(args.corpus, args.path, download=False)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    try:
        folder = find_gpt2_files(download=False)
    except FileNotFoundError as err:
        parser.exit(1, f"error: {err}\n")
    limit_cpu_threads(1)  # PyTorch and NumPy do no work here; one thread keeps them quiet
    limit_rust_threads(args.threads)  # before the Rust library's first run in this process
    vocab, repeats = args.vocab_size, args.repeats
    if args.quick:
        text, vocab, repeats = text[:20_000], min(vocab, 300), 1
    mb = len(text.encode("utf-8")) / 1e6
    print(f"text: {source}, {len(text):,} characters ({mb:.2f} MB)")
    print(f"machine: {machine()}; Rust tokenizers: RAYON_NUM_THREADS={args.threads}, "
          f"TOKENIZERS_PARALLELISM={'true' if args.threads > 1 else 'false'}")
    print(f"each time is the median of {repeats} run(s) after a warm-up, the contenders taking "
          f"turns\n")

    trained: dict[str, Any] = {}
    train = {"ours (phase 03 train_fast, Python)": lambda: train_fast(text, vocab),
             "Hugging Face tokenizers BpeTrainer (Rust)": lambda: train_hf(text, vocab)}
    runs = take_turns({name: keeping(trained, name, fn) for name, fn in train.items()}, repeats)
    t = {name: statistics.median(seconds) for name, seconds in runs.items()}
    ours_name, hf_name = train
    ours_vocab = BPETokenizer.from_merges([pair for pair, _ in trained[ours_name]],
                                          special_tokens=()).vocab_size
    same = compare_merges(our_merges(trained[ours_name]), hf_merges(trained[hf_name]))
    print("1. Training a byte-level BPE")
    print(markdown_table(["trainer", "vocabulary", "time (median)", "fastest-slowest (s)",
                          "speed vs ours", "same merges as ours"], [
        [ours_name, f"{ours_vocab:,}", f"{t[ours_name]:.3f} s", spread(runs[ours_name], 1, 3),
         "1.00x", ""],
        [hf_name, f"{trained[hf_name].get_vocab_size():,}", f"{t[hf_name]:.3f} s",
         spread(runs[hf_name], 1, 3), f"{t[ours_name] / t[hf_name]:.2f}x", same],
    ]))
    short = unreached_vocabulary(vocab, ours_vocab, trained[hf_name].get_vocab_size())
    if short:
        print(f"   {short}")
    regex_pieces = [piece.encode("utf-8") for piece in pretokenize(text)]
    hf_split = hf_pieces(trained[hf_name].pre_tokenizer, text)
    print(f"   the trainers' pre-tokenizers: GPT-2's regex (ours) cuts the text into "
          f"{len(regex_pieces):,} pieces, Hugging Face's ByteLevel into {len(hf_split):,}; "
          f"the same pieces: {'yes' if hf_split == regex_pieces else 'NO'}")

    ours, tik, hf = gpt2_tokenizer(folder), gpt2_tiktoken(folder), hf_gpt2_tokenizer(folder)
    # one fresh tokenizer (an empty chunk cache) per run, built before the clock starts
    fresh = [BPETokenizer(ours.ranks, ours.special_tokens, ours.pattern, ours.name)
             for _ in range(repeats + 1)]
    encoders = {"ours (phase 03, Python)": lambda: fresh.pop().encode_ordinary(text),
                "tiktoken (Rust)": lambda: tik.encode_ordinary(text),
                # split_special_tokens: <|endoftext|> in the text is text, as for the other two
                HF_FAST: lambda: hf.encode(text, add_special_tokens=False,
                                           split_special_tokens=True)}
    ids = {name: fn() for name, fn in encoders.items()}  # the ids, checked on the whole text
    runs = take_turns(encoders, repeats, 0)  # the call above was the warm-up round
    t = {name: statistics.median(seconds) for name, seconds in runs.items()}
    reference, t_ref = ids["ours (phase 03, Python)"], t["ours (phase 03, Python)"]
    print("\n2. Encoding with GPT-2's 50,257 tokens (the same files for all three)")
    print(markdown_table(["encoder", "tokens", "time (median)", "fastest-slowest (s)", "MB/s",
                          "speed vs ours", "same ids"], [
        [name, f"{len(ids[name]):,}", f"{t[name]:.3f} s", spread(runs[name], 1, 3),
         f"{mb / t[name]:.2f}", f"{t_ref / t[name]:.2f}x",
         "yes" if ids[name] == reference else "NO"] for name in encoders]))
    # Then GPT2TokenizerFast's time taken apart, away from the table (three more contenders
    # would burden it). Each stage's time is a difference between two runs taking turns.
    parts, same = where_time_goes(hf.backend_tokenizer, text, repeats)
    p = {name: statistics.median(seconds) for name, seconds in parts.items()}
    print(f"\n3. Where GPT2TokenizerFast's time goes: its encode with one stage taken away at a "
          f"time (its Rust pipeline called directly; median of {repeats} each, taking turns)")
    for name in (WHOLE, NO_MERGES, NO_SPLIT):
        print(f"   {name:50s} {p[name]:.3f} s ({spread(parts[name], 1, 3)})")
    split = stage_time("the split", parts[NO_MERGES], parts[NO_SPLIT], p[WHOLE])
    merges = stage_time("the merge stage", parts[WHOLE], parts[NO_MERGES], p[WHOLE])
    print(f"   so {split}; {merges}; and the pipeline's own work on the text, with neither "
          f"stage, {p[NO_SPLIT]:.3f} s ({p[NO_SPLIT] / p[WHOLE]:.0%})")
    print("   (its BPE model keeps a cache of the words it has merged, filled here by the "
          "untimed first round: on a text that repeats its words, the merges are mostly "
          "look-ups in that cache)")
    print(f"   its pieces, split beforehand and then merged, give the whole encode's ids: "
          f"{'yes' if same else 'NO'}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Time BPE training and encoding: ours, "
                           "tiktoken and Hugging Face's tokenizers.")
    parser.add_argument("--vocab-size", type=positive_int, default=1024,
                        help="vocabulary both trainers learn")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="runs per timing; the median is reported")
    parser.add_argument("--quick", action="store_true",
                        help="the first 20,000 characters, vocabulary 300, 1 run; refuses "
                             "--vocab-size, --repeats")
    parser.add_argument("--threads", type=thread_count, default=1,
                        help="threads of Hugging Face's Rust tokenizers library, the only "
                             "contender here that can use more than one")
    add_corpus_flags(parser)
    return parser


if __name__ == "__main__":
    main()
