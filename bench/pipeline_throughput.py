"""Items per second through the whole pipeline, from PUT to `active`, with real processes
(see bench/README.md, "Image pipeline benchmark").

    .venv/bin/python bench/pipeline_throughput.py          # from /work/main, ~2.5 min

What one run does, all on 127.0.0.1 and bounded in time:
  1. makes sure the image cache holds enough distinct photo-like JPEGs (1600x1200, made
     once with Pillow, kept in --image-cache for later runs);
  2. drops and recreates the PostgreSQL database rheo_bench_pipeline, migrates it, flushes
     Redis db 4, creates --keys partners with one live API key each (bench/make_keys.py);
  3. starts the image server, a process of its own, serving the cached JPEGs;
  4. baseline: one process (Django set up, nothing else running) downloads and processes
     --baseline-images images in a plain loop with the project's own items.images.download
     and items.images.process: the image work alone;
  5. starts gunicorn as the Procfile's `web` line, the Celery worker as its `worker` line
     (--concurrency=--concurrency) and, unless --no-beat, beat (the items sweeper);
  6. warm-up: --warmup-items items through the pipeline, not measured;
  7. burst: --items items with --images-per-item image URLs each, PUT as fast as
     --client-threads threads can (keys in rotation), then the database is polled until
     every item is active: items/s from the first PUT to the last activation, and latency
     from each PUT's send time to the item's status_changed_at;
  8. paced: --paced-items items PUT at --paced-rate items/s, the pipeline otherwise idle:
     the latency of one item without a queue in front of it;
  9. prints the table, writes bench/results/pipeline_throughput-<time>.json, stops
     everything, flushes Redis db 4, drops the database (unless --keep-db) and removes the
     temporary RHEO_VAR_DIR (with the hosted images).
Subprocesses run in process groups of their own and are stopped (whole groups), and the
database and Redis db cleaned, even when a step fails or on Ctrl-C/SIGTERM.

The same file is also the image server (`_imageserver PORT DIR`) and the baseline loop
(`_baseline ...`, run inside Django); those are internal.
"""

import argparse
import contextlib
import hashlib
import http.client
import io
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import CELERY, GUNICORN, HOST, PYTHON, Process, log  # noqa: E402
from bench.common import percentile as pct  # noqa: E402

SELF = str(Path(__file__).resolve())

