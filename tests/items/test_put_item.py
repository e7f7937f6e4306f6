import uuid

import pytest

from integration.serializers import ItemInputSerializer
from items.models import Item
from tests.conftest import integration, item_body

CREATED = "Item is being processed in the background."


def test_put_creates_item_and_returns_202_with_its_id(api_a):
    response = api_a.put("ERP_PART_12345")

    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert body["message"] == CREATED
    uuid.UUID(body["itemId"])
    item = Item.objects.get(id=body["itemId"])
    assert item.status == "draft"
    assert item.title == "Volvo XC90 bromsok fram vänster — 2018"
    assert item.price == 950 and item.shipping_cost == 149 and str(item.weight_kg) == "3.200"
    assert item.currency == "SEK"
    assert item.domain["conditionGrade"] == "B"
    assert item.auto_publish_tradera is True and item.use_ai_enhancement is False


def test_second_put_of_same_id_updates_not_duplicates(api_a):
    first = api_a.put("ERP_PART_12345").json()
    second = api_a.put("ERP_PART_12345", item_body(price=1100, title="Bromsok")).json()

    assert second["itemId"] == first["itemId"]
    assert second["message"] == "Item updated; changes are being processed in the background."
    assert Item.objects.count() == 1
    assert api_a.get("ERP_PART_12345").json()["price"] == 1100


def test_put_of_unchanged_content_changes_and_enqueues_nothing(
    api_a, django_capture_on_commit_callbacks
):
    api_a.put("ERP_PART_12345")
    before = Item.objects.get()

    with django_capture_on_commit_callbacks() as callbacks:
        response = api_a.put("ERP_PART_12345")

    assert response.status_code == 202
    assert response.json()["message"] == "Item is unchanged; there is nothing to process."
    assert callbacks == []
    assert Item.objects.get().updated_at == before.updated_at


def test_create_enqueues_the_image_job_on_the_images_queue(
    api_a, broker_messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        item_id = api_a.put("ERP_PART_12345").json()["itemId"]

    assert broker_messages("images") == [("items.process_item", [item_id])]


def test_update_enqueues_the_image_job_only_when_images_change(
    api_a, broker_messages, django_capture_on_commit_callbacks
):
    api_a.put("ERP_PART_12345")

    with django_capture_on_commit_callbacks(execute=True):
        api_a.put("ERP_PART_12345", item_body(price=800))
    assert broker_messages("images") == []

    with django_capture_on_commit_callbacks(execute=True):
        api_a.put("ERP_PART_12345", item_body(imageUrls=["https://cdn.example.com/new.jpg"]))
    assert [task for task, _ in broker_messages("images")] == ["items.process_item"]


def test_nothing_is_enqueued_when_the_put_fails(api_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_a.put("ERP_PART_12345", item_body(price=0))

    assert response.status_code == 400
    assert callbacks == []
    assert Item.objects.count() == 0


def test_auto_publish_tradera_counts_only_on_create(api_a):
    api_a.put("P1", item_body(autoPublishTradera=False))
    api_a.put("P1", item_body(autoPublishTradera=True, price=990))

    assert Item.objects.get(external_id="P1").auto_publish_tradera is False


def test_auto_publish_tradera_and_ai_enhancement_default_to_false(api_a):
    api_a.put("P1", item_body(autoPublishTradera=None))

    item = Item.objects.get(external_id="P1")
    assert item.auto_publish_tradera is False and item.use_ai_enhancement is False


def test_minimal_item_is_accepted(api_a):
    body = {
        "title": "Startmotor",
        "price": 1,
        "shippingCost": 0,
        "imageUrls": ["https://cdn.example.com/1.jpg"],
    }
    assert api_a.put("P1", body).status_code == 202
    item = Item.objects.get()
    assert item.description == "" and item.weight_kg is None and item.domain is None


@pytest.mark.parametrize("alias", ["images", "image_urls"])
def test_image_url_aliases_are_accepted(api_a, alias):
    urls = ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"]
    response = api_a.put("P1", item_body(imageUrls=None, **{alias: urls}))

    assert response.status_code == 202
    assert Item.objects.get().image_urls == urls


def test_two_image_url_aliases_at_once_are_refused_naming_both(api_a):
    response = api_a.put("P1", item_body(images=["https://cdn.example.com/a.jpg"]))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"imageUrls", "images"}
    assert "aliases" in error["fields"]["images"][0]


def test_put_to_an_external_id_of_255_characters_works_and_256_is_refused(api_a):
    assert api_a.put("x" * 255).status_code == 202

    response = api_a.put("x" * 256)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["external_id"]


def test_every_bad_field_is_named_in_one_response(api_a):
    body = {
        "title": "",
        "price": 0,
        "shippingCost": -1,
        "imageUrls": [f"https://cdn.example.com/{i}.jpg" for i in range(11)],
        "domain": {"domain": "automotive_part", "conditionGrade": "Q"},
    }
    response = api_a.put("P1", body)

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"title", "price", "shippingCost", "imageUrls", "domain.conditionGrade"}


