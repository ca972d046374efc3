"""A run's folder, kept safe: nothing a learner does by mistake loses hours of training.

A run of GPT-2 small is a day or three of a laptop's time, and everything it has learned lives
in one folder (`runs/<preset>/`: `last.pt`, `best.pt`, `log.jsonl`). The training loop itself
knows nothing of what can go wrong around it; this module holds every rule that protects the
folder, so that the loop calls it in a few lines:

- **A new run never overwrites an old one.** Starting a run in a folder that already holds
  one is refused (continue it with `--resume`, pick another `--run-dir`, or say `--overwrite`).
  Without this, forgetting `--resume` once replaces a good `best.pt` with a step-20 model.
- **One run per folder at a time.** A run holds a lock on `run.lock` (an operating-system lock,
  `fcntl.flock`, which the system releases when the process ends, even by `kill -9`, so a lock
  can never be left behind). A second run into the same folder is refused, and the message
  names the process that holds it.
- **Writes are all or nothing, and durable.** A checkpoint is written to a temporary file, its
  bytes forced to the disk (`os.fsync`), then renamed over the old one, and the folder itself
  synced so the rename survives a power cut. At any instant the folder holds either the old
  checkpoint or the new one, whole. A full disk says so in one line and leaves the previous
  checkpoint as it was.
- **A checkpoint proves it is intact.** Each holds a SHA-256 of everything else it stores (the
  weights, the optimizer's moments, the random generators, the step, the loader's position, the
  config), checked on every load: a file damaged without changing its size (a bad disk block, a
  bad copy, an edit) is refused instead of trained on, or named "the last good checkpoint".
- **A resume must match the run.** A checkpoint records how many processes trained it and how
  many tokens one step took; a resume with another number of processes must keep the tokens
  per step (with `--grad-accum`), or the schedule would silently continue with a batch 8
  times smaller.
- **Signals stop a run cleanly.** Ctrl-C (SIGINT) and SIGTERM (a shutdown, a cluster's
  preemption, a plain `kill`) both ask the run to finish its step, save, and stop; a second
  one stops at once. (`kill -9` cannot be caught by any program: the time-based checkpoint,
  `checkpoint_minutes`, bounds what it costs.)

Run:  python phase-08-training/code/runfolder.py runs/quickstart     (what a run folder holds)
"""

import argparse
import contextlib
import errno
import hashlib
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import torch

from phase00.corpus import write_atomically
from phase00.flags import script_parser

try:  # macOS and Linux; Windows has no fcntl, and there the lock is skipped (said once)
    import fcntl
except ImportError:  # pragma: no cover - not on the course's platforms
    fcntl = None

CHECKPOINT_FORMAT = "tfs-checkpoint"
CHECKPOINT_KEYS = ("format", "step", "model", "optimizer", "config", "model_config",
                   "tokenizer", "rng", "loader")
RUN_FILES = ("last.pt", "best.pt", "log.jsonl")  # what makes a folder hold a run
LOCK_FILE = "run.lock"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: truncated, corrupt, or not ours."""


class RunFolderError(ValueError):
    """A run folder that this run may not use as asked (it holds a run, or one is running)."""


# --- the folder: refuse to overwrite, one run at a time ------------------------------------------

def check_folder(path: Path, resume_from: Path | None, overwrite: bool) -> list[Path]:
    """Refuse a folder this run may not write into; return the old run's files to remove.

    A new run needs an empty or new folder, unless `overwrite` is given. A resumed run may
    write into the folder its checkpoint comes from; into another folder that holds a run, only
    as a new run would. Nothing is changed here.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"the run folder {path} is a file, not a folder: give --run-dir a "
                             f"folder (it is created if it does not exist)")
    found = [path / name for name in RUN_FILES if (path / name).exists()]
    own_folder = (resume_from is not None
                  and Path(resume_from).resolve().parent == path.resolve())
    if own_folder or not found:
        return []
    if overwrite:
        return found
    names = ", ".join(p.name for p in found)
    if resume_from is not None:
        raise RunFolderError(
            f"{path} already holds another run ({names}) than the checkpoint {resume_from}: "
            f"resume into the checkpoint's own folder (--run-dir {Path(resume_from).parent}), "
            f"an empty one, or replace this run with --overwrite")
    if not any(p.suffix == ".pt" for p in found):  # stopped before its first checkpoint
        raise RunFolderError(
            f"{path} holds a run that never saved a checkpoint ({names}): there is nothing to "
            f"resume; start this one elsewhere with --run-dir, or replace it with --overwrite")
    raise RunFolderError(
        f"{path} already holds a run ({names}): continue it with --resume, start this one "
        f"elsewhere with --run-dir, or replace it with --overwrite")


