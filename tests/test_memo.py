from vlm4rec_agent.memo import Memo


def test_memo_computes_once_evicts_the_least_recent_and_expires_old_values():
    now = [0.0]
    memo = Memo(size=2, max_age_s=10, clock=lambda: now[0])
    calls = []

    def make(key):
        calls.append(key)
        return key.upper()

    assert memo.get("a", lambda: make("a")) == "A"
    assert memo.get("a", lambda: make("a")) == "A"
    memo.get("b", lambda: make("b"))
    memo.get("a", lambda: make("a"))  # "a" is now the most recent
    memo.get("c", lambda: make("c"))  # evicts "b"
    memo.get("b", lambda: make("b"))
    assert calls == ["a", "b", "c", "b"]
    now[0] = 11.0
    memo.get("b", lambda: make("b"))  # too old: recomputed
    assert calls[-1] == "b" and len(calls) == 5
    assert (memo.hits, memo.misses) == (2, 5)
