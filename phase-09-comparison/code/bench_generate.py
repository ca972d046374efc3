"""Generation speed: our GPT with and without its KV cache, against Hugging Face's generate().

Generating n tokens runs the model n times. Without a cache, step t recomputes the keys and
values of all t earlier positions, which never change; with phase 07's KV cache each step
computes one new position and reads the rest from memory. Hugging Face's generate() keeps a
cache too (a DynamicCache: the library's cache object, a list of key and value tensors per
block that grows by concatenation each step, where ours is preallocated to the context). All
four runs below decode greedily (the most likely token each step) from the same weights and
prompt, so they must produce the same tokens. The script checks that on the warm-up call of
each run, before any timing, and stops without a table if they differ; then it times the four
in turns (timing.take_turns). Each cache is compared with its own library's uncached run.

Greedy decoding in ours is top_k=1 (one token keeps all the probability); in Hugging Face's it
is do_sample=False. Generation stays inside the context (prompt + new tokens <= context), where
the cache helps; past it our window slides and the cache is rebuilt each step (phase 07's notes).

Run:  python phase-09-comparison/code/bench_generate.py
      python phase-09-comparison/code/bench_generate.py --quick
"""

import argparse
import statistics
from collections.abc import Callable

import torch

from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase06.device import device_from_flag, limit_cpu_threads
from phase07.model import GPT, GPTConfig, add_gpt_shape_flags
from phase09.convert import greedy_hf, greedy_ours, to_hf
from phase09.timing import (
    add_benchmark_flags,
    gpt_memory_bytes,
    machine,
    markdown_table,
    refuse_quick_overrides,
    spread,
    take_turns,
)

# each run's "without cache" partner, for the speed-up a cache gives its own library
UNCACHED = {"ours, no cache": "ours, no cache", "ours, KV cache": "ours, no cache",
            "HF generate, no cache": "HF generate, no cache",
            "HF generate, its cache": "HF generate, no cache"}


def warm_up_and_check(runs: dict[str, Callable[[], torch.Tensor]]) -> list[str]:
    """Call each run once (its untimed warm-up) and return the names whose tokens differ from
    the first run's: the check comes before any timing."""
    outputs = {name: fn() for name, fn in runs.items()}
    reference = next(iter(outputs.values()))
    return [name for name, out in outputs.items() if not torch.equal(out, reference)]


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    device = device_from_flag(parser, args.device)
    refuse_quick_overrides(parser, args, argv, ("n_layer", "n_head", "n_embd", "context",
                                          "vocab_size", "prompt_len", "tokens", "repeats"))
    limit_cpu_threads(args.threads)
    shape = dict(vocab_size=args.vocab_size, context=args.context, n_layer=args.n_layer,
                 n_head=args.n_head, n_embd=args.n_embd)
    prompt_len, n, repeats = args.prompt_len, args.tokens, args.repeats
    if args.quick:
        shape = dict(vocab_size=64, context=48, n_layer=2, n_head=2, n_embd=32)
        prompt_len, n, repeats = 8, 20, 2
    if prompt_len + n > shape["context"]:
        parser.error(f"--prompt-len + --tokens = {prompt_len + n} exceeds the context "
                     f"{shape['context']}: the cache comparison needs them inside it")
    try:
        config = GPTConfig(**shape)
        if device.type == "cpu":  # two models' weights; an uncached pass over the whole text
            check_fits_in_memory(gpt_memory_bytes(config, args.batch, prompt_len + n, copies=2,
                                                  train=False),
                                 f"generation at --batch {args.batch}, --context "
                                 f"{config.context}, --vocab-size {config.vocab_size}")
    except ValueError as err:
        parser.error(str(err))

    torch.manual_seed(args.seed)
    ours = GPT(config).to(device).eval()
    hf = to_hf(ours, "sdpa").to(device)
    prompt = torch.randint(0, config.vocab_size, (args.batch, prompt_len), device=device)
    runs = {
        "ours, no cache": lambda: ours.generate(prompt, n, top_k=1, use_cache=False),
        "ours, KV cache": lambda: greedy_ours(ours, prompt, n),
        "HF generate, no cache": lambda: greedy_hf(hf, prompt, n, use_cache=False),
        "HF generate, its cache": lambda: greedy_hf(hf, prompt, n, use_cache=True),
    }
    print(f"machine: {machine(device)}")
    print(f"model: {config.n_layer} layers, {config.n_head} heads, width {config.n_embd}, "
          f"context {config.context}, vocabulary {config.vocab_size} (random weights, the same "
          f"in both); float32")
    print(f"greedy decoding of {n} tokens after a {prompt_len}-token prompt, batch "
          f"{args.batch}; median of {repeats} after a warm-up, the four runs taking turns\n")
    try:
        differ = warm_up_and_check(runs)
    except torch.OutOfMemoryError:
        parser.exit(1, f"error: out of memory on {device}: choose a smaller --batch, "
                       f"--context or --vocab-size\n")
    if differ:
        parser.exit(1, f"NOT the same tokens: {', '.join(differ)} differ from ours without "
                       f"cache; a speed comparison of different work means nothing, so none "
                       f"is made\n")
    print(f"   checked before timing: all four runs give the same {n} tokens")
    timings = take_turns(runs, repeats, 0, device)  # the check above was the warm-up
    times = {name: statistics.median(seconds) for name, seconds in timings.items()}
    base = times["ours, no cache"]
    rows = [[name, f"{s * 1e3:.1f} ms", spread(timings[name], digits=1),
             f"{args.batch * n / s:,.0f}", f"{base / s:.2f}x",
             f"{times[UNCACHED[name]] / s:.2f}x", "yes"] for name, s in times.items()]
    print(markdown_table(["run", "time (median)", "fastest-slowest (ms)", "new tokens/s",
                          "speed vs ours without cache", "speed vs its own library without "
                          "cache", "same tokens"], rows))


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Tokens per second of greedy generation: our "
                           "GPT with and without its KV cache, and "
                           "Hugging Face's generate().")
    add_gpt_shape_flags(parser, n_layer=4, n_head=4, n_embd=128, context=256)
    parser.add_argument("--vocab-size", type=positive_int, default=512, help="vocabulary")
    parser.add_argument("--prompt-len", type=positive_int, default=16, help="prompt tokens")
    parser.add_argument("--tokens", type=positive_int, default=200, help="new tokens per run")
    parser.add_argument("--batch", type=positive_int, default=1, help="prompts")
    add_benchmark_flags(parser, repeats=3, device=True,
                        quick="a tiny model (2 layers x 2 heads x 32, context 48, vocabulary "
                              "64), an 8-token prompt, 20 tokens, 2 repeats: seconds, for a "
                              "smoke test; refuses the flags it sets")
    return parser


if __name__ == "__main__":
    main()