class RunLock:
    """An exclusive lock on <folder>/run.lock for as long as a run writes into the folder.

    The file holds the pid, machine and start time of the holder, for the message a second run
    gets. The lock itself is the operating system's (flock): it ends with the process, however
    the process ends, so a crashed run never leaves the folder locked.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.file: BinaryIO | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            return
        file = open(self.path, "a+b")  # noqa: SIM115 (held open until release)
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.seek(0)
            holder = file.read().decode("utf-8", errors="replace").strip() or "another process"
            file.close()
            raise RunFolderError(f"another run is writing to {self.path.parent} ({holder}): "
                                 f"wait for it to finish, stop it, or use another --run-dir"
                                 ) from None
        file.truncate(0)
        file.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        file.flush()
        self.file = file

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the file releases the lock
            self.file = None

    def __enter__(self) -> "RunLock":
        if self.file is None:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- writing: all or nothing, durable ------------------------------------------------------------

def fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable (where the system allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def disk_full(err: BaseException, folder: Path) -> bool:
    """Whether an error while writing in `folder` means the disk is full. torch.save reports it
    as a RuntimeError ("unexpected pos ..."), not as OSError ENOSPC, so look at the disk too."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(folder).free < 64 * 2**20
    except OSError:
        return False


def write_checkpoint_file(path: Path, write: Callable[[BinaryIO], object],
                          previous: str = "") -> Path:
    """Phase 00's write_atomically (a temporary file, forced to disk, renamed over `path`),
    then the folder synced too, so the rename itself survives a power cut: afterwards `path`
    holds either all of the old bytes or all of the new ones. On any failure `path` is
    untouched; a full disk is said in one line. `previous` describes what `path` holds now,
    for that message (e.g. "step 400")."""
    path = Path(path)
    try:
        write_atomically(path, write)
    except BaseException as err:
        full = not isinstance(err, KeyboardInterrupt) and disk_full(err, path.parent)
        if full:
            kept = (f"the previous {path.name} ({previous}) is intact" if path.exists()
                    and previous else f"nothing was written to {path.name}")
            raise OSError(errno.ENOSPC, f"no space left on {path.parent} while saving "
                                        f"{path.name}; {kept}. Free some space, then continue "
                                        f"with --resume") from None
        raise
    fsync_folder(path.parent)
    return path


# --- checkpoints: checksummed --------------------------------------------------------------------

