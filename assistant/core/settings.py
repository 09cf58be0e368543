"""The one settings class: environment variables (ACADEMICHUB_*, OPENAI_*) and an optional `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("academichub", appauthor=False))


class Settings(BaseSettings):
    """Everything configurable. Documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_prefix="ACADEMICHUB_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Storage
    home: Path = Field(default_factory=_default_home, description="Data directory (catalog, vectors, state).")
    collection: str = Field("papers", min_length=3, description="Chroma collection name (3+ characters).")
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset = embedded PersistentClient."
    )
    chroma_port: int = 8000

    # Embeddings
    embedding_model: str = Field(
        "", description="sentence-transformers name or path; empty = packaged MiniLM."
    )
    embedding_backend: Literal["torch", "onnx"] = "torch"
    embed_batch_size: int = Field(32, ge=1, le=1024)
    ingest_batch_size: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Papers stored, embedded and checkpointed together while ingesting.",
    )
    allow_model_download: bool = Field(False, description="Let sentence-transformers reach the HF hub.")

    # arXiv API
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_delay_seconds: float = Field(3.0, ge=0.0)
    arxiv_retries: int = Field(5, ge=0)
    arxiv_backoff_seconds: float = Field(5.0, ge=0.0)
    arxiv_page_size: int = Field(100, ge=1, le=2000)
    arxiv_timeout_seconds: float = Field(30.0, gt=0, description="Per-request timeout for the arXiv API.")

    # bioRxiv/medRxiv API (one API for both servers)
    rxiv_api_url: str = "https://api.biorxiv.org"
    rxiv_delay_seconds: float = Field(1.0, ge=0.0, description="Pause between pages of the bioRxiv API.")
    rxiv_retries: int = Field(5, ge=0)
    rxiv_backoff_seconds: float = Field(5.0, ge=0.0)
    rxiv_timeout_seconds: float = Field(30.0, gt=0, description="Per-request timeout for the bioRxiv API.")

    # Retrieval. Fusion settings chosen on the dev halves of the June known-item sets (rule-made and the two
    # hand-written sets weigh equally; bench/tune_fusion.py): reported figures come from the test halves.
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
    radar_min_relevance: float = Field(
        0.35, ge=0.0, le=1.0, description="Cosine a new paper needs to enter a radar topic's feed."
    )
    radar_backfill_days: int = Field(
        7, ge=1, le=366, description="Listing days a new radar topic's first visit covers (up to the newest)."
    )
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
    radar_library_min_relevance: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Cosine to the closest library paper a new paper needs to enter a library topic's feed "
        "(paper-to-paper cosines run higher than query-to-paper ones).",
    )

    # Language model (any OpenAI-compatible endpoint)
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "ACADEMICHUB_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "OPENAI_API_BASE", "ACADEMICHUB_OPENAI_BASE_URL"),
    )
    model: str = Field("gpt-4o-mini", description="Chat model name at the endpoint.")
    llm_timeout_seconds: float = Field(
        60.0, gt=0, description="Seconds to wait for the first token (the prompt is read before it)."
    )
    llm_token_timeout_seconds: float = Field(
        20.0, gt=0, description="Seconds to wait for the next token once the answer has started."
    )
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0)
    llm_max_retries: int = Field(
        1, ge=0, le=10, description="Retries on 429/5xx/refused connections (never after a timeout)."
    )
    llm_context_window: int = Field(
        16384, ge=512, description="Context window of the model (tokens): prompt + answer must fit."
    )
    llm_max_tokens_answer: int | None = Field(
        None, ge=16, description="Longest answer (tokens); unset: a fifth of the context window, at most 600."
    )
    llm_max_tokens_briefing: int | None = Field(
        None, ge=16, description="Longest briefing prose (tokens); unset: 30 % of the context, at most 1500."
    )
    llm_max_tokens_rewrite: int = Field(80, ge=8, description="Longest follow-up rewrite (tokens).")
    min_support: float = Field(
        0.45, description="Cosine below which a cited sentence counts as unsupported by its cited abstract."
    )

    # Radar delivery: e-mail digests (SMTP) and webhooks (Slack/Mattermost/Discord incoming webhooks)
    smtp_host: str = Field("", description="SMTP server for `radar send --to`; empty = e-mail not set up.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (port 587), ssl (implicit TLS, port 465) or none (local relay)."
    )
    smtp_user: str = Field("", description="SMTP login; empty = no authentication.")
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field("", description="From address of digests (default: smtp_user).")
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    radar_mail_to: str = Field("", description="Default recipients of `radar send` (comma-separated).")
    radar_webhook_url: SecretStr | None = Field(None, description="Default webhook of `radar send`.")
    webhook_format: Literal["auto", "slack", "mattermost", "discord"] = Field(
        "auto", description="Payload flavour; auto = from the webhook host (discord -> discord, else slack)."
    )
    webhook_timeout_seconds: float = Field(20.0, gt=0)
    public_url: str = Field(
        "", description="The app's address as readers reach it, for feed links (default http://HOST:PORT)."
    )

    # Chat app
    auth_users: str = Field("", description="Comma-separated user:bcrypt-hash pairs; empty = no login.")
    chat_history: bool = Field(False, description="Persist chat history in SQLite (Chainlit data layer).")
    allow_origins: str = Field(
        "",
        description="Comma-separated origins (scheme://host:port) besides the app's own that may call the "
        "chat app with the user's cookie (CORS, socket.io); empty = the app's own origin only.",
    )

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
        return value

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests clear this cache after changing the environment."""
    return Settings()
