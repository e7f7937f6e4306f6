"""AI enhancement: the built-in Swedish writer, and a chat-completions model behind a
local fake server, with the fallback when the model fails."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from items.enhancer import (
    MAX_TITLE_LENGTH,
    BuiltinEnhancer,
    ChatCompletionsEnhancer,
    ItemFacts,
)

QUICK_START = ItemFacts(
    title="Volvo XC90 bromsok fram vänster — 2018",
    description="Testad och fungerande. Skick B.",
    domain={
        "domain": "automotive_part",
        "oemCode": "31400452",
        "manufacturer": "Volvo",
        "compatibleModels": ["XC90"],
        "donorVehicleYear": 2018,
        "conditionGrade": "B",
    },
)


def test_builtin_title_keeps_what_is_there_and_adds_the_missing_facts():
    enhanced = BuiltinEnhancer().enhance(QUICK_START)
    assert enhanced.title == "Volvo XC90 bromsok fram vänster — 2018 OE 31400452"


def test_builtin_fixes_shouting_and_whitespace_and_keeps_codes_and_positions():
    facts = ItemFacts(
        title="  BROMSOK   FRAM  HÖGER!!  ",
        description="  testad   OCH fungerande  ",
        domain={
            "manufacturer": "VOLVO",
            "compatibleModels": ["XC60", "V60"],
            "conditionGrade": "C",
        },
    )
    enhanced = BuiltinEnhancer().enhance(facts)
    assert enhanced.title == "Volvo bromsok fram höger! XC60 V60"
    assert enhanced.description.startswith("Testad OCH fungerande.")  # not shouting as a whole
    assert "Passar: Volvo XC60, V60." in enhanced.description
    assert "Skick C: godtagbart skick, synligt slitage eller kosmetiska skador" in (
        enhanced.description
    )


def test_builtin_description_explains_the_grade_in_swedish():
    description = BuiltinEnhancer().enhance(QUICK_START).description
    assert description == (
        "Testad och fungerande. Skick B.\n\n"
        "Passar: Volvo XC90.\n"
        "Årsmodell på donatorbilen: 2018.\n"
        "OE-nummer: 31400452.\n"
        "Skick B: bra skick, normalt slitage för åldern, fullt fungerande."
    )


def test_builtin_title_fits_the_marketplace():
    facts = ItemFacts(
        title="Strålkastare " + "mycket lång beskrivning " * 10,
        description="",
        domain={"manufacturer": "Saab", "oemCode": "12345678", "donorVehicleYear": 2004},
    )
    title = BuiltinEnhancer().enhance(facts).title
    assert len(title) <= MAX_TITLE_LENGTH
    assert title.startswith("Saab strålkastare")
    assert title.endswith("…")


def test_builtin_without_domain_only_tidies():
    enhanced = BuiltinEnhancer().enhance(ItemFacts("  DÖRR BAK  ", "", None))
    assert (enhanced.title, enhanced.description) == ("Dörr bak", "")


class FakeModel:
    """An OpenAI-compatible /chat/completions that answers what the test tells it."""

    def __init__(self):
        self.answer: dict | str = {}
        self.status = 200
        self.hang = threading.Event()
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), **body})
                if fake.status == 0:
                    fake.hang.wait(5)
                    return
                content = fake.answer if isinstance(fake.answer, str) else json.dumps(fake.answer)
                reply = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self):
        self.hang.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def model():
    fake = FakeModel()
    yield fake
    fake.close()


def enhancer_for(model, timeout=2.0):
    return ChatCompletionsEnhancer(url=model.url, model="m-1", api_key="sk-test", timeout=timeout)


def test_the_model_writes_the_texts(model):
    model.answer = {"title": "Volvo XC90 bromsok fram vänster 2018", "description": "Fin del."}
    enhanced = enhancer_for(model).enhance(QUICK_START)
    assert (enhanced.title, enhanced.description) == (
        "Volvo XC90 bromsok fram vänster 2018",
        "Fin del.",
    )
    [sent] = model.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-test"
    assert sent["model"] == "m-1"
    assert "31400452" in sent["messages"][1]["content"]


@pytest.mark.parametrize(
    "failure",
    ["http_500", "not_json", "title_too_long", "missing_description", "timeout"],
)
def test_the_builtin_enhancer_stands_in_when_the_model_fails(model, failure):
    model.answer = {"title": "ok", "description": "ok"}
    if failure == "http_500":
        model.status = 500
    elif failure == "not_json":
        model.answer = "Here is your listing: Volvo!"
    elif failure == "title_too_long":
        model.answer = {"title": "x" * 81, "description": "ok"}
    elif failure == "missing_description":
        model.answer = {"title": "ok"}
    elif failure == "timeout":
        model.status = 0
    enhanced = enhancer_for(model, timeout=0.3).enhance(QUICK_START)
    assert enhanced == BuiltinEnhancer().enhance(QUICK_START)


def test_an_unreachable_model_falls_back_too():
    enhancer = ChatCompletionsEnhancer(
        url="http://127.0.0.1:9/v1", model="m", api_key="", timeout=1
    )
    assert enhancer.enhance(QUICK_START) == BuiltinEnhancer().enhance(QUICK_START)
