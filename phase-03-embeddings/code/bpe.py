"""Byte-level BPE: the tokenizer of GPT-2, trained, saved, loaded and run by hand.

A model reads numbers, not text. Characters make short vocabularies but long sequences (a
1,000-character paragraph is 1,000 steps for the model); whole words make short sequences but
an endless vocabulary that still misses every new name. Byte pair encoding sits between them.

History. Philip Gage (1994, "A New Algorithm for Data Compression") compressed files by
repeatedly replacing the most frequent pair of adjacent bytes with a byte the file did not use.
Sennrich, Haddow & Birch (2016, "Neural Machine Translation of Rare Words with Subword Units")
turned the same loop into a vocabulary builder for translation: start from characters, merge the
most frequent adjacent pair into a new symbol, repeat until the vocabulary has the size you want.
Radford et al. (2019, "Language Models are Unsupervised Multitask Learners", GPT-2) ran it on
raw UTF-8 bytes, so that any text at all (emoji, Chinese, code) can be written with the 256 byte
tokens at worst and nothing is ever "unknown"; and they first cut text into chunks with a regular
expression (words with their leading space, numbers, punctuation runs, whitespace) so that a
merge never glues the end of one word to the start of the next.

What this file holds:
- `pretokenize`: GPT-2's regular expression that cuts text into chunks.
- `train_naive`: the algorithm as it reads: count every adjacent pair, merge the most frequent,
  recount everything, repeat. Easy to follow, slow.
- `train_fast`: the same merges in the same order, but after a merge it only updates the counts
  of the chunks that contained the merged pair (an index says which), and keeps the counts in a
  heap. Ties are broken the same way in both (documented in `best_pair`).
- `bpe_encode_chunk`: encoding one chunk as the rule reads (merge the earliest-learned pair,
  again and again): quadratic in the chunk's length. `bpe_encode_chunk_fast`: the same ids with
  a heap of candidate merges and a linked list of tokens, near-linear, so that a chunk of a
  million letters without a space takes seconds, not days.
- `BPETokenizer`: encode (with a cache of chunks already seen), decode, special tokens such as
  `<|endoftext|>`, and a plain-text save format you can read.

Run:  python phase-03-embeddings/code/bpe.py                      (fast trainer, 4,096 tokens)
      python phase-03-embeddings/code/bpe.py --vocab-size 512 --trainer naive
"""

import argparse
import heapq
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import regex
from matplotlib.figure import Figure

from phase00.corpus import add_corpus_flags, load_text, write_atomically
from phase00.figures import add_out_flag, save_figure
from phase00.flags import output_file, positive_int, script_parser

# GPT-2's pre-tokenisation rule (Radford et al. 2019), read left to right, first match wins:
#   's 't 're 've 'm 'll 'd      English contractions, split from their word
#   " ?\p{L}+"                   letters, with at most one space in front  (" hello")
#   " ?\p{N}+"                   digits, with at most one space in front   (" 2024")
#   " ?[^\s\p{L}\p{N}]+"         punctuation and symbols, likewise          (" ...")
#   "\s+(?!\S)"                  a run of spaces, leaving the last one for the next word
#   "\s+"                        any whitespace left (e.g. at the very end)
# \p{L} is "any Unicode letter" and \p{N} "any Unicode number": Python's built-in `re` has no
# such classes, which is why this file uses the `regex` package, as GPT-2's own code did.
GPT2_SPLIT_PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
                      r"""|\s+(?!\S)|\s+""")
ENDOFTEXT = "<|endoftext|>"
FILE_HEADER = "tfs-bpe 1"
Pair = tuple[int, int]


def pretokenize(text: str, pattern: str = GPT2_SPLIT_PATTERN) -> list[str]:
    """Cut text into the chunks BPE works inside: merges never cross a chunk boundary.

    pretokenize("Hello world's end") == ["Hello", " world", "'s", " end"]
    """
    return regex.findall(pattern, text)


def chunk_table(text: str, pattern: str) -> tuple[list[list[int]], list[int]]:
    """The distinct chunks of `text` as lists of byte values, and how often each occurs.

    Tiny Shakespeare has 297,833 chunks but only 15,057 distinct ones: counting a pair once per
    distinct chunk, times its frequency, gives the same counts while visiting 94,391 pair
    positions instead of 817,561, about 9x less work (`bpe.py` prints both numbers).
    """
    counts = Counter(pretokenize(text, pattern))
    words = [list(chunk.encode("utf-8")) for chunk in counts]
    return words, list(counts.values())


