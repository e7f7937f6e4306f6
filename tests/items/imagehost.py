"""A local image host for the pipeline's tests, and images made to order."""

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def jpeg_bytes(size=(1200, 800), color=(200, 30, 30), exif=None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    if exif is not None:
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def photo_bytes(size=(640, 480), mode="RGB", **save) -> bytes:
    """A JPEG of noise over a gradient, so that any re-encoding changes its pixels; `save`
    goes to Pillow (exif, xmp, comment, icc_profile, progressive, quality...)."""
    width, height = size
    noise = Image.effect_noise(size, 40)
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, ramp, Image.eval(noise, lambda v: 255 - v)))
    image.paste((255, 0, 0), (0, 0, width // 8, height // 8))  # a red top-left corner
    if mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, "JPEG", **save)
    return out.getvalue()


def with_segments(jpeg: bytes, *segments: tuple[int, bytes]) -> bytes:
    """`jpeg` with (marker, payload) segments put in right after its SOI."""
    extra = b"".join(
        bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload
        for marker, payload in segments
    )
    return jpeg[:2] + extra + jpeg[2:]


def png_bytes(size=(300, 200), mode="RGBA") -> bytes:
    out = io.BytesIO()
    color = {"RGBA": (0, 128, 0, 128), "RGB": (0, 128, 0), "L": 128}[mode]
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


class ImageHost:
    """Serves `routes[path] = (status, body, headers)`; counts requests per path."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, dict]] = {}
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with host.lock:
                    host.hits[self.path] = host.hits.get(self.path, 0) + 1
                status, body, headers = host.routes.get(self.path, (404, b"not found", {}))
                if callable(body):  # body(hit number) → (status, bytes)
                    status, body = body(host.hits[self.path])
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def serve(self, path: str, body, status: int = 200, **headers) -> str:
        self.routes[path] = (status, body, {"Content-Type": "image/jpeg", **headers})
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
