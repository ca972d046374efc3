"""What the workbook remembers about the learner's folder, in my-code/.workbook.json.

- written: for each file `start` wrote, a fingerprint of what it wrote, so that a later `start`
  can tell an untouched file (safe to refresh) from one the learner has changed (never touched);
- hints: how many hints of each exercise have been shown;
- results: each exercise's verdict at its last check, with a fingerprint of the learner's
  function then, so `list` can say when it has been edited since.
"""

import hashlib
import json
from pathlib import Path

STATE_FILE = ".workbook.json"


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class State:
    def __init__(self, folder: Path):
        self.path = folder / STATE_FILE
        data = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                data = {}  # a damaged state file only loses hints and old verdicts
        self.written: dict[str, str] = dict(data.get("written", {}))
        self.hints: dict[str, int] = dict(data.get("hints", {}))
        self.results: dict[str, dict] = dict(data.get("results", {}))

    def save(self) -> None:
        data = {"written": self.written, "hints": self.hints, "results": self.results}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)
