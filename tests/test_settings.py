"""Every setting is documented in `.env.example`, under every name the app reads it by."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from assistant.core.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def env_names(name: str) -> list[str]:
    field = Settings.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [f"{Settings.model_config.get('env_prefix', '')}{name}".upper()]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = ENV_EXAMPLE.read_text(encoding="utf-8")
    missing = [env for name in Settings.model_fields for env in env_names(name) if env not in documented]
    assert missing == []
