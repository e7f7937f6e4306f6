"""A file's columns mapped to the item's fields, and a row turned into a PUT's body.

The fields are exactly a batch entry's (externalId and the PUT's body, the domain's part
details flattened). Text cells are converted to the JSON types the API takes (Swedish
number formats included: "1 234,50"); a cell that does not convert is passed on as text,
so the PUT's own validation names the field in its error. An empty cell is left out, as
an absent key in a PUT."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Field:
    name: str  # as the API names it
    label: str
    kind: str  # text, number, integer, boolean, urls, list, grade
    synonyms: tuple[str, ...] = ()  # header names (normalised) that suggest this field
    domain: bool = False  # inside the PUT's domain object


FIELDS = (
    Field(
        "externalId",
        "External id (required)",
        "text",
        (
            "externalid",
            "id",
            "artikelnr",
            "artikelnummer",
            "artnr",
            "sku",
            "itemid",
            "lagernr",
            "lagernummer",
            "produktnr",
            "produktid",
            "detaljnr",
            "reservdelsnr",
            "partid",
            "partnumber",
            "lagerid",
            "detaljid",
        ),
    ),
    Field(
        "title",
        "Title (required)",
        "text",
        (
            "title",
            "titel",
            "benämning",
            "benamning",
            "namn",
            "name",
            "rubrik",
            "produktnamn",
            "artikelnamn",
            "artikelbenämning",
            "detaljnamn",
            "productname",
        ),
    ),
    Field(
        "description",
        "Description",
        "text",
        (
            "description",
            "beskrivning",
            "text",
            "info",
            "kommentar",
            "notes",
            "anmärkning",
            "produktbeskrivning",
            "fritext",
        ),
    ),
    Field(
        "price",
        "Price, SEK (required)",
        "number",
        (
            "price",
            "pris",
            "utpris",
            "försäljningspris",
            "forsaljningspris",
            "priskr",
            "prisinklmoms",
            "priceinclvat",
            "prissek",
            "ca pris",
        ),
    ),
    Field(
        "shippingCost",
        "Shipping cost, SEK (required)",
        "number",
        ("shippingcost", "shipping", "frakt", "fraktkostnad", "fraktpris", "porto"),
    ),
    Field("weightKg", "Weight, kg", "number", ("weightkg", "weight", "vikt", "viktkg")),
    Field("currency", "Currency", "text", ("currency", "valuta")),
    Field(
        "imageUrls",
        "Image URLs (required)",
        "urls",
        (
            "imageurls",
            "imageurl",
            "images",
            "image",
            "bild",
            "bilder",
            "bildurl",
            "bildlänk",
            "bildlank",
            "bildadress",
            "picture",
            "pictures",
            "photo",
            "foto",
            "url",
        ),
    ),
    Field(
        "oemCode",
        "OEM code",
        "text",
        (
            "oemcode",
            "oem",
            "oenummer",
            "oenr",
            "oe",
            "originalnummer",
            "originalnr",
            "tillverkarnr",
            "tillverkarnummer",
            "oemnummer",
            "oemnr",
        ),
        domain=True,
    ),
    Field(
        "manufacturer",
        "Manufacturer",
        "text",
        (
            "manufacturer",
            "märke",
            "marke",
            "bilmärke",
            "bilmarke",
            "tillverkare",
            "brand",
            "make",
            "fabrikat",
        ),
        domain=True,
    ),
    Field(
        "compatibleModels",
        "Compatible models (separated by , ; or |)",
        "list",
        (
            "compatiblemodels",
            "modell",
            "modeller",
            "model",
            "models",
            "passartill",
            "passerbil",
            "bilmodell",
            "passarmodeller",
        ),
        domain=True,
    ),
    Field(
        "donorVehicleYear",
        "Donor vehicle year",
        "integer",
        (
            "donorvehicleyear",
            "årsmodell",
            "arsmodell",
            "år",
            "ar",
            "year",
            "modellår",
            "modellar",
            "modelyear",
            "tillverkningsår",
        ),
        domain=True,
    ),
    Field(
        "conditionGrade",
        "Condition grade (A–D)",
        "grade",
        ("conditiongrade", "condition", "grade", "skick", "skickklass", "kvalitet", "klass"),
        domain=True,
    ),
    Field(
        "sourceVersion",
        "Source version",
        "integer",
        ("sourceversion", "version", "rowversion", "radversion"),
    ),
    Field(
        "autoPublishTradera",
        "Publish on Tradera (yes/no)",
        "boolean",
        ("autopublishtradera", "tradera", "publiceratradera", "publishtradera"),
    ),
    Field(
        "useAiEnhancement",
        "AI enhancement (yes/no)",
        "boolean",
        ("useaienhancement", "aienhancement", "ai"),
    ),
)
BY_NAME = {field.name: field for field in FIELDS}
# Fields whose columns may repeat: image columns (Bild 1, Bild 2, …) add up.
REPEATABLE = {"imageUrls"}
TRUE = {"true", "yes", "ja", "j", "y", "1", "x", "sant"}
FALSE = {"false", "no", "nej", "n", "0", "falskt", ""}


def normalise(header: str) -> str:
    """A header as the synonyms are written: case-folded, letters and digits only."""
    return "".join(ch for ch in header.casefold() if ch.isalnum())


def _synonym_field(header: str) -> str:
    key = normalise(header)
    for field in FIELDS:
        if key in field.synonyms:
            return field.name
    # Numbered image columns: Bild1, Image 2, bild_3.
    if key.rstrip("0123456789") in BY_NAME["imageUrls"].synonyms and key[-1:].isdigit():
        return "imageUrls"
    return ""


def guess_mapping(header: Sequence[str], remembered: dict[str, str]) -> list[str]:
    """One field name (or "") per column: the partner's remembered choice for a column
    of that name first, else a guess from the header's words (Swedish and English). A
    field other than imageUrls goes to the first column that claims it."""
    mapping = []
    taken: set[str] = set()
    for header_name in header:
        key = header_name.strip().casefold()
        field = remembered.get(key) if key in remembered else _synonym_field(header_name)
        if field not in BY_NAME or (field in taken and field not in REPEATABLE):
            field = ""
        taken.add(field)
        mapping.append(field)
    return mapping


def check_mapping(mapping: Sequence[str]) -> list[str]:
    """What is wrong with a mapping for people: unknown fields, a field on two columns,
    no externalId column."""
    problems = []
    seen: set[str] = set()
    for field in mapping:
        if not field:
            continue
        if field not in BY_NAME:
            problems.append(f"Unknown field {field!r}.")
        elif field in seen and field not in REPEATABLE:
            problems.append(f"{BY_NAME[field].label} is chosen for more than one column.")
        seen.add(field)
    if "externalId" not in seen:
        problems.append("Choose the column that holds your external id.")
    return problems


def remembered_columns(header: Sequence[str], mapping: Sequence[str]) -> dict[str, str]:
    """The mapping to remember: each header name (lower case) → its field ("" too, so a
    column the partner left out stays left out)."""
    return {name.strip().casefold(): field for name, field in zip(header, mapping, strict=False)}


def row_body(cells: Sequence[str], mapping: Sequence[str], defaults: dict) -> dict:
    """A batch entry (externalId and the PUT's body) from one row's cells."""
    body: dict = {}
    part: dict = {}
    for index, name in enumerate(mapping):
        if not name or index >= len(cells):
            continue
        text = cells[index].strip()
        field = BY_NAME[name]
        if field.kind == "urls":
            urls = split_urls(text)
            if urls:
                body.setdefault(name, []).extend(urls)
            continue
        if not text:
            continue
        (part if field.domain else body)[name] = convert(field.kind, text)
    for name, value in defaults.items():
        if name in BY_NAME and name not in body and value not in (None, ""):
            body[name] = value
    if part:
        body["domain"] = {"domain": "automotive_part", **part}
    return body


def convert(kind: str, text: str):
    if kind == "number":
        return number(text)
    if kind == "integer":
        value = number(text)
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if kind == "boolean":
        key = text.casefold()
        return True if key in TRUE else False if key in FALSE else text
    if kind == "list":
        return [part.strip() for part in re.split(r"[;,|]", text) if part.strip()]
    if kind == "grade":
        return text.upper()
    return text


def number(text: str):
    """A float from "1234.5", "1 234,50", "1.234,50", "1,234.50", "450 kr"; the text as it
    is when it is not a number (the PUT's validation then says so)."""
    cleaned = re.sub(r"(?i)\s*(kr|sek|:-|kg)\.?$", "", text)
    cleaned = cleaned.replace("\u00a0", "").replace(" ", "").replace("'", "")
    if "," in cleaned and "." in cleaned:
        # The last separator is the decimal one.
        if cleaned.rfind(",") > cleaned.rfind("."):
            cleaned = cleaned.replace(".", "").replace(",", ".")
        else:
            cleaned = cleaned.replace(",", "")
    else:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    return float(value)


URL_SPLIT = re.compile(r"\s*[|;,]\s*(?=https?://)|[\s|]+")


def split_urls(text: str) -> list[str]:
    """The image URLs in a cell: separated by spaces, new lines, |, or , and ; before
    the next http(s)://."""
    return [url for url in URL_SPLIT.split(text) if url]
