"""Run the `academichub` command line in this process, stopped at one point of its run, for a kill -9 test.

usage: python tests/stop_at.py MODULE:CLASS.METHOD N MARKER CLI_ARGS...

Before the N-th call of CLASS.METHOD (e.g. `assistant.store.catalog:Catalog.mark_embedded` 2: the second
batch's vectors are in Chroma, the catalog does not know yet) it creates MARKER and waits for good. The test
waits for MARKER and kills the process with SIGKILL, so the kill lands at exactly that point every time,
however fast the machine; the rest of the run is the real CLI's code.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from typing import Any


def stop_before(target: str, nth: int, marker: Path) -> None:
    module_name, _, attribute = target.partition(":")
    class_name, _, method = attribute.partition(".")
    owner = getattr(importlib.import_module(module_name), class_name)
    original = getattr(owner, method)
    calls = 0

    def stopping(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            marker.write_text("stopped\n", encoding="utf-8")
            while True:  # the test kills the process here
                time.sleep(60)
        return original(self, *args, **kwargs)

    setattr(owner, method, stopping)


def main(argv: list[str]) -> None:
    target, nth, marker, *cli_args = argv
    stop_before(target, int(nth), Path(marker))
    from assistant.ui.cli import main as cli_main

    sys.argv = ["academichub", *cli_args]
    cli_main()


if __name__ == "__main__":
    main(sys.argv[1:])
