"""Page-time benchmark: the dashboard's pages opened in headless Chromium against a seeded store,
timed as a user waits for them.

`logcenter api` and `logcenter dashboard` run as processes on the search benchmark's data set
(bench/search.py seeds it once under bench/data/; later runs reuse it). Each page is loaded
`--runs` times in one browser after one untimed load of every page, which fills its cache with
the scripts each page needs. A load is timed from navigation start until the page's content is
in the document (checked every animation frame, so a main thread blocked by rendering counts),
and the bytes it received are summed from the browser's resource timing once no callback is
pending and the network is quiet: everything (`received`) and the callbacks' answers alone
(`callbacks`).
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bench import figures, search, seed, shown
from bench.browser import DASH_PENDING, chromium
from bench.services import RedisServer
from bench.stack import RunningStack
from store import open_store

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

TARGET_P95_MS = 1500.0
#: The query of the Discover rows with one: the word matching the most events of the data set.
QUERY = "timeout"


@dataclass(frozen=True)
class Page:
    """A page to open: its name, its path and query string, and a JavaScript expression that is
    true once its content is shown."""

    name: str
    path: str
    ready: str


def _all(*selectors: str) -> str:
    return " && ".join(f"!!document.querySelector({s!r})" for s in selectors)


# Documents as the page showed them before the grid, or grid cells with text (the grid's
# placeholder row while a block loads has empty cells).
_DOCS = (
    "(!!document.querySelector('#discover-docs details.doc, #discover-docs .empty') || "
    "[...document.querySelectorAll('#discover-docs .ag-cell')].some(c => c.textContent.trim()))"
)
# The bug's chart as Plotly drew it before, or its plain bars.
_BUG_CHART = "#bug-chart .bars path, #bug-chart .strip-bars .bar"
# The bug's occurrences as the page showed them before the grid, or grid cells with text.
_BUG_DOCS = (
    "(!!document.querySelector('.recent details.doc') || "
    "[...document.querySelectorAll('.recent .ag-cell')].some(c => c.textContent.trim()))"
)
_DISCOVER_READY = (
    "(document.querySelector('#discover-total') || {}).textContent && "
    + _DOCS
    + " && "
    + _all("#discover-histogram .bars path")
)


def pages(spec: seed.Spec) -> list[Page]:
    """The pages of the issue's target, on this data set (ranges end where its events end)."""
    end = spec.end

    def discover(hours: int, q: str = "") -> str:
        start = end - timedelta(hours=hours)
        params = {"q": q} if q else {}
        params.update({"from": _iso(start), "to": _iso(end)})
        return "/discover?" + urlencode(params)

    hottest = seed.by_frequency(spec)[0]
    return [
        Page("bugs", "/", _all("tr.bug-row")),
        Page(
            f"bug detail (#{hottest}, most frequent)",
            f"/bugs/{hottest}",
            _all("#bug-stack pre.stack", _BUG_CHART) + " && " + _BUG_DOCS,
        ),
        Page("Discover 24 h", discover(24), _DISCOVER_READY),
        Page(f"Discover 24 h, q={QUERY}", discover(24, QUERY), _DISCOVER_READY),
        Page("Discover 7 d", discover(24 * 7), _DISCOVER_READY),
        Page(f"Discover 7 d, q={QUERY}", discover(24 * 7, QUERY), _DISCOVER_READY),
        Page("repairs", "/repairs", _all("#repairs-table tr.report-row, #repairs-table .empty")),
        Page("projects", "/projects", _all("#projects-grid .ag-row")),
    ]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Resolves with performance.now() at the first animation frame where `ready` holds, or null.
_WAIT = """
const ready = new Function('return (' + arguments[0] + ')');
const limit = arguments[1];
const done = arguments[arguments.length - 1];
(function poll() {
  let ok = false;
  try { ok = ready(); } catch (e) { ok = false; }
  if (ok) { done(performance.now()); return; }
  if (performance.now() > limit) { done(null); return; }
  requestAnimationFrame(poll);
})();
"""

