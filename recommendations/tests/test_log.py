"""The interaction log: what the shop's pages record, what they never record, attribution, forget-me, retention."""

from datetime import timedelta

import numpy as np
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from conftest import demo_asset_bytes
from recommendations.models import Action, Shown
from recommendations.services import ShownList, log_flush, shown_record, signals_purge
from shop.accounts.services import signals_link_set
from visualsearch.tests.fixtures import query_copy

CUSTOMER = {
    "full_name": "Ada Lovelace", "email": "ada@example.org", "address": "12 Analytical Row",
    "postcode": "10115", "city": "Berlin", "country": "Germany", "payment": "cod",
}
SHOPPER_IP = "203.0.113.77"


def _photo_search(client, asset="1f45f.webp"):
    photo = query_copy(demo_asset_bytes(asset))
    upload = SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg")
    location = client.post("/search/photo/", {"image": upload}, REMOTE_ADDR=SHOPPER_IP)["Location"]
    return client.get(location, REMOTE_ADDR=SHOPPER_IP), photo


def test_a_photo_search_logs_what_it_showed_without_the_photo_or_the_ip(client, catalogue):
    # when a shopper searches by photo
    response, photo = _photo_search(client)
    # then one list is logged (once the buffer is flushed): the products in the order shown, the key, the close
    # flag and the query vector
    assert log_flush() == 1
    shown = Shown.objects.get()
    results = response.context["results"]
    assert shown.kind == "photo" and shown.channel == "page"
    assert shown.product_ids == [m.product.id for m in results]
    assert shown.model_key == shown.vector_key == "effnet-lite1-avg-240"
    assert shown.close_match is results[0].close
    assert shown.top_similarity == round(results[0].similarity, 4)
    assert len(shown.query_vector) == 1280
    assert shown.account_id is None
    assert len(shown.visitor) == 16 and shown.visitor == client.session["visitor"]
    # and nothing else about the shopper: no field for an address or a browser, no photo bytes, no IP anywhere
    assert {f.name for f in Shown._meta.fields} == {
        "id", "visitor", "account", "kind", "channel", "model_key", "product_ids", "top_similarity",
        "close_match", "filters", "query_text", "source_product", "query_vector", "vector_key", "created_at",
    }
    values = " ".join(str(v) for v in model_to_dict(shown).values())
    assert SHOPPER_IP not in values
    assert not any(isinstance(v, (bytes, memoryview)) for v in model_to_dict(shown).values())
    # and the result links carry the list's id
    assert f'href="{results[0].product.get_absolute_url()}?shown={shown.id}"' in response.content.decode()


def test_open_cart_and_purchase_are_attributed_to_the_search_that_led_there(client, catalogue):
    response, _ = _photo_search(client)
    log_flush()
    shown = Shown.objects.get(kind="photo")
    second = response.context["results"][1].product
    # when the shopper opens the second result, puts it in the cart and buys it
    client.get(second.get_absolute_url() + f"?shown={shown.id}")
    client.post("/cart/add/", {"product": second.id, "quantity": 1})
    client.post("/checkout/", CUSTOMER)
    # then the photo search gets all three, at rank 2 (the product page's similar items are a list of their own)
    actions = list(Action.objects.filter(shown=shown).order_by("id").values_list("kind", "product_id", "rank"))
    assert actions == [("open", second.id, 2), ("cart", second.id, 2), ("buy", second.id, 2)]
    log_flush()
    assert Shown.objects.filter(kind="similar", source_product=second).count() == 1


def test_a_link_from_someone_elses_search_records_nothing(client, catalogue):
    # given another visitor's search
    other = shown_record(visitor="someone-else", shown=ShownList(kind="text", product_ids=[catalogue["Teapot"].id]))
    # when this shopper opens the product with that list's id (a shared link)
    client.get(catalogue["Teapot"].get_absolute_url() + f"?shown={other.id}")
    # or with a list id that is not a number
    client.get(catalogue["Teapot"].get_absolute_url() + "?shown=drop%20table")
    # then no action is recorded
    assert Action.objects.count() == 0