def count_pairs(words: list[list[int]], freqs: list[int]) -> dict[Pair, int]:
    """How many times each adjacent pair of ids occurs, over all chunks, weighted by frequency.

    Every position counts, so pairs may overlap: "aaa" holds (a, a) twice, at positions 0 and 1.
    A merge cannot replace both (they share the middle a; see merge_pair), so a pair counted c
    times shortens the text by at most c tokens, and by fewer when it overlaps itself.
    """
    counts: dict[Pair, int] = defaultdict(int)
    for word, freq in zip(words, freqs, strict=True):
        for pair in zip(word, word[1:], strict=False):
            counts[pair] += freq
    return counts


def merge_pair(word: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `word`, left to right, by `new_id`.

    merge_pair([1, 2, 2, 2], (2, 2), 9) == [1, 9, 2]: the scan takes the first two 2s, then the
    third 2 has no partner left.
    """
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def best_pair(counts: dict[Pair, int], vocab: dict[int, bytes],
              known: set[bytes]) -> Pair | None:
    """The pair to merge next: the most frequent; among equals, the smallest (left, right) ids.

    A pair whose two tokens spell a byte string that is already a token is never chosen, so
    every token is a distinct string with one id, as in GPT-2's vocabulary (and as tiktoken's
    table of byte strings to ranks needs). This is a guard, not a case that training meets:
    for "the" to exist as th + e while t + he is still a pair, (h, e) must have been merged
    first, and then no h followed by e was left for th + e. Applying each merge to every chunk,
    left to right, seems never to make the same string twice (a search of 379,266 small random
    texts found no case); the guard keeps the promise without resting on that argument.
    Returns None when no pair is left.
    """
    candidates = [(count, pair) for pair, count in counts.items()
                  if count > 0 and vocab[pair[0]] + vocab[pair[1]] not in known]
    if not candidates:
        return None
    count, pair = max(candidates, key=lambda cp: (cp[0], -cp[1][0], -cp[1][1]))
    return pair


def check_vocab_size(vocab_size: int) -> None:
    """A byte-level vocabulary starts with the 256 single bytes; it cannot be smaller."""
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be >= 256 (the 256 single bytes come first, so "
                         f"that any text can be encoded), got {vocab_size}")


def train_naive(text: str, vocab_size: int, pattern: str = GPT2_SPLIT_PATTERN,
                progress: bool = False,
                saved: list[int] | None = None) -> list[tuple[Pair, int]]:
    """BPE as the algorithm reads: recount every pair after every merge.

    Returns the merges in order, each as ((left id, right id), how often the pair was counted
    when it was merged, overlaps included). The new token of the k-th merge gets id 256 + k.
    saved: if a list is given, one number per merge is appended to it, the tokens that merge
    really removed from the text (the count, minus the overlaps the left-to-right scan skips).
    """
    check_vocab_size(vocab_size)
    words, freqs = chunk_table(text, pattern)
    vocab = {i: bytes([i]) for i in range(256)}
    known = set(vocab.values())
    merges = []
    bar = _progress_bar(vocab_size - 256, progress)
    while len(vocab) < vocab_size:
        counts = count_pairs(words, freqs)  # the naive part: everything, every time
        pair = best_pair(counts, vocab, known)
        if pair is None:
            break  # every chunk is a single token: nothing left to merge
        new_id = len(vocab)
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        known.add(vocab[new_id])
        merges.append((pair, counts[pair]))
        merged = [merge_pair(word, pair, new_id) for word in words]
        if saved is not None:
            saved.append(sum((len(old) - len(new)) * freq
                             for old, new, freq in zip(words, merged, freqs, strict=True)))
        words = merged
        bar.update(1)
    bar.close()
    return merges


def train_fast(text: str, vocab_size: int, pattern: str = GPT2_SPLIT_PATTERN,
               progress: bool = False,
               saved: list[int] | None = None) -> list[tuple[Pair, int]]:
    """The same merges as train_naive, in the same order, with incremental pair counts
    (and, in `saved` if a list is given, the same tokens removed by each merge).

    Four structures replace the full recount:
    - the distinct chunks laid end to end, one token per position: token[p] is the id of the
      token that starts at position p (-1 once it has been merged into its left neighbour),
      next_pos[p] and prev_pos[p] the positions of its neighbours in the same chunk (-1 at the
      chunk's ends), weight[p] how often its chunk occurs in the text;
    - counts[pair]: the current count of every pair;
    - where[pair]: the positions where the pair starts (or once started);
    - a heap of (-count, left, right): its smallest entry is the most frequent pair, ties going
      to the smallest ids, exactly as in `best_pair`. A count that changes gets a new entry; the
      old one is recognised as stale when it comes out (its count no longer matches) and dropped.
    A merge visits only the positions in where[pair]: at each, the pair becomes one token and
    only the two pairs around it change (uncount the old neighbours, count the new). So a merge
    costs what it changes, however long the chunk: a text of one 100,000-letter word trains as
    fast as a text of short words (rewriting whole chunks would cost 100,000 steps per merge).
    """
    check_vocab_size(vocab_size)
    words, freqs = chunk_table(text, pattern)
    token: list[int] = []
    weight: list[int] = []
    next_pos: list[int] = []
    prev_pos: list[int] = []
    for word, freq in zip(words, freqs, strict=True):
        start = len(token)
        token += word
        weight += [freq] * len(word)
        next_pos += [*range(start + 1, start + len(word)), -1]
        prev_pos += [-1, *range(start, start + len(word) - 1)]
    counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for p, q in enumerate(next_pos):
        if q >= 0:
            counts[token[p], token[q]] += weight[p]
            where[token[p], token[q]].add(p)
    heap = [(-count, a, b) for (a, b), count in counts.items()]
    heapq.heapify(heap)

    vocab = {i: bytes([i]) for i in range(256)}
    known = set(vocab.values())
    merges = []
    bar = _progress_bar(vocab_size - 256, progress)
    while len(vocab) < vocab_size and heap:
        neg_count, a, b = heapq.heappop(heap)
        pair = (a, b)
        if counts.get(pair, 0) != -neg_count or -neg_count <= 0:
            continue  # a stale entry: this pair's count has changed since it was pushed
        if vocab[a] + vocab[b] in known:
            continue  # it would spell an existing token (see best_pair); never chosen
        new_id = len(vocab)
        vocab[new_id] = vocab[a] + vocab[b]
        known.add(vocab[new_id])
        merges.append((pair, -neg_count))
        changed: set[Pair] = {pair}
        removed = 0  # tokens this merge removes from the text: one per place it merges
        # Left to right inside each chunk, as merge_pair scans: in "aaa", (a, a) merges once.
        for p in sorted(where.pop(pair)):
            q = next_pos[p]
            if token[p] != a or q < 0 or token[q] != b:
                continue  # no longer this pair here: an earlier merge took a token of it
            before, after, freq = prev_pos[p], next_pos[q], weight[p]
            counts[pair] -= freq
            removed += freq
            if before >= 0:  # the left neighbour's pair changes from (x, a) to (x, new)
                old, new = (token[before], a), (token[before], new_id)
                counts[old] -= freq
                counts[new] += freq
                where[new].add(before)
                changed |= {old, new}
            if after >= 0:  # the right neighbour's pair changes from (b, y) to (new, y)
                old, new = (b, token[after]), (new_id, token[after])
                counts[old] -= freq
                counts[new] += freq
                where[new].add(p)
                changed |= {old, new}
                prev_pos[after] = p
            token[p], token[q], next_pos[p] = new_id, -1, after
        for c in changed:
            if counts[c] > 0:
                heapq.heappush(heap, (-counts[c], c[0], c[1]))
        if saved is not None:
            saved.append(removed)
        bar.update(1)
    bar.close()
    return merges


class _NoBar:
    """Stands in for a tqdm bar when no progress is wanted."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, show: bool) -> Any:
    """A tqdm progress bar over the merges, or a silent stand-in."""
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="merges", unit="merge", leave=False)


