"""The package installs: the wheel built from this tree, installed in a clean virtual environment with only
the dependencies pyproject.toml declares (held to requirements.lock's versions), imports every module it
carries and runs the CLI on an empty home. A dependency used in the code but missing from pyproject.toml
(the way bibtexparser, rispy and plotly once were) fails here, not on a user's machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"  # `make install` puts the pinned uv in the venv

pytestmark = pytest.mark.slow

# Imports each module named on stdin in the clean venv; prints {"imported": n, "failed": {module: error}}.
IMPORT_ALL = """
import importlib, json, sys, traceback
failed = {}
names = sys.stdin.read().split()
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as err:
        failed[name] = "".join(traceback.format_exception_only(type(err), err)).strip()
print(json.dumps({"imported": len(names) - len(failed), "failed": failed}))
"""


def package_sources() -> list[str]:
    """Where torch's CPU build comes from, as the Makefile decides: pip's local wheel folder if one is
    configured, else PyTorch's CPU index."""
    found = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
        capture_output=True,
        text=True,
        check=False,
    )
    folder = found.stdout.strip()
    if found.returncode == 0 and folder:
        return ["--find-links", folder]
    return [
        "--extra-index-url",
        "https://download.pytorch.org/whl/cpu",
        "--index-strategy",
        "unsafe-best-match",
    ]


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, **kw: object) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=cwd, timeout=900, check=False, **kw
    )  # type: ignore[call-overload]
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stderr[-3000:]}"
    )
    return str(done.stdout)


def module_names(wheel: Path) -> list[str]:
    names = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.endswith(".py") and ".dist-info/" not in member:
                parts = member[: -len(".py")].split("/")
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                names.append(".".join(parts))
    return sorted(names)


def clean_env(home: Path) -> dict[str, str]:
    """No developer settings, no endpoint, no model download: what a fresh user has."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ACADEMICHUB_", "OPENAI_", "CHAINLIT_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(ACADEMICHUB_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert UV.exists(), f"{UV} is missing: `make install` installs uv into the venv"
    out = tmp_path_factory.mktemp("dist")
    # The dev extra holds hatchling, so the build needs nothing beyond the lock.
    run(
        [
            str(UV),
            "build",
            "--wheel",
            "--no-build-isolation",
            "--python",
            sys.executable,
            "--out-dir",
            str(out),
        ],
        cwd=ROOT,
    )
    wheels = list(out.glob("academichub-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def clean_venv(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "env"
    run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    install = [str(UV), "pip", "install", "--quiet", "--python", str(python), *package_sources()]
    run([*install, "--constraint", str(ROOT / "requirements.lock"), str(built_wheel)])
    return venv


def test_the_wheel_carries_the_prompts_the_sample_and_the_chat_apps_files(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as archive:
        members = set(archive.namelist())
    tracked = run(["git", "ls-files", "prompts", "public", ".chainlit"], cwd=ROOT).split()
    assert tracked, "git ls-files found none of prompts/, public/, .chainlit/"
    for path in tracked:  # the chat app's files live in the package folder of a wheel install
        assert (path if path.startswith("prompts/") else f"assistant/{path}") in members, path
    assert {"assistant/chainlit.md", "ingest/sample/arxiv_sample.jsonl.gz", "prompts/answer.md"} <= members
    assert not any(m.startswith(("tests/", "bench/")) for m in members)


def test_the_installed_wheel_imports_every_module_and_runs_the_cli(
    built_wheel: Path, clean_venv: Path, tmp_path: Path
) -> None:
    python, cli = clean_venv / "bin" / "python", clean_venv / "bin" / "academichub"
    env = clean_env(tmp_path / "home")
    names = module_names(built_wheel)
    assert "assistant.radar.library" in names and "ingest.pipeline" in names
    # The clean venv holds the wheel's declared dependencies only: no project source on its path.
    report = json.loads(run([str(python), "-c", IMPORT_ALL], env=env, cwd=tmp_path, input="\n".join(names)))
    assert report["failed"] == {}, report["failed"]
    assert report["imported"] == len(names)
    located = run([str(python), "-c", "import assistant; print(assistant.__file__)"], env=env, cwd=tmp_path)
    assert str(clean_venv) in located

    assert "radar" in run([str(cli), "--help"], env=env, cwd=tmp_path)
    stats = json.loads(run([str(cli), "stats", "--json"], env=env, cwd=tmp_path))
    assert stats["papers"] == 0 and stats["vectors"] == 0 and stats["home"] == str(tmp_path / "home")
    assert "No saved topics" in run([str(cli), "radar", "list"], env=env, cwd=tmp_path)
    # `serve` finds its welcome screen, config and assets inside the installed package.
    root = run(
        [str(python), "-c", "from assistant.ui.cli.serve_cmd import app_root; print(app_root())"],
        env=env,
        cwd=tmp_path,
    ).strip()
    assert root.startswith(str(clean_venv)) and Path(root, ".chainlit", "config.toml").is_file()
    assert Path(root, "public", "academichub.css").is_file()