def test_a_text_search_logs_its_words_and_the_page_it_showed(client, catalogue):
    response = client.get("/search/", {"q": "teapot"})
    log_flush()
    shown = Shown.objects.get()
    assert shown.kind == "text"
    assert shown.query_text == "teapot"
    assert shown.product_ids == [p.id for p in response.context["page"]]
    assert shown.product_ids[0] == catalogue["Teapot"].id
    assert shown.close_match is True and shown.filters == {"page": "1"}
    assert shown.query_vector is None


def test_the_account_is_linked_only_when_the_customer_agreed(client, catalogue):
    customer = User.objects.create_user(username="ada@example.org", email="ada@example.org", password="x-9-long-pw")
    client.force_login(customer)
    client.get("/search/", {"q": "teapot"})
    signals_link_set(customer=customer, linked=True)
    client.get("/search/", {"q": "guitar"})
    log_flush()
    assert list(Shown.objects.order_by("id").values_list("query_text", "account_id")) == [
        ("teapot", None), ("guitar", customer.id)]
    # withdrawing the agreement unlinks, it does not delete
    client.post("/account/search-history/", {"linked": "0"})
    assert list(Shown.objects.order_by("id").values_list("account_id", flat=True)) == [None, None]


def test_forget_me_deletes_this_shoppers_rows_only(client, catalogue):
    client.get("/search/", {"q": "teapot"})
    log_flush()
    client.get(catalogue["Teapot"].get_absolute_url() + f"?shown={Shown.objects.get().id}")
    other = shown_record(visitor="someone-else", shown=ShownList(kind="text", product_ids=[catalogue["Guitar"].id]))
    log_flush()
    mine = set(Shown.objects.exclude(id=other.id).values_list("id", flat=True))
    assert len(mine) == 2 and Action.objects.count() == 1  # the search and the product page's similar items

    response = client.post("/privacy/forget/", follow=True)

    assert "2 searches deleted" in response.content.decode()
    assert list(Shown.objects.values_list("id", flat=True)) == [other.id]
    assert Action.objects.count() == 0
    assert "visitor" not in client.session and "viewed_products" not in client.session


def test_purge_clears_old_vectors_and_deletes_old_rows(db, settings):
    product = ProductFactory()
    now = timezone.now()
    vector = np.ones(1280, np.float32) / np.sqrt(1280)

    def logged(days_ago: int) -> Shown:
        row = shown_record(visitor=f"v{days_ago}", shown=ShownList(
            kind="photo", product_ids=[product.id], query_vector=vector, vector_key="effnet-lite1-avg-240"))
        log_flush()
        Shown.objects.filter(id=row.id).update(created_at=now - timedelta(days=days_ago))
        return row

    recent, month_old, year_old = logged(3), logged(31), logged(366)

    result = signals_purge(now=now)

    assert (result.vectors_cleared, result.lists_deleted) == (2, 1)
    kept = {row.id: row for row in Shown.objects.all()}
    assert set(kept) == {recent.id, month_old.id}
    assert kept[recent.id].query_vector is not None and kept[recent.id].vector_key == "effnet-lite1-avg-240"
    assert kept[month_old.id].query_vector is None and kept[month_old.id].vector_key == ""
    assert year_old.id not in kept
    # and a second run finds nothing more to do
    assert signals_purge(now=now) == type(result)(vectors_cleared=0, lists_deleted=0)


def test_the_log_switched_off_records_nothing_and_the_page_still_works(client, catalogue, settings):
    settings.RECOMMENDATIONS_LOG = False
    response = client.get("/search/", {"q": "teapot"})
    assert response.status_code == 200
    assert log_flush() == 0 and Shown.objects.count() == 0
    assert "?shown=" not in response.content.decode()


def test_the_privacy_page_says_what_is_kept_in_both_languages(client, db):
    english = client.get("/privacy/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    chinese = client.get("/privacy/").content.decode()

    assert "They are deleted after 30 days." in english and "Everything else is deleted after 365 days." in english
    assert "这些数值在 30 天后删除。" in chinese and "删除我的搜索记录" in chinese
