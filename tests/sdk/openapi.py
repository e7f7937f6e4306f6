"""Checks a recorded request and its answer against Rheo's OpenAPI schema (/api/schema/):
the path and method exist, every query and header parameter sent is declared and valid,
the body matches the operation's request schema, the status is a documented one and the
answer's body matches its schema.

The schema is OpenAPI 3.0 (drf-spectacular); its schemas become JSON Schema 2020-12 for
`jsonschema`: `nullable` turns into a null alternative, boolean `exclusiveMinimum` /
`exclusiveMaximum` into numbers, and `$ref`s point into the one registered document.
"""

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import requests
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = "urn:rheo:openapi"


def to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: to_json_schema(v) for k, v in node.items()}
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
        node["$ref"] = DOCUMENT + node["$ref"]
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if node.get(exclusive) is True:
            node[exclusive] = node.pop(bound)
        elif node.get(exclusive) is False:
            del node[exclusive]
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


class OpenAPI:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = to_json_schema(document)
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT, resource)
        self.templates = [
            (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)) + "$"), p)
            for p in self.document["paths"]
        ]
        self.checked: list[tuple[str, str, int]] = []  # (method, template, status)

    def _validate(self, schema: dict[str, Any], instance: Any, what: str) -> None:
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{what}: " + "; ".join(
            f"{list(e.path)}: {e.message}" for e in errors[:5]
        )

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        # The literal path first: /items/batch is an operation of its own.
        matches = [t for pattern, t in self.templates if pattern.match(path)]
        matches.sort(key=lambda t: t.count("{"))
        for template in matches:
            operation = self.document["paths"][template].get(method.lower())
            if operation:
                return template, operation
        raise AssertionError(f"{method} {path} is not in the OpenAPI schema")

    def check(self, response: requests.Response) -> None:
        request = response.request
        assert request.method and request.url
        url = urlsplit(request.url)
        template, operation = self.operation(request.method, url.path)
        what = f"{request.method} {template}"
        parameters = {(p["in"], p["name"]): p for p in operation.get("parameters", [])}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            declared = parameters.get(("query", name))
            assert declared, f"{what}: query parameter {name} is not in the schema"
            self._validate(declared.get("schema", {}), coerce(value, declared), f"{what} ?{name}")
        for name in ("If-Match", "If-None-Match"):
            if name in request.headers:
                assert ("header", name) in parameters, f"{what}: header {name} not declared"
        if request.body:
            body = json.loads(request.body)
            content = operation.get("requestBody", {}).get("content", {})
            assert "application/json" in content, f"{what}: no JSON request body in the schema"
            self._validate(content["application/json"]["schema"], body, f"{what} request")
        status = str(response.status_code)
        answers = operation.get("responses", {})
        assert status in answers, f"{what}: status {status} is not documented ({list(answers)})"
        content = answers[status].get("content", {})
        if response.content:
            assert "application/json" in content, f"{what} {status}: no JSON body in the schema"
            schema = content["application/json"]["schema"]
            self._validate(schema, response.json(), f"{what} {status} answer")
        self.checked.append((request.method, template, response.status_code))


def coerce(value: str, parameter: dict[str, Any]) -> Any:
    """A query string's text as the type its schema declares."""
    kind = parameter.get("schema", {}).get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value