def bpe_encode_chunk(chunk: bytes, ranks: dict[bytes, int]) -> list[int]:
    """Encode one chunk: start from single bytes, repeatedly merge the adjacent pair whose
    joined bytes have the lowest rank (were learned earliest), until no pair is a token.

    The rank of a token is its id, so "learned earliest" means "smallest id"; among pairs of
    equal rank the leftmost goes first. A chunk that is a token as a whole is returned at once
    (most chunks of ordinary text are). This is the rule as it reads, and it is quadratic: each
    merge rescans every pair, and a chunk of n bytes can need n - 1 merges, so about n * n / 2
    look-ups (a 10,000-byte chunk takes seconds). `bpe_encode_chunk_fast` gives the same ids.
    """
    if chunk in ranks:
        return [ranks[chunk]]
    parts = [chunk[i:i + 1] for i in range(len(chunk))]
    while len(parts) > 1:
        best_rank, best_i = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best_i = rank, i
        if best_rank is None:
            break
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return [ranks[p] for p in parts]


def bpe_encode_chunk_fast(chunk: bytes, ranks: dict[bytes, int]) -> list[int]:
    """The same ids as bpe_encode_chunk, in about n log n steps for a chunk of n bytes.

    The simple loop spends its time finding the best pair again after every merge, although a
    merge changes only two pairs: the merged token with its left neighbour, and with its right.
    So keep every candidate merge in a heap keyed by (rank, start): the smallest entry is the
    lowest rank, ties going to the leftmost, exactly the pair the simple loop would pick. A
    merge pushes its two new pairs; the pairs it destroyed stay in the heap and are recognised
    as stale when they come out (lazy deletion), which is cheaper than finding them.

    The current tokens are a doubly linked list over byte positions, so a merge is O(1) instead
    of rebuilding a Python list: a token is named by the position of its first byte, and
    next_start[s] is where the token after it starts (n after the last one; -1 once the token
    starting at s has been merged into its left neighbour); prev_start[s] is where the token
    before it starts (-1 for the first).
    """
    if chunk in ranks:
        return [ranks[chunk]]
    n = len(chunk)
    next_start = list(range(1, n + 1))
    prev_start = list(range(-1, n - 1))
    # An entry (rank, start, end): the two tokens starting at `start` join into chunk[start:end].
    heap = [(rank, i, i + 2) for i in range(n - 1)
            if (rank := ranks.get(chunk[i:i + 2])) is not None]
    heapq.heapify(heap)
    while heap:
        _rank, start, end = heapq.heappop(heap)
        right = next_start[start]
        if right < 0 or right == n or next_start[right] != end:
            # Stale: the token at `start` was merged away, or it or its right neighbour grew
            # since this entry was pushed. (Tokens only grow, so the pair is the same one if
            # and only if its two tokens still end at `end`.)
            continue
        next_start[right] = -1  # the right token is absorbed into the left one
        next_start[start] = end
        if end < n:
            prev_start[end] = start
            after = next_start[end]
            rank = ranks.get(chunk[start:after])  # the new token with its right neighbour
            if rank is not None:
                heapq.heappush(heap, (rank, start, after))
        before = prev_start[start]
        if before >= 0:
            rank = ranks.get(chunk[before:end])  # its left neighbour with the new token
            if rank is not None:
                heapq.heappush(heap, (rank, before, end))
    ids, start = [], 0
    while start < n:
        ids.append(ranks[chunk[start:next_start[start]]])
        start = next_start[start]
    return ids


