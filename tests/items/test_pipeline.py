"""From PUT to active: the image job as a partner sees it through GET, run a step at a
time as a worker would run it."""

import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from items import pipeline
from items.models import Item, ItemImage, StoredImage
from items.signals import channels_due
from tests.conftest import item_body
from tests.items.imagehost import ImageHost, jpeg_bytes, photo_bytes, png_bytes
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def host():
    h = ImageHost()
    yield h
    h.close()


@pytest.fixture
def photos(host):
    """Three different photos on the partner's image host."""
    return [
        host.serve(f"/parts/12345/{n}.jpg", jpeg_bytes(color=(40 * n, 10, 10))) for n in (1, 2, 3)
    ]


def push(api, committed, external_id="ERP_PART_12345", **fields):
    with committed():
        response = api.put(external_id, item_body(**fields))
    assert response.status_code == 202, response.content
    return response


def test_an_item_becomes_active_with_its_images_hosted_in_order(
    api_a, committed, worker, photos, host, client
):
    push(api_a, committed, imageUrls=photos)
    assert api_a.get("ERP_PART_12345").json()["rheoStatus"] == "draft"

    # Then Tradera's turn (autoPublishTradera): see tests/tradera/test_publishing.py.
    assert worker() == ["items.process_item", "tradera.follow_item", "tradera.publish_backlog"]

    body = api_a.get("ERP_PART_12345").json()
    assert body["rheoStatus"] == "active"
    assert body["issues"] == []
    assert [image["sourceUrl"] for image in body["images"]] == photos
    for image in body["images"]:
        assert image["url"].startswith("http://testserver/media/items/")
        assert (image["width"], image["height"]) == (1200, 800)
        stored = image["url"].removeprefix("http://testserver/media/")
        assert default_storage.exists(stored)
        served = client.get(image["url"].removeprefix("http://testserver"))
        assert (served.status_code, served["Content-Type"]) == (200, "image/jpeg")
    assert all(hits == 1 for hits in host.hits.values())


def test_identical_bytes_are_stored_once(api_a, api_b, committed, worker, host):
    same = jpeg_bytes()
    url_a = host.serve("/a.jpg", same)
    url_b = host.serve("/b.jpg", same)
    push(api_a, committed, imageUrls=[url_a])
    push(api_b, committed, imageUrls=[url_b, url_a])
    worker()
    assert StoredImage.objects.count() == 1
    urls = {i["url"] for i in api_b.get("ERP_PART_12345").json()["images"]}
    assert urls == {api_a.get("ERP_PART_12345").json()["images"][0]["url"]}


def test_an_update_downloads_only_new_urls_and_deletes_removed_images(
    api_a, committed, worker, photos, host
):
    push(api_a, committed, imageUrls=photos)
    worker()
    old = api_a.get("ERP_PART_12345").json()["images"]
    removed_file = old[2]["url"].removeprefix("http://testserver/media/")

    fourth = host.serve("/parts/12345/4.jpg", png_bytes())
    push(api_a, committed, imageUrls=[photos[1], photos[0], fourth])
    worker()

    body = api_a.get("ERP_PART_12345").json()
    assert [i["sourceUrl"] for i in body["images"]] == [photos[1], photos[0], fourth]
    # Positions 0 and 1 changed URL, so they are fetched again; the bytes are known.
    assert host.hits["/parts/12345/3.jpg"] == 1
    assert host.hits["/parts/12345/4.jpg"] == 1
    assert not default_storage.exists(removed_file)
    assert StoredImage.objects.count() == 3
    assert body["rheoStatus"] == "active"


def test_urls_that_fail_for_good_are_reported_and_one_good_image_is_enough(
    api_a, committed, worker, photos, host
):
    missing = host.url("/parts/gone.jpg")
    not_an_image = host.serve("/parts/page.html", b"<html></html>", **{"Content-Type": "text/html"})
    push(api_a, committed, imageUrls=[missing, photos[0], not_an_image])
    worker()
    body = api_a.get("ERP_PART_12345").json()
    assert body["rheoStatus"] == "active"
    assert [i["sourceUrl"] for i in body["images"]] == [photos[0]]
    assert body["issues"] == [
        {
            "code": "image_download_failed",
            "message": "The image host answered HTTP 404.",
            "field": "imageUrls[0]",
        },
        {
            "code": "image_invalid",
            "message": "Not an image Rheo can read (UnidentifiedImageError).",
            "field": "imageUrls[2]",
        },
    ]
    assert host.hits["/parts/gone.jpg"] == 1  # a 404 is not retried


