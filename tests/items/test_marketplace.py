"""The public marketplace as a buyer sees it: which parts are listed, search and filters,
pages, and a part's page with its hosted images."""

import pytest
from django.db import connection
from django.test import Client

from items import selectors
from items.models import Item
from partners import subscriptions
from partners.models import Partner
from tests.conftest import item_body, needs_postgres
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.items.market import listed, order_placed, titles

pytestmark = pytest.mark.django_db


def part(oem="31400452", manufacturer="Volvo", models=("XC90",), grade="B", year=2018):
    return {
        "domain": "automotive_part",
        "oemCode": oem,
        "manufacturer": manufacturer,
        "compatibleModels": list(models),
        "donorVehicleYear": year,
        "conditionGrade": grade,
    }


def front_page(client, **query) -> str:
    response = client.get("/", query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


class TestWhatIsListed:
    def test_only_active_live_items_are_listed(self, client, api_a, partner_a):
        listed(partner_a, "ACTIVE", title="Bromsok aktiv")
        api_a.put("DRAFT", item_body(title="Bromsok utkast"))
        listed(partner_a, "DELISTED", title="Bromsok avlistad")
        api_a.patch_status("DELISTED", {"status": "not_listed"})
        listed(partner_a, "SOLD", title="Bromsok såld")
        api_a.patch_status("SOLD", {"status": "sold"})
        listed(partner_a, "DELETED", title="Bromsok raderad")
        api_a.delete("DELETED")
        listed(partner_a, "ARCHIVED", title="Bromsok arkiverad")
        order_placed(Item.objects.get(external_id="ARCHIVED"))
        api_a.delete("ARCHIVED")
        listed(partner_a, "TEST", livemode=False, title="Bromsok testläge")

        assert titles(front_page(client)) == ["Bromsok aktiv"]

    def test_a_test_item_has_no_page(self, client, partner_a):
        item = listed(partner_a, "TEST", livemode=False)

        response = client.get(f"/parts/{item.id}/")

        assert response.status_code == 404
        assert "Sidan finns inte" in response.content.decode()

    @pytest.mark.parametrize("status", ["not_listed", "sold"])
    def test_a_part_no_longer_for_sale_has_no_page(self, client, api_a, status, partner_a):
        item = listed(partner_a)
        api_a.patch_status("P1", {"status": status})

        assert client.get(f"/parts/{item.id}/").status_code == 404

    def test_a_draft_or_unknown_part_has_no_page(self, client, api_a):
        draft_id = api_a.put("P1").json()["itemId"]

        assert client.get(f"/parts/{draft_id}/").status_code == 404
        assert client.get("/parts/00000000-0000-0000-0000-000000000000/").status_code == 404
        assert client.get("/parts/not-a-uuid/").status_code == 404

    def test_a_disabled_partners_parts_are_not_for_sale(self, client, partner_a, partner_b):
        item = listed(partner_a, title="Från Recopart")
        listed(partner_b, title="Från Bildelar Norr")
        Partner.objects.filter(pk=partner_a.pk).update(is_active=False)

        assert titles(front_page(client)) == ["Från Bildelar Norr"]
        assert client.get(f"/parts/{item.id}/").status_code == 404

    def test_newest_listed_first(self, client, partner_a):
        for n in range(3):
            listed(partner_a, f"P{n}", title=f"Del {n}")

        assert titles(front_page(client)) == ["Del 2", "Del 1", "Del 0"]

    def test_the_enhanced_title_is_the_one_shown(self, client, partner_a):
        item = listed(partner_a, title="bromsok xc90")
        Item.objects.filter(pk=item.pk).update(enhanced_title="Bromsok fram vänster, Volvo XC90")

        assert titles(front_page(client)) == ["Bromsok fram vänster, Volvo XC90"]

    def test_the_page_takes_the_same_few_queries_however_many_parts(
        self, client, django_assert_num_queries, partner_a
    ):
        for n in range(30):
            listed(partner_a, f"P{n}")

        with django_assert_num_queries(3):  # the count, the page, its images
            front_page(client)


class TestSearch:
    @pytest.fixture
    def shop(self, partner_a, partner_b):
        listed(
            partner_a,
            "CALIPER",
            title="Bromsok fram vänster",
            price=950,
            domain=part("31400452", "Volvo", ["XC90", "XC60"], "B"),
        )
        listed(
            partner_a,
            "LAMP",
            title="Strålkastare höger",
            price=2400,
            domain=part("8K0-941-030", "Audi", ["A4"], "A"),
        )
        listed(
            partner_b,
            "MIRROR",
            title="Backspegel vänster",
            price=300,
            domain=part("1K0857507", "Volkswagen", ["Golf", "Jetta"], "D"),
        )
        listed(partner_b, "NOPART", title="Fälgar 17 tum", price=1500, domain=None)

    @pytest.mark.parametrize(
        ("query", "found"),
        [
            ("31400452", ["Bromsok fram vänster"]),  # OEM code
            ("8K0-941-030", ["Strålkastare höger"]),  # OEM code as written
            ("8k0941030", ["Strålkastare höger"]),  # ... and without its dashes
            ("volkswagen", ["Backspegel vänster"]),  # manufacturer, any case
            ("XC60", ["Bromsok fram vänster"]),  # a compatible model
            ("golf", ["Backspegel vänster"]),
            ("STRÅLKASTARE", ["Strålkastare höger"]),  # title, Swedish letters in any case
            ("vänster volvo", ["Bromsok fram vänster"]),  # every word must match
            ("fälgar", ["Fälgar 17 tum"]),
            ("saab", []),
        ],
    )
    def test_search_by_oem_code_manufacturer_model_or_title(self, client, shop, query, found):
        page = front_page(client, q=query)

        assert sorted(titles(page)) == sorted(found)
        if not found:
            assert "Inga delar matchar din sökning" in page

    def test_filter_by_condition_grade(self, client, shop):
        assert titles(front_page(client, grade="A")) == ["Strålkastare höger"]
        assert titles(front_page(client, grade="D")) == ["Backspegel vänster"]
        assert titles(front_page(client, grade="C")) == []

    def test_filter_by_price_range(self, client, shop):
        assert sorted(titles(front_page(client, min_price=900, max_price=1500))) == [
            "Bromsok fram vänster",
            "Fälgar 17 tum",
        ]
        assert titles(front_page(client, min_price=2000)) == ["Strålkastare höger"]
        assert titles(front_page(client, max_price=300)) == ["Backspegel vänster"]

    def test_search_and_filters_combine(self, client, shop):
        assert titles(front_page(client, q="vänster", grade="B", max_price=1000)) == [
            "Bromsok fram vänster"
        ]

    def test_sort_by_price(self, client, shop):
        assert titles(front_page(client, sort="price_asc")) == [
            "Backspegel vänster",
            "Bromsok fram vänster",
            "Fälgar 17 tum",
            "Strålkastare höger",
        ]

    def test_a_wrong_filter_is_explained_and_the_rest_still_applies(self, client, shop):
        page = front_page(client, q="vänster", min_price=2000, max_price=100, grade="Q")

        assert "Pris till måste vara minst lika högt som pris från." in page
        assert "Skick: Välj ett giltigt alternativ." in page
        # What was valid still applies: "vänster" from 2,000 kr finds nothing; without the
        # wrong maximum and grade, the price floor alone finds the lamp.
        assert titles(page) == []
        assert titles(front_page(client, min_price=2000, max_price=100)) == ["Strålkastare höger"]

    def test_the_search_is_kept_in_the_form(self, client, shop):
        page = front_page(client, q="volvo xc90", grade="B")

        assert 'value="volvo xc90"' in page
        assert '<option value="B" selected>' in page

    def test_search_text_follows_the_partners_changes(self, client, api_a, partner_a):
        listed(partner_a, "P1", title="Bromsok", domain=part(manufacturer="Volvo"))

        api_a.put(
            "P1",
            item_body(autoPublishTradera=False, title="Bromsok", domain=part(manufacturer="Saab")),
        )

        assert titles(front_page(client, q="volvo")) == []
        assert len(titles(front_page(client, q="saab"))) == 1


class TestPages:
    def test_pages_of_24_keep_the_search(self, client, partner_a):
        for n in range(30):
            listed(partner_a, f"P{n}", title=f"Bromsok {n:02d}")
        listed(partner_a, "OTHER", title="Backspegel")

        first = front_page(client, q="bromsok")
        second = front_page(client, q="bromsok", page=2)

        assert len(titles(first)) == 24
        assert "30 delar" in first
        assert 'href="?q=bromsok&amp;page=2"' in first
        assert titles(second) == [f"Bromsok {n:02d}" for n in range(5, -1, -1)]
        assert 'href="?q=bromsok&amp;page=1"' in second
        # A page past the end shows the last one.
        assert titles(front_page(client, q="bromsok", page=99)) == titles(second)


class TestItemPage:
    @pytest.fixture
    def host(self, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path / "media"
        h = ImageHost()
        yield h
        h.close()

    def test_the_item_page_shows_the_part_and_its_hosted_images(
        self, client, api_a, committed, worker, host
    ):
        photos = [host.serve(f"/{n}.jpg", jpeg_bytes(color=(60 * n, 10, 10))) for n in (1, 2)]
        with committed():
            body = item_body(
                imageUrls=photos,
                autoPublishTradera=False,
                description="Testad och fungerande.\nSkick B.",
                price=950.5,
                domain=part("31400452", "Volvo", ["XC90", "XC60"], "B", 2018),
            )
            item_id = api_a.put("ERP_PART_12345", body).json()["itemId"]
        worker()
        hosted = api_a.get("ERP_PART_12345").json()["images"]

        response = client.get(f"/parts/{item_id}/")

        page = response.content.decode()
        assert response.status_code == 200
        assert "<h1>Volvo XC90 bromsok fram vänster — 2018</h1>" in page
        assert "Testad och fungerande.<br>Skick B." in page
        assert "950,50\N{NO-BREAK SPACE}kr" in page
        assert "Frakt 149\N{NO-BREAK SPACE}kr · 3,2\N{NO-BREAK SPACE}kg" in page
        assert "1\N{NARROW NO-BREAK SPACE}099,50\N{NO-BREAK SPACE}kr" in page  # with shipping
        assert "Gott skick: normalt slitage för åldern, fullt fungerande" in page
        assert "<code>31400452</code>" in page
        assert "XC90, XC60" in page
        assert "<dd>2018</dd>" in page
        assert "<dd>Recopart AB</dd>" in page
        # The images the Integration API reports, served by Rheo, in the partner's order.
        for image in hosted:
            path = image["url"].removeprefix("http://testserver")
            assert f'href="{path}"' in page
            assert image["thumbnailUrl"].removeprefix("http://testserver") in page
            served = client.get(path)
            assert served.status_code == 200
            assert served["Content-Type"] == "image/jpeg"
        assert page.index(hosted[0]["url"].removeprefix("http://testserver")) < page.index(
            hosted[1]["url"].removeprefix("http://testserver")
        )
        assert 'class="market-main-image"' in page
        assert f'width="{hosted[0]["width"]}" height="{hosted[0]["height"]}"' in page

    def test_the_enhanced_text_is_the_one_shown(self, client, partner_a):
        item = listed(partner_a, title="bromsok", description="funkar")
        Item.objects.filter(pk=item.pk).update(
            enhanced_title="Bromsok fram vänster", enhanced_description="Testad och fungerande."
        )

        page = client.get(f"/parts/{item.id}/").content.decode()

        assert "<h1>Bromsok fram vänster</h1>" in page
        assert "Testad och fungerande." in page
        assert "funkar" not in page

    def test_a_part_without_domain_facts_still_reads_well(self, client, partner_a):
        item = listed(partner_a, title="Fälgar", description="", domain=None)

        page = client.get(f"/parts/{item.id}/").content.decode()

        assert "<h1>Fälgar</h1>" in page
        assert "OE-nummer" not in page
        assert "Skick" not in page

    def test_the_item_page_offers_the_order_form(self, client, partner_a):
        item = listed(partner_a)

        page = client.get(f"/parts/{item.id}/").content.decode()

        assert f'action="/parts/{item.id}/order/"' in page
        assert 'name="csrfmiddlewaretoken"' in page
        for field in ("name", "email", "phone", "address_line1", "postal_code", "city"):
            assert f'name="{field}"' in page


@needs_postgres
def test_search_is_served_by_the_trigram_index_on_postgres(partner_a):
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    wanted = listed(partner_a, title="Bromsok fram vänster")
    # 20,000 other listed parts, copied from it in one statement: enough for PostgreSQL's
    # planner to prefer the index to reading the table.
    columns = [f.column for f in Item._meta.concrete_fields]
    made = {"id": "gen_random_uuid()", "external_id": "'X' || n", "search_text": "'spegel ' || n"}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO items_item ({', '.join(columns)}) "  # noqa: S608 - our own names
            f"SELECT {', '.join(made.get(c, c) for c in columns)} "
            "FROM items_item, generate_series(1, 20000) AS n WHERE id = %s",
            [wanted.pk],
        )
        cursor.execute("ANALYZE items_item")
    search = selectors.search_marketplace(selectors.MarketSearch(text="bromsok"))

    assert "item_search_trgm" in search[:24].explain()
    assert list(search) == [wanted]


def test_the_marketplace_does_not_shadow_the_other_roots(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/integration/v1/items/P1").status_code == 401
    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/api-keys").status_code == 401


def test_every_page_is_plain_html_that_needs_no_javascript(client, partner_a):
    item = listed(partner_a)

    for url in ("/", f"/parts/{item.id}/"):
        page = Client().get(url).content.decode()
        assert "<script" not in page
        assert '<link rel="stylesheet" href="/static/rheo/rheo.css">' in page