def replace_lone_surrogates(text: str) -> str:
    """Text that UTF-8 can encode, changed the way tiktoken changes it.

    A Python string can hold "surrogates", code points U+D800 to U+DFFF that are half of a
    UTF-16 pair and are not characters: Python puts them in `sys.argv` for bytes of a command
    line that are not valid UTF-8 (`--text $'\\xff'`). UTF-8 cannot encode them. As tiktoken
    does, a high and a low surrogate that stand together become the one character they encode,
    and every lone surrogate becomes U+FFFD, the replacement character. Other text is returned
    unchanged.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


class BPETokenizer:
    """A byte-level BPE tokenizer: text -> ids -> text, for our own merges or GPT-2's.

    ranks: token bytes -> id; it must hold the 256 single bytes, and each id once.
    special_tokens: text such as "<|endoftext|>" -> id, outside the ranks. A special token is
    a control signal (here: "a document ends"), never produced by ordinary text unless allowed.
    merges: the (left id, right id) of token 256, 257, ... if known (for showing and saving;
    encoding needs only the ranks).
    """

    CACHE_LIMIT = 200_000  # chunks remembered; cleared when full, so memory stays bounded

    def __init__(self, ranks: dict[bytes, int], special_tokens: dict[str, int] | None = None,
                 pattern: str = GPT2_SPLIT_PATTERN, name: str = "bpe",
                 merges: list[Pair] | None = None) -> None:
        missing = [b for b in range(256) if bytes([b]) not in ranks]
        if missing:
            raise ValueError(f"ranks must contain all 256 single bytes; {len(missing)} are "
                             f"missing (e.g. byte {missing[0]})")
        self.ranks = dict(ranks)
        self.decoder = {i: b for b, i in self.ranks.items()}
        if len(self.decoder) != len(self.ranks):
            raise ValueError("two tokens share one id in ranks: each id must be used once")
        self.special_tokens = dict(special_tokens or {})
        clash = set(self.special_tokens.values()) & set(self.decoder)
        if clash:
            raise ValueError(f"special token ids {sorted(clash)} are already ordinary tokens")
        self.special_decoder = {i: s.encode("utf-8") for s, i in self.special_tokens.items()}
        self.pattern = pattern
        self.name = name
        self._regex = regex.compile(pattern)
        self._special_regex = (regex.compile("|".join(regex.escape(s) for s in
                                                      sorted(self.special_tokens, key=len,
                                                             reverse=True)))
                               if self.special_tokens else None)
        self._cache: dict[str, list[int]] = {}
        self._merges = None if merges is None else [(a, b) for a, b in merges]

    @classmethod
    def from_merges(cls, merges: Iterable[Pair], special_tokens: Iterable[str] = (ENDOFTEXT,),
                    pattern: str = GPT2_SPLIT_PATTERN, name: str = "bpe") -> "BPETokenizer":
        """Build the tokenizer from trained merges: merge k makes token 256 + k; the special
        tokens come after the last merge."""
        vocab = {i: bytes([i]) for i in range(256)}
        for k, (a, b) in enumerate(merges):
            if a not in vocab or b not in vocab:
                raise ValueError(f"merge {k} joins ids {a} and {b}, but only ids below "
                                 f"{len(vocab)} exist at that point")
            vocab[256 + k] = vocab[a] + vocab[b]
        specials = {s: len(vocab) + j for j, s in enumerate(special_tokens)}
        return cls({b: i for i, b in vocab.items()}, specials, pattern, name, list(merges))

    @property
    def vocab_size(self) -> int:
        """Ordinary tokens plus special tokens."""
        return len(self.ranks) + len(self.special_tokens)

    def merges(self) -> list[Pair]:
        """The merges, in order, recovered from the ranks: token k (k >= 256) is the split of
        its bytes into two earlier tokens (any such split rebuilds the same tokens)."""
        if self._merges is not None:
            return list(self._merges)
        out = []
        for i in range(256, len(self.ranks)):
            token = self.decoder[i]
            splits = [(self.ranks[token[:j]], self.ranks[token[j:]]) for j in range(1, len(token))
                      if self.ranks.get(token[:j], i) < i and self.ranks.get(token[j:], i) < i]
            if not splits:
                raise ValueError(f"token {i} ({token!r}) is not made of two earlier tokens")
            out.append(min(splits, key=max))  # the split whose later half was made earliest
        return out

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode `text`, treating any special-token text ("<|endoftext|>") as ordinary text.

        Lone surrogates, which UTF-8 cannot encode, become U+FFFD first, as in tiktoken
        (see replace_lone_surrogates)."""
        text = replace_lone_surrogates(text)  # as tiktoken does: U+FFFD for a lone surrogate
        ids: list[int] = []
        cache = self._cache
        for chunk in self._regex.findall(text):
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                if len(cache) >= self.CACHE_LIMIT:
                    cache.clear()
                chunk_ids = cache[chunk] = bpe_encode_chunk_fast(chunk.encode("utf-8"),
                                                                 self.ranks)
            ids.extend(chunk_ids)
        return ids

    def encode(self, text: str, allowed_special: str | set[str] = frozenset()) -> list[int]:
        """Encode `text`; special tokens become their single id only if allowed.

        allowed_special: "all", or the set of special tokens that may appear. Text containing a
        special token that is not allowed raises an error: a document that merely mentions
        "<|endoftext|>" must not end a training document by accident. Use encode_ordinary to
        encode such text as plain characters.
        """
        if not self._special_regex:
            return self.encode_ordinary(text)
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(f"allowed_special names {sorted(unknown)}, which are not special "
                             f"tokens of this tokenizer ({sorted(self.special_tokens)})")
        ids: list[int] = []
        start = 0
        for match in self._special_regex.finditer(text):
            if match.group() not in allowed:
                raise ValueError(f"the text contains the special token {match.group()!r} at "
                                 f"character {match.start()}; pass allowed_special="
                                 f"{{{match.group()!r}}} (or 'all') to encode it as one token, "
                                 f"or use encode_ordinary() to encode it as plain text")
            ids += self.encode_ordinary(text[start:match.start()])
            ids.append(self.special_tokens[match.group()])
            start = match.end()
        ids += self.encode_ordinary(text[start:])
        return ids

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes the ids stand for, joined."""
        pieces = []
        for i in ids:
            piece = self.decoder.get(i)
            if piece is None:
                piece = self.special_decoder.get(i)
            if piece is None:
                raise ValueError(f"unknown token id {i}: valid ids are 0 to "
                                 f"{self.vocab_size - 1}")
            pieces.append(piece)
        return b"".join(pieces)

    def decode(self, ids: Iterable[int]) -> str:
        """The text the ids stand for. A token can end in the middle of a multi-byte UTF-8
        character; if a sequence does, the broken character is shown as U+FFFD (the replacement
        character) instead of raising, as tiktoken does."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def save(self, path: Path) -> Path:
        """Write a plain-text file a person can read: a header, the pattern, the special
        tokens, then one merge per line, `left right` with the new token shown for humans.

        The file is written under a temporary name and renamed when complete, so an error or
        an interruption never leaves a half file under the real name, nor the temporary one."""
        merges = self.merges()
        lines = [FILE_HEADER, f"name {self.name}", f"pattern {json.dumps(self.pattern)}",
                 f"specials {json.dumps(self.special_tokens)}", f"merges {len(merges)}"]
        for k, (a, b) in enumerate(merges):
            shown = self.decoder[256 + k].decode("utf-8", errors="replace")
            lines.append(f"{a} {b}\t# {256 + k} = {json.dumps(shown)}")
        return write_atomically(path, ("\n".join(lines) + "\nend\n").encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> "BPETokenizer":
        """Read a file written by save(); a truncated or corrupt file is refused, with where.

        Raises FileNotFoundError for a missing file and ValueError, naming the line and what was
        expected there, for anything else that is not a complete tokenizer file."""
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not a tokenizer file: pass the file that "
                             f"python phase-03-embeddings/code/bpe.py --save wrote")
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer file at {path}: train one with "
                                    f"python phase-03-embeddings/code/bpe.py --save {path}")

        def bad(line_no: int, why: str) -> ValueError:
            return ValueError(f"{path}, line {line_no}: {why}; this is not a complete "
                              f"tokenizer file written by BPETokenizer.save")

        data = path.read_bytes()
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError as err:  # a binary file, or another program's file
            raise bad(data[:err.start].count(b"\n") + 1,
                      f"byte 0x{data[err.start]:02x} is not UTF-8 text") from None
        if len(lines) < 5 or lines[0] != FILE_HEADER:
            raise bad(1, f"expected the header {FILE_HEADER!r}")
        fields = {}
        for line_no, key in enumerate(("name", "pattern", "specials", "merges"), start=2):
            if not lines[line_no - 1].startswith(key + " "):
                raise bad(line_no, f"expected a line starting with {key + ' '!r}")
            fields[key] = lines[line_no - 1].removeprefix(key + " ")
        try:
            pattern = json.loads(fields["pattern"])
            specials = json.loads(fields["specials"])
            n_merges = int(fields["merges"])
        except ValueError as err:  # json.JSONDecodeError is a ValueError too
            raise bad(3, f"unreadable header ({err})") from None
        if not isinstance(pattern, str):
            raise bad(3, "expected the split pattern as a JSON string")
        if not (isinstance(specials, dict) and all(isinstance(k, str) and type(v) is int
                                                   for k, v in specials.items())):
            raise bad(4, 'expected the special tokens as a JSON object {"text": id, ...}')
        if n_merges < 0:
            raise bad(5, f"expected a number of merges >= 0, got {n_merges}")
        body = lines[5:]
        if len(body) != n_merges + 1 or body[-1] != "end":
            raise bad(len(lines), f"expected {n_merges} merges and a final 'end' line, found "
                                  f"{len(body) - (body[-1:] == ['end'])} merge lines"
                                  + ("" if body[-1:] == ["end"] else " and no 'end'"))
        merges = []
        for k, line in enumerate(body[:-1]):
            try:
                a, b = (int(x) for x in line.split("\t")[0].split())
            except ValueError:
                raise bad(6 + k, f"expected two token ids, got {line!r}") from None
            merges.append((a, b))
        try:
            regex.compile(pattern)
            return cls(cls.from_merges(merges, (), pattern, fields["name"]).ranks, specials,
                       pattern, fields["name"], merges)
        except (ValueError, regex.error) as err:
            raise ValueError(f"{path}: {err}; this is not a complete tokenizer file written "
                             f"by BPETokenizer.save") from None


