"""The two references the PUT is measured against, served by the same gunicorn and the
same middleware stack as the Integration API.

bare:        202 and nothing else: the cost of gunicorn + Django's request cycle.
raw_upsert:  the same durable write a creating PUT makes, and nothing else: read the
             JSON body, one INSERT ... ON CONFLICT ... DO UPDATE into items_item in
             autocommit (so one commit, one WAL flush), 202 with a small JSON body.
             No authentication, validation, rate limiting, fingerprinting of content or
             enqueueing of the image job. It is the floor cost of a durable write here.

Both are csrf_exempt, as DRF's APIView (the PUT) is."""

import hashlib
import json
import os
import uuid

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

# All raw upserts go to one partner (bench/put_throughput.py passes its id); the unique
# index is the same one the PUT's creates go through.
RAW_PARTNER_ID = os.environ.get("BENCH_RAW_PARTNER_ID", "")

UPSERT_SQL = """
INSERT INTO items_item (
    id, partner_id, livemode, external_id, status,
    title, description, price, shipping_cost, weight_kg, currency,
    image_urls, domain, auto_publish_tradera, use_ai_enhancement, content_fingerprint,
    created_at, updated_at, status_changed_at, deleted_at, sold_platform
) VALUES (
    %s, %s, true, %s, 'draft',
    %s, %s, %s, %s, %s, %s,
    %s::jsonb, %s::jsonb, %s, %s, %s,
    now(), now(), now(), NULL, ''
)
ON CONFLICT (partner_id, livemode, external_id) WHERE deleted_at IS NULL
DO UPDATE SET
    title = EXCLUDED.title,
    description = EXCLUDED.description,
    price = EXCLUDED.price,
    shipping_cost = EXCLUDED.shipping_cost,
    weight_kg = EXCLUDED.weight_kg,
    currency = EXCLUDED.currency,
    image_urls = EXCLUDED.image_urls,
    domain = EXCLUDED.domain,
    use_ai_enhancement = EXCLUDED.use_ai_enhancement,
    content_fingerprint = EXCLUDED.content_fingerprint,
    updated_at = now()
RETURNING id
"""


@csrf_exempt
def bare(request, external_id):
    return HttpResponse(status=202)


@csrf_exempt
def raw_upsert(request, external_id):
    raw = request.body
    data = json.loads(raw)
    images = data.get("imageUrls") or data.get("images") or data.get("image_urls") or []
    params = [
        uuid.uuid4(),
        RAW_PARTNER_ID,
        external_id,
        data.get("title", ""),
        data.get("description", ""),
        data.get("price", 0),
        data.get("shippingCost", 0),
        data.get("weightKg"),
        data.get("currency", "SEK"),
        json.dumps(images),
        json.dumps(data.get("domain")),
        bool(data.get("autoPublishTradera", False)),
        bool(data.get("useAiEnhancement", False)),
        hashlib.sha256(raw).hexdigest(),
    ]
    with connection.cursor() as cursor:  # autocommit: the statement is its own transaction
        cursor.execute(UPSERT_SQL, params)
        (item_id,) = cursor.fetchone()
    body = json.dumps({"success": True, "itemId": str(item_id), "message": "Stored."})
    return HttpResponse(body, status=202, content_type="application/json")