@pytest.mark.parametrize(
    ("overrides", "field", "message_part"),
    [
        ({"title": None}, "title", "required"),
        ({"price": None}, "price", "required"),
        ({"shippingCost": None}, "shippingCost", "required"),
        ({"imageUrls": None}, "imageUrls", "required"),
        ({"title": "x" * 256}, "title", "255"),
        ({"title": "   "}, "title", "blank"),
        ({"title": "Bromsok \ud800 fram"}, "title", "Surrogate characters are not allowed: U+D800"),
        ({"description": "Skick \udfff B"}, "description", "U+DFFF"),
        ({"title": None, "description": 5}, "description", "string"),
        ({"price": 0}, "price", "greater than or equal to 1"),
        ({"price": 0.5}, "price", "greater than or equal to 1"),
        ({"price": "950"}, "price", "number"),
        ({"price": True}, "price", "number"),
        ({"price": 9.999}, "price", "decimal places"),
        ({"shippingCost": -1}, "shippingCost", "greater than or equal to 0"),
        ({"shippingCost": "149"}, "shippingCost", "number"),
        ({"weightKg": "3.2"}, "weightKg", "number"),
        ({"weightKg": -1}, "weightKg", "greater than or equal to 0"),
        ({"currency": "EUR"}, "currency", "Only SEK"),
        ({"currency": 752}, "currency", "string"),
        ({"imageUrls": []}, "imageUrls", "at least one"),
        ({"imageUrls": "https://cdn.example.com/1.jpg"}, "imageUrls", "list"),
        ({"imageUrls": [f"https://c.example.com/{i}.jpg" for i in range(11)]}, "imageUrls", "10"),
        ({"imageUrls": ["https://cdn.example.com/1.jpg", 7]}, "imageUrls[1]", "string"),
        ({"imageUrls": ["ftp://cdn.example.com/1.jpg"]}, "imageUrls[0]", "https"),
        ({"imageUrls": ["not a url"]}, "imageUrls[0]", "https"),
        ({"imageUrls": ["https://user:pw@cdn.example.com/1.jpg"]}, "imageUrls[0]", "credentials"),
        ({"imageUrls": ["https://169.254.169.254/latest"]}, "imageUrls[0]", "link-local"),
        ({"autoPublishTradera": "true"}, "autoPublishTradera", "true or false"),
        ({"useAiEnhancement": 1}, "useAiEnhancement", "true or false"),
        ({"domain": "automotive_part"}, "domain", "dictionary"),
        ({"domain": {}}, "domain.domain", "required"),
        ({"domain": {"domain": "boat_part"}}, "domain.domain", "Unknown domain"),
        (
            {"domain": {"domain": "automotive_part", "donorVehicleYear": 1850}},
            "domain.donorVehicleYear",
            "1900",
        ),
        (
            {"domain": {"domain": "automotive_part", "donorVehicleYear": 3000}},
            "domain.donorVehicleYear",
            "less than or equal",
        ),
        (
            {"domain": {"domain": "automotive_part", "donorVehicleYear": "2018"}},
            "domain.donorVehicleYear",
            "integer",
        ),
        (
            {"domain": {"domain": "automotive_part", "conditionGrade": "F"}},
            "domain.conditionGrade",
            "Unknown grade",
        ),
        (
            {"domain": {"domain": "automotive_part", "compatibleModels": "XC90"}},
            "domain.compatibleModels",
            "list",
        ),
        (
            {"domain": {"domain": "automotive_part", "compatibleModels": ["XC90", 60]}},
            "domain.compatibleModels[1]",
            "string",
        ),
        (
            {"domain": {"domain": "automotive_part", "oemCode": 31400452}},
            "domain.oemCode",
            "string",
        ),
    ],
)
def test_invalid_field_is_refused_by_name(api_a, overrides, field, message_part):
    response = api_a.put("P1", item_body(**overrides))

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert message_part.lower() in " ".join(error["fields"][field]).lower()
    assert Item.objects.count() == 0


def test_body_that_is_not_an_object_is_refused(api_a):
    response = api_a.put("P1", [item_body()])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "dictionary" in response.json()["error"]["message"]


def test_unknown_fields_are_ignored(api_a):
    assert api_a.put("P1", item_body(color="red")).status_code == 202


def test_malformed_json_is_400_in_the_error_format(api_a):
    response = api_a.put("P1", '{"title": "Bromsok",')

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_json"
    assert error["requestId"] == response["X-Request-Id"]