def state_checksum(state: dict) -> str:
    """SHA-256 over everything a checkpoint holds except the checksum itself, in a fixed order:
    every tensor's name, dtype, shape and bytes (weights, optimizer moments, random generator
    states) and every plain value (step, config, loader position, losses). Changing any bit of
    any of them changes it."""
    digest = hashlib.sha256()

    def add(prefix: str, value: object) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().to("cpu").contiguous()
            digest.update(f"{prefix}:{t.dtype}:{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                add(f"{prefix}.{key}", value[key])
        elif isinstance(value, list | tuple):
            digest.update(f"{prefix}:{type(value).__name__}[{len(value)}]".encode())
            for i, item in enumerate(value):
                add(f"{prefix}.{i}", item)
        else:  # str, int, float, bool, None
            digest.update(f"{prefix}={value!r}".encode())

    add("", {k: v for k, v in state.items() if k != "checksum"})
    return digest.hexdigest()


def save_checkpoint(path: Path, state: dict, previous: str = "") -> Path:
    """Write a checkpoint with the checksum of its tensors: all or nothing, and durably."""
    state = {**state, "checksum": state_checksum(state)}
    return write_checkpoint_file(path, lambda file: torch.save(state, file), previous)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint as data only (weights_only=True: nothing in the file can run code),
    and check the checksum of its tensors.

    A missing, truncated, corrupt, changed or foreign file gets a CheckpointError naming it.
    """
    path = Path(path)
    if not path.is_file():
        what = ("a folder" if path.is_dir() else "something that is not a file" if path.exists()
                else "nothing")
        raise FileNotFoundError(f"no checkpoint at {path} ({what} there): train first (python "
                                f"phase-08-training/code/train.py, or phase 09's "
                                f"train_modern.py for the modern recipe), or name the right "
                                f"checkpoint (train.py's --resume, sample.py's --checkpoint) or "
                                f"--run-dir")
    others = sorted(p.name for p in path.parent.glob("*.pt") if p != path)
    elsewhere = f"Other checkpoints in {path.parent}: {', '.join(others) or 'none'}"
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch reports damage as RuntimeError, EOFError, pickle errors...
        reason = (str(err).splitlines() or [""])[0].split(". ")[0][:200]  # the first sentence
        raise CheckpointError(
            f"cannot read the checkpoint {path} ({type(err).__name__}: {reason}). It is "
            f"truncated (a copy or a save that did not finish), corrupt, or not a checkpoint. "
            f"{elsewhere}") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint written by phase 08's train.py "
                              f"(missing {missing or ['format']})")
    if "checksum" not in state and state.get("version", 1) >= 2:
        raise CheckpointError(f"{path} has lost the checksum every checkpoint of this version "
                              f"is saved with: it was changed after it was written. {elsewhere}")
    if "checksum" in state and state_checksum(state) != state["checksum"]:
        raise CheckpointError(f"{path} is damaged: what it holds does not match the checksum "
                              f"saved with it (a bad disk block, a bad copy, an edit). "
                              f"{elsewhere}")
    return state


# --- the record a resume must match --------------------------------------------------------------

def check_resume(saved: dict, world_size: int, tokens_per_step: int, micro_batch: int,
                 context: int) -> None:
    """Refuse to resume with another number of tokens per step than the run was trained with.

    The loader counts tokens, so the data resumes exactly with any grouping; but the schedule,
    the learning rate and the meaning of a "step" assume the same batch. A run saved by 8
    processes and resumed by 1 would take steps 8 times smaller: keep the tokens per step with
    more accumulation (--grad-accum). micro_batch and context: the resumed run's, for the fix.
    """
    saved_world = int(saved.get("world_size", 1))
    saved_tokens = saved.get("tokens_per_step")
    if saved_tokens is None or int(saved_tokens) == tokens_per_step:
        return
    per_micro = micro_batch * context * world_size
    hint = (f"keep {int(saved_tokens):,} with --grad-accum {int(saved_tokens) // per_micro}"
            if int(saved_tokens) % per_micro == 0 else
            f"choose --micro-batch and --grad-accum so that micro_batch x grad_accum x "
            f"{context} x {world_size} = {int(saved_tokens):,}")
    raise RunFolderError(
        f"this run was trained by {saved_world} process(es) at {int(saved_tokens):,} tokens per "
        f"step; resumed here by {world_size} it would take {tokens_per_step:,}: {hint}")


# --- signals: finish the step, save, stop --------------------------------------------------------

class StopSignals:
    """Ctrl-C (SIGINT) or SIGTERM asks the run to stop after the current step (then saved).

    The first signal only sets a flag: stopping in the middle of an optimizer step would leave
    half-updated weights. A second one interrupts at once (KeyboardInterrupt), and the loop then
    saves nothing more: the last checkpoint stays as it is. Outside the main thread (where
    Python allows no signal handler) Ctrl-C is a plain KeyboardInterrupt, which the loop treats
    as a first request when it arrives between steps.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, say: Callable[[str], None] = print) -> None:
        self.requested, self.say = False, say
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.say(f"\n   {name}: finishing this step, then saving a checkpoint (again to quit "
                 f"now)")

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        self.previous = {}


# --- what a folder holds -------------------------------------------------------------------------

def describe(folder: Path) -> list[str]:
    """One line per file of a run folder: each checkpoint's step, losses and checksum."""
    folder = Path(folder)
    lines = []
    for name in RUN_FILES:
        path = folder / name
        if not path.is_file():
            lines.append(f"{name:10s} (none)")
        elif path.suffix == ".pt":
            try:
                state = load_checkpoint(path)
            except CheckpointError as err:
                lines.append(f"{name:10s} REFUSED: {err}")
                continue
            val = state.get("val_loss")
            per_step = state.get("tokens_per_step")
            lines.append(f"{name:10s} step {state['step']:,}, validation loss "
                         f"{'-' if val is None else f'{val:.4f}'}, "
                         f"{state.get('world_size', 1)} process(es) x "
                         f"{'?' if per_step is None else f'{per_step:,}'} tokens per step, "
                         f"checksum " + ("verified" if "checksum" in state
                                         else "absent (an older file)"))
        else:
            n = sum(1 for _ in path.open(encoding="utf-8"))
            lines.append(f"{name:10s} {n:,} records")
    lock = folder / LOCK_FILE
    busy = "no"
    if lock.is_file() and fcntl is not None:
        with open(lock, "rb") as file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(file.fileno(), fcntl.LOCK_UN)
            except OSError:
                busy = "yes: " + (file.read().decode("utf-8", errors="replace").strip()
                                  or "a process")
    lines.append(f"running    {busy}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.exit(1, f"error: {args.folder} is not a folder: give a run folder, e.g. "
                       f"runs/quickstart\n")
    print(f"{args.folder}:")
    for line in describe(args.folder):
        print(f"  {line}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Show what a run folder holds: each "
                           "checkpoint's step and checksum, the log, "
                           "and whether a run is writing to it now.")
    parser.add_argument("folder", type=Path, nargs="?", default=Path("runs/quickstart"),
                        help="a run folder (default: runs/quickstart)")
    return parser


if __name__ == "__main__":
    main()
