"""Bad input gets a clear answer, in every script of the course.

The numeric flags have their own convention test (tests/test_conventions.py). This one feeds
every other kind of input a learner hands a script, found by asking each script's parser:

- every `--path` (a learner's text file): an empty file, a one-character file, a binary file
  (bytes 0..255, NULs included) and a Latin-1 file that is not UTF-8;
- every flag that loads a model or checkpoint (`--model`, `--checkpoint`, `--resume`,
  `--pretrained`, ...): a truncated checkpoint, a program, a NumPy .npz archive, a bare state
  dict, and phase 07's model file (the neighbouring phase's kind);
- every output path (`--out`, `--run-dir`, `--to`, ... name a folder; `--save` a file): a path
  of the wrong kind, an existing file where a folder is expected and a folder where a file is.

Each case must return, or stop with SystemExit 0, 1 or 2 whose last line on stderr is a one-line
error; never another exception (a traceback for the learner), never longer than LIMIT_S seconds
(a hang), never leaving a temporary file behind, and never changing the file or folder that was
in the way. Every script runs in-process, at the smallest sizes its flags allow (SMALL), with
its figures, data and runs sent to the test's own folder.
"""

import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT, one_torch_thread
from tests.scripts import SCRIPTS, flag_names, module_of

LIMIT_S = 30  # a case that takes longer has hung, or trains on what it should have refused

TEXT_FLAGS = ("--path",)
MODEL_FLAGS = ("--model", "--checkpoint", "--load", "--resume", "--weights", "--tokenizer-file",
               "--pretrained", "--init-from")
FOLDER_OUTPUT_FLAGS = ("--out", "--run-dir", "--to", "--into", "--data-dir")
FILE_OUTPUT_FLAGS = ("--save",)

# The smallest run of each script that does real work, so a case the script accepts finishes in
# a second. {tmp} is the case's folder, {text} a small good text, {model} phase 07's model file.
SMALL: dict[str, list[str]] = {
    "bigram": ["--steps", "2", "--batch", "8", "--sample-chars", "10"],
    "bpe": ["--vocab-size", "260"],
    "bpe_benchmark": ["--quick"],
    "embeddings": ["--dim", "4", "--tokens", "10", "--timing-dim", "4"],
    "mlp_lm": ["--steps", "2", "--batch", "8", "--context", "3", "--dim", "2", "--hidden", "8",
               "--sample-chars", "10", "--no-progress"],
    "word2vec": ["--epochs", "1", "--dim", "4", "--no-progress"],
    "char_rnn": ["--steps", "2", "--hidden", "8", "--embed", "4", "--seq-len", "8",
                 "--batch-size", "2", "--eval-every", "1", "--sample-chars", "10"],
    "compare_cells": ["--steps", "2", "--hidden", "8", "--embed", "4", "--seq-len", "8",
                      "--batch-size", "2", "--eval-every", "1"],
    "train_transformer": ["--steps", "2", "--warmup", "1", "--batch", "2", "--context", "8",
                          "--d-model", "8",
                          "--n-heads", "2", "--n-layers", "1", "--eval-every", "1",
                          "--sample-chars", "10"],
    "sample_transformer": ["--chars", "5"],
    "compare_rnn": ["--quick", "--steps", "2", "--warmup", "1", "--eval-every", "1"],
    "lm_torch": ["--steps", "2", "--batch", "8"],
    "train_loop": ["--steps", "2", "--warmup", "1", "--batch", "2", "--context", "8",
                   "--d-model", "8", "--n-heads", "2", "--n-layers", "1", "--eval-every", "1",
                   "--eval-batches", "1", "--sample-chars", "10", "--device", "cpu"],
    "generate": ["--tokens", "2", "--device", "cpu"],
    "train_char": ["--steps", "2", "--warmup", "1", "--batch", "2", "--context", "8",
                   "--n-layer", "1", "--n-head", "2", "--n-embd", "8", "--eval-every", "1",
                   "--eval-batches", "1", "--sample-chars", "10", "--device", "cpu"],
    "hellaswag": ["--checkpoint", "{model}", "--limit", "1", "--device", "cpu", "--offline"],
    "pretrained": ["--offline"],
    "val_loss": ["--offline", "--device", "cpu", "--batches", "1", "--data", "{tmp}/tokens/x"],
    # a tiny experiment; every case refuses its input before any training starts
    "transfer": ["--pretrain-steps", "2", "--steps", "2", "--eval-every", "1", "--offline",
                 "--device", "cpu", "--data-dir", "{tmp}/tokens", "--run-dir", "{tmp}/runs"],
    "pieces": ["--steps", "24", "--bad-step", "22", "--stop-at", "23", "--data-dir",
               "{tmp}/tokens"],
    "prepare_data": ["--tokenizer", "char", "--offline", "--data-dir", "{tmp}/tokens"],
    "quickstart": ["--smoke", "--steps", "2", "--samples", "0", "--device", "cpu", "--offline",
                   "--data-dir", "{tmp}/tokens", "--run-dir", "{tmp}/run"],
    "sample": ["--tokens", "2", "--samples", "1", "--device", "cpu"],
    "train": ["--preset", "cpu-smoke", "--steps", "2", "--device", "cpu", "--offline",
              "--data-dir", "{tmp}/tokens", "--run-dir", "{tmp}/run", "--eval-every", "1",
              "--eval-batches", "1", "--sample-every", "0"],
    "bench_bpe": ["--quick"],
    "convert": ["--tokens", "2", "--seq-len", "4"],
    "numpy_to_gpt2": ["--n-layer", "1", "--n-embd", "8", "--context", "4", "--vocab-size", "10"],
    "figures": ["--phase", "01"],
    "corpus": ["--offline"],
}
# Where one flag's case needs other settings than the script's SMALL ones.
SMALL_FOR_FLAG: dict[tuple[str, str], list[str]] = {
    # --pretrained brings its own shape and refuses the shape flags
    ("numpy_to_gpt2", "--pretrained"): ["--seq-len", "4", "--batch", "1"],
    # a resumed run keeps its own config: only where it runs may change
    ("train", "--resume"): ["--device", "cpu", "--offline", "--data-dir", "{tmp}/tokens",
                            "--run-dir", "{tmp}/run"],
}

