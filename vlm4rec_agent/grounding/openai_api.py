"""Grounding through any OpenAI-compatible chat completions server.

Hosted models and local servers alike: vLLM (``vllm serve MODEL``), Ollama, LM Studio, TGI.
Each image goes inline as a base64 JPEG data URL in one ``/chat/completions`` request; several
requests are in flight at once (``VLM4REC_OPENAI_CONCURRENCY``). Slow or overloaded servers are
retried with exponential backoff (``Retry-After`` is honoured); a refused key (401/403) or an
unknown model or URL (404) stops at once with what to set. When the server fails for good part-way
through a batch, the answers that did arrive ride on the error (:class:`VlmError`'s ``answered``),
so the grounding cache keeps them and a re-run does not send those images again.

Nothing is sent unless this grounder is chosen and its base URL is set.
"""

from __future__ import annotations

import base64
import io
import logging
import random
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from .prompt import Prompt
from .protocol import GroundingInput, PartialGrounding
from .schema import GroundingRecord
from .vlm import GrounderUnavailable, GroundingFailed, ItemNotGrounded, VlmError, VlmGrounder

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF = 30.0
JPEG_QUALITY = 90


def image_data_url(image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _message_text(data: dict) -> str:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ItemNotGrounded(f"the server's answer has no choices[0].message.content: {str(data)[:200]}") from None
    if isinstance(content, list):  # some servers answer in parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _cancel(futures: Sequence[Future]) -> None:
    for future in futures:
        future.cancel()


def _answered(futures: Sequence[Future]) -> dict[int, GroundingRecord]:
    """The answers that did arrive, by position, from a batch that failed part-way."""
    return {
        i: future.result()
        for i, future in enumerate(futures)
        if future.done() and not future.cancelled() and future.exception() is None
    }


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

    def _ask(self, item: GroundingInput) -> GroundingRecord:
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
                        data = response.json()
                    except ValueError:
                        raise ItemNotGrounded(
                            f"the server answered with something that is not JSON: {response.text[:200]}"
                        ) from None
                    return self.record(_message_text(data), time.perf_counter() - start)
                if status in (401, 403):
                    raise GrounderUnavailable(
                        f"the VLM server at {self.url} refused the request ({status}: {response.text[:200]})",
                        "set VLM4REC_OPENAI_API_KEY to a key it accepts",
                    )
                if status == 404:
                    raise GrounderUnavailable(
                        f"the VLM server at {self.url} has no such model or endpoint (404: {response.text[:200]})",
                        "check that VLM4REC_OPENAI_BASE_URL ends in /v1 and that VLM4REC_VLM_MODEL is a model it serves",
                    )
                if status not in RETRY_STATUS:
                    raise ItemNotGrounded(f"the VLM server refused this image ({status}: {response.text[:200]})")
                last = f"HTTP {status}"
            if attempt < self.max_retries:
                delay = self._wait(attempt, response)
                log.info("VLM server: %s; retrying in %.1f s", last, delay)
                time.sleep(delay)
        raise GroundingFailed(
            f"the VLM server at {self.url} did not answer after {self.max_retries + 1} tries ({last})",
            "check the server, or raise VLM4REC_OPENAI_TIMEOUT / lower VLM4REC_OPENAI_CONCURRENCY; "
            "items already stored are kept, so run the ingest again",
        )

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingRecord]:
        if not inputs:
            return []
        records: list[GroundingRecord | None] = [None] * len(inputs)
        reasons: dict[int, str] = {}
        failure: VlmError | None = None
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(inputs)))) as pool:
            futures = [pool.submit(self._ask, item) for item in inputs]
            try:
                for i, future in enumerate(futures):
                    try:
                        records[i] = future.result()
                    except ItemNotGrounded as error:
                        reasons[i] = str(error)
            except VlmError as error:  # the server is unusable: stop sending, keep what it answered
                _cancel(futures)
                failure = error
            except BaseException:
                _cancel(futures)
                raise
        if failure is not None:  # the requests in flight have finished by now
            failure.answered = _answered(futures)
            raise failure
        if reasons:
            raise PartialGrounding(records, reasons)
        return records  # type: ignore[return-value]

    def close(self) -> None:
        self._client.close()
