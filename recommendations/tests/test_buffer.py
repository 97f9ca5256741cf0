"""The interaction log's write buffer: rows wait in Redis and reach PostgreSQL in one INSERT per flush; nothing is
lost when Redis or the database is down or a flusher dies half-way, a row PostgreSQL refuses is dropped alone,
and readers (clicks, forget-me) see the rows still waiting. Committed data (``transactional_db``): the flush's
own transaction is the path production takes."""

import numpy as np
import pytest
import redis
from django.db import OperationalError, transaction

from catalog.tests.factories import ProductFactory
from conftest import wait_for
from recommendations.models import Action, Shown
from recommendations.services import (
    FlushIncomplete,
    ShownList,
    action_record,
    buffer,
    log_flush,
    shown_record,
    signals_forget,
)

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "effnet-lite1-avg-240"


def _similar(product, *, visitor="v-1", shown_ids=()):
    return shown_record(visitor=visitor, shown=ShownList(
        kind="similar", product_ids=list(shown_ids), source_product_id=product.id, top_similarity=0.123456,
        close_match=True, filters={"category": "kitchen"}))


def _redis_down(monkeypatch):
    monkeypatch.setattr(buffer, "_client", redis.Redis(unix_socket_path="/nonexistent/redis.sock"))


def test_a_list_waits_in_redis_with_its_id_until_a_flush_writes_it_whole():
    teapot, cup = ProductFactory(), ProductFactory()
    vector = np.linspace(-1, 1, 1280, dtype=np.float32)
    vector /= np.linalg.norm(vector)

    row = shown_record(visitor="v-1", shown=ShownList(
        kind="photo", product_ids=[cup.id, teapot.id], model_key=KEY, top_similarity=0.51234, close_match=False,
        query_text="red\x00", query_vector=vector, vector_key=KEY, filters={"sort": "price\x00"}))

    # the request got an id for its links, and nothing was written yet
    assert row.id is not None and not Shown.objects.exists() and buffer.log_waiting() == 1

    assert log_flush() == 1

    stored = Shown.objects.get()
    assert stored.id == row.id and buffer.log_waiting() == 0
    assert (stored.visitor, stored.kind, stored.product_ids, stored.model_key, stored.top_similarity,
            stored.close_match, stored.query_text, stored.filters, stored.vector_key) == (
        "v-1", "photo", [cup.id, teapot.id], KEY, 0.5123, False, "red", {"sort": "price"}, KEY)
    assert stored.created_at == row.created_at
    assert np.allclose(np.asarray(stored.query_vector, dtype=np.float32), vector, atol=1e-3)
    assert log_flush() == 0  # nothing left


def test_ids_given_out_before_the_flush_never_clash_with_rows_written_directly(settings):
    product = ProductFactory()
    waiting = _similar(product)
    settings.RECOMMENDATIONS_LOG_BUFFER = False
    direct = _similar(product)

    # and turning the buffer off does not strand what was queued before
    assert log_flush() == 1
    assert waiting.id != direct.id
    assert sorted(Shown.objects.values_list("id", flat=True)) == sorted([waiting.id, direct.id])


def test_with_redis_down_the_list_is_written_at_once(monkeypatch):
    product = ProductFactory()
    _redis_down(monkeypatch)

    row = _similar(product)

    assert Shown.objects.get().id == row.id
    assert log_flush() == 0  # a flush with Redis down fails nothing
    with pytest.raises(FlushIncomplete):
        log_flush(strict=True)


def test_a_flush_the_database_cannot_take_keeps_every_row_for_the_next_one(monkeypatch):
    product = ProductFactory()
    rows = [_similar(product), _similar(product, visitor="v-2")]

    def away(*, rows, alias):
        raise OperationalError("the database is restarting")

    with monkeypatch.context() as patched:
        patched.setattr(buffer, "shown_rows_insert", away)
        assert log_flush() == 0
        with pytest.raises(FlushIncomplete):
            log_flush(strict=True)
    assert not Shown.objects.exists() and buffer.log_waiting() == 2

    assert log_flush() == 2
    assert sorted(Shown.objects.values_list("id", flat=True)) == sorted(r.id for r in rows)


def test_a_row_the_database_refuses_is_dropped_alone_and_the_queue_moves_on():
    product = ProductFactory()
    good = _similar(product)
    # a row no page makes any more (shown_record strips NULs), as an older version could have queued it
    poisoned = Shown(id=buffer.shown_id_next(), visitor="v-1", kind="text", query_text="a\x00b")
    assert buffer.shown_buffer(row=poisoned)
    later = _similar(product, visitor="v-2")

    assert log_flush() == 2

    assert sorted(Shown.objects.values_list("id", flat=True)) == sorted([good.id, later.id])
    assert buffer.log_waiting() == 0


