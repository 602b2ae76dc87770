"""One typed settings object. Every field is read from an environment variable ``VLM4REC_<NAME>``.

``vlm4rec settings`` prints the values in effect; the README lists them all (a test keeps the two
in step).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_serializer, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .search.options import SearchOptions

_SEARCH = SearchOptions.model_fields  # one place for the search defaults

ENV_PREFIX = "VLM4REC_"


def safe_url(url: str) -> str:
    """A database URL fit to show: its password replaced by ``***`` (nothing of it when it cannot be read)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(not a database URL)"


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def running_in_space() -> bool:
    """Whether this is a Hugging Face Space (the variables the Space runtime sets, as Gradio reads them)."""
    return os.environ.get("SYSTEM") == "spaces" and bool(os.environ.get("SPACE_ID"))


def default_home() -> Path:
    return Path.home() / ".vlm4rec"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    home: Path = Field(
        default_factory=default_home,
        description="Folder for the embedded Chroma store, the ratings file (ratings.sqlite) and caches.",
    )
    collection: str = Field(
        "catalog",
        description="Name of the catalog inside the store; several catalogs can live side by side.",
    )
    chroma_host: str | None = Field(
        None,
        description="Host of a Chroma server (`chroma run --path DIR`); unset means the embedded store under HOME.",
    )
    chroma_port: int = Field(8000, description="Port of the Chroma server.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_token: SecretStr | None = Field(None, description="Bearer token for a Chroma server that requires one.")
    ratings_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database that keeps likes and dislikes, e.g. "
        "`postgresql+psycopg://USER:PASSWORD@HOST/DB` to share shoppers between machines; unset means the SQLite "
        "file HOME/ratings.sqlite.",
        repr=False,  # it may hold a password; JSON dumps show it without (below)
    )
    grounder: str = Field(
        "basic",
        description="Which grounder describes images: `basic` (offline, no VLM), `transformers` (a local VLM), "
        "`openai` (an OpenAI-compatible server such as vLLM), or a plugin's name (README: Plugins).",
    )
    grounder_fallback: bool = Field(
        False,
        description="When the chosen VLM cannot be used, let the basic grounder stand in (every such record says "
        "so and is grounded again by the next ingest) instead of stopping.",
    )
    grounding_prompt: str = Field(
        "ground_product.v1", description="Grounding prompt: the name of a file in prompts/ or the path of your own."
    )
    grounding_cache: bool = Field(
        True, description="Cache VLM answers on disk (HOME/cache) so that no image is sent to a VLM twice."
    )
    vlm_model: str | None = Field(
        None,
        description="The VLM: a hub id or local folder for `transformers` (default HuggingFaceTB/SmolVLM-256M-Instruct), "
        "the served model name for `openai`.",
    )
    vlm_device: str = Field(
        "cpu", description="Device of a `transformers` VLM: `cpu`, `cuda`, `cuda:1`, or `auto` (accelerate)."
    )
    vlm_dtype: str = Field(
        "auto", description="Weights' dtype for a `transformers` VLM: `auto`, `float32`, `bfloat16`, `float16`."
    )
    vlm_max_new_tokens: int = Field(384, ge=16, description="Longest answer a VLM may give, in tokens.")
    vlm_json_schema: bool = Field(
        False,
        description="Hold a `transformers` VLM's answers to the attributes' JSON schema while it writes "
        "(constrained decoding through outlines: `pip install 'vlm4rec-agent[structured]'`).",
    )
    openai_base_url: str | None = Field(
        None,
        description="Base URL of the OpenAI-compatible server, e.g. `http://localhost:8000/v1`; images go nowhere until it is set.",
    )
    openai_api_key: SecretStr | None = Field(None, description="API key for that server, if it needs one.")
    openai_timeout: float = Field(60.0, gt=0, description="Seconds to wait for one answer before retrying.")
    openai_max_retries: int = Field(
        3, ge=0, description="Retries after a timeout, a 429 or a 5xx, with exponential backoff."
    )
    openai_backoff: float = Field(
        0.5, ge=0, description="Seconds before the first retry, doubled for each next one (a longer Retry-After wins)."
    )
    openai_concurrency: int = Field(4, ge=1, description="Requests in flight at once.")
    openai_json_schema: bool = Field(
        True,
        description="Ask the server for answers that follow the attributes' JSON schema (`response_format` "
        "`json_schema`, structured outputs); a server that refuses it is asked without it, after one warning.",
    )
    assistant: Literal["auto", "offline", "llm"] = Field(
        "auto",
        description="Who answers in the chat: `offline` (the built-in dialogue manager), `llm` (a LangChain agent on "
        "the chat model below), or `auto` (the LLM when one is configured).",
    )
    chat_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint of the chat model that drives the LLM assistant, e.g. `http://localhost:8000/v1`.",
    )
    chat_model: str | None = Field(None, description="Name of that chat model; it must support tool calling.")
    chat_api_key: SecretStr | None = Field(None, description="API key for the chat endpoint, if it needs one.")
    chat_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the chat model.")
    encoder: str = Field(
        "all-MiniLM-L6-v2",
        description="Text encoder: `all-MiniLM-L6-v2` (bundled, offline), a plugin's name, or any "
        "sentence-transformers model id or path.",
    )
    encoder_backend: Literal["auto", "torch", "onnx"] = Field(
        "auto",
        description="`auto`: run the encoder with onnxruntime from a one-time ONNX export (fast start, same vectors), "
        "torch where it cannot be exported; `torch`; or `onnx`.",
    )
    model_cache: Path | None = Field(
        None, description="Folder for exported models (ONNX encoders); unset means HOME/models."
    )
    device: str = Field("cpu", description="Torch device for the encoder: `cpu`, `cuda`, `cuda:1`, `mps`.")
    encoder_batch_size: int = Field(32, ge=1, description="Texts per encoder batch.")
    grounding_batch_size: int = Field(16, ge=1, description="Images per grounding batch.")
    image_encoder: str = Field(
        "efficientnet-lite0",
        description="Image encoder for the visual vectors every item also stores (photo queries fuse them with "
        "the words): `efficientnet-lite0` (bundled, offline), a plugin's name, or `none` (photo queries use words "
        "only).",
    )
    heads_min_confidence: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Least calibrated probability at which a head learned from the catalog names a value for a "
        "photo the item text does not describe (below it the value is left out).",
    )
    learn_heads: bool = Field(
        True,
        description="After an ingest, learn attribute heads from the catalog's photos and text (again when the "
        "catalog grew or shrank by a tenth); the basic grounder uses them for photos without text.",
    )
    vlm_sample: int = Field(
        0,
        ge=0,
        description="With a VLM grounder: ground only this many items of a larger ingest with the VLM, learn heads "
        "from its answers, and let them ground the rest (each record says which). 0: the VLM grounds every item.",
    )
    photo_visual_weight: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Weight of visual similarity in a photo query (the rest is the similarity of the photo's "
        "grounded description); tuned on the IKEA tune part, see docs/evaluation/photos.md.",
    )
    embed_item_text: bool = Field(
        True,
        description="Embed the item's own text (title, type, description) together with the grounded attributes.",
    )
    scorer: str = Field(
        "hybrid",
        description="Profile scorer: `hybrid` (content similarity plus what other shoppers and imported groups "
        "liked together; `hybrid:W` sets the weight of the latter, 2.5), `softmax` (soft maximum over liked items, "
        "temperature 0.2; `softmax:T` sets it), `mean` (the paper's mean of liked items), `max`, `interests`, "
        "`cooccurrence`, `popularity`, or a plugin's (`name:parameter` passes it one). See "
        "docs/evaluation/recommend.md.",
    )
    collaborative_refresh_s: float = Field(
        60.0,
        gt=0,
        description="How often (seconds) the collaborative model checks for new likes and groups and, if there are "
        "any, is rebuilt in the background.",
    )
    dislike_weight: float = Field(
        0.5, ge=0, description="How hard a disliked item pushes similar items down (0 ignores dislikes)."
    )
    search_fusion: Literal["weighted", "rrf"] = Field(
        _SEARCH["fusion"].default,
        description="How search mixes meaning (dense vectors) and words (BM25): `weighted` (a weighted sum of "
        "both on a 0-1 scale) or `rrf` (reciprocal rank fusion). See docs/evaluation/search.md.",
    )
    search_lexical_weight: float = Field(
        _SEARCH["lexical_weight"].default,
        ge=0,
        le=1,
        description="Weight of the word match (BM25) against the meaning match in `weighted` fusion.",
    )
    search_diversity: float = Field(
        _SEARCH["diversity"].default,
        ge=0,
        le=1,
        description="Variety of a page of search results (maximal marginal relevance): 1 ranks by relevance "
        "alone, lower values push near-identical items apart.",
    )
    search_min_similarity: float = Field(
        _SEARCH["min_similarity"].default,
        ge=0,
        le=1,
        description="A query that names no attribute and no word of the catalog finds nothing when no item is "
        "this close in meaning (cosine); it is told what the catalog holds instead.",
    )
    lexical_sync_s: float = Field(
        10.0,
        gt=0,
        description="With a Chroma server: how often each process catches its word index up with other "
        "processes' writes (their new items are found by meaning at once, by their words within this time).",
    )
    personalization_weight: float = Field(
        0.3, ge=0, description="Weight of the shopper's profile in a search made for a known user."
    )
    app_catalog: Path | None = Field(
        None,
        description="A catalog for the app to ingest when it starts (in the background; unchanged items are skipped).",
    )
    app_host: str = Field(
        "127.0.0.1",
        description="Address the app listens on (`0.0.0.0` to be reached from other machines); "
        "GRADIO_SERVER_NAME when this is unset.",
    )
    app_port: int = Field(7860, ge=0, le=65535, description="Port of the app; GRADIO_SERVER_PORT when this is unset.")
    mcp_server: bool = Field(False, description="Also serve the shopping tools over MCP (at /gradio_api/mcp/).")
    require_token: bool | None = Field(
        None,
        description="Whether HTTP and MCP callers need a bearer token (`vlm4rec token create`) to act for a named "
        "shopper; without one they get a guest profile of their own. Unset: required when the app listens beyond "
        "loopback or runs in a Hugging Face Space.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names the app answers to (`*.example.com` allowed; `*` for any); other "
        "Host headers are refused (DNS rebinding). Empty: loopback names, this machine's names and addresses, "
        "and the Space's own host.",
    )
    hf_login: bool | None = Field(
        None,
        description='Show "Sign in with Hugging Face" on the page and keep a signed-in shopper\'s profile under '
        "their account; in a Hugging Face Space only. Unset: on in a Space with OAuth enabled (`hf_oauth: true`).",
    )
    max_upload_mb: int = Field(15, ge=1, description="Largest photo a shopper may upload, in MB.")
    max_image_pixels: int = Field(
        120_000_000,
        ge=1,
        description="Catalog photos with more pixels than this are refused (decompression-bomb guard), and so are "
        "those that would take more memory to decode than this many RGB pixels (4 bytes each; a WebP takes 16).",
    )
    max_upload_pixels: int = Field(
        40_000_000,
        ge=1,
        description="The same limit for photos from outside: uploads, chat-API and tool images, and photos to "
        "describe or search by. At most one decode over 64 MB runs at a time, whatever the limits.",
    )

    @field_serializer("ratings_url", when_used="json")
    def _ratings_url_without_password(self, value: str | None) -> str | None:
        return None if value is None else safe_url(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # first wins: arguments, VLM4REC_* variables, then Gradio's own
        return init_settings, env_settings, dotenv_settings, file_secret_settings, GradioServerVariables(settings_cls)

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        # Chroma names: 3-512 chars of [a-zA-Z0-9._-], starting and ending alphanumeric.
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,60}[A-Za-z0-9]", value):
            raise ValueError("use 3-62 letters, digits, '.', '_' or '-', starting and ending with a letter or digit")
        return value

    @property
    def tokens_required(self) -> bool:
        """``require_token`` in effect: when unset, on for an app reachable from other machines or in a Space."""
        if self.require_token is not None:
            return self.require_token
        return running_in_space() or not is_loopback(self.app_host)

    @property
    def hf_login_in_effect(self) -> bool:
        """``hf_login`` in effect: only in a Space (elsewhere Gradio's stand-in sign-in needs the hub)."""
        wanted = self.hf_login if self.hf_login is not None else bool(os.environ.get("OAUTH_CLIENT_ID"))
        return wanted and running_in_space()

    @property
    def models_path(self) -> Path:
        return (self.model_cache or self.home / "models").expanduser()

    @property
    def grounding_cache_path(self) -> Path:
        return self.home / "cache" / "grounding.sqlite"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def store_location(self) -> str:
        if self.chroma_host:
            scheme = "https" if self.chroma_ssl else "http"
            return f"{scheme}://{self.chroma_host}:{self.chroma_port}"
        return str(self.chroma_path)

    @property
    def lexical_path(self) -> Path:
        """The folder of the catalog's word index (derived data, rebuilt when missing)."""
        return self.home / "lexical" / self.collection

    @property
    def ratings_path(self) -> Path:
        return self.home / "ratings.sqlite"

    @property
    def ratings_database_url(self) -> str:
        """The ratings database in effect: ``ratings_url``, or the SQLite file under HOME."""
        return self.ratings_url or f"sqlite:///{self.ratings_path.as_posix()}"


class GradioServerVariables(PydanticBaseSettingsSource):
    """Gradio's own ``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` (Docker images and hosts such as
    Hugging Face Spaces set them) as the app's host and port, where ``VLM4REC_APP_*`` are unset."""

    FIELDS = {"app_host": "GRADIO_SERVER_NAME", "app_port": "GRADIO_SERVER_PORT"}

    def get_field_value(self, field: FieldInfo | None, field_name: str) -> tuple[Any, str, bool]:
        variable = self.FIELDS.get(field_name, "")
        return os.environ.get(variable) if variable else None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = {name: self.get_field_value(None, name)[0] for name in self.FIELDS}
        return {name: value for name, value in values.items() if value is not None}


def documented_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for docs and `vlm4rec settings`."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = "~/.vlm4rec" if name == "home" else field.default
        rows.append((ENV_PREFIX + name.upper(), "" if default is None else str(default), field.description or ""))
    return rows
