"""How every benchmark hands over its figures: one JSON line on stdout, the same in `--output` if given."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def emit_json(result: Any, output: Path | None) -> None:
    payload = json.dumps(result, ensure_ascii=False)
    if output:
        output.write_text(payload + "\n", encoding="utf-8")
    sys.stdout.write(payload + "\n")
