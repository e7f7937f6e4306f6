"""A webhook receiver for Rheo: verifies each delivery and prints the event.

    RHEO_WEBHOOK_SECRET=whsec_... python docs/examples/webhook_receiver.py [PORT]

Listens on 127.0.0.1:PORT (8765 by default) and takes POSTs on any path. Each one is
verified with the stock `standardwebhooks` library (`pip install standardwebhooks`; the
checkout's .venv has it): the signature over the raw body with the secret from Rheo's
webhook settings, and a `webhook-timestamp` within 5 minutes. A verified event is printed
and answered 204; anything else is answered 400. A real receiver would also skip events
whose `webhook-id` it has already handled (delivery is at least once) and do its work
after answering.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["RHEO_WEBHOOK_SECRET"])


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError as exc:
            print(f"receiver: refused a delivery: {exc}", flush=True)
            self.send_response(400)
            self.end_headers()
            return
        print(f"receiver: verified {event['eventType']} {json.dumps(event['data'])}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):  # one line per event is enough
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    print(f"receiver: listening on http://127.0.0.1:{port}/", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