DB_NAME = "rheo_bench_pipeline"
DATABASE_URL, PG_URL = common.database_urls(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/4"

# The generated photos. Bump GENERATOR when the way they are drawn changes: the cache's
# folder name carries it, so an old cache is never mistaken for the new one.
IMAGE_SIZE = (1600, 1200)
IMAGE_QUALITY = 90
GENERATOR = 1
SCENE_GROUP = 150  # images cut from one generated scene (each at its own offset)
SCENE_MARGIN = (200, 150)  # the scene is this much larger than an image

PUT_PREFIX = "/integration/v1/items/"


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "min": min(values),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


# --- the photos ----------------------------------------------------------------------------


def _scene(seed: int):
    """A photo-like picture: a smooth colour field, blurred shapes, mottled texture and
    sensor-like grain, so that it compresses like a photo (about 440 KB at quality 90)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rnd = random.Random(seed)
    width, height = IMAGE_SIZE[0] + SCENE_MARGIN[0], IMAGE_SIZE[1] + SCENE_MARGIN[1]
    field = Image.new("RGB", (8, 6))
    field.putdata([tuple(rnd.randrange(256) for _ in range(3)) for _ in range(48)])
    image = field.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rnd.randrange(width), rnd.randrange(height)
        w, h = rnd.randrange(40, 500), rnd.randrange(40, 400)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        shape = draw.ellipse if rnd.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(3))
    mottle = Image.effect_noise((width // 4, height // 4), 40).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    texture = ImageChops.add(mottle, Image.effect_noise((width, height), 25), scale=2.0, offset=-64)
    return Image.blend(image, Image.merge("RGB", (texture,) * 3), 0.3)


def _generate_group(folder: str, group: int, indices: list[int]) -> dict[int, list]:
    """Images `indices` (all in scene group `group`): each a crop of the group's scene at an
    offset of its own, with a few shapes of its own drawn on. Returns {index: [size,
    sha256]}."""
    from PIL import ImageDraw

    scene = _scene(1_000_003 * GENERATOR + group)
    out = {}
    for index in indices:
        j = index % SCENE_GROUP
        # 37 and 53 are prime to the margins, so no two images of a group share an offset
        ox, oy = (j * 37) % SCENE_MARGIN[0], (j * 53) % SCENE_MARGIN[1]
        image = scene.crop((ox, oy, ox + IMAGE_SIZE[0], oy + IMAGE_SIZE[1]))
        rnd = random.Random(index)
        draw = ImageDraw.Draw(image)
        for _ in range(4):
            x, y = rnd.randrange(IMAGE_SIZE[0]), rnd.randrange(IMAGE_SIZE[1])
            r = rnd.randrange(20, 120)
            colour = tuple(rnd.randrange(256) for _ in range(3))
            draw.ellipse((x, y, x + r, y + r), fill=colour)
        draw.text((40, 40), f"part photo {index}", fill=(255, 255, 255))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=IMAGE_QUALITY)
        data = buffer.getvalue()
        path = Path(folder) / f"{index}.jpg"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        out[index] = [len(data), hashlib.sha256(data).hexdigest()]
    return out


def ensure_images(cache_root: str, count: int) -> dict:
    """Images 0 .. count-1 in the cache (generating the missing ones with two processes);
    every one distinct (checked by digest), so the pipeline deduplicates nothing."""
    folder = Path(cache_root) / f"gen{GENERATOR}-{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}-q{IMAGE_QUALITY}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest = {}
    if manifest_path.exists():
        manifest = {int(k): v for k, v in json.loads(manifest_path.read_text()).items()}
    missing = []
    for index in range(count):
        entry = manifest.get(index)
        path = folder / f"{index}.jpg"
        if entry is None or not path.exists() or path.stat().st_size != entry[0]:
            missing.append(index)
    if missing:
        log(f"generating {len(missing)} images in {folder} (once; later runs reuse them)")
        started = time.monotonic()
        groups: dict[int, list[int]] = {}
        for index in missing:
            groups.setdefault(index // SCENE_GROUP, []).append(index)
        with ProcessPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(_generate_group, str(folder), group, indices)
                for group, indices in sorted(groups.items())
            ]
            for future in futures:
                manifest.update(future.result())
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest))
        tmp.replace(manifest_path)
        log(f"generated {len(missing)} images in {time.monotonic() - started:.0f} s")
    used = [manifest[i] for i in range(count)]
    digests = {digest for _size, digest in used}
    if len(digests) != count:
        raise RuntimeError(f"only {len(digests)} distinct images among {count} in {folder}")
    sizes = [size for size, _digest in used]
    return {
        "folder": str(folder),
        "count": count,
        "distinct": len(digests),
        "width": IMAGE_SIZE[0],
        "height": IMAGE_SIZE[1],
        "jpeg_quality": IMAGE_QUALITY,
        "bytes_mean": round(sum(sizes) / count),
        "bytes_min": min(sizes),
        "bytes_max": max(sizes),
        "generated_now": len(missing),
    }


# --- the image server (run as `_imageserver PORT DIR`, a process of its own) ----------------


def run_image_server(port: int, folder: str) -> None:
    """GET /img/<n>.jpg serves <folder>/<n>.jpg (read from the page cache each time);
    GET /stats answers with the counters. One thread per connection; the connection is
    closed after each response (rheo.outbound uses one connection per exchange anyway)."""
    stats = {"requests": 0, "bytes": 0, "not_found": 0}
    lock = threading.Lock()
    pattern = re.compile(r"/img/(\d+)\.jpg")

    class Handler(common.QuietHandler):
        def do_GET(self):
            if self.path == "/stats":
                with lock:
                    body = json.dumps(stats).encode()
                self.reply(200, body)
                return
            match = pattern.fullmatch(self.path)
            try:
                body = (Path(folder) / f"{match.group(1)}.jpg").read_bytes()
                status, content_type = 200, "image/jpeg"
            except (AttributeError, OSError):
                body, status, content_type = b"not found", 404, "text/plain"
            with lock:
                stats["requests"] += 1
                stats["bytes"] += len(body)
                stats["not_found"] += status == 404
            self.reply(status, body, content_type)

    common.serve(port, Handler)


# --- the baseline (run as `_baseline URL_TEMPLATE FIRST COUNT WARMUP`, inside Django) -------


def run_baseline(url_template: str, first: int, count: int, warmup: int) -> None:
    """The image work alone, in one process: items.images.download then
    items.images.process, one image after the other, `warmup` images first (unmeasured)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")
    django.setup()
    from items import images

    for index in range(first, first + warmup):
        images.process(images.download(url_template.format(index)))
    download_ms, process_ms = [], []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for index in range(first + warmup, first + warmup + count):
        t0 = time.perf_counter()
        data = images.download(url_template.format(index))
        t1 = time.perf_counter()
        images.process(data)
        t2 = time.perf_counter()
        download_ms.append((t1 - t0) * 1000)
        process_ms.append((t2 - t1) * 1000)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    out = {
        "images": count,
        "warmup_images": warmup,
        "seconds": wall,
        "cpu_seconds": cpu,
        "images_per_s": count / wall,
        "ms_per_image": wall * 1000 / count,
        "cpu_ms_per_image": cpu * 1000 / count,
        "download_ms": summary(download_ms),
        "process_ms": summary(process_ms),
    }
    print("BASELINE " + json.dumps(out), flush=True)


def baseline_loop(root: Path, url_template: str, env: dict, count: int) -> dict:
    """One run of the baseline loop with the code of the checkout at `root` (this one,
    or an export of another commit: its own bench script, its own items.images)."""
    proc = subprocess.run(
        [PYTHON, str(root / "bench" / "pipeline_throughput.py"), "_baseline", url_template,
         "0", str(count), "3"],
        cwd=root, env={**env, "PYTHONPATH": str(root)}, capture_output=True, text=True,
        timeout=600, start_new_session=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"baseline failed in {root}:\n{proc.stdout}\n{proc.stderr}")
    return common.tagged_json(proc.stdout, "BASELINE")


def combined_loops(loops: list[dict]) -> dict:
    """The baseline loops of one side summed (per-image figures over all their images);
    download and process times as the median of the loops' p50s."""
    images = sum(loop["images"] for loop in loops)
    seconds = sum(loop["seconds"] for loop in loops)
    cpu = sum(loop["cpu_seconds"] for loop in loops)
    return {
        "images": images,
        "loops": len(loops),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "images_per_s": images / seconds,
        "ms_per_image": seconds * 1000 / images,
        "cpu_ms_per_image": cpu * 1000 / images,
        "download_ms": {"p50": median(loop["download_ms"]["p50"] for loop in loops)},
        "process_ms": {"p50": median(loop["process_ms"]["p50"] for loop in loops)},
        "each": loops,
    }


# --- the app's environment -----------------------------------------------------------------


def app_env(var_dir: str) -> dict:
    return common.app_env(
        var_dir, DATABASE_URL, REDIS_URL, "rheo.settings", RHEO_ALLOW_LOCAL_URLS="1"
    )


# --- CPU accounting ---------------------------------------------------------------------------


def group_cpu_seconds(pgid: int) -> float:
    """utime+stime of every live process of the process group, plus what its members have
    reaped (cutime+cstime): a child that exits between two snapshots is still counted."""
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = common.stat_fields(int(entry))
            if fields and int(fields[2]) == pgid:
                total += sum(int(v) for v in fields[11:15])
    return total / common.CLK_TCK


def cpu_snapshot(groups: dict[str, int]) -> dict:
    out = {name: group_cpu_seconds(pgid) for name, pgid in groups.items()}
    out.update(
        postgres=common.postgres_cpu_seconds(),
        redis=common.redis_cpu_seconds(),
        # this process: the PUT client and the poller
        driver=common.rusage_seconds(resource.RUSAGE_SELF),
        **common.machine_cpu_seconds(),
        _wall=time.monotonic(),
    )
    return out


def cpu_delta(before: dict, after: dict, images: int) -> dict:
    """CPU seconds per component over the interval, ms per image, and the machine's busy
    share, ours and others' (processes outside this benchmark)."""
    seconds = {k: after[k] - before[k] for k in before if not k.startswith("_")}
    ours = sum(seconds.values())
    total = after["_machine_total"] - before["_machine_total"]
    busy = after["_machine_busy"] - before["_machine_busy"]
    return {
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "ms_per_image": {k: round(v * 1000 / max(images, 1), 2) for k, v in seconds.items()},
        "wall_seconds": round(after["_wall"] - before["_wall"], 2),
        "machine_busy_share": round(busy / total, 3) if total else None,
        "others_share": round(max(0.0, busy - ours) / total, 3) if total else None,
    }


# --- the client -------------------------------------------------------------------------------

ITEM_BODY = {
    "title": "Volvo XC90 bromsok fram vänster",
    "description": "Testad och fungerande. Skick B. Demonterad från en XC90 2018 med 12 000 mil.",
    "price": 950,
    "shippingCost": 149,
    "weightKg": 3.2,
    "currency": "SEK",
    "domain": {
        "domain": "automotive_part",
        "oemCode": "31400452",
        "manufacturer": "Volvo",
        "compatibleModels": ["XC90", "XC90 II"],
        "donorVehicleYear": 2018,
        "conditionGrade": "B",
    },
    # Nothing but the images between PUT and active: no Tradera publishing, no enhancement.
    "autoPublishTradera": False,
    "useAiEnhancement": False,
}


class Client:
    """PUTs items to gunicorn. Item i gets key i mod len(keys), and image URLs
    first_image + i*per_item ... of the image server."""

    def __init__(self, port: int, image_port: int, keys: list[str], per_item: int):
        self.port, self.image_port, self.keys, self.per_item = port, image_port, keys, per_item

    def spec(self, tag: str, i: int, first_image: int) -> tuple[str, bytes]:
        base = first_image + i * self.per_item
        urls = [f"http://{HOST}:{self.image_port}/img/{base + j}.jpg" for j in range(self.per_item)]
        return f"PIPE-{tag}-{i}", json.dumps({**ITEM_BODY, "imageUrls": urls}).encode()

    def put(self, i: int, external_id: str, body: bytes) -> dict:
        """One PUT (a 429 is retried after 0.2 s, up to 20 times); times are wall clock."""
        record = {"external_id": external_id, "first_send": time.time(), "attempts": 0}
        while True:
            record["attempts"] += 1
            send = time.time()
            status = -1
            conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            try:
                conn.request(
                    "PUT",
                    PUT_PREFIX + external_id,
                    body=body,
                    headers={
                        "x-api-key": self.keys[i % len(self.keys)],
                        "Content-Type": "application/json",
                    },
                )
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError as exc:
                record["error"] = repr(exc)
            finally:
                conn.close()
            record.update(send=send, done=time.time(), status=status)
            if status != 429 or record["attempts"] >= 20:
                return record
            time.sleep(0.2)

    def burst(self, tag: str, count: int, first_image: int, threads: int) -> list[dict]:
        """All `count` PUTs as fast as `threads` threads go."""
        specs = [self.spec(tag, i, first_image) for i in range(count)]
        records: list = [None] * count
        lock = threading.Lock()
        next_index = iter(range(count))

        def run() -> None:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                records[i] = self.put(i, *specs[i])

        workers = [threading.Thread(target=run) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return records

    def paced(self, tag: str, count: int, first_image: int, rate: float) -> list[dict]:
        """PUT i sent at start + i/rate (from a thread pool, whatever the server does);
        `first_send` is the scheduled time."""
        specs = [self.spec(tag, i, first_image) for i in range(count)]
        records: list = [None] * count

        def send(i: int, scheduled: float) -> None:
            record = self.put(i, *specs[i])
            record["first_send"] = scheduled
            records[i] = record

        with ThreadPoolExecutor(max_workers=8) as pool:
            start = time.time() + 0.1
            for i in range(count):
                scheduled = start + i / rate
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, i, scheduled)
        return records


# --- waiting for the pipeline, and reading what it did ----------------------------------------


def wait_all_done(
    tag: str,
    count: int,
    timeout: float,
    processes: list[Process],
    *,
    pg_url: str = PG_URL,
    prefix: str = "PIPE",
) -> dict:
    """Polls the database (4 times a second) until every item of `tag` (external ids
    `<prefix>-<tag>-…`) is active or has failed (draft with no work due: every image
    failed), or `timeout` seconds pass."""
    import psycopg

    like = f"{prefix}-{tag}-%"
    started = time.monotonic()
    last_log = started
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while True:
            active, failed, total = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'active'),"
                " count(*) FILTER (WHERE status = 'draft' AND processing_due_at IS NULL),"
                " count(*) FROM items_item WHERE external_id LIKE %s",
                (like,),
            ).fetchone()
            elapsed = time.monotonic() - started
            if total >= count and active + failed >= count:
                return {"active": active, "failed": failed, "timed_out": False}
            if elapsed > timeout:
                return {"active": active, "failed": failed, "timed_out": True}
            if time.monotonic() - last_log >= 10:
                log(f"    {tag}: {active}/{count} active, {failed} failed ({elapsed:.0f} s)")
                last_log = time.monotonic()
                for process in processes:
                    process.check_alive()
            time.sleep(0.25)


