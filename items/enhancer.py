"""AI enhancement (`useAiEnhancement`): a clean Swedish title and description for the
marketplace and Tradera, written from what the partner sent.

Two implementations of one interface: `BuiltinEnhancer` needs no network and is always
there; `ChatCompletionsEnhancer` asks an OpenAI-compatible chat-completions endpoint
(RHEO_AI_URL, RHEO_AI_MODEL, RHEO_AI_API_KEY) and falls back to the built-in one on any
error, timeout or unusable answer. The partner's own title and description are never
changed; the enhanced ones are stored beside them.
"""

import json
import logging
import re
from dataclasses import dataclass
from typing import Protocol

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

# Tradera's limit, and so the marketplace's: one title fits both.
MAX_TITLE_LENGTH = 80
MAX_DESCRIPTION_LENGTH = 7000

CONDITION_GRADES_SV = {
    "A": "mycket bra skick, lite eller inget slitage",
    "B": "bra skick, normalt slitage för åldern, fullt fungerande",
    "C": "godtagbart skick, synligt slitage eller kosmetiska skador, fungerande",
    "D": "för reparation eller som reservdel, skadad eller otestad",
}

# How brands are written, whatever casing the ERP used.
BRANDS = {
    name.lower(): name
    for name in [
        "Alfa Romeo", "Audi", "BMW", "Chevrolet", "Chrysler", "Citroën", "Cupra", "Dacia",
        "Dodge", "Fiat", "Ford", "Honda", "Hyundai", "Jaguar", "Jeep", "Kia", "Land Rover",
        "Lexus", "Mazda", "Mercedes-Benz", "MG", "Mini", "Mitsubishi", "Nissan", "Opel",
        "Peugeot", "Polestar", "Porsche", "Renault", "Saab", "Seat", "Skoda", "Subaru",
        "Suzuki", "Tesla", "Toyota", "Volkswagen", "VW", "Volvo",
    ]
}  # fmt: skip


@dataclass(frozen=True)
class ItemFacts:
    title: str
    description: str
    domain: dict | None


@dataclass(frozen=True)
class EnhancedText:
    title: str
    description: str


class Enhancer(Protocol):
    def enhance(self, facts: ItemFacts) -> EnhancedText: ...


def get_enhancer() -> Enhancer:
    if settings.RHEO_AI_URL:
        return ChatCompletionsEnhancer(
            url=settings.RHEO_AI_URL,
            model=settings.RHEO_AI_MODEL,
            api_key=settings.RHEO_AI_API_KEY,
            timeout=settings.RHEO_AI_TIMEOUT_SECONDS,
        )
    return BuiltinEnhancer()


# --- Built in ------------------------------------------------------------------------


class BuiltinEnhancer:
    """Rules, not a model: tidy the partner's words and add the part's facts."""

    def enhance(self, facts: ItemFacts) -> EnhancedText:
        domain = facts.domain or {}
        return EnhancedText(
            title=self._title(facts.title, domain),
            description=self._description(facts.description, domain),
        )

    def _title(self, title: str, domain: dict) -> str:
        title = tidy_words(title)
        manufacturer = tidy_words(domain.get("manufacturer") or "")
        lowered = title.lower()
        # Facts the title lacks, most useful first; each is added only while it fits.
        additions = []
        if manufacturer and manufacturer.lower() not in lowered:
            first, _, rest = title.partition(" ")
            if first[1:].islower() and first.lower() not in BRANDS:  # a plain word
                first = first.lower()
            title = f"{manufacturer} {first} {rest}".strip()
            lowered = title.lower()
        for model in domain.get("compatibleModels") or []:
            model = tidy_words(model)
            if model and model.lower() not in lowered:
                additions.append(model)
        year = domain.get("donorVehicleYear")
        if year and str(year) not in title:
            additions.append(str(year))
        oem = domain.get("oemCode")
        if oem and oem not in title:
            additions.append(f"OE {oem}")
        for addition in additions:
            if len(title) + 1 + len(addition) <= MAX_TITLE_LENGTH:
                title = f"{title} {addition}"
        return shorten(title, MAX_TITLE_LENGTH)

    def _description(self, description: str, domain: dict) -> str:
        paragraphs = [tidy_sentence(p) for p in re.split(r"\n\s*\n", description or "")]
        lines = [p for p in paragraphs if p]
        if facts := part_facts(domain):
            lines.append("\n".join(facts))
        return shorten("\n\n".join(lines), MAX_DESCRIPTION_LENGTH)