TEXTS = {
    "empty": b"",
    "only a byte-order mark": b"\xef\xbb\xbf",
    "one character": b"a",
    "binary": bytes(range(256)) * 4,
    "Latin-1": "Caf\u00e9 cr\u00e8me, na\u00efve fa\u00e7ade; \u00e0 bient\u00f4t.\n"
               .encode("latin-1") * 40,
}
MODELS = ("truncated checkpoint", "a program", "NumPy .npz", "bare state dict",
          "phase 07 model file")


def cases() -> list[tuple[Path, str, str]]:
    """(script, flag, bad input) for every input flag of every script."""
    found = []
    for script in SCRIPTS:
        names = flag_names(script)
        for flag in sorted(names):
            if flag in TEXT_FLAGS:
                found += [(script, flag, kind) for kind in TEXTS]
            elif flag in MODEL_FLAGS:
                found += [(script, flag, kind) for kind in MODELS]
            elif flag in FOLDER_OUTPUT_FLAGS:
                found.append((script, flag, "a file where a folder is expected"))
            elif flag in FILE_OUTPUT_FLAGS:
                found.append((script, flag, "a folder where a file is expected"))
    return found


CASES = cases()


class TookTooLong(BaseException):
    """Raised by the alarm: a BaseException, so no script's `except Exception` swallows it."""


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of each kind that is not what a model flag expects (or is a neighbour's)."""
    from phase03.char_tokenizer import CharTokenizer
    from phase07.model import GPT, GPTConfig
    from phase07.train_char import save_model

    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=12, context=16, n_layer=1, n_head=2, n_embd=16))
    phase07 = save_model(gpt, CharTokenizer("hello world, abc"), folder / "char_gpt.pt")
    whole = phase07.read_bytes()
    (folder / "truncated.pt").write_bytes(whole[: len(whole) // 2])
    (folder / "program").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 16)
    np.savez(folder / "weights.npz", wte=np.zeros((12, 16), np.float32))
    torch.save(gpt.state_dict(), folder / "state_dict.pt")
    return {"truncated checkpoint": folder / "truncated.pt", "a program": folder / "program",
            "NumPy .npz": folder / "weights.npz", "bare state dict": folder / "state_dict.pt",
            "phase 07 model file": phase07}


@pytest.fixture
def case_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_text: str) -> Path:
    """The case's own folder: the working directory, and where figures, data and runs go."""
    import phase00.figures

    for name in ("scratch", "data", "runs"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(phase00.figures, "SCRATCH_ROOT", tmp_path / "scratch")
    monkeypatch.setenv("TFS_SCRATCH_DIR", str(tmp_path / "scratch"))
    monkeypatch.setenv("TFS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TFS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.txt").write_text(tiny_text * 40, encoding="utf-8")
    return tmp_path


@pytest.fixture
def time_limit() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise TookTooLong(f"still running after {LIMIT_S} s")

    before = signal.signal(signal.SIGALRM, stop)
    signal.alarm(LIMIT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, before)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    yield from one_torch_thread()


def temporary_files(folder: Path) -> list[str]:
    """Names a script writes only while it works (x.tmp, .x.tmp, tmpXYZ) found under `folder`."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.endswith(".tmp") or p.name.lstrip(".").startswith("tmp")
                  or ".tmp" in p.name)


def bad_input(flag: str, kind: str, folder: Path, model_files: dict[str, Path]) -> Path:
    """Put the bad input of this case into the case's folder and return its path."""
    if kind in TEXTS:
        path = folder / "input.txt"
        path.write_bytes(TEXTS[kind])
    elif kind in MODELS:
        source = model_files[kind]
        path = folder / f"input{source.suffix}"
        shutil.copyfile(source, path)
    elif kind.startswith("a file"):
        path = folder / "in_the_way"
        path.write_text("a learner's file, which must not change")
    else:
        path = folder / "in_the_way"
        path.mkdir()
    return path


def argv_for(script: Path, flag: str, value: Path, folder: Path,
             model_files: dict[str, Path]) -> list[str]:
    """The script's small settings, a good text where it reads one, then the bad input (last,
    so it wins over a setting of the same flag)."""
    small = SMALL_FOR_FLAG.get((script.stem, flag), SMALL.get(script.stem, []))
    fill = {"{tmp}": str(folder), "{text}": str(folder / "good.txt"),
            "{model}": str(model_files["phase 07 model file"])}
    argv = []
    for arg in small:
        for key, replacement in fill.items():
            arg = arg.replace(key, replacement)
        argv.append(arg)
    if flag != "--path" and "--path" in flag_names(script) and script.stem != "hellaswag":
        argv += ["--path", str(folder / "good.txt")]
    return [*argv, flag, str(value)]


@pytest.mark.parametrize("script, flag, kind", CASES,
                         ids=[f"{s.parent.parent.name[:8]}/{s.name}:{f}:{k}"
                              for s, f, k in CASES])
def test_bad_input_gets_a_clear_answer(script: Path, flag: str, kind: str, case_folder: Path,
                                       model_files: dict[str, Path],
                                       capsys: pytest.CaptureFixture[str],
                                       time_limit: None) -> None:
    module = module_of(script)
    value = bad_input(flag, kind, case_folder, model_files)
    before = value.read_bytes() if value.is_file() else sorted(value.iterdir())
    argv = argv_for(script, flag, value, case_folder, model_files)
    code: int | str | None = 0
    try:
        module.main(argv)
    except SystemExit as stop:
        code = stop.code
    except TookTooLong:
        pytest.fail(f"{script.name} {flag} <{kind}> ran for more than {LIMIT_S} s: it hangs, "
                    f"or works on an input it should refuse (argv: {argv})")
    except Exception as err:  # noqa: BLE001  any other exception is a learner's traceback
        pytest.fail(f"{script.name} {flag} <{kind}>: {type(err).__name__}: "
                    f"{str(err).splitlines()[0][:300] if str(err) else ''}")
    err = capsys.readouterr().err
    where = f"{script.name} {flag} <{kind}>"
    assert "unrecognized arguments" not in err, f"SMALL[{script.stem!r}] is out of date: {err}"
    small_flags = {arg for arg in argv[:-2] if arg.startswith("--")}
    for name in re.findall(r"argument (--[\w-]+)", err):  # a refusal must be of the bad input
        assert name == flag or name not in small_flags, (
            f"SMALL[{script.stem!r}] gives {name} a value the script refuses: {err}")
    assert "Traceback" not in err, f"{where} printed a traceback:\n{err}"
    if isinstance(code, str):  # sys.exit("message"): status 1, the message on stderr
        assert len(code.strip().splitlines()) == 1, f"{where}: a message of several lines"
    else:
        assert code in (0, 1, 2, None), f"{where} exited with status {code}"
        if code in (1, 2):
            last = [line for line in err.splitlines() if line.strip()][-1:]
            assert last and "error" in last[0].lower(), (
                f"{where} exited {code} without a one-line error on stderr: {err[-500:]!r}")
    left = temporary_files(case_folder)
    assert not left, f"{where} left temporary files: {left}"
    after = value.read_bytes() if value.is_file() else sorted(value.iterdir())
    assert after == before, f"{where} changed the {'file' if value.is_file() else 'folder'} " \
                            f"it was given"


def test_every_kind_of_input_is_covered() -> None:
    """The discovery found the flags the course has (a renamed flag must not drop its cases)."""
    by_flag = {(s.stem, f) for s, f, _ in CASES}
    for expected in (("bigram", "--path"), ("generate", "--model"), ("sample", "--checkpoint"),
                     ("train", "--resume"), ("export_hf", "--checkpoint"),
                     ("convert", "--pretrained"), ("train_char", "--save"),
                     ("train", "--init-from"), ("val_loss", "--model"),
                     ("quickstart", "--run-dir"), ("export_hf", "--to"), ("bigram", "--out")):
        assert expected in by_flag, f"no cases for {expected}"
    assert all(script.is_relative_to(REPO_ROOT) for script, _, _ in CASES)
