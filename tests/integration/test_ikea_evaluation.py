"""The evaluation protocol on the real IKEA rooms (text representations: no image work).

Reads ../shared/data (skipped with the reason where it is absent). Checks that the figures are
where docs/evaluation.md says, far above chance, and that the default scorer's gain over the
paper's mean profile is significant on the rooms kept back from tuning.
"""

from __future__ import annotations

import pytest

from vlm4rec_agent.evaluation.runner import Evaluation, Protocol
from vlm4rec_agent.evaluation.stats import paired

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def rooms(shared_data, encoder, tmp_path_factory):
    def open_part(part: str) -> Evaluation:
        return Evaluation.open(
            items=shared_data / "ikea" / "items.jsonl",
            groups=shared_data / "ikea" / "rooms.jsonl",
            encoder=encoder,
            protocol=Protocol(part=part),
            cache_folder=tmp_path_factory.getbasetemp() / "eval-cache",
        )

    return open_part


def test_every_development_room_with_four_items_is_a_user(rooms):
    session = rooms("all")
    assert len(session.users) == 225 and len(session.split_sets()[0]) == 212
    assert len(rooms("tune").users) + len(rooms("check").users) == 225


def test_text_profiles_beat_chance_many_times_over(rooms):
    run = rooms("all").holdout("title", "mean").summary()
    chance = 10 / 2187 * 1.0  # a random top 10 of 2,187 items finds about 0.5% of what is held out
    assert 0.05 < run["recall@10"] < 0.11, run
    assert run["recall@10_ci95"][0] > 8 * chance
    assert run["ndcg@10"] < run["recall@10"] <= run["hit@10"]


def test_softmax_beats_the_mean_profile_on_rooms_kept_back_from_tuning(rooms):
    session = rooms("check")
    mean, soft = session.holdout("text", "mean"), session.holdout("text", "softmax:0.2")
    comparison = paired(soft.per_user["recall@10"], mean.per_user["recall@10"])
    assert comparison.significant and comparison.difference.mean > 0
    assert comparison.relative.mean >= 0.20, comparison
