"""Grounding through any OpenAI-compatible chat completions server.

Hosted models and local servers alike: vLLM (``vllm serve MODEL``), Ollama, LM Studio, TGI.
Each image goes inline as a base64 JPEG data URL in one ``/chat/completions`` request; several
requests are in flight at once (``VLM4REC_OPENAI_CONCURRENCY``). Slow or overloaded servers are
retried with exponential backoff (``Retry-After`` is honoured); a refused key (401/403) or an
unknown model or URL (404) stops at once with what to set. Every input gets its outcome: when the
server fails for good part-way through a batch, the answers that did arrive are records and the
rest are failures (no new request is sent once one has failed for good), so the grounding cache
keeps those answers and a re-run does not send those images again.

Each request also asks for the answer as JSON that follows the schema of the attributes
(``response_format`` ``json_schema``, see :mod:`.output_schema`; ``VLM4REC_OPENAI_JSON_SCHEMA``
turns it off). A server that does not take it (an old vLLM, TGI, a model without structured
outputs) answers 400 or 422 naming ``response_format``: that request is sent again at once
without it, and so is every later one of this grounder, after one warning. The answers are read
by the same parser either way; records made without the schema say so in their evidence and
carry the bare prompt version.

Nothing is sent unless this grounder is chosen and its base URL is set.
"""

from __future__ import annotations

import base64
import io
import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from . import output_schema
from .prompt import Prompt
from .protocol import GrounderUnavailable, GroundingFailure, GroundingInput, GroundingOutcome
from .schema import GroundingRecord
from .vlm import VlmGrounder

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF = 30.0
JPEG_QUALITY = 90
# What a server says when it does not take response_format (old vLLM: "Input should be 'text' or
# 'json_object'" at response_format.type; TGI 422: "unknown variant `json_schema`"; OpenAI:
# "'response_format' of type 'json_schema' is not supported with this model").
SCHEMA_REFUSAL_STATUS = {400, 422}
_SCHEMA_WORDS = ("response_format", "response format", "json_schema", "json schema", "structured output")
_UNSUPPORTED_WORDS = ("not supported", "unsupported")