def item_rows(tag: str) -> dict[str, dict]:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT external_id, status, extract(epoch FROM created_at)::float8,"
            " extract(epoch FROM status_changed_at)::float8"
            " FROM items_item WHERE external_id LIKE %s",
            (f"PIPE-{tag}-%",),
        ).fetchall()
    return {
        external_id: {"status": status, "created_at": created, "status_changed_at": changed}
        for external_id, status, created, changed in rows
    }


def image_counts() -> dict:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        by_status = dict(
            conn.execute("SELECT status, count(*) FROM items_itemimage GROUP BY 1").fetchall()
        )
        stored = conn.execute("SELECT count(*) FROM items_storedimage").fetchone()[0]
    return {"item_images_by_status": by_status, "stored_images": stored}


TASK_DONE = re.compile(r"Task (items\.\w+)\[[^\]]+\] succeeded in ([\d.]+)s: (.*)$", re.M)
TASK_RECEIVED = re.compile(r"Task (items\.\w+)\[[^\]]+\] received", re.M)


def worker_log_figures(text: str) -> dict:
    """What the worker's INFO log (the Procfile's --loglevel=INFO) says about the tasks:
    how many it received and ran, each process_item's run time, and how many nudges the
    sweeper sent again."""
    received: dict[str, int] = {}
    for name in TASK_RECEIVED.findall(text):
        received[name] = received.get(name, 0) + 1
    runs, sweeps, renudged = [], 0, 0
    for name, seconds, result in TASK_DONE.findall(text):
        if name == "items.process_item":
            runs.append(float(seconds) * 1000)
        elif name == "items.sweep_items":
            sweeps += 1
            with contextlib.suppress(ValueError):
                renudged += int(result.strip())
    return {
        "received": received,
        "process_item_runs": len(runs),
        "process_item_ms": summary(runs),
        "sweeps": sweeps,
        "sweeper_nudges": renudged,
        "problems": common.log_problems(text),
    }