# Bytes received so far: every entry's transfer size, and the callbacks' bodies alone.
_BYTES = """
const entries = [...performance.getEntriesByType('navigation'),
                 ...performance.getEntriesByType('resource')];
let all = 0, callbacks = 0;
for (const e of entries) {
  all += e.transferSize || 0;
  if (e.name.includes('_dash-update-component')) callbacks += e.encodedBodySize || 0;
}
return [entries.length, all, callbacks];
"""


def load(driver: WebDriver, base: str, page: Page, timeout: float) -> dict[str, float]:
    """Open `page` once; its time to content (ms from navigation start) and bytes received."""
    driver.get(base + page.path)
    driver.set_script_timeout(timeout + 5)
    shown_at = driver.execute_async_script(_WAIT, page.ready, timeout * 1000)
    if shown_at is None:
        raise TimeoutError(f"{page.name}: no content after {timeout:.0f} s ({base + page.path})")
    count, received, callbacks = _quiet(driver)
    return {"ms": float(shown_at), "received": received, "callbacks": callbacks, "requests": count}


def _quiet(driver: WebDriver, still: float = 0.5, limit: float = 60) -> list[int]:
    """The byte counts once no Dash callback is pending and no request has ended for `still`
    seconds (at most `limit`), so the next load does not share the server with this one."""
    last = driver.execute_script(_BYTES)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(still)
        now = driver.execute_script(_BYTES)
        busy = driver.execute_script(DASH_PENDING)
        if now[0] == last[0] and not busy:
            break
        last = now
    return [int(v) for v in last]


def time_pages(
    driver: WebDriver, base: str, chosen: list[Page], args: argparse.Namespace
) -> dict[str, Any]:
    # Room for every request of the runs, beyond the browser's default of 250 entries.
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": "performance.setResourceTimingBufferSize(100000)"},
    )
    # Scripts and styles into the cache: each page once, as it loads scripts of its own (the
    # document grid's alone are ~4.8 MB), which the first timed load would otherwise fetch.
    for page in chosen:
        _attempt(driver, base, page, args.timeout)
    out: dict[str, Any] = {}
    for page in chosen:
        runs = [_attempt(driver, base, page, args.timeout) for _ in range(args.runs)]
        times = [r["ms"] for r in runs]
        out[page.name] = {
            "path": page.path,
            "p50_ms": round(figures.percentile(times, 50)),
            "p95_ms": round(figures.percentile(times, 95)),
            "received_kb": round(_median([r["received"] for r in runs]) / 1024, 1),
            "callbacks_kb": round(_median([r["callbacks"] for r in runs]) / 1024, 1),
            "timeouts": sum(int(r.get("timed_out", 0)) for r in runs),
            "runs": runs,
        }
        row = out[page.name]
        print(
            f"  {page.name:<34} p50 {row['p50_ms']:>6} ms  p95 {row['p95_ms']:>6} ms  "
            f"received {row['received_kb']:>8.1f} KB  callbacks {row['callbacks_kb']:>8.1f} KB"
        )
    return out


def _attempt(driver: WebDriver, base: str, page: Page, timeout: float) -> dict[str, float]:
    """One load; one that shows nothing within `timeout` counts as taking `timeout` (and is
    said so), so the other pages are still measured."""
    try:
        return load(driver, base, page, timeout)
    except TimeoutError as exc:
        print(f"  {exc}")
        return {"ms": timeout * 1000, "received": 0, "callbacks": 0, "requests": 0, "timed_out": 1}


