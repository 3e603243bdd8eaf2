"""Search benchmark: 10 query shapes timed on each store backend holding the same seeded data
(default 1,000,000 events over 50,000 bugs and 50 projects; bench/seed.py).

Queries go through the store interface the API calls (`search_bugs`, `search_events`,
`get_bug`, `get_events`), in this process, one at a time. Each shape rotates over variants
(another project, word or cursor per iteration) so no answer is served from a cache warmed by the
same request. Seeded data stays under bench/data/ for `--reuse`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bench import WORK_DIR, disk, figures, seed, shown
from bench.services import ElasticsearchNode
from store import open_store
from store.base import Store
from store.search import BugQuery, EventQuery

if TYPE_CHECKING:
    from store.elasticsearch import ElasticsearchStore

DATA = WORK_DIR / "data"
TARGET_P95_MS = 150.0
ES_PREFIX = "bench-"

WORDS = ("timeout", "connection", "payment", "refused", "deadlock", "parse", "upstream",
         "session", "memory", "division", "gateway", "duplicate", "attribute", "reference")
PHRASES = ("connection refused", "timed out", "payment gateway returned", "missing key",
           "division by zero", "out of memory", "cannot parse json", "null reference")
CHINESE = ("连接", "超时", "支付", "会话", "缓存", "订单", "数据库", "网络", "短信", "权限")
PREFIXES = ("time*", "conn*", "pay*", "dead*", "sess*", "mem*", "up*", "ref*")


@dataclass
class Context:
    """What the shapes draw their variants from."""

    spec: seed.Spec
    projects: list[str]
    hot_bugs: list[int]
    cursors: list[str]
    rng: random.Random


Shape = Callable[[Store, Context, int], Any]


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def facets_only(store: Store, c: Context, i: int) -> Any:
    filters = {"project_id": [c.projects[i % len(c.projects)]]} if i % 2 else {}
    return store.search_bugs(BugQuery(filters=filters, size=0))


def facets_fulltext(store: Store, c: Context, i: int) -> Any:
    return store.search_bugs(BugQuery(q=WORDS[i % len(WORDS)], size=50))


def phrase(store: Store, c: Context, i: int) -> Any:
    return store.search_bugs(BugQuery(q=f'message:"{PHRASES[i % len(PHRASES)]}"', size=50))


def boolean_ranges(store: Store, c: Context, i: int) -> Any:
    since = _day(c.spec.end - timedelta(days=1 + i % 7))
    q = (f"(level:ERROR OR level:CRITICAL) AND NOT status:FIXED AND count:[{2 + i % 5} TO *] "
         f"AND last_seen:[{since} TO {_day(c.spec.end + timedelta(days=1))}]")
    return store.search_bugs(BugQuery(q=q, size=50))


def chinese(store: Store, c: Context, i: int) -> Any:
    return store.search_bugs(BugQuery(q=CHINESE[i % len(CHINESE)], size=50))


def wildcard(store: Store, c: Context, i: int) -> Any:
    project = c.projects[i % len(c.projects)]
    q = f"project_id:{project[:3]}* AND {PREFIXES[i % len(PREFIXES)]}"
    return store.search_bugs(BugQuery(q=q, size=50))


def histogram_24h(store: Store, c: Context, i: int) -> Any:
    return store.search_events(EventQuery(
        filters={"project_id": [c.projects[i % len(c.projects)]]},
        start=c.spec.end - timedelta(hours=24), end=c.spec.end, interval_seconds=3600, size=0))


def discover_3_facets(store: Store, c: Context, i: int) -> Any:
    return store.search_events(EventQuery(
        q=f"level:ERROR AND {WORDS[i % len(WORDS)]}", start=c.spec.end - timedelta(days=7),
        end=c.spec.end, interval_seconds=3 * 3600, size=50,
        facets=("project_id", "environment", "version")))


def deep_cursor(store: Store, c: Context, i: int) -> Any:
    return store.search_events(EventQuery(size=50, cursor=c.cursors[i % len(c.cursors)]))


def bug_detail(store: Store, c: Context, i: int) -> Any:
    bug_id = c.hot_bugs[i % len(c.hot_bugs)] if i % 3 == 0 else c.rng.randint(1, c.spec.bugs)
    return store.get_bug(bug_id), store.get_events(bug_id, size=50)


SHAPES: dict[str, Shape] = {
    "facets only": facets_only,
    "facets + full text": facets_fulltext,
    "phrase": phrase,
    "boolean + ranges": boolean_ranges,
    "Chinese word": chinese,
    "wildcard": wildcard,
    "project 24 h histogram": histogram_24h,
    "Discover, 3 facets": discover_3_facets,
    "deep page (cursor)": deep_cursor,
    "bug detail + events": bug_detail,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="logcenter bench search", description=__doc__)
    p.add_argument("--events", type=int, default=1_000_000, help="events to seed (1,000,000)")
    p.add_argument("--bugs", type=int, default=None,
                   help="bugs (default 50,000, or events/20 when fewer events)")
    p.add_argument("--projects", type=int, default=50)
    p.add_argument("--backends", default="sqlite,elasticsearch")
    p.add_argument("--reuse", action="store_true",
                   help="query data seeded by an earlier run with the same sizes")
    p.add_argument("--iterations", type=int, default=40, help="timed queries per shape (40)")
    p.add_argument("--warmup", type=int, default=3, help="untimed queries per shape first (3)")
    p.add_argument("--shapes", default="",
                   help="only the shapes whose names contain one of these comma-separated words")
    p.add_argument("--cursor-depth", type=int, default=10_000,
                   help="events skipped before the deep pages (10,000)")
    p.add_argument("--es-version", default=os.environ.get("LOGCENTER_TEST_ES_VERSION", "9.2.0"))
    p.add_argument("--es-url", default=None,
                   help="use this running node instead of starting one under bench/data/")
    return p.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    bugs = args.bugs or min(50_000, max(args.events // 20, 100))
    started = datetime.now(UTC)
    folder = data_folder(args.events, bugs, args.projects)
    meta = dataset(folder, args.events, bugs, args.projects, reuse=args.reuse)
    spec = spec_of(meta)
    results: dict[str, Any] = {}
    es_version = None
    for backend in args.backends.split(","):
        with open_backend(backend, folder, args) as (store, version):
            es_version = version or es_version
            seconds = ensure_seeded(store, backend, spec, folder, meta, args.reuse)
            per_event = round(disk.per_occurrence(store, backend, spec.events))
            print(f"{backend}: {per_event:,} bytes on disk per occurrence")
            results[backend] = {"seed_seconds": seconds, "disk_bytes_per_event": per_event,
                                **time_shapes(store, spec, args)}
    print()
    print(render(results))
    path = figures.write("search", {"target_p95_ms": TARGET_P95_MS, "options": vars(args),
                                    "events": args.events, "bugs": bugs,
                                    "projects": args.projects, "backends": results},
                         started=started, elasticsearch_server=es_version)
    print(f"\nfigures written to {shown(path)}")
    return 0


def data_folder(events: int, bugs: int, projects: int) -> Path:
    """Where the data set of these sizes lives (both backends; the UI benchmark reuses it)."""
    return DATA / f"search-{events}-{bugs}-{projects}"


def dataset(folder: Path, events: int, bugs: int, projects: int, *, reuse: bool
            ) -> dict[str, Any]:
    """The data set's description; without `reuse` a new one starts (new end time)."""
    path = folder / "meta.json"
    if reuse and path.exists():
        meta: dict[str, Any] = json.loads(path.read_text())
        return meta
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("logcenter.db*"):
        f.unlink()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    meta = {"events": events, "bugs": bugs, "projects": projects,
            "seed": 20261128, "end": end.isoformat(), "seeded": {}}
    path.write_text(json.dumps(meta, indent=2))
    return meta


