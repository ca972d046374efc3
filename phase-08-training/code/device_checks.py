"""Trust, but verify: check the device's arithmetic before a long run, and measure before choosing.

A GPU backend is software, and young backends have bugs. Apple's MPS backend for PyTorch has
had several that matter to exactly this model:

- `F.scaled_dot_product_attention` with `is_causal=True` let future tokens leak into the
  output in float16/bfloat16 on some releases, and gave wrong results for short or
  non-contiguous queries, which is what one-token decoding with a KV cache sends it;
- a large output projection (768 -> 50,257, the LM head) was reported wrong at batch sizes of
  9 x 1024 tokens and more.

A run of days on wrong arithmetic is days lost, and the loss curve may not show it. So before
training, on MPS (or on any device with self_check=on), train.py runs two checks on the model it
is about to train, in the dtype it will train in:

1. **Attention**: the fast path (`scaled_dot_product_attention`) against phase 07's hand path
   (explicit mask, softmax), both on the device, over a full context and for one-token decoding
   with the KV cache. If they differ, training switches to the hand path and says so loudly:
   slower, but right.
2. **The LM head at the training shape**: the micro-batch's B*T x C by C x V product on the
   device against the same rows computed on the CPU. If they differ, the micro-batch is halved
   (and gradient accumulation doubled, so a step holds the same tokens) until they agree.

And one measurement instead of an assumption: **bfloat16 or float32?** bfloat16 halves the
memory of activations, but whether it is faster depends on the chip (on an M4 Max GPT-2 small
was measured no faster than float32). With dtype=auto on MPS, `choose_dtype` times a few
training steps both ways and keeps bfloat16 only if it is at least 5% faster, printing both
times. (float16 is never used: it needs loss scaling with a GradScaler, which MPS handles badly.)

Run:  python phase-08-training/code/device_checks.py --device mps
      python phase-08-training/code/device_checks.py --device cpu --n-embd 64 --context 128
"""

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from phase00.flags import positive_int, script_parser
from phase06.device import add_device_flag, autocast, device_from_flag, synchronize
from phase07.model import GPT, GPTConfig, KVCache, add_gpt_shape_flags

# How far apart two results may be, relative to the largest value (bf16 keeps ~3 digits).
TOLERANCE = {torch.float32: 1e-3, torch.bfloat16: 5e-2}
BF16_MUST_WIN_BY = 0.05  # keep bfloat16 only if at least 5% faster than float32


@dataclass(frozen=True)
class Check:
    """One comparison: its name, the largest relative difference found, and the limit."""

    name: str
    difference: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.difference <= self.tolerance  # NaN is never <=, so NaN fails

    def __str__(self) -> str:
        return (f"{self.name}: relative difference {self.difference:.2e} (limit "
                f"{self.tolerance:.0e}) {'ok' if self.ok else 'DIFFERENT'}")


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|, in float32 on the CPU."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def set_attention(model: GPT, path: str) -> None:
    """Switch every block of the model to the "fast" or "hand" attention path."""
    for block in model.transformer.h:
        block.attn.attention = path


def attention_path(model: GPT) -> str:
    return model.transformer.h[0].attn.attention


@torch.no_grad()
def compare_attention_paths(model: GPT, device: torch.device, dtype: torch.dtype,
                            length: int | None = None, batch: int = 2,
                            seed: int = 0) -> list[Check]:
    """Fast vs hand attention on `device` in `dtype`: a full window, and one-token decoding."""
    was_training, path = model.training, attention_path(model)
    model.eval()
    T = min(length or model.config.context, model.config.context)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, model.config.vocab_size, (batch, T), generator=generator).to(device)
    results = {}
    for which in ("hand", "fast"):
        set_attention(model, which)
        with autocast(device, dtype):
            full = model(ids)
            cache = KVCache(model.config, batch, device, model.transformer.wte.weight.dtype)
            model(ids[:, :-1], cache=cache)  # fill the cache with T - 1 positions
            step = model(ids[:, -1:], cache=cache)  # then one query at position T - 1
        results[which] = (full, step)
    set_attention(model, path)
    model.train(was_training)
    tol = TOLERANCE.get(dtype, TOLERANCE[torch.bfloat16])
    (hand_full, hand_step), (fast_full, fast_step) = results["hand"], results["fast"]
    return [Check(f"attention, {T} positions at once", relative_difference(fast_full, hand_full),
                  tol),
            Check("attention, one-token decoding with the KV cache",
                  relative_difference(fast_step, hand_step), tol)]


def project_on_device(x: torch.Tensor, weight: torch.Tensor, device: torch.device,
                      dtype: torch.dtype) -> torch.Tensor:
    """x @ weight.T on the device, under autocast: the LM head's product."""
    with autocast(device, dtype):
        return x @ weight.T


@torch.no_grad()
def compare_head_with_cpu(model: GPT, device: torch.device, dtype: torch.dtype, micro_batch: int,
                          rows: int = 64, seed: int = 0,
                          project: Callable[..., torch.Tensor] | None = None) -> Check:
    """The LM head over micro_batch * context rows on the device, `rows` of them re-done on CPU."""
    project = project or project_on_device
    generator = torch.Generator().manual_seed(seed)
    n = micro_batch * model.config.context
    x = torch.randn(n, model.config.n_embd, generator=generator)
    weight = model.lm_head.weight
    on_device = project(x.to(device), weight, device, dtype)
    pick = torch.randint(0, n, (rows,), generator=generator)
    on_cpu = x[pick] @ weight.detach().float().cpu().T
    against = ("the CPU" if device.type != "cpu" else
               "the CPU (here the same CPU: only the check itself is tested)")
    return Check(f"LM head at {micro_batch} x {model.config.context} tokens vs {against}",
                 relative_difference(on_device[pick.to(device)], on_cpu),
                 TOLERANCE.get(dtype, TOLERANCE[torch.bfloat16]))


