"""python -m workbook: write the course's core pieces yourself; the course's own tests check them.

    python -m workbook list                     every exercise, and where you stand
    python -m workbook start 02                 copy phase 02's exercise files into my-code/phase02/
    python -m workbook show 02.value-add        what to write, and where the notes teach it
    python -m workbook check 02                 the course's tests, run on your code
    python -m workbook check 02.value-add       ... on one exercise
    python -m workbook hint 02.value-add        the next hint (the idea, the math, the code)
    python -m workbook compare 02.value-add     once it passes: yours beside ours (--give-up: now)
    python -m workbook reset 02.value-add       put the stub back (asks first, keeps a backup)
    python -m workbook update 02                the course's newer code, your exercises kept
    python -m workbook run 02 value_mlp [ARGS]  run one of the phase's scripts on your code
    python -m workbook verify [02]              prove every exercise's tests can fail (authors)

my-code/README.md explains the loop; the manifests in workbook/exercises/ hold the exercises.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from workbook.checking import Outcome, TooSlow, check, stub_ids, verify
from workbook.manifest import (
    Exercise,
    ManifestError,
    all_exercises,
    find,
    module_file,
    normalise_phase,
    phase_folder,
    phases,
)
from workbook.overlay import ENV_FOLDER, ENV_PHASES, REPO_ROOT, learner_folder
from workbook.state import State, fingerprint
from workbook.stubs import (
    function_span,
    learner_function,
    reference_function,
    replace_function,
    stub_of,
    stubbed_module,
)

HINT_NAMES = ("the idea", "the math", "the code, nearly the answer: try the first two first")


class Refusal(Exception):
    """A command that cannot go on; its message says why and what to do instead."""


def shown(path: Path) -> str:
    """A path as the learner would type it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def wrap(text: str, indent: str = "  ") -> str:
    return "\n".join(textwrap.fill(p, 92, initial_indent=indent, subsequent_indent=indent)
                     for p in text.split("\n\n"))


def read_learner(path: Path) -> str:
    """The text of one of the learner's files, or a Refusal saying why it cannot be read."""
    if path.is_dir():
        raise Refusal(f"{shown(path)} is a folder where the workbook keeps a file: move it away "
                      "(or rename it) and run the command again")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Refusal(f"{shown(path)} is not UTF-8 text: fix it, or move it away and run "
                      "`python -m workbook start` again") from None


def one_exercise(target: str) -> Exercise:
    chosen = find(target)
    if len(chosen) > 1:
        raise Refusal(f"'{target}' is a whole phase; name one exercise, e.g. {chosen[0].id}")
    return chosen[0]


def learner_file(folder: Path, e: Exercise) -> Path:
    return folder / f"phase{e.phase}" / f"{e.module}.py"


def status_of(e: Exercise, folder: Path, state: State) -> str:
    """not started / edited / passing / failing / not written / waiting."""
    mine = learner_function(folder, e)
    if mine is None:
        return "not started" if not learner_file(folder, e).is_file() else "does not parse"
    if mine == stub_of(e):
        return "not started"
    result = state.results.get(e.id)
    if result and result.get("source") == fingerprint(mine):
        return result["status"]
    return "edited"