def part_facts(domain: dict, condition: str | None = None) -> list[str]:
    """The part's domain attributes as Swedish lines for a listing's text: fit, donor
    year, OE number, and the condition grade explained (by `condition` when given: the
    wording of the partner's grade scale, items.grades)."""
    facts = []
    models = [m.strip() for m in domain.get("compatibleModels") or [] if m.strip()]
    manufacturer = tidy_words(domain.get("manufacturer") or "")
    if models:
        facts.append(f"Passar: {manufacturer + ' ' if manufacturer else ''}{', '.join(models)}.")
    elif manufacturer:
        facts.append(f"Märke: {manufacturer}.")
    if domain.get("donorVehicleYear"):
        facts.append(f"Årsmodell på donatorbilen: {domain['donorVehicleYear']}.")
    if domain.get("oemCode"):
        facts.append(f"OE-nummer: {domain['oemCode']}.")
    grade = domain.get("conditionGrade")
    if condition:
        facts.append(f"Skick {grade}: {condition}")
    elif grade in CONDITION_GRADES_SV:
        facts.append(f"Skick {grade}: {CONDITION_GRADES_SV[grade]}.")
    return facts


def tidy_words(text: str) -> str:
    """Whitespace collapsed, shouting turned to normal case (codes such as XC90 and
    31400452 and brand names kept as they are written)."""
    text = re.sub(r"\s+", " ", text or "").strip()
    text = re.sub(r"([!?.,;:])\1+", r"\1", text)
    letters = [c for c in text if c.isalpha()]
    shouting = letters and sum(c.isupper() for c in letters) / len(letters) > 0.6
    words = []
    for word in text.split(" "):
        brand = BRANDS.get(word.lower())
        if brand and len(brand.split()) == 1:
            words.append(brand)
        elif shouting and not any(c.isdigit() for c in word) and len(word) > 1:
            words.append(word.lower())
        else:
            words.append(word)
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def tidy_sentence(text: str) -> str:
    text = tidy_words(text)
    if text and text[-1] not in ".!?":
        text += "."
    return text


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:–-")
    return cut + "…"


# --- An OpenAI-compatible model ---------------------------------------------------------


SYSTEM_PROMPT = (
    "Du skriver annonser för begagnade bildelar på svenska. Skriv en tydlig titel (högst "
    f"{MAX_TITLE_LENGTH} tecken) och en saklig beskrivning utifrån uppgifterna. Behåll "
    "märke, modeller, årsmodell, OE-nummer och ord om placering (fram, bak, vänster, "
    "höger, övre, nedre). Förklara skicksgraden. Hitta inte på uppgifter. Svara med JSON: "
    '{"title": "...", "description": "..."}.'
)


class ChatCompletionsEnhancer:
    def __init__(self, *, url: str, model: str, api_key: str, timeout: float):
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.fallback = BuiltinEnhancer()

    def enhance(self, facts: ItemFacts) -> EnhancedText:
        try:
            return self._ask(facts)
        except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
            logger.warning("AI enhancement failed (%s); using the built-in enhancer", exc)
            return self.fallback.enhance(facts)

    def _ask(self, facts: ItemFacts) -> EnhancedText:
        question = {"title": facts.title, "description": facts.description, **(facts.domain or {})}
        response = requests.post(
            self.endpoint,
            json={
                "model": self.model,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": json.dumps(question, ensure_ascii=False)},
                ],
                "response_format": {"type": "json_object"},
                "temperature": 0.2,
            },
            headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {},
            timeout=self.timeout,
        )
        response.raise_for_status()
        answer = json.loads(response.json()["choices"][0]["message"]["content"])
        title = re.sub(r"\s+", " ", str(answer["title"])).strip()
        description = str(answer["description"]).strip()
        if not title or len(title) > MAX_TITLE_LENGTH or not description:
            raise ValueError("the model's answer does not fit the marketplace")
        return EnhancedText(title=title, description=shorten(description, MAX_DESCRIPTION_LENGTH))