def phase_figures(tag: str, records: list[dict], per_item: int) -> dict:
    rows = item_rows(tag)
    lat, server_lat, put_ms, changed = [], [], [], []
    statuses: dict[str, int] = {}
    attempts = 0
    for r in records:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
        attempts += r["attempts"]
        put_ms.append((r["done"] - r["send"]) * 1000)
        row = rows.get(r["external_id"])
        if row and row["status"] == "active":
            lat.append(row["status_changed_at"] - r["first_send"])
            server_lat.append(row["status_changed_at"] - row["created_at"])
            changed.append(row["status_changed_at"])
    first_send = min(r["first_send"] for r in records)
    last_put = max(r["done"] for r in records)
    out = {
        "items": len(records),
        "images_per_item": per_item,
        "active": len(changed),
        "put_status": statuses,
        "put_attempts": attempts,
        "put_seconds": last_put - first_send,
        "put_per_s": len(records) / (last_put - first_send),
        "put_ms": summary(put_ms),
        "latency_s": summary(lat),
        "latency_from_created_at_s": summary(server_lat),
    }
    if changed:
        changed.sort()
        span = changed[-1] - first_send
        out["seconds_first_put_to_last_active"] = span
        out["items_per_s"] = len(changed) / span
        out["images_per_s"] = len(changed) * per_item / span
        out["seconds_last_put_to_last_active"] = changed[-1] - last_put
        if len(changed) >= 20:
            # the drain in the middle: from the 10th to the 90th percentile of completions
            lo, hi = int(len(changed) * 0.1), int(len(changed) * 0.9)
            out["items_per_s_middle_80pct"] = (hi - lo) / (changed[hi] - changed[lo])
    return out


