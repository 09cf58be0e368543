"""Helpers the tests share that are not fixtures: local ports and a real Chroma server, text pieces for
retrieval questions, arXiv metadata-snapshot lines, and a CLI run killed with -9 at a chosen point.

They live here, not in `bench/`: tests exercise the product, and only tests of a benchmark import `bench`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

CHROMA = Path(sys.executable).with_name("chroma")
STOP_AT = Path(__file__).with_name("stop_at.py")


# --- processes ------------------------------------------------------------------------------------------

# The product builds the multilingual (e5) index by default; tests turn it on where they test it, since each
# data directory would otherwise export the e5 model (minutes) and embed every paper twice.
TEST_DEFAULTS = {
    "ACADEMICHUB_MULTILINGUAL_INDEX": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI or server process the test starts on `home`: none of the developer's
    OPENAI_/CHAINLIT_/ACADEMICHUB_ variables, offline, the tests' defaults, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHAINLIT_", "ACADEMICHUB_"))}
    return {**env, **TEST_DEFAULTS, "ACADEMICHUB_HOME": str(home), **extra}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def chroma_server(data_dir: Path) -> Iterator[int]:
    """`chroma run` (the chromadb package's server) on 127.0.0.1 and a free port; yields the port once its
    heartbeat answers, stops it on exit."""
    assert CHROMA.exists(), f"{CHROMA} is missing: the chromadb package installs it (run `make install`)"
    port = free_port()
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"chroma run did not start: {server.stderr.read() if server.stderr else ''}"
                )
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def kill_9_at(target: str, nth: int, cli_args: list[str], env: dict[str, str], work: Path) -> int:
    """Run `academichub CLI_ARGS` in a subprocess that stops before the `nth` call of `target`
    ("module:Class.method", see tests/stop_at.py), kill it with SIGKILL there, and return its exit status.

    The kill lands at that point of the run every time, however fast the machine: no poll loop races the
    ingest."""
    marker, log = work / f"stopped-{os.getpid()}-{time.monotonic_ns()}", work / "killed-run.stderr"
    with log.open("w", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(STOP_AT), target, str(nth), str(marker), *cli_args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 480  # the model loads in ~25 s, minutes on a busy machine
            while not marker.exists():
                if proc.poll() is not None:
                    tail = log.read_text(encoding="utf-8")[-2000:]
                    raise AssertionError(
                        f"the run ended (exit {proc.returncode}) before {target} #{nth}:\n{tail}"
                    )
                assert time.monotonic() < deadline, f"the run did not reach {target} #{nth} in 480 s"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    return proc.returncode


# --- text -----------------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # FTS5 unicode61 token boundaries (letters and digits)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def middle_sentences(abstract: str) -> list[str]:
    """Sentences that are neither the first nor the last, of a length a person would paste."""
    sentences = [s.strip() for s in _SENTENCE_SPLIT.split(abstract) if s.strip()]
    return [s for s in sentences[1:-1] if 8 <= len(s.split()) <= 45]


# --- arXiv's metadata snapshot ----------------------------------------------------------------------------

_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _stamp(moment: datetime) -> str:
    """The snapshot's version stamp: 'Mon, 2 Apr 2007 19:18:42 GMT' (day not zero-padded)."""
    weekday, month = _WEEKDAYS[moment.weekday()], _MONTHS[moment.month - 1]
    return f"{weekday}, {moment.day} {month} {moment.year} {moment:%H:%M:%S} GMT"


def snapshot_lines(records: list[dict[str, Any]], n: int) -> Iterator[str]:
    """`n` lines in the layout of arXiv's `arxiv-metadata-oai-snapshot.json` made from daily-listing
    records (the bundled sample's): unique ids 1501.00001, 1501.00002, ... in January 2015, the records'
    text cycled, their categories rotated per cycle, abstracts hard-wrapped as the snapshot does."""
    bases = [r for r in records if r.get("title") and r.get("summary") and r.get("categories")]
    for index in range(n):
        cycle, base = divmod(index, len(bases))
        record = bases[base]
        names = [str(a) for a in record.get("authors") or []] or ["Anonymous"]
        first = datetime(2015, 1, 1 + index % 28, (index * 7) % 24, (index * 13) % 60, (index * 17) % 60)
        created = [first + timedelta(days=9 * v, hours=5 * v) for v in range(1 + index % 3)]
        shift = cycle % len(record["categories"])
        categories = record["categories"][shift:] + record["categories"][:shift]
        line = {
            "id": f"1501.{index + 1:05d}",
            "submitter": names[0],
            "authors": names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1],
            "title": "\n  ".join(textwrap.wrap(record["title"], 70)),
            "comments": record.get("comment"),
            "journal-ref": None,
            "doi": f"10.1103/PhysRevD.{100 + index % 9}.{index:06d}" if index % 5 == 0 else None,
            "report-no": None,
            "categories": " ".join(categories),
            "license": None,
            "abstract": "  " + "\n".join(textwrap.wrap(record["summary"], 78)) + "\n",
            "versions": [{"version": f"v{v + 1}", "created": _stamp(m)} for v, m in enumerate(created)],
            "update_date": f"{created[-1]:%Y-%m-%d}",
            "authors_parsed": [[name.split()[-1], " ".join(name.split()[:-1]), ""] for name in names],
        }
        yield json.dumps(line, ensure_ascii=False) + "\n"


def action_calls(page: Any) -> list[str]:
    """Each Chainlit action call the page makes ("sent radar_next", "radar_next -> 200"): what
    `click_action` waits for, and what a browser test reports when a click shows nothing."""
    calls: list[str] = []

    def name(request: Any) -> str:
        return str((request.post_data_json or {}).get("action", {}).get("name"))

    def is_action(request: Any) -> bool:
        return bool(request.url.endswith("/project/action") and request.method == "POST")

    page.on("request", lambda r: calls.append(f"sent {name(r)}") if is_action(r) else None)
    page.on(
        "response",
        lambda r: calls.append(f"{name(r.request)} -> {r.status}") if is_action(r.request) else None,
    )
    page.on(
        "requestfailed", lambda r: calls.append(f"{name(r)} failed: {r.failure}") if is_action(r) else None
    )
    return calls


def click_action(button: Any, calls: list[str], attempts: int = 3) -> None:
    """Click an action button until the page sends an action (at most `attempts` clicks).

    Chainlit disables action buttons while a task of the session runs (the callback that sent them is
    finishing); a click that lands as a button is disabled sends nothing, where a person would simply
    click again. A click the page did send counts once: what the server then does is what tests check."""
    before = sum(call.startswith("sent ") for call in calls)
    for _ in range(attempts):
        button.click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if sum(call.startswith("sent ") for call in calls) > before:
                return
            button.page.wait_for_timeout(250)
    raise AssertionError(f"{attempts} clicks sent no action; the page's action calls: {calls}")