def plot_compression(saved: list[int], n_bytes: int, out_dir: Path | None,
                     name: str = "bpe_compression.png") -> Figure:
    """Bytes per token of the whole corpus as merges are learned. saved[k] is how many tokens
    merge k really removed (the `saved` list of train_fast): not the pair's count, which also
    counts overlapping places ("aaa" holds aa twice, but a merge can replace it only once)."""
    tokens = [n_bytes]
    for removed in saved:
        tokens.append(tokens[-1] - removed)
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.plot(range(256, 256 + len(tokens)), [n_bytes / t for t in tokens], color="tab:blue")
    ax.set_xlabel("vocabulary size (256 bytes + merges)")
    ax.set_ylabel("bytes per token")
    ax.set_title(f"BPE compresses: {n_bytes:,} bytes become {tokens[-1]:,} tokens")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out_dir, name)
    return fig


def show_overlaps(merges: list[tuple[Pair, int]], saved: list[int],
                  tokenizer: BPETokenizer) -> None:
    """Print how a pair's count (every position, overlaps included) compares with the tokens
    its merge removes (left to right, no overlaps), on the worked example and on the text."""
    word = list(b"aaabdaaabac")
    counted = count_pairs([word], [1])[97, 97]
    after = merge_pair(word, (97, 97), 256)
    print(f"   counted is not saved: in 'aaabdaaabac' the pair 'aa' is counted {counted} times "
          f"(positions overlap in 'aaa'), but merging it, left to right, turns {len(word)} "
          f"tokens into {len(after)}: it saves {len(word) - len(after)}")
    overlapping = [(k, count, s) for k, ((_, count), s) in enumerate(zip(merges, saved,
                                                                         strict=True))
                   if s != count]
    total_count, total_saved = sum(count for _, count in merges), sum(saved)
    print(f"   in this text the {len(merges):,} merges counted {total_count:,} pairs and "
          f"removed {total_saved:,} tokens: "
          + (f"{len(overlapping)} of them met pairs that overlap" if overlapping else
             "no merged pair ever overlapped itself, so here each count is the saving"))
    for k, count, s in overlapping[:3]:
        print(f"     merge {k}: {show_token(tokenizer, 256 + k)!r} counted {count:,} times, "
              f"removed {s:,} tokens")


