"""bench_presets.py: one training step of phase 08's presets (the modern ones too), timed in
turns, and the step counts of an equal-time run."""

import pytest
import torch

from phase08.config import make_config
from phase09 import bench_presets
from phase09.bench_presets import QUICK, equal_time_steps, training_step
from tests.scripts import refused


def test_equal_time_steps_divide_the_last_presets_seconds() -> None:
    # the README's first measurement: GPT-2 849 ms, modern 1,040 ms, 600 modern steps
    assert equal_time_steps({"gpt2": 0.849, "modern": 1.040}, 600) == {"gpt2": 735,
                                                                        "modern": 600}
    assert equal_time_steps({"a": 1.0, "b": 2.0, "c": 0.5}, 10) == {"a": 5, "b": 2, "c": 10}


@pytest.mark.parametrize("preset, model", [("shakespeare-gpt2", "GPT"),
                                           ("modern-gpt2", "ModernGPT")])
def test_a_step_trains_the_presets_own_model(preset: str, model: str) -> None:
    """The step is built as train.py builds it: the preset's architecture; each call changes
    the weights and leaves no gradient behind for the next."""
    bench_presets.build_parser()  # registers the modern presets
    cfg = make_config(preset, QUICK)
    step, net = training_step(cfg, 50, torch.device("cpu"), seed=0)
    assert type(net).__name__ == model
    before = [p.detach().clone() for p in net.parameters()]
    step()
    assert all(p.grad is None for p in net.parameters())
    assert sum(not torch.equal(a, p) for a, p in zip(before, net.parameters(), strict=True)) > 3


def test_quick_prints_one_row_per_preset_and_the_equal_time_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    bench_presets.main(["--quick", "--presets", "shakespeare-char", "modern-char",
                        "--steps", "100"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| shakespeare-char")
            or line.startswith("| modern-char")]
    assert len(rows) == 2 and rows[1].endswith("| 1.000 | 100 |")
    assert "in the seconds of its 100 steps, shakespeare-char takes" in out


@pytest.mark.parametrize("argv, says", [
    (["--presets", "modern-gpt2"], "two or more different presets"),
    (["--presets", "modern-gpt2", "modern-gpt2"], "two or more different presets"),
    (["--presets", "shakespeare-gpt2", "llama"], "invalid choice"),
    (["--quick", "--repeats", "5"], "--quick sets its own --repeats"),
    (["--steps", "0"], "expected a whole number >= 1")])
def test_bad_flags_are_one_line(argv: list[str], says: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert says in refused(bench_presets.main, argv, capsys)


def test_presets_too_large_for_the_machine_are_refused_before_building(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 2**30)
    line = refused(bench_presets.main, ["--presets", "shakespeare-gpt2", "gpt2-124m"], capsys)
    assert "one model of each of shakespeare-gpt2, gpt2-124m needs about" in line