# --- report -----------------------------------------------------------------------------------


def fmt(value, spec=".1f", unit="") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def print_report(report: dict) -> None:
    args, base, burst = report["args"], report["baseline"], report["burst"]
    print()
    print(
        f"Image pipeline, {report['date']}, {report['machine']['nproc']} cores, commit "
        f"{report['source']['commit'] or 'unknown'}"
        f"{' with local changes' if report['source']['dirty'] else ''}; worker --concurrency="
        f"{args['concurrency']}, beat {'off' if args['no_beat'] else 'on'}, gunicorn "
        f"WEB_CONCURRENCY={args['web_concurrency']}"
    )
    imgs = report["images"]
    print(
        f"images: {imgs['count']} distinct JPEGs {imgs['width']}x{imgs['height']} q"
        f"{imgs['jpeg_quality']}, mean {imgs['bytes_mean'] / 1024:.0f} KiB"
    )
    print(
        f"baseline (one process, download + process in a loop, {base['images']} images): "
        f"{base['images_per_s']:.2f} images/s = {base['items_per_s']:.2f} items/s of "
        f"{args['images_per_item']} images; {base['ms_per_image']:.0f} ms/image wall "
        f"({base['cpu_ms_per_image']:.0f} ms CPU; download p50 "
        f"{base['download_ms']['p50']:.1f} ms, process p50 {base['process_ms']['p50']:.1f} ms); "
        f"image server {base['image_server_cpu_ms_per_image']:.1f} ms CPU/image"
    )
    lat = burst["latency_s"]
    print(
        f"burst: {burst['items']} items x {args['images_per_item']} images; PUTs in "
        f"{burst['put_seconds']:.1f} s ({burst['put_per_s']:.0f}/s, status {burst['put_status']},"
        f" {burst['put_attempts'] - burst['items']} retries); {burst['active']} active"
    )
    print(
        f"  items/s first PUT -> last active: {fmt(burst.get('items_per_s'), '.2f')} "
        f"({fmt(burst.get('images_per_s'), '.1f')} images/s, "
        f"{fmt(burst.get('seconds_first_put_to_last_active'), '.1f')} s); middle 80 % of "
        f"completions {fmt(burst.get('items_per_s_middle_80pct'), '.2f')} items/s"
    )
    print(
        f"  latency PUT -> active: p50 {fmt(lat.get('p50'), '.1f')} s, p95 "
        f"{fmt(lat.get('p95'), '.1f')} s, max {fmt(lat.get('max'), '.1f')} s"
    )
    ratios = report["ratios"]
    one, two = ratios.get("pipeline_vs_one_loop"), ratios.get("pipeline_vs_two_loops")
    print(
        f"  ratio pipeline / baseline (items/s): {fmt(one, '.2f')}"
        f" (against two such loops, one per core: {fmt(two, '.2f')})"
    )
    cpu = burst["cpu"]
    parts = ", ".join(f"{k} {v:.1f}" for k, v in cpu["ms_per_image"].items())
    print(
        f"  CPU ms per image: {parts}; machine busy {cpu['machine_busy_share']:.0%}, "
        f"others {cpu['others_share']:.0%}"
    )
    print(
        f"  worker CPU per image / baseline CPU per image: "
        f"{fmt(ratios.get('worker_cpu_vs_baseline_cpu'), '.2f')}"
    )
    w = burst.get("worker_log") or {}
    run = w.get("process_item_ms", {})
    if run.get("n"):
        print(
            f"  worker log: {w['received']} tasks received; process_item run time p50 "
            f"{run['p50']:.0f} ms, p95 {run['p95']:.0f} ms; {w['sweeps']} sweeps re-sent "
            f"{w['sweeper_nudges']} nudges"
        )
    paced = report.get("paced")
    if paced:
        plat = paced["latency_s"]
        print(
            f"paced: {paced['items']} items at {args['paced_rate']:g}/s: latency PUT -> active "
            f"p50 {fmt(plat.get('p50'), '.2f')} s, p95 {fmt(plat.get('p95'), '.2f')} s, max "
            f"{fmt(plat.get('max'), '.2f')} s; process_item p50 "
            f"{fmt((paced.get('worker_log') or {}).get('process_item_ms', {}).get('p50'), '.0f')}"
            " ms"
        )
    s = report["sanity"]
    print(
        f"sanity: {s['items_active']} of {s['items_pushed']} items active; "
        f"{s['stored_images']} stored images for {s['images_expected']} distinct URLs "
        f"(no dedup: {s['no_dedup']}); image server answered {s['image_requests']} GETs "
        f"(one per image: {s['one_get_per_image']}); worker log problems: "
        f"{len(s['worker_log_problems'])}"
    )
    if report.get("foreign_processes"):
        print("other work seen on the machine (all of it in the JSON):")
        for phase, commands in report["foreign_processes"].items():
            shown = "; ".join(c[:70] for c in commands[:3])
            more = f" and {len(commands) - 3} more" if len(commands) > 3 else ""
            print(f"  {phase}: {shown}{more}")
    else:
        print("other work seen on the machine: none")


