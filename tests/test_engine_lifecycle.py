"""The engine owns its work: parts built once each under their own locks, closed with the engine,
background ingests stopped, writes never cut short, and the cheap paths kept cheap."""

from __future__ import annotations

import threading
import time

import pytest

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import EngineClosed
from vlm4rec_agent.store import ChromaCatalogIndex

from .conftest import SMALL_CATALOG


class SlowGrounder:
    """The real basic grounder, slowed down, counting the inputs it grounds."""

    def __init__(self, inner, seconds: float):
        self.inner, self.seconds, self.grounded = inner, seconds, 0
        self.name, self.model_id, self.prompt_version = inner.name, inner.model_id, inner.prompt_version

    def ground(self, inputs):
        time.sleep(self.seconds)
        self.grounded += len(inputs)
        return self.inner.ground(inputs)

    def lookup(self, keys):
        return {}

    def close(self):
        pass


def test_a_closed_engine_refuses_work_and_closing_twice_is_harmless(settings, encoder, grounder, small_catalog):
    with Engine(settings, encoder=encoder, grounder=grounder) as engine:
        engine.ingest(small_catalog)
        client = engine.client
        assert engine.search("red dress", k=1)[0].item.id == "red-dress"
    assert engine.closed and client._closed  # the Chroma client it opened is released
    with pytest.raises(EngineClosed, match="engine is closed"):
        engine.search("red dress")
    with pytest.raises(EngineClosed):
        engine.like("ann", "red-dress")
    engine.close()
    with Engine(settings, encoder=encoder, grounder=grounder) as again:  # what it stored is all there
        assert again.stats().items == len(SMALL_CATALOG)


def test_close_waits_for_a_write_in_progress_and_admits_no_other(loaded_engine, encoder, grounder):
    ratings = loaded_engine.ratings
    entered, release = threading.Event(), threading.Event()
    real_rate = ratings.rate

    def slow_rate(*args):
        entered.set()
        release.wait(10)
        real_rate(*args)

    ratings.rate = slow_rate
    outcome = []

    def like():
        try:
            outcome.append(loaded_engine.like("ann", "red-dress"))
        except EngineClosed as error:  # admitted before close(): written, but the profile is not read back
            outcome.append(error)

    liking = threading.Thread(target=like)
    liking.start()
    assert entered.wait(10)
    closing = threading.Thread(target=loaded_engine.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive()  # it waits for the like being written
    release.set()
    liking.join(10)
    closing.join(10)
    assert not closing.is_alive() and loaded_engine.closed
    with pytest.raises(EngineClosed):
        loaded_engine.like("ann", "oak-table")
    assert len(outcome) == 1
    with Engine(loaded_engine.settings, encoder=encoder, grounder=grounder) as again:
        assert again.ratings.profile("ann").liked == ["red-dress"]  # the write in progress was finished


def test_closing_stops_a_background_ingest_which_keeps_what_it_stored(settings, encoder, grounder, tmp_path, draw):
    from .conftest import write_small_catalog

    folder = tmp_path / "big"
    catalog = write_small_catalog(folder)
    rows = catalog.read_text().splitlines()
    for n in range(150):  # 160 items, grounded 16 at a time, 0.3 s a batch: about 3 s in all
        draw(folder / "images" / f"extra-{n}.jpg", (n % 255, 80, 160))
        rows.append(f'{{"id": "extra-{n}", "title": "Extra {n}", "image": "images/extra-{n}.jpg"}}')
    catalog.write_text("\n".join(rows) + "\n")
    slow = SlowGrounder(grounder, 0.3)
    engine = Engine(settings, encoder=encoder, grounder=slow)
    job = engine.start_ingest(catalog)
    while job.done < 64 and job.running:
        time.sleep(0.05)
    engine.close(wait_s=5)
    assert not job.running and job.error is None
    assert job.report is not None and job.report.cancelled and slow.grounded < 160
    with Engine(settings, encoder=encoder, grounder=grounder) as again:
        stored = again.stats().items
        assert 64 <= stored < 160 and stored == job.report.added
        report = again.ingest(catalog)  # the next ingest goes on from there
        assert report.unchanged == stored and report.added == 160 - stored


def test_a_slow_model_load_holds_up_nothing_that_does_not_need_it(loaded_engine, monkeypatch):
    import vlm4rec_agent.engine as engine_module

    settings, grounder = loaded_engine.settings, loaded_engine.grounder
    loading, release = threading.Event(), threading.Event()
    real_encoder = loaded_engine.encoder

    def slow_load(settings):
        loading.set()
        release.wait(20)
        return real_encoder

    monkeypatch.setattr(engine_module, "make_encoder", slow_load)
    engine = Engine(settings, grounder=grounder)  # builds its own encoder, slowly
    searching = threading.Thread(target=engine.search, args=("red dress",))
    searching.start()
    assert loading.wait(10)
    liked = []
    liking = threading.Thread(target=lambda: liked.append(engine.like("ann", "red-dress")))
    liking.start()
    liking.join(10)
    assert liked and [i.id for i in liked[0].liked] == ["red-dress"]  # while the encoder is still loading
    assert searching.is_alive()
    release.set()
    searching.join(20)
    engine.close()


def test_the_status_line_reads_no_ratings_and_counts_items_at_most_every_few_seconds(loaded_engine, monkeypatch):
    class NoRatings:
        def __getattr__(self, name):
            raise AssertionError(f"the status line read ratings ({name})")

    engine = Engine(loaded_engine.settings, encoder=loaded_engine.encoder, grounder=loaded_engine.grounder,
                    ratings=NoRatings())  # fmt: skip
    assert engine.catalog.count() == 10  # opened (its word index checked against it once)
    counts = []
    real_count = ChromaCatalogIndex.count
    monkeypatch.setattr(ChromaCatalogIndex, "count", lambda self: counts.append(1) or real_count(self))
    assert [engine.item_count() for _ in range(50)] == [10] * 50
    assert len(counts) == 1
    for _ in range(30):  # searches rely on the check made when the catalog was opened
        engine.search("red dress", k=1)
    assert len(counts) == 1
