"""The run folder's safety rules (runfolder.py), and the training loop that uses them: a run is
never overwritten, never shared, never silently damaged, and stops cleanly on SIGTERM."""

import ast
import errno
import hashlib
import inspect
import signal
import textwrap
from pathlib import Path

import pytest
import torch

import phase08.train as trainer
from phase08 import quickstart, runfolder
from phase08.config import make_config
from phase08.runfolder import (
    CheckpointError,
    RunFolderError,
    RunLock,
    check_resume,
    load_checkpoint,
    save_checkpoint,
)
from phase08.train import read_log, train


def smoke(data: Path, **overrides: object) -> object:
    return make_config("cpu-smoke", {"data": str(data), "device": "cpu", **overrides})


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != runfolder.LOCK_FILE}


@pytest.fixture
def finished_run(char_data: Path, tmp_path: Path) -> Path:
    """A run of 40 steps stopped after step 20 (as by Ctrl-C): last.pt and best.pt at 20."""
    run = tmp_path / "run"

    def stop_at_20(step: int, loss: float) -> None:
        if step == 20:
            raise KeyboardInterrupt

    train(smoke(char_data, eval_every=10), run, on_step=stop_at_20, verbose=False)
    return run


def test_a_new_run_never_replaces_an_old_one(char_data: Path, finished_run: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    before = digest(finished_run)
    with pytest.raises(RunFolderError, match="already holds a run .*--resume.*--run-dir.*"
                                             "--overwrite"):
        train(smoke(char_data, steps=5), finished_run, verbose=False)
    with pytest.raises(SystemExit) as stop:
        trainer.main(["--preset", "cpu-smoke", "--data", str(char_data), "--device", "cpu",
                      "--run-dir", str(finished_run)])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert digest(finished_run) == before  # byte for byte what it was

    result = train(smoke(char_data, steps=5, eval_every=5), finished_run, verbose=False,
                   overwrite=True)
    assert result["step"] == 5 and load_checkpoint(finished_run / "last.pt")["step"] == 5
    assert not (finished_run / "best.pt").exists() or load_checkpoint(
        finished_run / "best.pt")["step"] == 5
    assert max(r["step"] for r in read_log(finished_run / "log.jsonl")) == 5


def test_resume_into_another_runs_folder_is_refused(char_data: Path, finished_run: Path,
                                                    tmp_path: Path) -> None:
    other = tmp_path / "other"
    train(smoke(char_data, steps=10, eval_every=10), other, verbose=False)
    before = digest(other)
    with pytest.raises(RunFolderError, match="another run"):
        train(None, other, resume=finished_run / "last.pt", verbose=False)
    assert digest(other) == before


def test_a_run_folder_that_is_a_file_is_refused(char_data: Path, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    with pytest.raises(RunFolderError, match="is a file"):
        train(smoke(char_data), file, verbose=False)
    assert file.read_text() == "mine"


def test_a_second_run_into_a_busy_folder_is_refused_and_names_the_first(
        char_data: Path, finished_run: Path) -> None:
    before = digest(finished_run)
    with RunLock(finished_run):  # as if a run were writing there now
        with pytest.raises(RunFolderError, match=r"another run is writing to .*\(pid \d+ on"):
            train(None, finished_run, resume=finished_run / "last.pt", verbose=False)
        assert any("running    yes: pid" in line for line in runfolder.describe(finished_run))
    assert digest(finished_run) == before
    # the lock ends with its holder: the run can continue now
    result = train(None, finished_run, resume=finished_run / "last.pt",
                   resume_overrides={"eval_every": 10}, verbose=False)
    assert result["step"] == 40


def test_sigterm_saves_and_the_resume_is_bit_for_bit(char_data: Path, tmp_path: Path) -> None:
    cfg = smoke(char_data, dropout=0.1, steps=16, eval_every=8)
    whole = train(cfg, tmp_path / "whole", verbose=False)

    def terminate(step: int, loss: float) -> None:
        if step == 6:
            signal.raise_signal(signal.SIGTERM)  # a shutdown, a preemption, a plain `kill`

    first = train(cfg, tmp_path / "parts", on_step=terminate, verbose=False)
    assert first["interrupted"] and first["step"] == 6
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    rest = train(None, tmp_path / "parts", resume=tmp_path / "parts" / "last.pt",
                 verbose=False)
    assert first["losses"] + rest["losses"] == whole["losses"]


def flip_a_weight_byte(path: Path) -> None:
    """Change one byte inside a weight tensor's stored bytes, keeping the file's size."""
    weight = load_checkpoint(path)["model"]["transformer.wte.weight"]
    needle = weight.reshape(-1)[:8].numpy().tobytes()
    data = bytearray(path.read_bytes())
    at = data.index(needle) + 5
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_checkpoint_damaged_in_place_is_refused_by_its_checksum(finished_run: Path) -> None:
    last = finished_run / "last.pt"
    size = last.stat().st_size
    flip_a_weight_byte(last)
    assert last.stat().st_size == size
    torch.load(last, weights_only=True)  # torch alone reads it without complaint
    with pytest.raises(CheckpointError, match="damaged: what it holds does not match the checksum"):
        load_checkpoint(last)
    with pytest.raises(CheckpointError, match="checksum"):
        train(None, finished_run, resume=last, verbose=False)
    assert any("REFUSED" in line for line in runfolder.describe(finished_run))


def test_any_change_to_what_a_checkpoint_holds_is_refused(finished_run: Path) -> None:
    """Not only the weights: the step, the loader's position, the random state, the config."""
    last = finished_run / "last.pt"
    state = torch.load(last, weights_only=True)
    edits = {"step": lambda s: {**s, "step": 21},
             "loader": lambda s: {**s, "loader": {**s["loader"], "position": 0}},
             "rng": lambda s: {**s, "rng": {**s["rng"], "python": [*s["rng"]["python"][:2], 0.5]}},
             "config": lambda s: {**s, "config": {**s["config"], "lr": 1.0}}}
    for name, edit in edits.items():
        changed = finished_run / f"{name}.pt"
        torch.save(edit(state), changed)  # the old checksum kept, as a careless edit would
        with pytest.raises(CheckpointError, match="does not match the checksum"):
            load_checkpoint(changed)
    stripped = finished_run / "stripped.pt"
    torch.save({k: v for k, v in state.items() if k != "checksum"}, stripped)
    with pytest.raises(CheckpointError, match="lost the checksum"):
        load_checkpoint(stripped)


def test_a_second_ctrl_c_stops_at_once_and_saves_nothing_more(char_data: Path,
                                                                tmp_path: Path) -> None:
    saved = []

    def twice(step: int, loss: float) -> None:
        if step == 12:
            signal.raise_signal(signal.SIGINT)  # the first: finish the step, then save...
            saved.append(load_checkpoint(tmp_path / "run" / "last.pt")["step"])
            signal.raise_signal(signal.SIGINT)  # ...the second, before it could: stop now

    result = train(smoke(char_data, eval_every=10), tmp_path / "run", on_step=twice,
                   verbose=False)
    assert result["interrupted"] and result["step"] == 12
    assert saved == [10] and load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 10


def test_resume_must_keep_the_tokens_per_step(char_data: Path, finished_run: Path) -> None:
    saved = load_checkpoint(finished_run / "last.pt")
    assert (saved["world_size"], saved["tokens_per_step"]) == (1, 8 * 2 * 32)
    # the same 512 tokens grouped differently: allowed
    check_resume(saved, 1, 4 * 4 * 32, 4, 32)
    # a run saved by 8 processes, resumed by 1 without more accumulation: refused, with the fix
    eight = {**saved, "world_size": 8, "tokens_per_step": 8 * 512}
    with pytest.raises(RunFolderError, match="trained by 8 process.*4,096 tokens per step.*"
                                             "by 1 it would take 512: .*--grad-accum 16"):
        check_resume(eight, 1, 512, 8, 32)
    # the fix is computed for the micro-batch asked for now, not the saved one
    with pytest.raises(RunFolderError, match="--grad-accum 8$"):
        check_resume(eight, 1, 16 * 2 * 32, 16, 32)
    with pytest.raises(RunFolderError, match="--grad-accum"):
        train(None, finished_run, resume=finished_run / "last.pt",
              resume_overrides={"grad_accum": 3}, verbose=False)
    result = train(None, finished_run, resume=finished_run / "last.pt",
                   resume_overrides={"grad_accum": 4, "micro_batch": 4}, verbose=False)
    assert result["step"] == 40


def test_a_full_disk_says_so_and_keeps_the_previous_checkpoint(
        finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    last = finished_run / "last.pt"
    good = last.read_bytes()
    state = load_checkpoint(last)

    def fill_the_disk(obj: object, file: object) -> None:
        file.write(good[:4096])
        raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 4096")

    monkeypatch.setattr(runfolder.torch, "save", fill_the_disk)
    monkeypatch.setattr(runfolder.shutil, "disk_usage",
                        lambda folder: type("Usage", (), {"free": 1024})())
    with pytest.raises(OSError, match=r"no space left on .*run while saving last.pt; the "
                                      r"previous last.pt \(step 20\) is intact") as err:
        save_checkpoint(last, state, previous="step 20")
    assert err.value.errno == errno.ENOSPC
    assert last.read_bytes() == good and not list(finished_run.glob(".*.tmp"))


def test_writes_are_forced_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = []
    real = runfolder.os.fsync
    monkeypatch.setattr(runfolder.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    runfolder.write_checkpoint_file(tmp_path / "a.bin", lambda f: f.write(b"abc"))
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert len(synced) == 2  # the file's bytes, then the folder's entry for it


def test_last_checkpoint_is_saved_by_time_whatever_the_step_costs(
        char_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = []
    real = trainer.save_checkpoint

    def record(path: Path, state: dict, previous: str = "") -> Path:
        saved.append((Path(path).name, state["step"]))
        return real(path, state, previous)

    monkeypatch.setattr(trainer, "save_checkpoint", record)
    clock = iter(range(0, 10**6, 200))  # 200 s pass between two looks at the clock
    monkeypatch.setattr(trainer.time, "monotonic", lambda: next(clock))
    train(smoke(char_data, steps=12, eval_every=12, checkpoint_minutes=5.0), tmp_path / "run",
          verbose=False)
    last = [step for name, step in saved if name == "last.pt"]
    assert last[:3] == [2, 4, 6]  # every 400 s > 5 minutes, though no step count asked for it
    assert last[-1] == 12


def test_quickstart_refuses_a_folder_that_holds_a_run(
        tmp_path: Path, book: str, finished_run: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "book.txt"
    text.write_text(book, encoding="utf-8")
    before = digest(finished_run)
    with pytest.raises(SystemExit) as stop:
        quickstart.main(["--smoke", "--path", str(text), "--data-dir", str(tmp_path / "tokens"),
                         "--run-dir", str(finished_run), "--device", "cpu"])
    assert stop.value.code == 1 and "--overwrite" in capsys.readouterr().err
    assert digest(finished_run) == before


def test_runfolder_describes_a_folder(finished_run: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    runfolder.main([str(finished_run)])
    out = capsys.readouterr().out
    assert "last.pt    step 20" in out and "checksum verified" in out
    assert "1 process(es) x 512 tokens per step" in out and "running    no" in out


def test_the_training_loop_fits_on_a_page() -> None:
    """The loop a learner reads is one short function; the rest lives in named pieces."""
    source = textwrap.dedent(inspect.getsource(trainer.train_loop))
    function = ast.parse(source).body[0]
    assert function.end_lineno - function.lineno + 1 < 80


def test_resume_on_another_device_checks_that_device(
        char_data: Path, finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    last = finished_run / "last.pt"
    state = load_checkpoint(last)
    assert state["device_type"] == "cpu"
    moved = finished_run.parent / "moved"
    save_checkpoint(moved / "last.pt", {**state, "device_type": "mps"})  # as if from a Mac
    checked = []
    real = trainer.check_device
    monkeypatch.setattr(trainer, "check_device",
                        lambda *args, **kw: checked.append(args[2].type) or real(*args, **kw))
    train(None, finished_run, resume=last, verbose=False)
    assert checked == []  # the same device: its checks already ran when the run began
    train(None, moved, resume=moved / "last.pt", verbose=False)
    assert checked == ["cpu"]


def test_sizes_that_cannot_fit_are_refused_before_anything_is_built(
        char_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flags in (["--context", "2000000"], ["--micro-batch", "1000000000"]):
        with pytest.raises(SystemExit) as stop:
            trainer.main(["--preset", "cpu-smoke", "--data", str(char_data), "--device", "cpu",
                          "--run-dir", str(tmp_path / "run"), *flags])
        err = capsys.readouterr().err
        assert stop.value.code == 1 and "GiB of memory and this machine has" in err
    assert not (tmp_path / "run" / "last.pt").exists()
    with pytest.raises(ValueError, match="fewer than one sequence of context 20000"):
        train(smoke(char_data, context=20000), tmp_path / "run2", verbose=False)


def test_resume_accepts_the_same_command_again(char_data: Path, finished_run: Path) -> None:
    """`--resume` added to the command that started the run: repeated values are no change."""
    result = train(None, finished_run, resume=finished_run / "last.pt",
                   resume_overrides={"steps": 40, "lr": 3e-3, "eval_every": 10}, verbose=False)
    assert result["step"] == 40
    with pytest.raises(ValueError, match=r"\['steps'\] \(saved: steps=40\)"):
        train(None, finished_run, resume=finished_run / "last.pt",
              resume_overrides={"steps": 80}, verbose=False)


def test_a_smaller_micro_batch_from_the_device_check_keeps_the_step(
        char_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The self-check may halve the micro-batch; the step must keep its sequences exactly."""
    cfg = smoke(char_data, micro_batch=5, grad_accum=3, self_check="on")
    model = trainer.build_model(cfg, 40)
    monkeypatch.setattr(trainer, "self_check", lambda *args: ("fast", 2, []))
    cpu = torch.device("cpu")
    checked, _, _ = trainer.check_device(model, cfg, cpu, torch.float32, "", lambda _: None)
    assert checked.micro_batch * checked.grad_accum == 15  # 5 x 3 sequences, as before
    assert (checked.micro_batch, checked.grad_accum) == (1, 15)  # 2 does not divide 15


def test_a_folder_whose_run_never_saved_a_checkpoint_says_there_is_nothing_to_resume(
        tmp_path: Path) -> None:
    """A run stopped before its first checkpoint leaves only its log: a new run is refused (the
    log is still data), but the message does not send the learner to --resume, which would
    find nothing to load."""
    (tmp_path / "log.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(runfolder.RunFolderError, match="never saved a checkpoint") as refused:
        runfolder.check_folder(tmp_path, None, overwrite=False)
    assert "--resume" not in str(refused.value) and "--overwrite" in str(refused.value)
    assert runfolder.check_folder(tmp_path, None, overwrite=True) == [tmp_path / "log.jsonl"]
    (tmp_path / "last.pt").write_bytes(b"")
    with pytest.raises(runfolder.RunFolderError, match="continue it with --resume"):
        runfolder.check_folder(tmp_path, None, overwrite=False)
