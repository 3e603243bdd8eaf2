"""The `logcenter` command: the whole stack (`up`) or one component per process."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import TOKEN_FILE, create_admin_token, get_settings

if TYPE_CHECKING:
    from redis import Redis

    from store.base import Store

EPILOG = """
Settings come from LOGCENTER_* environment variables and a .env file in the working directory
(see .env.example): LOGCENTER_STORE_URL (sqlite:///path.db or http://host:9200),
LOGCENTER_REDIS_URL (empty = embedded Redis under the data dir), LOGCENTER_ADMIN_TOKEN (empty =
the one `logcenter up` generates in the data dir), LOGCENTER_ANONYMOUS_WRITES, ...
Command-line options override them.
"""

#: Commands that are no Log Center process, so need not warn about open writes.
_NOT_PROCESSES = (
    "token",
    "bench",
    "es-reindex",
    "kibana-setup",
    "backup",
    "restore",
    "es-snapshot",
    "migrate",
)


def _override(**values: object) -> None:
    """Apply command-line options as settings (also seen by child and worker processes)."""
    for name, value in values.items():
        if value is not None:
            os.environ[f"LOGCENTER_{name.upper()}"] = str(value)
    get_settings.cache_clear()


def _embedded_redis_if_needed() -> None:
    """Components started on their own share the embedded Redis of the data dir."""
    settings = get_settings()
    if not settings.redis_url:
        from config.wiring import start_embedded_redis

        _override(redis_url=start_embedded_redis(settings.data_dir))


def _warn_if_writes_open(command: str) -> None:
    """Every process says so when it starts with writes open to anyone."""
    if get_settings().writes_open():
        print(
            f"logcenter {command}: WARNING: writes are open to anyone who can reach the API "
            "(LOGCENTER_ANONYMOUS_WRITES=true and no admin token): project repositories, "
            "statuses and repairs can be changed without a token",
            file=sys.stderr,
            flush=True,
        )


def cmd_up(args: argparse.Namespace) -> int:
    from config.stack import Stack

    _override(data_dir=args.data_dir, api_port=args.api_port, dashboard_port=args.dashboard_port)
    settings = get_settings()
    if not settings.admin_token and not settings.anonymous_writes:
        # Secure by default: every process of the stack reads this token from the data dir.
        if not create_admin_token(settings.data_dir):
            sys.exit(f"logcenter: {settings.data_dir / TOKEN_FILE} is empty: remove it")
        get_settings.cache_clear()
    if not os.environ.get("LOGCENTER_API_URL"):
        _override(api_url=f"http://127.0.0.1:{settings.api_port}")
    return Stack(get_settings(), workers=args.workers, host=args.host).run()


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    _override(data_dir=args.data_dir)
    _embedded_redis_if_needed()
    settings = get_settings()
    uvicorn.run(
        "ingest.app:create_served",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        # Longer than the idle timeout of the proxies and clients in front of us, so a reused
        # keep-alive connection is never closed under a request in flight.
        timeout_keep_alive=75,
    )
    return 0


def cmd_indexer(args: argparse.Namespace) -> int:
    from ingest.indexer import main as run_indexer

    _override(data_dir=args.data_dir)
    _embedded_redis_if_needed()
    run_indexer(get_settings())
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from ingest.alerts.deliverer import main as run_deliverer

    _override(data_dir=args.data_dir)
    _embedded_redis_if_needed()
    run_deliverer(get_settings())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from agent.confinement import announce
    from agent.worker import run_pool

    _override(data_dir=args.data_dir)
    _embedded_redis_if_needed()
    announce(get_settings(), "logcenter worker")  # whether repairs run sandboxed, or not at all
    run_pool(args.workers, get_settings(), on_demand=args.on_demand)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from dashboards.app import run

    _override(data_dir=args.data_dir)
    settings = get_settings()
    run(settings, args.host or "0.0.0.0", args.port or settings.dashboard_port)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    _override(data_dir=args.data_dir)
    settings = get_settings()
    if settings.admin_token:
        print(settings.admin_token)
        return 0
    if settings.writes_open():
        why = "writes are open to anyone (LOGCENTER_ANONYMOUS_WRITES=true)"
    else:
        why = (
            f"none in {(settings.data_dir / TOKEN_FILE).resolve()} and LOGCENTER_ADMIN_TOKEN is "
            "not set; `logcenter up` generates one there"
        )
    print(f"logcenter: no admin token: {why}", file=sys.stderr)
    return 1


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.cli import main as bench_main

    return int(bench_main([args.kind, *args.rest]))


def cmd_es_reindex(args: argparse.Namespace) -> int:
    from config.wiring import open_configured_store
    from store.elasticsearch import ElasticsearchStore
    from store.elasticsearch.generation import DayProgress, describe, reindex_events, stale_days

    store = open_configured_store(get_settings())  # init: new templates, bugs moved
    if not isinstance(store, ElasticsearchStore):
        sys.exit("logcenter es-reindex: LOGCENTER_STORE_URL is not an Elasticsearch store")
    stale = stale_days(store.es, store.names)
    print(f"{len(stale)} days ({sum(n for *_, n in stale):,} occurrences) to rewrite", flush=True)
    if args.dry_run:
        return 0
    shown = [0.0]

    def show(progress: DayProgress) -> None:
        done = progress.copied >= progress.total
        if progress.copied == 0 or done or time.monotonic() - shown[0] >= args.every:
            shown[0] = time.monotonic()
            print(describe(progress), flush=True)

    days = reindex_events(store.es, store.names, progress=show)
    print(f"done: {days} days rewritten; every day is searchable from Kibana", flush=True)
    return 0


def cmd_kibana_setup(args: argparse.Namespace) -> int:
    from store.elasticsearch.kibana import KibanaError, import_saved_objects

    name, _, password = (args.user or "").partition(":")
    auth = (name, password) if args.user else None
    try:
        answer = import_saved_objects(args.kibana_url, get_settings().es_index_prefix, auth=auth)
    except KibanaError as exc:
        sys.exit(f"logcenter kibana-setup: {exc}")
    print(f"imported {answer.get('successCount', 0)} objects into Kibana at {args.kibana_url}")
    return 0


def _redis() -> Redis:
    from redis import Redis

    from config.wiring import redis_url

    return Redis.from_url(redis_url(get_settings()))


def cmd_backup(args: argparse.Namespace) -> int:
    from config.backup import BackupError, backup

    _override(data_dir=args.data_dir)
    try:
        summary = backup(
            get_settings(), _redis(), args.archive, lambda line: print(line, flush=True)
        )
    except BackupError as exc:
        sys.exit(f"logcenter backup: {exc}")
    print(
        f"backup written to {args.archive} ({args.archive.stat().st_size / 1e6:,.1f} MB; "
        f"{summary.bugs:,} bugs, {summary.events:,} occurrences, {summary.redis_keys:,} Redis keys)"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from config.backup import BackupError, restore

    _override(data_dir=args.data_dir)
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        restore(settings, _redis(), args.archive, lambda line: print(line, flush=True))
    except BackupError as exc:
        sys.exit(f"logcenter restore: {exc}")
    print(f"restored; start it with `logcenter up --data-dir {settings.data_dir}`")
    return 0


def cmd_es_snapshot(args: argparse.Namespace) -> int:
    from ingest.gate import Keys
    from store import open_store
    from store.elasticsearch import ElasticsearchStore
    from store.elasticsearch import snapshot as snapshots

    settings = get_settings()
    # Not initialised: a restore needs a cluster without the install's indices.
    store = open_store(settings.resolved_store_url(), index_prefix=settings.es_index_prefix)
    if not isinstance(store, ElasticsearchStore):
        sys.exit("logcenter es-snapshot: LOGCENTER_STORE_URL is not an Elasticsearch store")
    es, names = store.es, store.names
    try:
        if args.location:
            print(f"repository {snapshots.register(es, names, args.location)} at {args.location}")
        if args.action == "create":
            name = args.name or time.strftime("logcenter-%Y%m%d-%H%M%S", time.gmtime())
            info = snapshots.take(es, names, name)
            print(f"snapshot {name}: {len(info['indices'])} indices")
        elif args.action == "list":
            for found in snapshots.listed(es, names):
                print(
                    f"{found['snapshot']}  {found['state']}  {found.get('start_time', '')}  "
                    f"{len(found['indices'])} indices"
                )
        else:
            if not args.name:
                sys.exit("logcenter es-snapshot restore: --name is required (see `list`)")
            indices = snapshots.restore(es, names, args.name)
            # The gate reloads fingerprint -> id and the id sequence from the restored store.
            _redis().delete(Keys(settings.redis_prefix).loaded)
            print(f"restored {len(indices)} indices from {args.name}")
    except snapshots.SnapshotError as exc:
        sys.exit(f"logcenter es-snapshot: {exc}")
    return 0


def _open_for_migrate(url: str, prefix: str | None) -> Store:
    from store import open_store

    options = {} if url.startswith("sqlite:") else {"index_prefix": prefix}
    store = open_store(url, **{k: v for k, v in options.items() if v is not None})
    store.init()
    return store


def cmd_migrate(args: argparse.Namespace) -> int:
    from config import migrate as m
    from config.progress import meter_for

    def say(line: str) -> None:
        print(line, flush=True)

    prefix = get_settings().es_index_prefix
    urls = (args.source, args.target)
    ends = ((args.source, args.from_prefix or prefix), (args.target, args.to_prefix or prefix))
    if ends[0] == ends[1]:
        sys.exit("logcenter migrate: --from and --to name the same store")
    try:
        source = _open_for_migrate(*ends[0])
        target = _open_for_migrate(*ends[1])
    except (ValueError, RuntimeError) as exc:
        sys.exit(f"logcenter migrate: {exc}")
    try:
        state = m.start(source, target, args.state, urls)
        if state.done:
            say(f"resuming from {args.state}: {', '.join(state.done)} done")
        m.copy_all(
            source,
            target,
            state,
            args.state,
            batch=args.batch,
            max_batches=args.max_batches,
            meter=meter_for(sys.stderr, say),
        )
    except m.Stopped as exc:
        sys.exit(f"logcenter migrate: {exc}; run the same command again to resume")
    except m.MigrateError as exc:
        sys.exit(f"logcenter migrate: {exc}")
    verification = m.verify(source, target, batch=args.batch, sample_every=args.sample_every)
    m.report(verification, say)
    if not verification.ok:
        sys.exit("logcenter migrate: the target differs from the source (see above)")
    say(f"migrated {args.source} -> {args.target}: every kind verified")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logcenter",
        description="Log Center: collect, deduplicate, search and repair errors.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_dir = {
        "type": Path,
        "default": None,
        "help": "where the SQLite store and embedded Redis live (default ./data)",
    }

    up = sub.add_parser(
        "up",
        help="run the whole stack on embedded defaults (Ctrl-C stops it)",
        description="API, indexer, repair workers and dashboard in one process "
        "tree, on SQLite and an embedded Redis unless configured otherwise.",
    )
    up.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    up.add_argument("--host", default="0.0.0.0", help="interface to listen on (default all)")
    up.add_argument("--api-port", type=int, default=None, help="API port (default 8002)")
    up.add_argument(
        "--dashboard-port", type=int, default=None, help="dashboard port (default 8003)"
    )
    up.add_argument(
        "--workers",
        type=int,
        default=2,
        help="repair workers at most, started on demand while repairs wait (default 2; 0 = none)",
    )
    up.set_defaults(func=cmd_up)

    api = sub.add_parser("api", help="run the HTTP API only")
    api.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    api.add_argument("--host", default=None, help="interface (default 0.0.0.0)")
    api.add_argument("--port", type=int, default=None, help="port (default 8002)")
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    api.add_argument("--log-level", default="warning", help="uvicorn log level")
    api.set_defaults(func=cmd_api)

    idx = sub.add_parser("indexer", help="run one indexer (stream -> store); run several to scale")
    idx.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    idx.set_defaults(func=cmd_indexer)

    alerts = sub.add_parser(
        "alerts",
        help="run one alert deliverer on its own (set LOGCENTER_ALERTS_IN_INDEXER=false on the "
        "indexers then)",
    )
    alerts.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    alerts.set_defaults(func=cmd_alerts)

    worker = sub.add_parser("worker", help="run a pool of repair workers (RQ queue 'repairs')")
    worker.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    worker.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    worker.add_argument(
        "--on-demand",
        action="store_true",
        help="start worker processes only while repairs wait (as `logcenter up` does)",
    )
    worker.set_defaults(func=cmd_worker)

    dash = sub.add_parser("dashboard", help="run the web dashboard")
    dash.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    dash.add_argument("--host", default=None, help="interface (default 0.0.0.0)")
    dash.add_argument("--port", type=int, default=None, help="port (default 8003)")
    dash.set_defaults(func=cmd_dashboard)

    token = sub.add_parser(
        "token",
        help="print the admin token (generated by the first `logcenter up`)",
        description="Print the admin token every Log Center process on this data dir uses: "
        "LOGCENTER_ADMIN_TOKEN when set, else the one the first `logcenter up` generated into "
        "<data dir>/admin_token (readable by its owner only). The dashboard asks for it once; "
        "scripts send it as `Authorization: Bearer <token>` on every write except reporting.",
    )
    token.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    token.set_defaults(func=cmd_token)

    bench = sub.add_parser(
        "bench", help="run a benchmark (ingest, search, ui or footprint) and print figures"
    )
    bench.add_argument("kind", choices=["ingest", "search", "ui", "footprint"])
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="options for the benchmark")
    bench.set_defaults(func=cmd_bench)

    reindex = sub.add_parser(
        "es-reindex",
        help="rewrite older days of occurrences so Kibana searches their texts (Elasticsearch)",
        description="Copy each daily index of occurrences made before the current mapping into "
        "a new generation, newest day first, while Log Center keeps running; searches never "
        "count an occurrence twice. Safe to stop and run again.",
    )
    reindex.add_argument("--dry-run", action="store_true", help="only say what would be copied")
    reindex.add_argument("--every", type=float, default=5.0, help="seconds between progress lines")
    reindex.set_defaults(func=cmd_es_reindex)

    kibana = sub.add_parser(
        "kibana-setup",
        help="import Log Center's data views, saved search and dashboard into Kibana",
    )
    kibana.add_argument("--kibana-url", required=True, help="e.g. http://localhost:5601")
    kibana.add_argument("--user", default=None, help="USER:PASSWORD when Kibana asks for a login")
    kibana.set_defaults(func=cmd_kibana_setup)

    saved = sub.add_parser(
        "backup",
        help="copy the embedded install (SQLite store, Redis, admin token) into one archive",
        description="Write a .tar.gz holding a consistent copy of the SQLite store (SQLite's "
        "online backup, taken while Log Center runs), every Redis key of the install (reports "
        "not yet indexed, queued repairs) and the admin token. Restore it with `logcenter "
        "restore`. On Elasticsearch use `logcenter es-snapshot`.",
    )
    saved.add_argument("archive", type=Path, help="the archive to write, e.g. backup.tar.gz")
    saved.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    saved.set_defaults(func=cmd_backup)

    back = sub.add_parser(
        "restore",
        help="restore a `logcenter backup` archive into an empty data dir",
        description="Unpack an archive of `logcenter backup` into a data dir that holds no store "
        "yet, and its Redis keys into a Redis that holds none of the install's keys. Run it "
        "while Log Center is stopped, then start `logcenter up` on that data dir.",
    )
    back.add_argument("archive", type=Path, help="an archive written by `logcenter backup`")
    back.add_argument("--data-dir", **data_dir)  # type: ignore[arg-type]
    back.set_defaults(func=cmd_restore)

    snap = sub.add_parser(
        "es-snapshot",
        help="snapshots of the install's Elasticsearch indices (create, list, restore)",
        description="Register a shared-filesystem snapshot repository (--location, a folder "
        "the node lists in path.repo) and take, list or restore snapshots of every index of "
        "the install. Restore into a cluster without the install's indices, with Log Center "
        "stopped.",
    )
    snap.add_argument("action", choices=["create", "list", "restore"])
    snap.add_argument("--location", default=None, help="repository folder (in path.repo)")
    snap.add_argument("--name", default=None, help="snapshot name (create: default timestamped)")
    snap.set_defaults(func=cmd_es_snapshot)
    _add_migrate(sub)
    return parser


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    move = sub.add_parser(
        "migrate",
        help="copy every record from one store to another (SQLite <-> Elasticsearch), verified",
        description="Copy projects (keys and settings included), bugs (ids, fingerprints, "
        "counts, statuses, history), occurrences, repair reports, saved searches, alert "
        "channels, rules and deliveries and the highest reserved bug id from the --from store "
        "into the empty --to store, in batches, printing progress. The position reached is "
        "kept in --state after every batch: if the run stops, start the same command again and "
        "it carries on without copying anything twice. At the end both stores are compared "
        "(totals per kind, every bug's count, a sample of records field by field); the "
        "command exits non-zero on any difference. Stop the indexers first (reports wait in "
        "Redis meanwhile): see README, Running at scale.",
    )
    move.add_argument(
        "--from", dest="source", required=True, help="source store URL (sqlite:///abs/path.db)"
    )
    move.add_argument(
        "--to", dest="target", required=True, help="target store URL (http://host:9200)"
    )
    move.add_argument(
        "--from-prefix",
        default=None,
        help="index prefix of an Elasticsearch source (default LOGCENTER_ES_INDEX_PREFIX)",
    )
    move.add_argument(
        "--to-prefix",
        default=None,
        help="index prefix of an Elasticsearch target (default LOGCENTER_ES_INDEX_PREFIX)",
    )
    move.add_argument(
        "--state",
        type=Path,
        default=Path("logcenter-migrate.json"),
        help="where the position is kept between runs (default ./logcenter-migrate.json)",
    )
    move.add_argument("--batch", type=int, default=500, help="records per batch (default 500)")
    move.add_argument(
        "--sample-every",
        type=int,
        default=10,
        help="compare one bug and one occurrence in N field by field (default 10; other "
        "kinds are compared whole)",
    )
    move.add_argument(
        "--max-batches",
        type=int,
        default=None,
        help="stop after N batches (to copy in slices; run again to go on)",
    )
    move.set_defaults(func=cmd_migrate)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in _NOT_PROCESSES:
        _warn_if_writes_open(args.command)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