def test_nan_is_not_json(api_a):
    response = api_a.put("P1", '{"title": "x", "price": NaN}')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_non_json_content_type_is_415(api_a):
    response = api_a.put("P1", "title=Bromsok", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_body_over_one_megabyte_is_413(api_a):
    body = item_body(description="x" * (1024 * 1024))
    response = api_a.put("P1", body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert Item.objects.count() == 0


def test_body_just_under_the_limit_is_accepted(api_a):
    import json

    padding = 1024 * 1024 - len(json.dumps(item_body(description=""))) - 10
    assert api_a.put("P1", item_body(description="x" * padding)).status_code == 202


class TestImageUrlPolicy:
    def test_http_and_private_hosts_are_refused_in_production(self, api_a, settings):
        settings.RHEO_ALLOW_LOCAL_URLS = False
        for url in (
            "http://cdn.example.com/1.jpg",
            "https://127.0.0.1/1.jpg",
            "https://10.0.0.8/1.jpg",
            "https://192.168.1.2/1.jpg",
            "https://[::1]/1.jpg",
            "https://localhost/1.jpg",
        ):
            response = api_a.put("P1", item_body(imageUrls=[url]))
            assert response.status_code == 400, url
            assert "imageUrls[0]" in response.json()["error"]["fields"]

    def test_local_urls_are_allowed_when_the_setting_is_on(self, api_a, settings):
        settings.RHEO_ALLOW_LOCAL_URLS = True
        urls = ["http://127.0.0.1:9000/1.jpg", "http://localhost/2.jpg", "http://10.0.0.8/3.jpg"]
        assert api_a.put("P1", item_body(imageUrls=urls)).status_code == 202

    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/1.jpg",
            "http://100.100.100.200/1.jpg",
            "http://0.0.0.0/1.jpg",
            "http://[::ffff:169.254.169.254]/1.jpg",
        ],
    )
    def test_link_local_and_metadata_addresses_are_refused_even_then(self, api_a, settings, url):
        settings.RHEO_ALLOW_LOCAL_URLS = True
        response = api_a.put("P1", item_body(imageUrls=[url]))
        assert response.status_code == 400
        assert "imageUrls[0]" in response.json()["error"]["fields"]


NUMERIC_HOST = (
    "is not a valid host: write an IPv4 address as four decimal numbers (a.b.c.d), an IPv6 "
    "address in brackets, or use a host name."
)
MAPPED = "is an IPv4-mapped IPv6 address; write an IPv4 address as a.b.c.d."


@pytest.mark.parametrize("allow_local", [True, False])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://2852039166/a.jpg", f"2852039166 {NUMERIC_HOST}"),  # 169.254.169.254
        ("http://0xa9fea9fe/a.jpg", f"0xa9fea9fe {NUMERIC_HOST}"),
        ("http://0251.0376.0251.0376/a.jpg", f"0251.0376.0251.0376 {NUMERIC_HOST}"),
        ("http://127.1/a.jpg", f"127.1 {NUMERIC_HOST}"),
        ("http://10.1/a.jpg", f"10.1 {NUMERIC_HOST}"),
        ("http://[::ffff:169.254.169.254]/a.jpg", f"::ffff:169.254.169.254 {MAPPED}"),
        ("http://[::ffff:a9fe:a9fe]/a.jpg", f"::ffff:a9fe:a9fe {MAPPED}"),
    ],
)
def test_ipv4_written_other_than_as_a_dotted_quad_is_refused_at_put_time(
    api_a, settings, allow_local, url, message
):
    settings.RHEO_ALLOW_LOCAL_URLS = allow_local
    https = url.replace("http://", "https://")  # without local URLs only https passes
    response = api_a.put("P1", item_body(imageUrls=["https://cdn.example.com/1.jpg", https]))

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"imageUrls[1]": [message]}
    assert not Item.objects.exists()


def test_host_names_that_only_start_with_digits_are_names(api_a):
    urls = ["https://123.example.com/1.jpg", "https://0x10.example.com/2.jpg"]
    assert api_a.put("P1", item_body(imageUrls=urls)).status_code == 202


def test_deeply_nested_json_is_400_not_a_crash(api_a):
    response = api_a.put("P1", "[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_one_requests_errors_never_carry_over_to_the_next(api_a):
    first = api_a.put("P1", item_body(price=0, domain={"domain": "boat_part"}))
    assert set(first.json()["error"]["fields"]) == {"price", "domain.domain"}

    assert api_a.put("P2").status_code == 202

    third = api_a.put("P3", item_body(title=None, imageUrls=["https://cdn.example.com/1", 7]))
    assert set(third.json()["error"]["fields"]) == {"title", "imageUrls[1]"}
    assert Item.objects.get().external_id == "P2"


def test_no_serializer_field_is_shared_between_requests():
    first, second = ItemInputSerializer(), ItemInputSerializer()

    assert first.fields["title"] is not second.fields["title"]
    assert first.fields["domain"] is not second.fields["domain"]
    assert first.fields["imageUrls"].child is not second.fields["imageUrls"].child


def test_a_create_outside_any_transaction_commits_then_publishes_its_image_job(
    transactional_db, partner_a, broker_messages
):
    """Outside a test's transaction, as in production: the create commits on its own and
    its job reaches the broker right after."""
    api = integration(partner_a)

    item_id = api.put("ERP_PART_12345").json()["itemId"]

    assert broker_messages("images") == [("items.process_item", [item_id])]
    assert Item.objects.filter(id=item_id).exists()
    assert api.put("ERP_PART_12345").json()["message"].startswith("Item is unchanged")
    assert broker_messages("images") == []