def test_rows_a_dead_flusher_had_written_are_written_once(monkeypatch):
    product = ProductFactory()
    rows = [_similar(product) for _ in range(3)]

    # the flusher commits its rows and dies before it can take them off the queue
    def dies(*args, **kwargs):
        raise redis.ConnectionError("killed")

    with monkeypatch.context() as patched:
        patched.setattr(redis.Redis, "ltrim", dies)
        assert log_flush() == 3
    assert Shown.objects.count() == 3 and buffer.log_waiting() == 3

    # the next flush finds them written: no duplicate, the queue empty
    log_flush()
    assert sorted(Shown.objects.values_list("id", flat=True)) == sorted(r.id for r in rows)
    assert buffer.log_waiting() == 0


def test_inside_a_callers_transaction_the_rows_stay_queued_until_a_flush_outside_one():
    product = ProductFactory()
    row = _similar(product)

    with pytest.raises(RuntimeError), transaction.atomic():
        assert log_flush() == 1 and Shown.objects.filter(id=row.id).exists()
        raise RuntimeError("the caller rolls back")

    # the rolled-back INSERT lost nothing: the row is still queued
    assert not Shown.objects.exists() and buffer.log_waiting() == 1
    assert log_flush() == 1
    assert list(Shown.objects.values_list("id", flat=True)) == [row.id] and buffer.log_waiting() == 0


def test_a_waiting_list_of_a_product_deleted_meanwhile_is_dropped_and_the_others_written():
    kept_product, deleted_product = ProductFactory(), ProductFactory()
    kept = _similar(kept_product)
    _similar(deleted_product)
    deleted_product.delete()

    assert log_flush() == 1
    assert list(Shown.objects.values_list("id", flat=True)) == [kept.id]


def test_a_click_on_a_list_still_waiting_is_attributed_and_a_stranger_causes_no_flush():
    teapot, cup = ProductFactory(), ProductFactory()
    shown = _similar(teapot, shown_ids=[cup.id, teapot.id])

    # another visitor's click on the list (a shared link) records nothing and flushes nothing
    assert action_record(visitor="v-2", shown_id=shown.id, product_id=teapot.id, kind="open") is None
    assert buffer.log_waiting() == 1 and not Shown.objects.exists()

    action = action_record(visitor="v-1", shown_id=shown.id, product_id=teapot.id, kind="open")

    assert (action.shown_id, action.rank) == (shown.id, 2)
    assert Shown.objects.get().id == shown.id
    assert Action.objects.count() == 1


def test_forget_me_deletes_the_rows_still_waiting_too():
    product = ProductFactory()
    _similar(product)
    others = _similar(product, visitor="someone-else")

    assert signals_forget(visitor="v-1") == 1

    assert list(Shown.objects.values_list("id", flat=True)) == [others.id]
    assert buffer.log_waiting() == 0


def test_forget_me_that_cannot_reach_the_waiting_rows_deletes_nothing_and_says_so(client, monkeypatch):
    product = ProductFactory()
    client.get("/")  # a session
    session = client.session
    session["visitor"] = "v-1"
    session.save()
    written = _similar(product)
    log_flush()
    _similar(product)  # still waiting when Redis goes away
    _redis_down(monkeypatch)

    with pytest.raises(FlushIncomplete):
        signals_forget(visitor="v-1")
    response = client.post("/privacy/forget/")

    assert response.status_code == 503
    assert list(Shown.objects.values_list("id", flat=True)) == [written.id]
    assert client.session["visitor"] == "v-1"


def test_past_the_threshold_a_worker_is_asked_to_flush_once_per_that_many_rows(settings, monkeypatch):
    settings.RECOMMENDATIONS_LOG_BUFFER_ROWS = 3
    sent = []
    monkeypatch.setattr(buffer.current_app, "send_task", lambda name, *a, **kw: sent.append(name))
    product = ProductFactory()

    for _ in range(7):
        _similar(product)

    assert sent == ["recommendations.tasks.signals_flush_task"] * 2
    assert buffer.log_waiting() == 7


def test_each_database_has_its_own_queue(settings):
    queue, lock = buffer._keys()
    name = settings.DATABASES["default"]["NAME"]
    assert queue == f"recommendations:log:{name}:shown" and lock == f"recommendations:log:{name}:flush"


def test_the_flush_task_runs_on_the_real_worker(celery_worker):
    from recommendations.tasks import signals_flush_task

    product = ProductFactory()
    rows = [_similar(product) for _ in range(3)]

    signals_flush_task.delay()

    wait_for(lambda: Shown.objects.count() == 3, timeout=30, what="the worker to flush the log")
    assert sorted(Shown.objects.values_list("id", flat=True)) == sorted(r.id for r in rows)
    wait_for(lambda: buffer.log_waiting() == 0, timeout=10, what="the queue to empty")