def self_check(model: GPT, device: torch.device, dtype: torch.dtype, micro_batch: int,
               say: Callable[[str], None] = print,
               project: Callable[..., torch.Tensor] | None = None) -> tuple[str, int, list[Check]]:
    """Run both checks; fall back where they fail. Returns (attention path, micro_batch, checks).

    Attention paths that differ: switch the model to the hand path. A head that differs from
    the CPU: halve the micro-batch until it agrees (1 at the least). Every fallback is said
    loudly, with the numbers.
    """
    checks = compare_attention_paths(model, device, dtype)
    for check in checks:
        say(f"   self-check: {check}")
    if not all(c.ok for c in checks):
        set_attention(model, "hand")
        say("   !!! the fast attention path disagrees with the hand path on this device: "
            "training uses the HAND path (explicit mask + softmax), slower but correct. "
            "Upgrading PyTorch may fix the fast path; check with "
            "python phase-08-training/code/device_checks.py")
    while True:
        head = compare_head_with_cpu(model, device, dtype, micro_batch, project=project)
        checks.append(head)
        say(f"   self-check: {head}")
        if head.ok or micro_batch == 1:
            break
        micro_batch //= 2
        say(f"   !!! the LM head is wrong at this size on this device: trying a micro-batch of "
            f"{micro_batch} (gradient accumulation doubles to keep the tokens per step)")
    if not head.ok:
        raise RuntimeError("the LM head disagrees with the CPU even at a micro-batch of 1: this "
                           "device's arithmetic cannot be trusted for training (try "
                           "--dtype float32, or another PyTorch release)")
    return attention_path(model), micro_batch, checks


def time_training_step(model: GPT, device: torch.device, dtype: torch.dtype, micro_batch: int,
                       repeats: int = 3, seed: int = 0) -> float:
    """Median seconds of one forward + backward of a micro-batch (after one warm-up)."""
    generator = torch.Generator().manual_seed(seed)
    T = model.config.context
    x = torch.randint(0, model.config.vocab_size, (micro_batch, T), generator=generator)
    x, y = x.to(device), x.roll(-1, dims=1).to(device)
    times = []
    for i in range(repeats + 1):
        synchronize(device)
        start = time.perf_counter()
        with autocast(device, dtype):
            _, loss = model(x, y)
        loss.backward()
        synchronize(device)
        if i:  # the first call pays for kernel selection and memory allocation
            times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    return sorted(times)[len(times) // 2]


def choose_dtype(model: GPT, device: torch.device, micro_batch: int,
                 say: Callable[[str], None] = print,
                 timer: Callable[..., float] = time_training_step) -> torch.dtype:
    """bfloat16 if a measured training step is at least 5% faster in it than in float32."""
    seconds = {dtype: timer(model, device, dtype, micro_batch)
               for dtype in (torch.float32, torch.bfloat16)}
    fp32, bf16 = seconds[torch.float32], seconds[torch.bfloat16]
    pick = torch.bfloat16 if bf16 <= (1 - BF16_MUST_WIN_BY) * fp32 else torch.float32
    say(f"   measured one micro-step on {device.type}: float32 {fp32 * 1e3:.0f} ms, bfloat16 "
        f"autocast {bf16 * 1e3:.0f} ms -> {str(pick).removeprefix('torch.')}"
        f"{'' if pick == torch.bfloat16 else ' (bfloat16 must be 5% faster to be chosen)'}")
    return pick


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd ({args.n_embd}) must be divisible by --n-head ({args.n_head})")
    device = device_from_flag(parser, args.device)  # an unknown name is a usage error
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=args.vocab, context=args.context, n_layer=args.n_layer,
                          n_head=args.n_head, n_embd=args.n_embd)).to(device)
    print(f"1. A GPT of {model.n_params():,} parameters on {device}")
    print("\n2. Which precision trains faster here (measured)")
    dtype = choose_dtype(model, device, args.micro_batch)
    print(f"\n3. Checks in {str(dtype).removeprefix('torch.')}")
    path, micro_batch, checks = self_check(model, device, dtype, args.micro_batch)
    verdict = "all agree" if all(c.ok for c in checks) else "fallbacks used"
    print(f"\n   {verdict}: attention path {path!r}, micro-batch {micro_batch}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Check the fast attention path and the LM head "
                           "on a device, and time float32 vs bfloat16.")
    add_device_flag(parser)
    add_gpt_shape_flags(parser, n_layer=12, n_head=12, n_embd=768, context=1024)
    parser.add_argument("--micro-batch", type=positive_int, default=8,
                        help="sequences per micro-step, the size the head is checked at")
    parser.add_argument("--vocab", type=positive_int, default=50_257,
                        help="vocabulary size (default: 50,257, GPT-2's)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="CPU threads (default: 1; timings on a busy CPU swing widely with "
                             "more)")
    return parser


if __name__ == "__main__":
    main()