def spec_of(meta: dict[str, Any]) -> seed.Spec:
    return seed.Spec(meta["events"], meta["bugs"], meta["projects"],
                     datetime.fromisoformat(meta["end"]), meta["seed"])


@contextmanager
def open_backend(backend: str, folder: Path, args: argparse.Namespace
                 ) -> Iterator[tuple[Store, str | None]]:
    with ExitStack() as cleanup:
        url, version = backend_url(backend, folder, args, cleanup)
        store = open_store(url, **store_options(backend))
        cleanup.callback(store.close)
        store.init()
        yield store, version


def store_options(backend: str) -> dict[str, Any]:
    """What `open_store` needs besides the URL: the benchmark's own index prefix on ES."""
    return {"index_prefix": ES_PREFIX} if backend == "elasticsearch" else {}


def backend_url(backend: str, folder: Path, args: argparse.Namespace, cleanup: ExitStack
                ) -> tuple[str, str | None]:
    """The store URL of `backend` for the data in `folder` (an Elasticsearch node is started
    unless `args.es_url` names one, and stopped by `cleanup`) and the node's version."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'logcenter.db'}", None
    if backend == "elasticsearch":
        url = args.es_url or _start_node(folder / "es", args.es_version, cleanup)
        return url, figures.es_version(url)
    raise SystemExit(f"unknown backend {backend!r} (sqlite, elasticsearch)")


def _start_node(workdir: Path, version: str, cleanup: ExitStack) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    node = ElasticsearchNode(workdir, version)
    cleanup.callback(node.stop)
    node.start()
    return node.url


def ensure_seeded(store: Store, backend: str, spec: seed.Spec, folder: Path,
                   meta: dict[str, Any], reuse: bool) -> float | None:
    if reuse and meta["seeded"].get(backend):
        print(f"{backend}: reusing {spec.events:,} events seeded earlier")
        return None
    if backend == "elasticsearch" and hasattr(store, "drop"):
        store.drop()
        store.init()
    print(f"{backend}: seeding {spec.events:,} events over {spec.bugs:,} bugs")
    with _relaxed_refresh(store, backend):
        seconds = seed.seed(store, spec)
    print(f"{backend}: seeded in {seconds:,.0f} s ({spec.events / seconds:,.0f} events/s)")
    meta["seeded"][backend] = {"seconds": round(seconds, 1),
                               "at": datetime.now(UTC).isoformat(timespec="seconds")}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
    return seconds


@contextmanager
def _relaxed_refresh(store: Store, backend: str) -> Iterator[None]:
    """For ES: no periodic refresh and async translog while seeding (the store refreshes what
    it needs itself); the index template's settings are restored afterwards."""
    if backend != "elasticsearch":
        yield
        return
    es_store = cast("ElasticsearchStore", store)  # what open_backend opens for this backend
    es, pattern = es_store.es, es_store.names.events_pattern
    relaxed = {"index.refresh_interval": "-1", "index.translog.durability": "async"}
    template = f"{ES_PREFIX}events"
    body = es.indices.get_index_template(name=template)["index_templates"][0]["index_template"]
    original = dict(body["template"].get("settings", {}))
    body["template"]["settings"] = {**original, **relaxed}
    es.indices.put_index_template(name=template, **_template_args(body))
    try:
        yield
    finally:
        body["template"]["settings"] = original
        es.indices.put_index_template(name=template, **_template_args(body))
        es.indices.put_settings(index=pattern, settings={"index.refresh_interval": None,
                                                          "index.translog.durability": None})
        es.indices.refresh(index=pattern)