# --- list, show, start ------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    folder = learner_folder()
    state = State(folder)
    chosen = find(args.phase) if args.phase else list(all_exercises())
    counts: dict[str, int] = {}
    for phase in sorted({e.phase for e in chosen}):
        in_phase = [e for e in chosen if e.phase == phase]
        print(f"\nPhase {phase}, {phase_folder(phase).name.split('-', 2)[2].replace('-', ' ')}")
        for e in in_phase:
            status = status_of(e, folder, state)
            counts[status] = counts.get(status, 0) + 1
            print(f"  {e.id:<30} {status:<16} {e.title}")
    print("\n" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" ({len(chosen)} "
          "exercises). `python -m workbook start NN` begins a phase.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    e = one_exercise(args.exercise)
    folder = learner_folder()
    print(f"{e.id}: {e.title}\n")
    print(wrap(e.statement))
    print(f"\n  where:   {shown(learner_file(folder, e))}, {e.qualname}")
    print(f"  taught:  {e.notes_path}")
    names = ", ".join(t.split("::")[-1] for t in e.tests)
    print(f"  checked: by the course's {names}")
    print(f"\n  python -m workbook check {e.id}   |   python -m workbook hint {e.id}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    chosen = find(args.phase)
    phase = chosen[0].phase
    folder = learner_folder()
    state = State(folder)
    modules = list(dict.fromkeys(e.module for e in find(phase)))
    print(f"Phase {phase}: {len(find(phase))} exercises in {len(modules)} file(s) of "
          f"{shown(folder / f'phase{phase}')}/")
    for module in modules:
        path = folder / f"phase{phase}" / f"{module}.py"
        rel = f"phase{phase}/{module}.py"
        text = stubbed_module(phase, module)
        names = ", ".join(e.id for e in find(phase) if e.module == module)
        if path.exists():
            current = read_learner(path)
            if current == text:
                print(f"  {shown(path)} is already there, untouched ({names})")
                state.written[rel] = fingerprint(text)
                continue
            if state.written.get(rel) != fingerprint(current):
                print(f"  kept {shown(path)}: you have changed it, and start never overwrites "
                      f"your work (`python -m workbook update {phase}` brings in the course's "
                      "newer code around your exercises)")
                continue
            action = "refreshed (you had not changed it)"
        else:
            action = "wrote"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        state.written[rel] = fingerprint(text)
        print(f"  {action} {shown(path)} ({names})")
    state.save()
    first = chosen[0]
    print(f"\nFirst: {first.id}, {first.title}.\n  python -m workbook show {first.id}\n"
          f"  python -m workbook check {phase}")
    return 0


# --- check ------------------------------------------------------------------------------------

def started_phases(folder: Path, wanted: set[str]) -> None:
    for phase in sorted(wanted):
        missing = [m for m in dict.fromkeys(e.module for e in find(phase))
                   if not (folder / f"phase{phase}" / f"{m}.py").is_file()]
        if missing:
            raise Refusal(f"phase {phase} is not started in {shown(folder)}/ (no "
                          f"phase{phase}/{missing[0]}.py): run `python -m workbook start "
                          f"{phase}` first")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def describe(o: Outcome) -> str:
    if o.status == "waiting":
        return f"waiting on {o.waiting_on}"
    if o.status == "failing":
        return f"failing ({len(o.failures)} of {plural(o.ran, 'test')})"
    if o.status == "passing":
        return f"passing ({plural(o.passed, 'test')})"
    return o.status


def where_in_exercise(e: Exercise, result: dict) -> str:
    """Where the failure is, seen from the exercise: the deepest line of the learner's own
    function that the error passed through. An error raised inside something that function
    called (a course helper in the same file, a constructor) is then shown at the learner's
    call, with the place it was raised after it."""
    frames = result.get("frames") or []
    relative = f"phase{e.phase}/{e.module}.py"
    try:
        _, first, last = function_span(learner_file(learner_folder(), e).read_text(
            encoding="utf-8"), e.qualname)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
        return result["where"]
    inside = [line for path, line in frames if path == relative and first <= line <= last]
    if not inside or [relative, inside[-1]] == frames[-1]:
        return result["where"]
    return (f"{relative}, line {inside[-1]} (in {e.qualname}; the error was raised in what it "
            f"called, {result['where']})")


def explain(o: Outcome) -> None:
    """The first real failure of an exercise, in a few lines a learner can act on."""
    real = [f for f in o.failures if not stub_ids(f[1])]
    nodeid, result = (real or o.failures)[0]
    print(f"\nFirst failure: {o.exercise.id}, {o.exercise.title}")
    print(f"  test:  {nodeid}")
    if result.get("line"):
        print(f"  line:  {result['line']}")
    if result.get("where"):
        print(f"  where: your {where_in_exercise(o.exercise, result)}")
    lines = result.get("explained") or [result.get("message", "")]
    # pytest's own advice names its flag; here the report is the workbook's --verbose
    lines = [line.replace("Use -v to get more diff", "--verbose shows more of the difference")
             for line in lines]
    for line in lines[:18]:
        print(f"  | {line}")
    if len(lines) > 18:
        print(f"  | ... ({len(lines) - 18} more lines: add --verbose for pytest's full report)")
    order = [e.id for e in all_exercises()]
    others = sorted(set(result.get("ran", [])) - {o.exercise.id}, key=order.index)
    if others:
        named = " and ".join([", ".join(others[:-1]), others[-1]] if len(others) > 1 else others)
        print("\n" + wrap(f"This test also ran your {named}. If {o.exercise.qualname} looks "
                          f"right, look there: a wrong value made by one function often shows "
                          f"only in the function that uses it."))
    print("\n  Read it, then try the failing case by hand and print what you get: "
          f"`WORKBOOK_MINE={o.exercise.phase} python`, started in the repository's folder, "
          f"imports your code. Stuck? `python -m workbook hint {o.exercise.id}`")


def cmd_check(args: argparse.Namespace) -> int:
    chosen = find(args.target)
    phase = chosen[0].phase
    folder = learner_folder()
    mine = {phase}
    for p in args.mine or []:
        if (n := normalise_phase(p)) is None:
            raise Refusal(f"--mine takes phase numbers such as 02, got '{p}'")
        mine.add(n)
    started_phases(folder, mine)
    whose = ", ".join(f"{shown(folder / f'phase{p}')}/" for p in sorted(mine))
    what = (f"all of phase {phase}'s tests" if args.full
            else f"the course's tests of {plural(len(chosen), 'exercise')}")
    print(f"Running {what} on your code in {whose} ...", flush=True)
    start = time.perf_counter()
    outcomes, data = check(chosen, mine, folder, full=args.full, timeout=args.timeout)
    seconds = time.perf_counter() - start
    state = State(folder)
    print()
    for o in outcomes:
        print(f"  {o.exercise.id:<30} {describe(o)}")
        current = learner_function(folder, o.exercise)
        if current is not None:
            state.results[o.exercise.id] = {"status": o.status, "source": fingerprint(current)}
    state.save()
    passing = sum(o.status == "passing" for o in outcomes)
    print(f"\n{passing} of {len(outcomes)} passing ({seconds:.1f} s).")
    if args.verbose:
        print("\n" + data["output"])
    failing = ([o for o in outcomes if o.status == "does not import"][:1]
               or [o for o in outcomes if o.status == "failing"])
    if failing:
        explain(failing[0])
    elif (todo := [o for o in outcomes if o.status in ("not written", "waiting", "not run")]):
        first = todo[0]
        nxt = first.waiting_on if first.status == "waiting" else first.exercise.id
        print(f"Next to write: {nxt}. `python -m workbook show {nxt}` says what it is.")
    elif args.full and data["exitstatus"] != 0:
        print("Every exercise passes, but some other tests of the phase fail: --verbose shows "
              "them.")
    if passing == len(outcomes) and len(outcomes) == 1:
        print(f"Well done. `python -m workbook compare {outcomes[0].exercise.id}` shows ours "
              "beside yours.")
    return 0 if passing == len(outcomes) and (not args.full or data["exitstatus"] == 0) else 1


# --- hint, compare, reset ---------------------------------------------------------------------

def cmd_hint(args: argparse.Namespace) -> int:
    e = one_exercise(args.exercise)
    folder = learner_folder()
    state = State(folder)
    seen = state.hints.get(e.id, 0)
    level = args.level or min(seen + 1, len(e.hints))
    if not 1 <= level <= len(e.hints):
        raise Refusal(f"--level is 1 to {len(e.hints)}")
    print(f"Hint {level} of {len(e.hints)} for {e.id} ({HINT_NAMES[level - 1]}):\n")
    print(wrap(e.hints[level - 1]))
    if level < len(e.hints):
        print(f"\nStill stuck after trying it? Run the same command for hint {level + 1}.")
    else:
        print(f"\nThat was the last hint; the notes section is {e.notes_path}.")
    state.hints[e.id] = max(seen, level)
    state.save()
    return 0


def side_by_side(left: str, right: str, titles: tuple[str, str]) -> str:
    width = shutil.get_terminal_size((160, 40)).columns
    a, b = left.expandtabs().splitlines(), right.expandtabs().splitlines()
    column = (width - 3) // 2
    if max(map(len, a + b), default=0) > column or column < 60:
        rule = "-" * min(width, 100)
        return f"{titles[0]}\n{rule}\n{left}\n{titles[1]}\n{rule}\n{right}"
    rows = [f"{titles[0]:<{column}} | {titles[1]}", f"{'-' * column}-+-{'-' * column}"]
    for i in range(max(len(a), len(b))):
        rows.append(f"{(a[i] if i < len(a) else ''):<{column}} | {b[i] if i < len(b) else ''}")
    return "\n".join(rows)


def cmd_compare(args: argparse.Namespace) -> int:
    e = one_exercise(args.exercise)
    folder = learner_folder()
    mine = learner_function(folder, e)
    if mine is None or mine == stub_of(e):
        if not args.give_up:
            raise Refusal(f"you have not written {e.id} yet (`python -m workbook show {e.id}`); "
                          "--give-up shows ours anyway")
        mine = mine or "(not written)"
    elif not args.give_up:
        print(f"Checking {e.id} first ...", flush=True)
        outcomes, _ = check([e], {e.phase}, folder)
        if outcomes[0].status != "passing":
            raise Refusal(f"{e.id} is {describe(outcomes[0])}: compare shows ours once yours "
                          "passes. To see it now anyway: --give-up")
    print(side_by_side(mine, reference_function(e),
                       (f"yours ({shown(learner_file(folder, e))})",
                        f"ours ({shown(module_file(e.phase, e.module))})")))
    print("\nDifferent is fine when both pass: the tests decide, not the resemblance.")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    e = one_exercise(args.exercise)
    folder = learner_folder()
    path = learner_file(folder, e)
    if not path.exists():
        raise Refusal(f"{shown(path)} does not exist: `python -m workbook start {e.phase}` "
                      "writes it")
    source = read_learner(path)
    mine = learner_function(folder, e)
    if mine is None:
        raise Refusal(f"cannot find {e.qualname} in {shown(path)} (does the file parse?). Fix "
                      "the file, or move it away and run start again")
    stub = stub_of(e)
    if mine == stub:
        print(f"{e.id} is already at its stub: nothing to reset.")
        return 0
    if not args.yes:
        try:
            answer = input(f"Put {e.id} back to its stub? Your version will be kept in "
                           f"{shown(folder / '.backups')}/. [y/N] ")
        except EOFError:  # nobody there to answer
            raise Refusal("reset asks before it replaces your code: answer it in a terminal, "
                          "or add --yes") from None
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    backup = folder / ".backups" / f"{e.id}-{time.strftime('%Y%m%d-%H%M%S')}.py"
    backup.parent.mkdir(parents=True, exist_ok=True)
    backup.write_text(mine, encoding="utf-8")
    path.write_text(replace_function(source, e.qualname, stub), encoding="utf-8")
    state = State(folder)
    state.results.pop(e.id, None)
    state.save()
    print(f"{e.id} is back to its stub; your version is in {shown(backup)}.")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    """Rewrite each started file of a phase from the course's current code, with the learner's
    exercise functions carried over. The old file is kept in .backups/ (edits made outside the
    exercises live only there)."""
    phase = find(args.phase)[0].phase
    folder = learner_folder()
    state = State(folder)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for module in dict.fromkeys(e.module for e in find(phase)):
        path = folder / f"phase{phase}" / f"{module}.py"
        if not path.exists():
            continue
        current = read_learner(path)
        fresh = stubbed_module(phase, module)
        kept = []
        for e in (e for e in find(phase) if e.module == module):
            mine = learner_function(folder, e)
            if mine is None and current.strip():
                try:
                    function_span(current, e.qualname)
                except SyntaxError:
                    raise Refusal(f"{shown(path)} does not parse: fix it before "
                                  "updating") from None
                except LookupError:
                    pass  # the learner removed it: the fresh stub comes back
            if mine is not None and mine != stub_of(e):
                fresh = replace_function(fresh, e.qualname, mine)
                kept.append(e.id)
        if fresh == current:
            print(f"  {shown(path)} is up to date")
            continue
        backup = folder / ".backups" / f"phase{phase}-{module}-{stamp}.py"
        backup.parent.mkdir(parents=True, exist_ok=True)
        backup.write_text(current, encoding="utf-8")
        path.write_text(fresh, encoding="utf-8")
        if not kept:
            state.written[f"phase{phase}/{module}.py"] = fingerprint(fresh)
        print(f"  updated {shown(path)}, keeping your " + (", ".join(kept) or "(no exercise yet)")
              + f"; the old file is {shown(backup)}")
    state.save()
    return 0


# --- run, verify ------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    phase = normalise_phase(args.phase)
    if phase is None:
        raise Refusal(f"run takes a phase number such as 02, got '{args.phase}'")
    folder = learner_folder()
    name = args.script.removesuffix(".py")
    script = folder / f"phase{phase}" / f"{name}.py"
    if not script.is_file():
        script = module_file(phase, name)
    if not script.is_file():
        scripts = sorted(p.stem for p in (phase_folder(phase) / "code").glob("[a-z]*.py"))
        raise Refusal(f"phase {phase} has no script '{name}'; it has: {', '.join(scripts)}")
    mine = {phase, *(normalise_phase(p) or p for p in args.mine or [])}
    stubs = [e.id for e in all_exercises() if e.phase in mine
             and learner_file(folder, e).is_file() and learner_function(folder, e) == stub_of(e)]
    if stubs and "-h" not in args.args and "--help" not in args.args:
        # A long run may reach its first stub only near its end: say what is missing up front.
        print(f"Not written yet in your code: {', '.join(stubs)}. {script.name} stops at the "
              f"first of them it calls, so write those it needs first.", file=sys.stderr)
    env = {**os.environ, ENV_PHASES: ",".join(sorted(mine)), ENV_FOLDER: str(folder)}
    return run_explaining_stubs([sys.executable, str(script), *args.args], env, script.name)


TRACEBACK = b"Traceback (most recent call last):"
UNWRITTEN = re.compile(rb"NotImplementedError: exercise (\S+) is yours to write\s*\Z")


def run_explaining_stubs(command: list[str], env: dict[str, str], name: str) -> int:
    """Run a script with its output passing through as it comes (progress bars too), except a
    traceback, which is held back: if it only says that the script reached an exercise not yet
    written, one line says so and what to do; any other traceback is shown whole."""
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    held = b""
    while chunk := process.stderr.read1(4096):
        if not held and TRACEBACK in chunk:
            start = chunk.index(TRACEBACK)
            chunk, held = chunk[:start], chunk[start:]
        elif held:
            chunk, held = b"", held + chunk
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()
    code = process.wait()
    unwritten = UNWRITTEN.search(held)
    if unwritten:
        exercise = unwritten.group(1).decode()
        print(f"{name} stopped where it calls exercise {exercise}, which you have not written "
              f"yet: `python -m workbook show {exercise}` says what it asks, and `python -m "
              f"workbook check {exercise}` checks it once written.", file=sys.stderr)
    else:
        sys.stderr.buffer.write(held)
    return code


def cmd_verify(args: argparse.Namespace) -> int:
    chosen = [normalise_phase(p) or p for p in args.phases] or phases()
    bad = 0
    for phase in chosen:
        start = time.perf_counter()
        problems = verify(phase, in_order=args.in_order)
        n = len(find(phase))
        print(f"phase {phase}: {n} exercises, {len(problems)} problem(s) "
              f"({time.perf_counter() - start:.0f} s)")
        for p in problems:
            print(f"  {p}")
        bad += len(problems)
    return 1 if bad else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workbook", description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.strip().splitlines()[2:]))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("list", help="every exercise and its status")
    p.add_argument("phase", nargs="?", help="only this phase (e.g. 02)")
    p.set_defaults(run=cmd_list)
    p = sub.add_parser("start", help="write a phase's exercise files into your folder")
    p.add_argument("phase", help="a phase number, e.g. 02")
    p.set_defaults(run=cmd_start)
    p = sub.add_parser("show", help="what an exercise asks, and where it is taught")
    p.add_argument("exercise", help="an exercise id, e.g. 02.value-add")
    p.set_defaults(run=cmd_show)
    p = sub.add_parser("check", help="run the course's tests on your code")
    p.add_argument("target", help="a phase (02) or one exercise (02.value-add)")
    p.add_argument("--mine", nargs="+", metavar="PHASE",
                   help="also use your code of these earlier phases (e.g. --mine 02)")
    p.add_argument("--full", action="store_true",
                   help="run all of the phase's tests, not only the exercises' own")
    p.add_argument("--verbose", action="store_true", help="show pytest's own report too")
    p.add_argument("--timeout", type=float, default=600, metavar="SECONDS",
                   help="stop the tests after this long (default 600)")
    p.set_defaults(run=cmd_check)
    p = sub.add_parser("hint", help="the next hint for an exercise")
    p.add_argument("exercise")
    p.add_argument("--level", type=int, help="show this hint (1, 2 or 3) again")
    p.set_defaults(run=cmd_hint)
    p = sub.add_parser("compare", help="your passing code beside ours")
    p.add_argument("exercise")
    p.add_argument("--give-up", action="store_true", help="show ours before yours passes")
    p.set_defaults(run=cmd_compare)
    p = sub.add_parser("reset", help="put an exercise's stub back (asks first)")
    p.add_argument("exercise")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.set_defaults(run=cmd_reset)
    p = sub.add_parser("update", help="the course's newer code, with your exercises kept")
    p.add_argument("phase", help="a phase number, e.g. 02")
    p.set_defaults(run=cmd_update)
    p = sub.add_parser("run", help="run a script of a phase on your code")
    p.add_argument("phase")
    p.add_argument("script", help="the script's name, e.g. value_mlp")
    p.add_argument("--mine", nargs="+", metavar="PHASE", help="also use your code of these phases")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    p.set_defaults(run=cmd_run)
    p = sub.add_parser("verify", help="prove every exercise is checked by a test that can fail")
    p.add_argument("phases", nargs="*", help="phases to verify (all when none)")
    p.add_argument("--in-order", action="store_true",
                   help="also prove no exercise's tests need a later exercise (slower)")
    p.set_defaults(run=cmd_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (KeyError, Refusal, ManifestError, TooSlow) as err:
        message = err.args[0] if err.args else str(err)
        print(f"workbook: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output went into `head` or a closed pager
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (so the exit flush cannot fail)
        return 0
    except KeyboardInterrupt:
        print("\nworkbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