# --- main -------------------------------------------------------------------------------------


def run(args, report: dict, watch: common.Watch, tmp: str) -> None:
    per_item = args.images_per_item
    first = {"baseline": 0}
    first["warmup"] = args.baseline_images + 3
    first["burst"] = first["warmup"] + args.warmup_items * per_item
    first["paced"] = first["burst"] + args.items * per_item
    total_images = first["paced"] + args.paced_items * per_item
    report["images"] = ensure_images(args.image_cache, total_images)
    log(f"images: {report['images']}")

    env = app_env(tmp)
    common.recreate_database(DB_NAME)
    common.flush_redis(REDIS_URL)
    log(f"database {DB_NAME} recreated; migrating, creating {args.keys} partners + keys")
    common.migrate(env)
    keys_file = os.path.join(tmp, "keys.txt")
    common.make_keys(env, args.keys, keys_file)
    keys = Path(keys_file).read_text().split()

    image_port, web_port = common.free_port(), common.free_port()
    folder = report["images"]["folder"]
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            Process(
                "image server",
                [PYTHON, SELF, "_imageserver", str(image_port), folder],
                env,
                f"{tmp}/imageserver.log",
                5,
            )
        )
        server.wait_for_line("READY", 15)
        watch.our_groups.add(server.proc.pid)
        url_template = f"http://{HOST}:{image_port}/img/{{}}.jpg"

        # Baseline: the image work alone, before anything else of Rheo runs; with
        # --baseline-against, the other checkout's loop in turn with this one's.
        watch.phase = "baseline"
        common.checkpoint(PG_URL)
        groups = {"image_server": server.proc.pid}
        before = cpu_snapshot(groups)
        sides = {"this": ROOT}
        if args.baseline_against:
            sides["against"] = Path(args.baseline_against).resolve()
        loops: dict[str, list[dict]] = {side: [] for side in sides}
        for round_ in range(args.baseline_rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))  # ABBA...
            for side in order:
                loop = baseline_loop(sides[side], url_template, env, args.baseline_images)
                loops[side].append(loop)
                log(
                    f"baseline {side} round {round_ + 1}: {loop['images_per_s']:.2f} images/s,"
                    f" {loop['cpu_ms_per_image']:.1f} ms CPU/image"
                )
        after = cpu_snapshot(groups)
        report["baseline_served"] = sum(map(len, loops.values())) * (args.baseline_images + 3)
        base = combined_loops(loops["this"])
        base["items_per_s"] = base["images_per_s"] / per_item
        base["image_server_cpu_ms_per_image"] = (
            (after["image_server"] - before["image_server"]) * 1000 / report["baseline_served"]
        )
        report["baseline"] = base
        log(
            f"baseline: {base['images_per_s']:.2f} images/s ({base['ms_per_image']:.0f} ms/image,"
            f" {base['cpu_ms_per_image']:.0f} ms CPU/image)"
        )
        if args.baseline_against:
            against = combined_loops(loops["against"])
            against["root"] = str(sides["against"])
            report["baseline_against"] = against
            report["baseline_ratios"] = {
                "images_per_s": base["images_per_s"] / against["images_per_s"],
                "cpu_ms_per_image": base["cpu_ms_per_image"] / against["cpu_ms_per_image"],
            }
            log(
                f"against {against['root']}: {against['images_per_s']:.2f} images/s, "
                f"{against['cpu_ms_per_image']:.1f} ms CPU/image; this / against: "
                f"{report['baseline_ratios']['images_per_s']:.2f} x images/s, "
                f"{report['baseline_ratios']['cpu_ms_per_image']:.2f} x CPU/image"
            )
        if args.baseline_only:
            return

        # The app, as the Procfile runs it.
        watch.phase = "start"
        web_env = {**env, "HOST": HOST, "PORT": str(web_port)}
        if args.web_concurrency:
            web_env["WEB_CONCURRENCY"] = str(args.web_concurrency)
        web = stack.enter_context(
            Process(
                "gunicorn",
                [GUNICORN, "-c", "python:rheo.gunicorn", "rheo.wsgi"],
                web_env,
                f"{tmp}/gunicorn.log",
            )
        )
        worker_cmd = [
            CELERY, "-A", "rheo", "worker", "-n", "worker@%h", "--loglevel=INFO",
            "--queues=default,tradera,images", f"--concurrency={args.concurrency}",
        ]  # fmt: skip
        worker = stack.enter_context(
            Process("worker", worker_cmd, env, f"{tmp}/worker.log", stop_timeout=30)
        )
        processes = [server, web, worker]
        groups.update(gunicorn=web.proc.pid, worker=worker.proc.pid)
        if not args.no_beat:
            beat = stack.enter_context(
                Process(
                    "beat",
                    [CELERY, "-A", "rheo", "beat", "--loglevel=INFO"],
                    env,
                    f"{tmp}/beat.log",
                )
            )
            processes.append(beat)
            groups["beat"] = beat.proc.pid
        watch.our_groups.update(groups.values())
        common.wait_http_ok(web_port, "/healthz", 30, web)
        worker.wait_for_line(r"worker@\S+ ready", 60)
        beat_state = "no beat" if args.no_beat else "beat"
        log(
            f"gunicorn on :{web_port}, worker (concurrency {args.concurrency}) and {beat_state}"
            f" up; image server on :{image_port}"
        )
        client = Client(web_port, image_port, keys, per_item)

        if args.warmup_items:
            watch.phase = "warm-up"
            records = client.burst("warm", args.warmup_items, first["warmup"], 2)
            done = wait_all_done("warm", args.warmup_items, 60, processes)
            log(f"warm-up: {done}")

        watch.phase = "burst"
        common.checkpoint(PG_URL)
        time.sleep(1)
        log_offset = worker.size()
        before = cpu_snapshot(groups)
        log(f"burst: {args.items} items x {per_item} images, {args.client_threads} threads")
        records = client.burst("burst", args.items, first["burst"], args.client_threads)
        log(
            f"  PUTs done in {max(r['done'] for r in records) - records[0]['first_send']:.1f} s;"
            " waiting for the pipeline"
        )
        done = wait_all_done("burst", args.items, args.timeout, processes)
        after = cpu_snapshot(groups)
        time.sleep(1)  # the worker's last log lines
        burst = phase_figures("burst", records, per_item)
        burst["wait"] = done
        burst["cpu"] = cpu_delta(before, after, args.items * per_item)
        burst["worker_log"] = worker_log_figures(worker.text(log_offset))
        report["burst"] = burst
        log(f"  {done}; {burst.get('items_per_s', 0):.2f} items/s, latency {burst['latency_s']}")

        if args.paced_items:
            watch.phase = "paced"
            time.sleep(2)
            log_offset = worker.size()
            log(f"paced: {args.paced_items} items at {args.paced_rate:g}/s")
            records = client.paced("paced", args.paced_items, first["paced"], args.paced_rate)
            done = wait_all_done("paced", args.paced_items, 60, processes)
            time.sleep(1)
            paced = phase_figures("paced", records, per_item)
            paced["wait"] = done
            paced["worker_log"] = worker_log_figures(worker.text(log_offset))
            report["paced"] = paced
            log(f"  {done}; latency {paced['latency_s']}")

        watch.phase = "shutdown"
        report["image_server"] = common.get_json(image_port, "/stats")
        report["counts"] = image_counts()
        report["worker_log_all"] = worker_log_figures(worker.text())
        report["beat_log_problems"] = [] if args.no_beat else common.log_problems(beat.text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="items in the burst")
    parser.add_argument("--images-per-item", type=int, default=3)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="the worker's --concurrency (prefork processes; the Procfile's default is 2)",
    )
    parser.add_argument(
        "--web-concurrency",
        type=int,
        default=4,
        help="gunicorn's WEB_CONCURRENCY (0: rheo.gunicorn's default, 2 x cores + 1)",
    )
    parser.add_argument("--no-beat", action="store_true", help="run without beat (sweeper)")
    parser.add_argument("--keys", type=int, default=100, help="partners, one API key each")
    parser.add_argument("--client-threads", type=int, default=4, help="threads sending PUTs")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for the burst's items"
    )
    parser.add_argument(
        "--baseline-images", type=int, default=60, help="images in the baseline loop"
    )
    parser.add_argument(
        "--baseline-against",
        metavar="DIR",
        help="also run the baseline loop from this checkout (an export of another commit), "
        "in turn with this one's, and print the ratios",
    )
    parser.add_argument(
        "--baseline-rounds", type=int, default=1, help="baseline loops per side (ABBA order)"
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="stop after the baseline loops"
    )
    parser.add_argument("--warmup-items", type=int, default=4)
    parser.add_argument("--paced-items", type=int, default=30, help="0 to skip the paced part")
    parser.add_argument("--paced-rate", type=float, default=2.0, help="items/s when paced")
    parser.add_argument(
        "--image-cache",
        default=os.path.join(tempfile.gettempdir(), "rheo-bench-pipeline-images"),
        help="where the generated JPEGs are kept between runs",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place")
    parser.add_argument(
        "--commit",
        default=None,
        help="the commit measured, when running from a `git archive` export (no git there)",
    )
    common.add_wait_quiet_option(parser)
    args = parser.parse_args()

    common.unwind_on_sigterm()
    watch = common.Watch()
    common.wait_for_quiet(watch, args.wait_quiet)
    import PIL

    machine = common.machine_info(REDIS_URL, pillow=PIL.__version__)
    report = common.begin_report(args, machine, args.commit)
    if report["machine"]["loadavg_at_start"][0] > 0.5:
        log(f"warning: load average {report['machine']['loadavg_at_start']} before start")
    started = time.monotonic()
    with common.scratch("rheo-bench-pipeline-", DB_NAME, REDIS_URL, args.keep_db) as tmp, watch:
        run(args, report, watch, tmp)
    report["seconds"] = round(time.monotonic() - started)
    report["foreign_processes"] = watch.summary()
    if args.baseline_only:
        report["machine"]["loadavg_at_end"] = os.getloadavg()
        shown = ("images", "loops", "images_per_s", "cpu_ms_per_image", "process_ms", "root")
        for side in ("baseline", "baseline_against", "baseline_ratios", "foreign_processes"):
            figures = report.get(side) or {}
            if side.startswith("baseline") and side != "baseline_ratios":
                figures = {k: v for k, v in figures.items() if k in shown}
            print(f"{side}: {json.dumps(figures)}")
        out = common.write_results(report, "pipeline_throughput-baseline", args.commit)
        log(f"results written to {out}")
        return 0

    burst, base = report["burst"], report["baseline"]
    cpu = burst["cpu"]["ms_per_image"]
    report["ratios"] = {
        "pipeline_vs_one_loop": burst.get("items_per_s", 0) / base["items_per_s"],
        "pipeline_vs_two_loops": burst.get("items_per_s", 0) / (2 * base["items_per_s"]),
        "worker_cpu_vs_baseline_cpu": cpu["worker"] / base["cpu_ms_per_image"],
    }
    pushed = args.warmup_items + args.items + args.paced_items
    expected_images = pushed * args.images_per_item
    counts = report["counts"]
    requests = report["image_server"]["requests"] - report["baseline_served"]
    active = burst["active"] + (report.get("paced") or {}).get("active", 0)
    report["sanity"] = {
        "items_pushed": args.items + args.paced_items,
        "items_active": active,
        "images_expected": expected_images,
        "stored_images": counts["stored_images"],
        "no_dedup": counts["stored_images"] == expected_images,
        "image_requests": requests,
        "one_get_per_image": requests == expected_images,
        "worker_log_problems": report["worker_log_all"]["problems"],
    }
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    print_report(report)
    out = common.write_results(report, "pipeline_throughput", args.commit)
    log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_imageserver":
        run_image_server(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "_baseline":
        run_baseline(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(main())