def _template_args(body: dict[str, Any]) -> dict[str, Any]:
    keys = ("index_patterns", "template", "version", "priority", "_meta", "composed_of")
    return {k: body[k] for k in keys if k in body}


# -- timing ------------------------------------------------------------------------------------


def _context(store: Store, spec: seed.Spec, args: argparse.Namespace) -> Context:
    hot = seed.by_frequency(spec)[:20]
    pages = args.iterations + args.warmup
    return Context(spec, seed.projects(spec.projects), hot,
                   _cursors(store, args.cursor_depth, pages), random.Random(7))


def _cursors(store: Store, depth: int, pages: int) -> list[str]:
    """Cursors at `depth`, `depth + 50`, ... events into the newest-first event list."""
    cursor = None
    skipped = 0
    while skipped < depth:
        page = store.search_events(EventQuery(size=min(500, depth - skipped), cursor=cursor))
        if page.next_cursor is None:
            break
        cursor, skipped = page.next_cursor, skipped + len(page.items)
    out = []
    for _ in range(pages):
        if cursor is None:
            break
        out.append(cursor)
        cursor = store.search_events(EventQuery(size=50, cursor=cursor)).next_cursor
    return out or [""]


def time_shapes(store: Store, spec: seed.Spec, args: argparse.Namespace) -> dict[str, Any]:
    ctx = _context(store, spec, args)
    shapes: dict[str, Any] = {}
    wanted = [w.strip().lower() for w in args.shapes.split(",") if w.strip()]
    for name, shape in SHAPES.items():
        if wanted and not any(w in name.lower() for w in wanted):
            continue
        for i in range(args.iterations, args.iterations + args.warmup):
            shape(store, ctx, i)
        times = []
        hits = None
        for i in range(args.iterations):
            t0 = time.perf_counter()
            answer = shape(store, ctx, i)
            times.append((time.perf_counter() - t0) * 1000)
            hits = _hits(answer) if hits is None else hits
        shapes[name] = {"p50_ms": round(figures.percentile(times, 50), 1),
                        "p95_ms": round(figures.percentile(times, 95), 1),
                        "max_ms": round(max(times), 1), "hits_first": hits}
        print(f"  {name:<24} p50 {shapes[name]['p50_ms']:>7.1f} ms  "
              f"p95 {shapes[name]['p95_ms']:>7.1f} ms")
    return {"shapes": shapes}


def _hits(answer: Any) -> int | None:
    if isinstance(answer, tuple):
        answer = answer[1]
    return getattr(answer, "total", None)


def render(results: dict[str, Any]) -> str:
    backends = list(results)
    headers = ["shape"]
    for b in backends:
        headers += [f"{b} p50", f"{b} p95"]
    headers.append(f"p95 <= {TARGET_P95_MS:.0f} ms")
    rows = []
    for name in SHAPES:
        row: list[Any] = [name]
        misses = []
        if not all(name in results[b]["shapes"] for b in backends):
            continue
        for b in backends:
            s = results[b]["shapes"][name]
            row += [s["p50_ms"], s["p95_ms"]]
            if s["p95_ms"] > TARGET_P95_MS:
                misses.append(b)
        row.append("met" if not misses else "missed: " + ",".join(misses))
        rows.append(row)
    disk_row: list[Any] = ["disk bytes/occurrence"]
    for b in backends:
        disk_row += [results[b]["disk_bytes_per_event"], ""]
    rows.append([*disk_row, ""])
    return figures.table(headers, rows) + "\n(milliseconds; disk in bytes)"
