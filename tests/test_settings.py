"""Settings come in groups, read by the variable names users already have: every setting is documented in
`.env.example` under its group's section, and a `.env` written for the flat settings still loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.core.settings import Settings, leaf_fields

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
SECTION = re.compile(r"^# --- ([a-z_.]+):", re.MULTILINE)


def sections() -> dict[str, str]:
    """`.env.example` cut at its `# --- group:` headers: group path -> the text of its section."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    marks = list(SECTION.finditer(text))
    return {
        mark.group(1): text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        for i, mark in enumerate(marks)
    }


def every_variable() -> list[tuple[str, str]]:
    """(group path, variable name) for each name each setting is read by."""
    return [
        (".".join(path), env)
        for path, group, name in leaf_fields(Settings)  # type: ignore[arg-type]
        for env in group.env_names_of(name)
    ]


def test_every_setting_is_documented_in_its_groups_section_of_env_example() -> None:
    documented = sections()
    missing = [f"{env} ({path})" for path, env in every_variable() if env not in documented.get(path, "")]
    assert missing == []
    assert set(documented) == {path for path, _ in every_variable()}  # no section without settings


def test_env_example_names_no_variable_the_app_does_not_read() -> None:
    known = {env for _, env in every_variable()}
    named = set(
        re.findall(r"\b(?:ACADEMICHUB|OPENAI)_[A-Z_]+[A-Z]\b", ENV_EXAMPLE.read_text(encoding="utf-8"))
    )
    assert named - known == set()


def test_no_two_settings_share_a_variable() -> None:
    names = [env for _, env in every_variable()]
    assert len(names) == len(set(names))


def test_a_dot_env_with_the_flat_names_loads_into_the_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in {env for _, env in every_variable()}:
        monkeypatch.delenv(env, raising=False)
    (tmp_path / ".env").write_text(
        "ACADEMICHUB_HOME=~/hub-data\n"
        "ACADEMICHUB_RRF_K=42\n"
        "ACADEMICHUB_EMBEDDING_BACKEND=onnx\n"
        "ACADEMICHUB_EMBED_BATCH_SIZE=16\n"
        "ACADEMICHUB_INGEST_BATCH_SIZE=64\n"
        "ACADEMICHUB_ARXIV_RETRIES=2\n"
        "ACADEMICHUB_RXIV_BACKOFF_SECONDS=0.5\n"
        "ACADEMICHUB_MIN_SUPPORT=0.4\n"
        "OPENAI_API_KEY=sk-from-dotenv\n"
        "OPENAI_API_BASE=http://127.0.0.1:11434/v1\n"
        "ACADEMICHUB_MODEL=qwen2.5\n"
        "ACADEMICHUB_LLM_MAX_RETRIES=3\n"
        "ACADEMICHUB_RADAR_MIN_RELEVANCE=0.4\n"
        "ACADEMICHUB_RADAR_MAIL_TO=team@example.org\n"
        "ACADEMICHUB_RADAR_WEBHOOK_URL=https://hooks.example.org/x\n"
        "ACADEMICHUB_SMTP_PORT=465\n"
        "ACADEMICHUB_SMTP_SECURITY=ssl\n"
        "academichub_chat_history=true\n",  # names are case-insensitive, as before
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACADEMICHUB_RRF_K", "7")  # the environment wins over `.env`

    settings = Settings()

    assert settings.storage.home == Path("~/hub-data").expanduser()
    assert settings.storage.catalog_path == settings.storage.home / "catalog.sqlite3"
    assert settings.fusion.rrf_k == 7
    assert settings.embedding.backend == "onnx" and settings.embedding.batch_size == 16
    assert settings.sources.ingest_batch_size == 64
    assert settings.sources.arxiv.retries == 2 and settings.sources.rxiv.backoff_seconds == 0.5
    assert settings.compose.min_support == 0.4
    assert settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == "sk-from-dotenv"
    assert settings.llm.base_url == "http://127.0.0.1:11434/v1" and settings.llm.configured
    assert settings.llm.model == "qwen2.5" and settings.llm.max_retries == 3
    assert settings.radar.min_relevance == 0.4
    assert settings.delivery.mail_to == "team@example.org"
    url = settings.delivery.webhook.url
    assert url is not None and url.get_secret_value() == "https://hooks.example.org/x"
    assert settings.delivery.smtp.port == 465 and settings.delivery.smtp.security == "ssl"
    assert settings.app.chat_history is True
    # Untouched settings keep their defaults.
    assert settings.fusion.default_k == 8 and settings.delivery.smtp.timeout_seconds == 30.0


def test_a_bad_value_in_dot_env_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACADEMICHUB_SMTP_SECURITY", raising=False)
    (tmp_path / ".env").write_text("ACADEMICHUB_SMTP_SECURITY=tls-please\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match=r"delivery\.smtp\.security"):
        Settings()


def test_replace_changes_one_group_and_checks_names_and_values(tmp_path: Path) -> None:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    moved = base.replace(storage={"home": str(tmp_path)}, delivery={"smtp": {"port": 2525}})
    assert moved.storage.home == tmp_path and moved.delivery.smtp.port == 2525
    assert moved.storage.collection == base.storage.collection and base.delivery.smtp.port == 587
    with pytest.raises(ValueError, match="no such setting in StorageSettings: hme"):
        base.replace(storage={"hme": tmp_path})
    with pytest.raises(ValidationError):
        base.replace(storage={"chroma_port": "not a port"})
