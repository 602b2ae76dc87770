"""Grounding through any OpenAI-compatible chat completions server.

Hosted models and local servers alike: vLLM (``vllm serve MODEL``), Ollama, LM Studio, TGI.
Each image goes inline as a base64 JPEG data URL in one ``/chat/completions`` request; several
requests are in flight at once (``VLM4REC_OPENAI_CONCURRENCY``). Slow or overloaded servers are
retried with exponential backoff (``Retry-After`` is honoured); a refused key (401/403) or an
unknown model or URL (404) stops at once with what to set. Every input gets its outcome: when the
server fails for good part-way through a batch, the answers that did arrive are records and the
rest are failures (no new request is sent once one has failed for good), so the grounding cache
keeps those answers and a re-run does not send those images again.

Nothing is sent unless this grounder is chosen and its base URL is set.
"""

from __future__ import annotations

import base64
import io
import logging
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from .prompt import Prompt
from .protocol import GrounderUnavailable, GroundingFailure, GroundingInput, GroundingOutcome
from .vlm import VlmGrounder

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF = 30.0
JPEG_QUALITY = 90


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
        return {
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
        for attempt in range(self.max_retries + 1):
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
                    return self.record(text, time.perf_counter() - start)
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
            if attempt < self.max_retries:
                delay = self._wait(attempt, response)
                log.info("VLM server: %s; retrying in %.1f s", last, delay)
                time.sleep(delay)
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