def _median(values: list[float]) -> float:
    return figures.percentile(values, 50)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="logcenter bench ui", description=__doc__)
    p.add_argument("--store", choices=("sqlite", "elasticsearch"), default="sqlite")
    p.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="events of the data set (1,000,000; seeded once, then reused)",
    )
    p.add_argument(
        "--bugs",
        type=int,
        default=None,
        help="bugs (default 50,000, or events/20 when fewer events)",
    )
    p.add_argument("--projects", type=int, default=50)
    p.add_argument("--runs", type=int, default=5, help="timed loads per page (5)")
    p.add_argument(
        "--pages",
        default="",
        help="only the pages whose names contain one of these comma-separated words",
    )
    p.add_argument("--timeout", type=float, default=120, help="seconds a page may take (120)")
    p.add_argument("--es-version", default=os.environ.get("LOGCENTER_TEST_ES_VERSION", "9.2.0"))
    p.add_argument(
        "--es-url",
        default=None,
        help="use this running node instead of starting one under bench/data/",
    )
    return p.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    bugs = args.bugs or min(50_000, max(args.events // 20, 100))
    started = datetime.now(UTC)
    folder = search.data_folder(args.events, bugs, args.projects)
    meta = search.dataset(folder, args.events, bugs, args.projects, reuse=True)
    spec = search.spec_of(meta)
    wanted = [w.strip().lower() for w in args.pages.split(",") if w.strip()]
    chosen = [p for p in pages(spec) if not wanted or any(w in p.name.lower() for w in wanted)]
    with ExitStack() as cleanup:
        url, es_version = search.backend_url(args.store, folder, args, cleanup)
        _seed(url, args.store, spec, folder, meta)
        base = _start(url, args.store, folder / "ui", cleanup)
        driver = chromium(command_timeout=args.timeout + 60)
        cleanup.callback(driver.quit)
        print(
            f"{args.store}: {spec.events:,} events, {spec.bugs:,} bugs; {args.runs} loads per page"
        )
        results = time_pages(driver, base, chosen, args)
    print()
    print(render(results))
    path = figures.write(
        "ui",
        {
            "target_p95_ms": TARGET_P95_MS,
            "options": vars(args),
            "store": args.store,
            "events": spec.events,
            "bugs": spec.bugs,
            "projects": spec.projects,
            "pages": results,
        },
        started=started,
        elasticsearch_server=es_version,
    )
    print(f"\nfigures written to {shown(path)}")
    return 0


def _seed(url: str, backend: str, spec: seed.Spec, folder: Path, meta: dict[str, Any]) -> None:
    """Seed the data set into this backend unless an earlier run did."""
    store = open_store(url, **search.store_options(backend))
    try:
        store.init()
        search.ensure_seeded(store, backend, spec, folder, meta, reuse=True)
        seed.register_projects(store, spec)  # data seeded before seeding registered them
    finally:
        store.close()


def _start(url: str, backend: str, workdir: Path, cleanup: ExitStack) -> str:
    """Redis, `logcenter api` on the store at `url`, and `logcenter dashboard`; its URL."""
    redis = RedisServer(workdir / "redis", appendonly=False)
    cleanup.callback(redis.stop)
    redis.start()
    env = {
        "LOGCENTER_STORE_URL": url,
        "LOGCENTER_REDIS_URL": redis.url,
        "LOGCENTER_REDIS_PREFIX": "bench-ui:",
    }
    if backend == "elasticsearch":
        env["LOGCENTER_ES_INDEX_PREFIX"] = search.ES_PREFIX
    stack = RunningStack(workdir, env)
    cleanup.callback(stack.stop)
    stack.start(indexers=0)
    return stack.start_dashboard()


def render(results: dict[str, Any]) -> str:
    headers = [
        "page",
        "p50 ms",
        "p95 ms",
        "received KB",
        "callbacks KB",
        f"p95 <= {TARGET_P95_MS:.0f} ms",
    ]
    rows = [
        [
            name,
            r["p50_ms"],
            r["p95_ms"],
            r["received_kb"],
            r["callbacks_kb"],
            ("met" if r["p95_ms"] <= TARGET_P95_MS else "missed")
            + (f" ({r['timeouts']} timed out)" if r["timeouts"] else ""),
        ]
        for name, r in results.items()
    ]
    return (
        figures.table(headers, rows) + "\n(time from navigation start until the content "
        "is shown; bytes: medians of the timed loads)"
    )