def test_a_broken_jpeg_is_refused_and_nothing_of_it_is_hosted(
    api_a, committed, worker, photos, host, media
):
    whole = photo_bytes()
    broken = host.serve("/parts/broken.jpg", whole[: len(whole) // 2])
    push(api_a, committed, imageUrls=[broken, photos[0]])
    worker()
    body = api_a.get("ERP_PART_12345").json()
    assert [i["sourceUrl"] for i in body["images"]] == [photos[0]]
    assert [(i["code"], i["field"]) for i in body["issues"]] == [("image_invalid", "imageUrls[0]")]
    assert StoredImage.objects.count() == 1
    assert len([f for f in media.rglob("*") if f.is_file()]) == 2  # one full, one thumbnail


def test_transient_failures_are_retried_three_times_then_the_item_fails(
    api_a, committed, worker, host, clock, partner_a
):
    flaky = host.serve("/flaky.jpg", b"busy", status=503)
    push(api_a, committed, imageUrls=[flaky])
    worker()
    for wait in (1, 2, 4):  # exponential backoff from 1 s
        item = Item.objects.get()
        assert item.status == "draft"
        due_in = (item.processing_due_at - timezone.now()).total_seconds()
        assert wait - 0.5 < due_in <= wait, (wait, due_in)
        clock.shift(timedelta(seconds=wait + 0.1))
        worker()
    assert host.hits["/flaky.jpg"] == 4
    body = api_a.get("ERP_PART_12345").json()
    assert body["rheoStatus"] == "draft"
    assert body["issues"][0]["code"] == "image_download_failed"
    assert Item.objects.get().processing_due_at is None

    [event] = Event.objects.filter(event_type="listing.failed")
    payload = json.loads(event.body)
    assert payload["data"]["externalId"] == "ERP_PART_12345"
    assert payload["data"]["error"]["code"] == "image_download_failed"
    assert "imageUrls[0]" in payload["data"]["error"]["message"]


def test_a_transient_failure_that_recovers_makes_the_item_active(
    api_a, committed, worker, host, clock
):
    url = host.serve("/once.jpg", lambda hit: (503, b"busy") if hit == 1 else (200, jpeg_bytes()))
    push(api_a, committed, imageUrls=[url])
    worker()
    assert api_a.get("ERP_PART_12345").json()["rheoStatus"] == "draft"
    clock.shift(timedelta(seconds=1.1))
    worker()
    body = api_a.get("ERP_PART_12345").json()
    assert (body["rheoStatus"], body["issues"], host.hits["/once.jpg"]) == ("active", [], 2)


def test_a_duplicate_nudge_does_nothing(api_a, committed, worker, photos, host):
    push(api_a, committed, imageUrls=photos[:1])
    item = Item.objects.get()
    pipeline.process_item(item_id=item.pk)
    pipeline.process_item(item_id=item.pk)
    worker()  # and the original message, late
    assert host.hits == {"/parts/12345/1.jpg": 1}
    assert ItemImage.objects.count() == 1


def test_the_sweeper_finishes_an_item_whose_message_was_lost(
    api_a, committed, worker, photos, broker_messages, clock
):
    push(api_a, committed, imageUrls=photos[:1])
    assert len(broker_messages("images")) == 1  # lost
    assert worker.sweep_items() == 0  # just nudged; not taken as lost yet
    clock.shift(pipeline.nudge_grace() + timedelta(seconds=1))
    assert worker.sweep_items() == 1
    worker()
    assert api_a.get("ERP_PART_12345").json()["rheoStatus"] == "active"
    assert worker.sweep_items() == 0


def test_an_unchanged_put_leaves_an_active_item_alone(api_a, committed, worker, photos, host):
    push(api_a, committed, imageUrls=photos[:1])
    worker()
    push(api_a, committed, imageUrls=photos[:1])
    push(api_a, committed, imageUrls=photos[:1], price=800)  # not the images
    assert worker() == ["tradera.follow_item"]  # the new price, for a running auction
    assert host.hits == {"/parts/12345/1.jpg": 1}


def test_every_change_tradera_must_follow_is_written_with_it_and_announced_after_commit(
    api_a, committed, worker, photos
):
    heard = []

    def listener(sender, item_id, **kwargs):
        heard.append(item_id)
        # The hand-off was committed with the change: the signal is only a nudge.
        assert Item.objects.get(pk=item_id).channels_due_at is not None

    channels_due.connect(listener)
    try:
        push(api_a, committed, imageUrls=photos[:1])
        worker()
        with committed():
            api_a.patch_price("ERP_PART_12345", {"price": 800})
            api_a.patch_price("ERP_PART_12345", {"price": 800})  # no change, no news
            api_a.patch_status("ERP_PART_12345", {"status": "not_listed"})
            api_a.delete("ERP_PART_12345")
        with committed():
            api_a.patch_price("ERP_PART_12345", {"price": 1})  # refused: nothing to hear
    finally:
        channels_due.disconnect(listener)
    item = Item.objects.get()
    # Activated, priced, de-listed, deleted: four changes, four nudges.
    assert heard == [item.pk] * 4
    assert (item.status, item.price, item.deleted_at is not None) == ("not_listed", 800, True)


def test_ai_enhancement_writes_the_texts_the_marketplace_shows(api_a, committed, worker, photos):
    push(
        api_a, committed, imageUrls=photos[:1], title="BROMSOK FRAM VÄNSTER", useAiEnhancement=True
    )
    worker()
    body = api_a.get("ERP_PART_12345").json()
    assert body["title"] == "BROMSOK FRAM VÄNSTER"  # the partner's, kept
    assert body["enhancedTitle"] == "Volvo bromsok fram vänster XC90 2018 OE 31400452"
    assert "Skick B: bra skick" in body["enhancedDescription"]

    push(api_a, committed, imageUrls=photos[:1], title="BROMSOK BAK HÖGER", useAiEnhancement=True)
    worker()
    assert api_a.get("ERP_PART_12345").json()["enhancedTitle"].startswith("Volvo bromsok bak höger")


def test_a_put_during_the_job_is_not_lost(api_a, committed, worker, photos, host):
    push(api_a, committed, imageUrls=photos[:1])
    item = Item.objects.get()
    # The job has claimed the item and is downloading when the partner changes the images.
    Item.objects.filter(pk=item.pk).update(
        processing_locked_until=timezone.now() + pipeline.lease()
    )
    push(api_a, committed, imageUrls=photos[1:2])
    Item.objects.filter(pk=item.pk).update(processing_locked_until=None)
    worker()
    body = api_a.get("ERP_PART_12345").json()
    assert [i["sourceUrl"] for i in body["images"]] == photos[1:2]
