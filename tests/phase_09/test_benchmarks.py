"""Every benchmark script of phase 09 runs in --quick mode and prints a markdown table with the
machine; each also runs its correctness check (same tokens, same ids, small differences)."""

import re
from pathlib import Path

import pytest
import torch

from phase07.model import GPT, GPTConfig
from phase09 import (
    bench_attention,
    bench_bpe,
    bench_generate,
    bench_gpt,
    bench_numpy,
    convert,
    numpy_to_gpt2,
    timing,
    tokenizers_compare,
)


def run(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main(argv)
    return capsys.readouterr().out


def test_bench_attention_quick(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(bench_attention.main, ["--quick"], capsys)
    assert "machine: cpu" in out and "| T | implementation |" in out
    assert "nn.MultiheadAttention" in out and "F.scaled_dot_product_attention" in out
    diffs = [float(x) for x in re.findall(r"\| (\d\.\de[-+]\d\d) \|$", out, re.M)]
    assert len(diffs) == 12 and max(diffs) < 1e-12  # 2 lengths x (3 layers + 3 cores)
    assert "SDPA without the mask (whole table)" in out and "the work the mask lets it skip" in out


def test_bench_gpt_quick(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(bench_gpt.main, ["--quick", "--hand"], capsys)
    for name in ("ours (fast path)", "ours (hand path)", "GPT2LMHeadModel (sdpa)",
                 "GPT2LMHeadModel (eager)"):
        assert f"| {name} |" in out
    assert "our GPT / GPT2LMHeadModel throughput, against its faster variant" in out
    diffs = [float(x) for x in re.findall(r"\| (\d\.\de[-+]\d\d) \|$", out, re.M)]
    assert len(diffs) == 4 and max(diffs) < 1e-5  # every contender's logits, float32


def test_bench_generate_quick(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(bench_generate.main, ["--quick"], capsys)
    assert "checked before timing: all four runs give the same 20 tokens" in out
    assert out.count("| yes |") == 4


def test_bench_bpe_quick(tmp_path: Path, tiny_text: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "text.txt"
    # <|endoftext|> inside a text is text to every encoder here, Hugging Face's included
    path.write_text((tiny_text + "<|endoftext|>") * 20, encoding="utf-8")
    out = run(bench_bpe.main, ["--quick", "--path", str(path)], capsys)
    assert "BpeTrainer" in out and out.count("| yes |") == 3
    assert "the same pieces: yes" in out  # Hugging Face's ByteLevel splits with GPT-2's regex
    assert re.search(r"\| (yes: the same|the same set of|\d+ of \d+ shared)", out)
    # GPT2TokenizerFast's time taken apart: the pieces split beforehand, merged, give its ids
    assert "without the merges (a model that does nothing)" in out
    assert re.search(r"so the split(: | takes )", out) and "; the merge stage" in out
    assert "then merged, give the whole encode's ids: yes" in out


def test_a_stage_inside_the_noise_gets_no_share() -> None:
    # the merges as a difference of two medians: 2.1 - 2.3 s, negative, and inside the spread
    said = bench_bpe.stage_time("the merge stage", [2.0, 2.1, 2.9], [2.2, 2.3, 2.4], 2.1)
    assert said.startswith("the merge stage: too small to measure here (-0.200 s")
    assert "%" not in said
    said = bench_bpe.stage_time("the merge stage", [2.0, 2.3, 2.6], [2.0, 2.1, 2.2], 2.3)
    assert "too small to measure" in said  # +0.2 s, but the spread is ±0.3 s
    said = bench_bpe.stage_time("the split", [3.0, 3.1, 3.2], [1.0, 1.1, 1.2], 4.0)
    assert said == "the split takes 2.000 s (50%)"
    assert "no spread" in bench_bpe.stage_time("the split", [3.0], [1.0], 4.0)


def test_bench_bpe_says_when_the_vocabulary_asked_for_was_not_reached() -> None:
    said = bench_bpe.unreached_vocabulary(10_000_000, 258, 258)
    assert said is not None and said.startswith("--vocab-size 10,000,000 was not reached")
    assert "at 258 tokens for ours and 258 for Hugging Face's" in said
    assert bench_bpe.unreached_vocabulary(1024, 1024, 1024) is None


def test_bench_gpt_scores_both_models_the_same_way() -> None:
    """The library's loss in the benchmark is ours: all T positions against y, no shift."""
    config = GPTConfig(vocab_size=50, context=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    torch.manual_seed(0)
    ours = GPT(config)
    hf = convert.to_hf(ours, "eager")
    x, y = torch.randint(0, 50, (2, 8)), torch.randint(0, 50, (2, 8))
    assert torch.allclose(bench_gpt.hf_loss(hf, x, y), ours(x, y)[1], atol=1e-6)


def test_bench_numpy_quick(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(bench_numpy.main, ["--quick"], capsys)
    row = next(line for line in out.splitlines() if line.startswith("| tiny"))
    loss_diff, grad_diff = (float(x) for x in row.strip("| ").split(" | ")[-2:])
    assert loss_diff < 1e-10 and grad_diff < 1e-10


def test_convert_and_numpy_to_gpt2_scripts(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = run(convert.main, ["--tokens", "5", "--seq-len", "8"], capsys)
    for label in ("float32", "float64"):
        assert out.count(f"greedy identical, {label}      True") == 2
        assert out.count(f"same top token, {label}        True") == 2
    assert out.count("round trip lossless            True") == 2
    out = run(numpy_to_gpt2.main, ["--n-layer", "2", "--n-embd", "16", "--context", "8",
                                   "--out", str(tmp_path)], capsys)
    assert "under 1e-8: True" in out
    assert (tmp_path / "numpy_torch_hf_stages.png").is_file()


def test_tokenizers_and_timing_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert "all three agree: True" in run(tokenizers_compare.main, [], capsys)
    assert "median" in run(timing.main, ["--size", "32", "--repeats", "3"], capsys)


def test_convert_pretrained_offline_fails_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Offline with nothing cached, --pretrained gpt2 cannot do what it was asked: one line and
    exit status 1, before any other work, so a script or CI can tell (numpy_to_gpt2 alike)."""
    with pytest.raises(SystemExit) as stop:
        convert.main(["--tokens", "2", "--seq-len", "4", "--pretrained", "gpt2"])
    assert stop.value.code == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: GPT-2's weights") and "with a network" in err and "\n" not in err
    assert captured.out == ""


def test_bad_flags_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        bench_attention.main(["--n-embd", "30", "--n-head", "4"])
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        bench_generate.main(["--prompt-len", "200", "--tokens", "100"])
    assert stop.value.code == 2


@pytest.mark.parametrize("main, flags, says", [
    (tokenizers_compare.main, ["--text", "a", "--path", "b.txt"], "not allowed with"),
    (numpy_to_gpt2.main, ["--pretrained", "gpt2", "--n-layer", "2", "--context", "8"],
     "--n-layer, --context"),
    (numpy_to_gpt2.main, ["--context", "8", "--seq-len", "9"], "longer than the context"),
    (bench_gpt.main, ["--context", "100000"], "--long-context")])
def test_conflicting_or_absurd_flags_are_refused(main, flags: list[str], says: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(flags)
    assert stop.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize("main, flags", [
    (bench_attention.main, ["--batch", "8"]), (bench_gpt.main, ["--preset", "gpt2-124m"]),
    (bench_generate.main, ["--tokens", "50"]), (bench_numpy.main, ["--repeats", "5"]),
    (bench_bpe.main, ["--vocab-size", "2000"]),
    (bench_gpt.main, ["--batch", "32"]),  # typed at its default value: still refused
    (bench_numpy.main, ["--repeats", "20"])])
def test_quick_refuses_the_flags_it_would_override(main, flags: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--quick", *flags])
    assert stop.value.code == 2 and flags[0] in capsys.readouterr().err


@pytest.mark.parametrize("main, flags", [
    (bench_attention.main, ["--lengths", "100000"]),
    (bench_gpt.main, ["--context", "100000", "--long-context"]),
    (bench_gpt.main, ["--batch", "1000000000"]),
    (bench_generate.main, ["--context", "10000000", "--tokens", "5000000"]),
    (timing.main, ["--size", "1000000"]),
    (numpy_to_gpt2.main, ["--context", "100000"]),
    (numpy_to_gpt2.main, ["--vocab-size", "1000000000"])])
def test_sizes_that_cannot_fit_are_refused_before_allocating(
        main, flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(flags)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "GiB of memory and this machine has" in err


def test_the_memory_estimate_grows_with_the_square_of_the_context() -> None:
    from phase07.model import GPTConfig

    short = GPTConfig(vocab_size=2, context=1000, n_layer=1, n_head=1, n_embd=1)
    long = GPTConfig(vocab_size=2, context=2000, n_layer=1, n_head=1, n_embd=1)
    tables = timing.gpt_memory_bytes(long, 1, 2000) - timing.gpt_memory_bytes(short, 1, 1000)
    assert tables > 3 * 4 * 1000**2  # four times the tables, at 4 bytes a score


@pytest.mark.parametrize("main", [bench_attention.main, bench_gpt.main, bench_generate.main,
                                  bench_numpy.main, convert.main, numpy_to_gpt2.main,
                                  timing.main])
def test_more_threads_than_cores_is_a_usage_error(main, capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--threads", "100000"])
    assert stop.value.code == 2 and "CPU cores" in capsys.readouterr().err


def test_numpy_to_gpt2_refuses_a_file_as_its_figure_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "figures"
    afile.write_text("mine")
    with pytest.raises(SystemExit) as stop:
        numpy_to_gpt2.main(["--out", str(afile)])
    assert stop.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
    assert afile.read_text() == "mine"
