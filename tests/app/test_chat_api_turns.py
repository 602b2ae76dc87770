"""The chat API keeps one conversation per shopper: calls for one shopper take turns, others overlap."""

from __future__ import annotations

import threading
import time
from collections import Counter

from vlm4rec_agent.app.handlers import ShopApp
from vlm4rec_agent.assistant import Turn
from vlm4rec_agent.views import ResultView


class SlowRecordingAssistant:
    """Stands in for the assistant to isolate the API's locking: records who is inside at once."""

    description = "a recording assistant"

    def __init__(self):
        self.inside: Counter[int] = Counter()
        self.most_at_once: Counter[int] = Counter()
        self.total_at_once = 0
        self._lock = threading.Lock()

    def stream(self, conversation, text, photo=None):
        key = id(conversation)
        with self._lock:
            self.inside[key] += 1
            self.most_at_once[key] = max(self.most_at_once[key], self.inside[key])
            self.total_at_once = max(self.total_at_once, sum(self.inside.values()))
        time.sleep(0.05)
        conversation.results = [ResultView(rank=1, id=text, score=1.0, explanation="")]
        answer = conversation.results[0].id  # what a turn shows is what it put there
        with self._lock:
            self.inside[key] -= 1
        yield Turn(text=answer)


def test_one_shoppers_calls_take_turns_while_different_shoppers_overlap(engine, settings, tmp_path):
    assistant = SlowRecordingAssistant()
    app = ShopApp(engine, settings, assistant=assistant, upload_folder=tmp_path)
    answers: dict[tuple[str, int], str] = {}

    def call(user: str, n: int) -> None:
        answers[user, n] = app.chat_api(f"{user}-{n}", user).text

    threads = [threading.Thread(target=call, args=(user, n)) for user in ("ann", "bob", "cy") for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(answers[key] == f"{key[0]}-{key[1]}" for key in answers) and len(answers) == 12
    assert set(assistant.most_at_once.values()) == {1}, "two calls for one shopper ran at once"
    assert len(assistant.most_at_once) == 3  # one conversation per shopper, kept across calls
    assert assistant.total_at_once > 1, "different shoppers were serialised"