def image_data_url(image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _message_text(data: dict) -> str | GroundingFailure:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return GroundingFailure(f"the server's answer has no choices[0].message.content: {str(data)[:200]}")
    if isinstance(content, list):  # some servers answer in parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def refuses_schema(status: int, body: str) -> bool:
    """True when a server's answer says it does not take ``response_format``: a 400 or 422 that
    names it, or says that a schema or format is not supported. Another 400 (a refused image) is
    not this, and is not sent again."""
    if status not in SCHEMA_REFUSAL_STATUS:
        return False
    text = body.lower()
    if any(word in text for word in _SCHEMA_WORDS):
        return True
    return any(word in text for word in _UNSUPPORTED_WORDS) and ("schema" in text or "guided" in text)


class OpenAIGrounder(VlmGrounder):
    name = "openai"

    def __init__(
        self,
        base_url: str | None,
        model: str | None,
        prompt: Prompt,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 4,
        max_new_tokens: int = 384,
        backoff: float = 0.5,
        json_schema: bool = True,
        transport: httpx.BaseTransport | None = None,
    ):
        if not base_url:
            raise GrounderUnavailable(
                "the openai grounder has no server to send images to",
                "set VLM4REC_OPENAI_BASE_URL, e.g. http://localhost:8000/v1 for `vllm serve` or https://api.openai.com/v1",
            )
        if not model:
            raise GrounderUnavailable(
                "the openai grounder needs a model name",
                "set VLM4REC_VLM_MODEL (or --model) to a model the server serves",
            )
        super().__init__(model, prompt)
        # With the schema, the prompt version names it too: a cached answer made without it (an
        # earlier run, the setting off) is not taken for one made with it, nor the other way round.
        self.response_format = output_schema.response_format() if json_schema else None
        if json_schema:
            self.prompt_version = f"{prompt.version}+{output_schema.schema_version()}"
        self.schema_refused = False  # set once the server has said it does not take response_format
        self._refusal_lock = threading.Lock()
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.max_new_tokens = max_new_tokens
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )

    def _payload(self, item: GroundingInput) -> dict:
        payload = {
            "model": self.model_id,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": self.prompt.render(item.text)},
                        {"type": "image_url", "image_url": {"url": image_data_url(item.image)}},
                    ],
                }
            ],
            "max_tokens": self.max_new_tokens,
            "temperature": 0,
        }
        if self.response_format is not None and not self.schema_refused:
            payload["response_format"] = self.response_format
        return payload

    def _schema_was_refused(self, response: httpx.Response) -> None:
        """Remember that the server does not take ``response_format``; say so once."""
        with self._refusal_lock:
            if self.schema_refused:
                return
            self.schema_refused = True
        log.warning(
            "the VLM server at %s does not take response_format json_schema (%s: %s); sending the requests "
            "without it, answers are read as before (VLM4REC_OPENAI_JSON_SCHEMA=false stops asking)",
            self.url,
            response.status_code,
            " ".join(response.text.split())[:200],
        )

    def _record(self, text: str, seconds: float, with_schema: bool) -> GroundingRecord:
        record = self.record(text, seconds)
        if self.response_format is not None and not with_schema:
            record.prompt_version = self.prompt.version  # what produced it: the prompt alone
            record.evidence["response_format"] = "refused by the server; the answer was not held to the schema"
        return record

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.backoff * (2**attempt) * (1 + 0.1 * random.random())
        if response is not None:
            try:
                delay = max(delay, float(response.headers.get("retry-after", 0)))
            except ValueError:
                pass
        return min(delay, MAX_BACKOFF)

    def _ask(self, item: GroundingInput) -> GroundingOutcome:
        payload = self._payload(item)
        last = "no answer"
        attempt = 0
        while True:
            response = None
            start = time.perf_counter()
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.TimeoutException:
                last = f"no answer within {self._client.timeout.read:g} s"
            except httpx.TransportError as error:
                last = f"cannot connect ({error})"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        text = _message_text(response.json())
                    except ValueError:
                        return GroundingFailure(
                            f"the server answered with something that is not JSON: {response.text[:200]}"
                        )
                    if isinstance(text, GroundingFailure):
                        return text
                    return self._record(text, time.perf_counter() - start, "response_format" in payload)
                if "response_format" in payload and refuses_schema(status, response.text):
                    self._schema_was_refused(response)
                    payload = {k: v for k, v in payload.items() if k != "response_format"}
                    continue  # the same request at once, without the schema; not counted as a retry
                if status in (401, 403):
                    return GroundingFailure(
                        f"the VLM server at {self.url} refused the request ({status}: {response.text[:200]})",
                        "set VLM4REC_OPENAI_API_KEY to a key it accepts",
                        kind="unusable",
                    )
                if status == 404:
                    return GroundingFailure(
                        f"the VLM server at {self.url} has no such model or endpoint (404: {response.text[:200]})",
                        "check that VLM4REC_OPENAI_BASE_URL ends in /v1 and that VLM4REC_VLM_MODEL is a model it serves",
                        kind="unusable",
                    )
                if status not in RETRY_STATUS:
                    return GroundingFailure(f"the VLM server refused this image ({status}: {response.text[:200]})")
                last = f"HTTP {status}"
            if attempt >= self.max_retries:
                break
            delay = self._wait(attempt, response)
            log.info("VLM server: %s; retrying in %.1f s", last, delay)
            time.sleep(delay)
            attempt += 1
        return GroundingFailure(
            f"the VLM server at {self.url} did not answer after {self.max_retries + 1} tries ({last})",
            "check the server, or raise VLM4REC_OPENAI_TIMEOUT / lower VLM4REC_OPENAI_CONCURRENCY; "
            "items already stored are kept, so run the ingest again",
            kind="unanswered",
        )

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]:
        if not inputs:
            return []
        stopped: list[GroundingFailure] = []  # the failure that stopped this batch, once there is one

        def ask(item: GroundingInput) -> GroundingOutcome:
            if stopped:  # the server is unusable or gone: send nothing more, say why
                return stopped[0]
            outcome = self._ask(item)
            if isinstance(outcome, GroundingFailure) and outcome.stops:
                stopped.append(outcome)
            return outcome

        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(inputs)))) as pool:
            try:
                return list(pool.map(ask, inputs))  # requests in flight finish; their answers are kept
            except BaseException:
                stopped.append(GroundingFailure("grounding was interrupted", kind="unanswered"))
                raise

    def close(self) -> None:
        self._client.close()