def show_token(tokenizer: BPETokenizer, i: int) -> str:
    """One token as text; a token that is only part of a UTF-8 character shows its bytes."""
    piece = tokenizer.decode_bytes([i])
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"<{byte:02X}>" for byte in piece)


def show_tokens(tokenizer: BPETokenizer, text: str) -> str:
    """The text with every token between bars, e.g. |The| king|'s| hor|se|; special tokens
    such as <|endoftext|> in the text count as one token each."""
    ids = tokenizer.encode(text, allowed_special="all")
    return "|" + "|".join(show_token(tokenizer, i) for i in ids) + "|"


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.vocab_size < 256:
        parser.error(f"--vocab-size must be >= 256 (the 256 single bytes), got {args.vocab_size}")
    save_path = args.save or args.out / f"bpe_{args.vocab_size}.txt"  # beside the figures
    sample = replace_lone_surrogates(args.text)
    if sample != args.text:
        print("note: --text holds lone surrogates (bytes of the command line that are not "
              "UTF-8); each is encoded as U+FFFD, the replacement character, as tiktoken does")
    try:
        text, source = load_text(args.corpus, args.path)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")

    print(f"1. Text: {source}, {len(text):,} characters, {len(text.encode('utf-8')):,} bytes")
    chunks = pretokenize(text)
    print(f"   GPT-2's regex cuts it into {len(chunks):,} chunks, {len(set(chunks)):,} distinct;")
    print(f"   the first ten: {chunks[:10]}")
    chunk_counts = Counter(chunk.encode("utf-8") for chunk in chunks)  # as in chunk_table
    every = sum((len(c) - 1) * f for c, f in chunk_counts.items())
    distinct = sum(len(c) - 1 for c in chunk_counts)
    print(f"   neighbouring pairs to count: {every:,} in the text, {distinct:,} in the distinct "
          f"chunks (each counted once, times its frequency): {every / max(distinct, 1):.1f}x "
          f"less work")

    print(f"\n2. Train: {args.trainer} trainer, {args.vocab_size - 256} merges "
          f"(vocabulary {args.vocab_size})")
    train = train_naive if args.trainer == "naive" else train_fast
    saved: list[int] = []  # tokens each merge really removed from the text
    start = time.perf_counter()
    merges = train(text, args.vocab_size, progress=True, saved=saved)
    seconds = time.perf_counter() - start
    tokenizer = BPETokenizer.from_merges([pair for pair, _ in merges])
    print(f"   {len(merges)} merges in {seconds:.2f} s")
    if len(merges) < args.vocab_size - 256:
        print(f"   stopped early: after {len(merges)} merges no pair of neighbours in this "
              f"text makes a new token, so the vocabulary has {256 + len(merges):,} tokens, "
              f"not {args.vocab_size:,} (a longer, more varied text gives more)")
    for k, (pair, count) in enumerate(merges[:8]):
        made = tokenizer.decoder[256 + k]
        print(f"   merge {k:3d}: {pair[0]:4d} + {pair[1]:4d} -> {256 + k:4d} = {made!r:12s} "
              f"({count:,} times)")
    if merges:
        longest = max(tokenizer.decoder.values(), key=len)
        print(f"   longest token: {longest!r} ({len(longest)} bytes)")
    show_overlaps(merges, saved, tokenizer)

    print("\n3. Encode and decode")
    # --text is typed on purpose, so "<|endoftext|>" in it is read as the special token
    ids = tokenizer.encode(sample, allowed_special="all")
    print(f"   text:   {args.text!r}")
    print(f"   tokens: {show_tokens(tokenizer, sample)}")
    print(f"   ids:    {ids}")
    print(f"   {len(sample.encode('utf-8'))} bytes -> {len(ids)} tokens; "
          f"decode gives the text back: {tokenizer.decode(ids) == sample}")
    all_ids = tokenizer.encode_ordinary(text)
    print(f"   whole corpus: {len(text.encode('utf-8')):,} bytes -> {len(all_ids):,} tokens "
          f"({len(text.encode('utf-8')) / len(all_ids):.2f} bytes per token)")
    with_eot = tokenizer.encode("the end" + ENDOFTEXT + "Act I", allowed_special="all")
    print(f"   special token: 'the end<|endoftext|>Act I' -> {with_eot} "
          f"({ENDOFTEXT} = {tokenizer.special_tokens[ENDOFTEXT]})")

    tokenizer.save(save_path)
    again = BPETokenizer.load(save_path)
    print(f"\n4. Saved to {save_path} and loaded back: same ids "
          f"{again.encode(sample, allowed_special='all') == ids}")
    print("   its first lines:")
    for line in save_path.read_text(encoding="utf-8").splitlines()[:8]:
        print(f"   | {line}")

    print("\nFigures")
    plot_compression(saved, len(text.encode("utf-8")), args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train a byte-level BPE tokenizer and use it.")
    parser.add_argument("--vocab-size", type=positive_int, default=4096,
                        help="tokens to learn, 256 bytes included, >= 256")
    parser.add_argument("--trainer", choices=["naive", "fast"], default="fast",
                        help="naive recounts every pair after each merge; fast updates counts")
    add_corpus_flags(parser)
    parser.add_argument("--text", default="The king's horse, my lord, is lame: 1234 🐎!",
                        help="a sentence to encode with the trained tokenizer")
    parser.add_argument("--save", type=output_file, default=None,
                        help="write the tokenizer here (default: bpe_<vocab size>.txt in the "
                             "--out folder)")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
