"""sample.py and hellaswag.py answer a bad model file or input in one line: truncated, not a
checkpoint, weights that diverged; they read phase 07's models, and a long sample is chunked
without changing a single token."""

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from phase07.model import GPT, GPTConfig
from phase08 import hellaswag, sample

CPU = torch.device("cpu")
CHARS = sorted(set("ab\n"))


def phase07_file(path: Path, scale: float = 1.0, nan: bool = False,
                 config: dict | None = None) -> Path:
    """A model file as phase 07's train_char.py saves it: weights, shape, characters."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(CHARS), context=16, n_layer=1, n_head=2, n_embd=16))
    weights = {name: t * scale for name, t in model.state_dict().items()}
    if nan:
        weights["transformer.h.0.mlp.c_fc.weight"][3, 4] = float("nan")
    torch.save({"model": weights, "config": config or asdict(model.config), "chars": CHARS},
               path)
    return path


def run_sample(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stop:
        sample.main(["--checkpoint", str(path), "--device", "cpu", "--tokens", "20", *args])
    return stop.value.code, capsys.readouterr().err


def test_a_phase07_model_is_sampled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample.main(["--checkpoint", str(phase07_file(tmp_path / "gpt_char.pt")), "--device", "cpu",
                 "--tokens", "30", "--prompt", "ab"])
    out = capsys.readouterr().out
    assert "a phase 07 model" in out and "char tokens (3)" in out
    text = out.split("2.1 ---\n")[1].rstrip("\n")
    assert text.startswith("ab") and len(text) == 32 and set(text) <= set(CHARS)


def damaged(tmp_path: Path, kind: str) -> Path:
    good = phase07_file(tmp_path / "good.pt")
    path = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        path.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    elif kind == "program":
        path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    elif kind == "nan":
        phase07_file(path, nan=True)
    elif kind == "overflow":
        phase07_file(path, scale=1e30)
    elif kind == "wrong-shape":
        phase07_file(path, config={**asdict(GPTConfig(vocab_size=len(CHARS), context=16,
                                                      n_layer=1, n_head=2, n_embd=32))})
    elif kind == "other-dict":
        torch.save({"weights": torch.zeros(3)}, path)
    return path


@pytest.mark.parametrize("kind, expected", [
    ("truncated", "cannot read the checkpoint"),
    ("program", "cannot read the checkpoint"),
    ("other-dict", "Expected a checkpoint of phase 08's train.py"),
    ("nan", "not finite numbers (1 NaN or infinite values in 1 tensor(s), the first "
            "transformer.h.0.mlp.c_fc.weight)"),
    ("overflow", "logits that are not"),
    ("wrong-shape", "do not fit the model its model_config describes"),
])
def test_bad_model_files_get_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      kind: str, expected: str) -> None:
    code, err = run_sample(damaged(tmp_path, kind), capsys)
    assert code == 1 and expected in err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_probabilities_that_turn_nan_mid_sample_are_explained(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def diverging(*args: object, **kwargs: object) -> torch.Tensor:
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")

    monkeypatch.setattr(GPT, "generate", diverging)
    code, err = run_sample(phase07_file(tmp_path / "m.pt"), capsys)
    assert code == 1 and "became NaN or infinite after 0 to 20 generated tokens" in err


def test_a_sample_made_in_chunks_equals_one_call(tmp_path: Path) -> None:
    model, _, _ = sample.load_for_sampling(phase07_file(tmp_path / "m.pt"), CPU)
    ids = [0, 1, 2, 1]
    for top_k, top_p in ((None, None), (2, None), (None, 0.9)):
        whole = model.generate(torch.tensor([ids]), 150, temperature=0.8, top_k=top_k,
                               top_p=top_p, generator=torch.Generator().manual_seed(5))
        chunked = sample.generate(model, ids, 150, CPU, 5, 0.8, top_k, top_p, chunk=7)
        assert chunked == whole[0, len(ids):].tolist()  # 150 tokens past a context of 16


def test_sizes_and_threads_that_cannot_work_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_sample(tmp_path / "never-read.pt", capsys, "--tokens", str(10**12))
    assert code == 2 and "GiB of memory" in err
    code, err = run_sample(tmp_path / "never-read.pt", capsys, "--threads", "100000")
    assert code == 2 and "CPU cores" in err


def test_hellaswag_refuses_bad_inputs_in_one_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    examples = tmp_path / "hs.jsonl"
    examples.write_text(json.dumps({"ctx": "A man", "endings": ["a", "b", "c", "d"],
                                    "label": 0}) + "\n", encoding="utf-8")
    program = damaged(tmp_path, "program")
    cases = [  # (checkpoint, examples file, what the error says)
        (phase07_file(tmp_path / "m.pt"), examples, "trained on char tokens"),
        (damaged(tmp_path, "truncated"), examples, "cannot read the checkpoint"),
        (damaged(tmp_path, "nan"), examples, "not finite numbers"),
        (phase07_file(tmp_path / "m.pt"), program, "binary file"),
        (phase07_file(tmp_path / "m.pt"), tmp_path, "is a folder"),
        # a bad model is named first, before the (here missing) data is looked for
        (damaged(tmp_path, "truncated"), tmp_path / "none.jsonl", "cannot read the checkpoint"),
    ]
    for checkpoint, path, expected in cases:
        with pytest.raises(SystemExit) as stop:
            hellaswag.main(["--checkpoint", str(checkpoint), "--path", str(path),
                            "--device", "cpu", "--offline"])
        err = capsys.readouterr().err
        assert stop.value.code == 1 and expected in err and err.count("\n") == 1, err
    for line, expected in (("[1, 2]", "expected a JSON object"),
                           ('{"ctx": 3, "endings": ["a", "b", "c", "d"], "label": 0}',
                            "a ctx of type int"),
                           ('{"ctx": "x", "endings": ["a", "b", "c", "d"], "label": true}',
                            "label True")):
        examples.write_text(line + "\n", encoding="utf-8")
        with pytest.raises(ValueError, match=expected):
            hellaswag.read_examples(examples)


def test_hellaswag_downloads_under_a_name_of_its_own(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    class Response:
        def __enter__(self) -> "Response":
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            seen.extend(p.name for p in (tmp_path / "hs").glob(".*"))  # none yet
            return b'{"ctx": "x", "endings": ["a", "b", "c", "d"], "label": 1}\n'

    real_replace = os.replace

    def replace(src: Path, dst: Path) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(hellaswag.urllib.request, "urlopen", lambda *a, **k: Response())
    monkeypatch.setattr(os, "replace", replace)  # phase 00's write_atomically renames
    path = hellaswag.hellaswag_file("val", tmp_path / "hs")
    assert seen == [f".hellaswag_val.jsonl.{os.getpid()}.tmp"]
    assert hellaswag.read_examples(path)[0]["label"] == 1
    assert [p.name for p in (tmp_path / "hs").iterdir()] == ["hellaswag_val.jsonl"]


def test_an_unwritten_exercise_is_not_taken_for_a_damaged_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GPT.init_weights still a workbook stub: sample.py lets its NotImplementedError through
    (the workbook then names the exercise) instead of calling the checkpoint damaged."""
    config = GPTConfig(vocab_size=7, context=8, n_layer=1, n_head=1, n_embd=4)
    checkpoint = {"config": {"architecture": "gpt2"}, "model_config": asdict(config),
                  "model": GPT(config).state_dict()}

    def stub(self: GPT) -> None:
        raise NotImplementedError("exercise 07.gpt2-init is yours to write")

    monkeypatch.setattr(GPT, "init_weights", stub)
    with pytest.raises(NotImplementedError, match="07.gpt2-init"):
        sample.build_model(checkpoint, tmp_path / "last.pt", CPU)


def test_train_lets_an_unwritten_exercise_name_itself(
        tmp_path: Path, char_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train.py turns a RuntimeError into one line; a workbook stub's NotImplementedError (a
    kind of RuntimeError) must go through, so that the workbook names the exercise."""
    from phase08 import train

    def stub(self: GPT) -> None:
        raise NotImplementedError("exercise 07.gpt2-init is yours to write")

    monkeypatch.setattr(GPT, "init_weights", stub)
    with pytest.raises(NotImplementedError, match="07.gpt2-init"):
        train.main(["--preset", "cpu-smoke", "--data", str(char_data), "--run-dir",
                    str(tmp_path / "run"), "--device", "cpu", "--offline"])
