"""Benchmark: the history gallery over a job log of 10,000 rows opens its first page fast.

Run: ``.venv/bin/python tests/benchmarks/bench_gallery.py [rows]`` (default 10,000; prints
the figures). Target: the first page (24 cards) in < 1 s, thumbnails made cold.

The log is a real SQLite job log (``JobLog.record_many``); every job points at one of 60
real 1024x576 PNG files (sandbox-sized), so the first page makes 24 thumbnails from disk.
Measured: building ``Gallery(session)`` cold (no thumbnail cached: count + one LIMIT/OFFSET
page + 24 Pillow thumbnails + the widgets), warm (thumbnails cached), the next page, a text
filter, the ipywidgets models a page creates, and for contrast loading the whole log as a
DataFrame. If anywidget is installed, the same page as ONE anywidget model (page data as a
JSON trait) is timed too — the measurement behind choosing standard ipywidgets.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ipywidgets.widgets.widget import _instances  # noqa: E402
from PIL import Image  # noqa: E402

from phaya_notebook import display  # noqa: E402
from phaya_notebook.session import Session  # noqa: E402
from phaya_notebook.widgets.gallery import Gallery, caption_html, thumb_html  # noqa: E402

FILES = 60


def make_images(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    rng = random.Random(7)
    for i in range(FILES):
        im = Image.new("RGB", (1024, 576), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        small = Image.effect_noise((256, 144), 40).convert("RGB").resize((1024, 576))
        im = Image.blend(im, small, 0.35)
        p = folder / f"img{i:03d}.png"
        im.save(p)
        out.append(p)
    return out


def fill(log, rows: int, images: list[Path]) -> None:
    now = time.time()
    models = [("text-to-image", "Z-Image"), ("nano-banana", "Nano Banana 2"), ("seedream", "Seedream 5.0")]
    batch = []
    for i in range(rows):
        svc, label = models[i % 3]
        batch.append({"job_id": f"job-{i:06d}", "kind": "job", "service": svc, "model": label,
                      "prompt": f"prompt {i}: a paper boat on a {['lake', 'sea', 'river'][i % 3]}",
                      "params": {"prompt": f"prompt {i}", "aspect_ratio": "16:9"}, "status": "completed",
                      "estimated": 1.0, "charged": 1.0, "refunded": 0.0, "duration": 8.0 + i % 7,
                      "created_at": now - (rows - i) * 30, "paths": [str(images[i % len(images)])],
                      "urls": [f"http://127.0.0.1:1/f/{i}.png"], "tags": ["bench"] if i % 2 else None,
                      "rating": (1, -1, None)[i % 3]})
    log.record_many(batch)


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as tmp:
        root = Path(tmp)
        images = make_images(root / "phaya-media")
        s = Session("bench-key", "http://127.0.0.1:9/api/v1", log_path=root / "jobs.sqlite3",
                    cache_dir=root / "phaya-media")
        try:
            t0 = time.perf_counter()
            fill(s.log, rows, images)
            print(f"log: {len(s.log):,} rows written in {time.perf_counter() - t0:.1f} s")

            import shutil

            display.thumbnails._thumb_cache.clear()
            shutil.rmtree(root / "phaya-media" / "thumbs", ignore_errors=True)
            before = len(_instances)
            cold, g = timed(lambda: Gallery(s))
            models = len(_instances) - before
            print(f"first page, cold thumbnails, no loop (all 24 made before it returns): {cold:.0f} ms "
                  f"({len(g.rows)} cards, {models} widget models)")
            display.thumbnails._thumb_cache.clear()
            shutil.rmtree(root / "phaya-media" / "thumbs", ignore_errors=True)

            async def in_kernel() -> tuple[float, float]:
                t0 = time.perf_counter()
                g2 = Gallery(s)
                shown = (time.perf_counter() - t0) * 1000
                await g2.wait(60)
                return shown, (time.perf_counter() - t0) * 1000

            shown, filled = asyncio.run(in_kernel())
            print(f"first page on a running loop (as in a kernel), cold: shown in {shown:.0f} ms, "
                  f"all thumbnails filled in by {filled:.0f} ms")
            display.thumbnails._thumb_cache.clear()  # a new kernel: memory empty, thumbnails on disk
            disk, _ = timed(lambda: Gallery(s))
            print(f"first page, new kernel, thumbnails on disk: {disk:.0f} ms")
            warm, _ = timed(lambda: Gallery(s), repeat=5)
            print(f"first page, warm thumbnails: {warm:.0f} ms (median of 5)")
            display.thumbnails._thumb_cache.clear()
            nxt, _ = timed(lambda: g.show_page(1))
            print(f"next page (cold thumbnails): {nxt:.0f} ms; label: {g.page_label.value!r}")
            flt, _ = timed(lambda: setattr(g.text, "value", "river"))
            print(f"text filter 'river': {flt:.0f} ms -> {g.total:,} jobs")
            q, _ = timed(lambda: (s.log.count(), s.log.browse(limit=24, offset=5000)), repeat=5)
            print(f"SQL only (count + page at offset 5000): {q:.1f} ms")
            df_ms, df = timed(lambda: s.jobs())
            print(f"for contrast, the whole log as a DataFrame: {df_ms:.0f} ms ({len(df):,} rows)")
            try:
                import anywidget
                import traitlets
            except ImportError:
                print("anywidget not installed: one-model alternative not measured")
            else:
                class Page(anywidget.AnyWidget):
                    _esm = "export default { render({ model, el }) { el.innerHTML = model.get('html'); } }"
                    html = traitlets.Unicode("").tag(sync=True)

                display.thumbnails._thumb_cache.clear()

                def one_model() -> object:
                    page = s.log.browse(limit=24, offset=0)
                    s.log.count()
                    return Page(html="".join(thumb_html(r) + caption_html(r) for r in page))

                aw, _ = timed(one_model)
                print(f"anywidget, the same page as one model (cold thumbnails): {aw:.0f} ms, 1 widget model")
            for what, ms in (("shown in a kernel, cold", shown), ("no loop, cold, every thumbnail made", cold),
                             ("new kernel, thumbnails on disk", disk)):
                print(f"target first page < 1000 ms, {what}: {'met' if ms < 1000 else 'NOT met'} ({ms:.0f} ms)")
        finally:
            s.log.close()


if __name__ == "__main__":
    main()
