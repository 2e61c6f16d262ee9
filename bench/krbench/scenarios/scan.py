"""scan: `killreport scan:entities` on 100k and 1M generated killmails, queue in PostgreSQL and on
RabbitMQ; the store's own scan from store_bench beside it."""
import re
import time

from .. import log
from ..figures import fig, figure
from .common import INFO_QUEUES

NAME = "scan"
SERVERS = True
DESCRIPTION = ("Killmails generated in PostgreSQL by store_bench's set-based SQL generator (10 attackers, 10 items, "
               "nested containers; half of the referenced characters known), then `killreport scan:entities` "
               "(pending marks and queues cleared before each run), with the queue in the same PostgreSQL and on "
               "RabbitMQ. The store-only figure is store_bench's own scan right after generating. On RabbitMQ, right "
               "after each scan, the broker's confirmed-publish ceiling in the same run: `queue_bench "
               "--confirm-ceiling` publishes as many persistent messages of the same size and priority to as many "
               "queues as the scan did, each queue on its own connection, confirms pipelined (windows of 200, 1,000 and "
               "5,000 tried, the fastest counts) — the scan's target is within 1.2× of that time. --quick: 100k only, and the database is generated while "
               "the requests and budget scenarios run.")

DBS = {}      # n -> store_bench's own scan time (None once reported)
PENDING = {}  # n -> store_bench generating in the background (--quick)


def define_figures():
    for size in ("100k", "1M"):
        limit = 3 if size == "100k" else 30
        for q, qlabel in (("pgq", "queue in PostgreSQL"), ("amqp", "queue on RabbitMQ")):
            # On RabbitMQ the wall time has no target of its own: the scan publishes ~167k confirmed
            # persistent messages, so the broker bounds it; the target is the ratio to the broker's
            # confirmed-publish ceiling measured in the same run (scan_*_amqp_vs_ceiling).
            if q == "amqp":
                fig(f"scan_{size}_{q}_wall", NAME, f"scan:entities on {size} killmails, PostgreSQL, {qlabel}: wall",
                    "s", fmt="{:.2f}", note="bound by the broker: the target is the ratio to its ceiling (below)")
            else:
                fig(f"scan_{size}_{q}_wall", NAME, f"scan:entities on {size} killmails, PostgreSQL, {qlabel}: wall",
                    "s", limit, "<=", fmt="{:.2f}")
            fig(f"scan_{size}_{q}_rss", NAME, f"scan:entities on {size} killmails, {qlabel}: peak RSS", "MB",
                30, "<=", fmt="{:.1f}", note="target: the per-process memory target")
        fig(f"scan_{size}_amqp_ceiling", NAME, f"the broker's confirmed-publish ceiling for the scan's messages on "
            f"{size} (queue_bench --confirm-ceiling, same run)", "s", fmt="{:.2f}")
        fig(f"scan_{size}_amqp_vs_ceiling", NAME, f"scan:entities on {size}, queue on RabbitMQ: wall / the broker's "
            "ceiling", "×", 1.2, "<=", fmt="{:.2f}",
            note="issue 13 item 6: characters (~90 % of the messages) on a pipeline and connection of their own, the other kinds on a second one")
        fig(f"scan_{size}_store", NAME, f"store scan alone (MissingReferencedIds + MarkPending) on {size}, "
            "from store_bench", "s", fmt="{:.2f}")
        fig(f"derive_{size}_wall", NAME, f"derive:rebuild on {size} killmails, PostgreSQL: wall", "s",
            60 if size == "1M" else None, "<=" if size == "1M" else None, fmt="{:.2f}",
            note="issue 15: killmail_filters (20 indexes, as the original's) + 3 kill-stats tables")


def generate_async(b, n):
    """--quick: generate the scan database while the I/O-bound requests and budget scenarios run."""
    if n not in DBS and n not in PENDING:
        PENDING[n] = (time.monotonic(), b.start([b.bin("store_bench"), "--scan-only", "--scan", str(n), "--keep",
                                                 "--pg", b.pg_dsn]))


def database(b, n):
    """The database kr_store_scan_<n> with n generated killmails (store_bench's SQL generator)."""
    if n not in DBS:
        t0, p = PENDING.pop(n, (time.monotonic(), None))
        if p is None:
            out = b.run([b.bin("store_bench"), "--scan-only", "--scan", str(n), "--keep", "--pg", b.pg_dsn],
                        timeout=3600)
        else:
            m = b.reap(p, 3600)
            if m.rc != 0:
                raise RuntimeError(f"store_bench --scan {n} exited {m.rc}: {m.output.strip()[-200:]}")
            out = m.output
        log(f"  generated {n:,} killmails in {time.monotonic() - t0:.0f} s (store_bench --scan {n} --keep)")
        m = re.search(r"scan \+ MarkPending: \d+ ids in ([\d.]+) s wall", out)
        DBS[n] = float(m.group(1)) if m else None
    name = f"kr_store_scan_{n}"
    return name, b.pg_url(name), DBS[n]


def scan_counts(output):
    """The messages scan:entities published per queue, from its last line ("queued N characters, …")."""
    m = re.search(r"scan:entities: queued (.*)", output)
    if not m:
        return []
    return [int(n) for n in re.findall(r"(\d+) \w", m.group(1)) if int(n) > 0]


def run(b, i):
    sizes = [("100k", 100000)] if b.quick else [("100k", 100000), ("1M", 1000000)]
    res = {}
    have_scan = b.has_command("scan:entities")
    for label, n in sizes:
        name, url, store_s = database(b, n)
        if store_s is not None:
            res[f"scan_{label}_store"] = store_s
            DBS[n] = None  # store_bench's own scan ran once, on generation
        if b.has_command("derive:rebuild"):
            m = b.measure([b.bin("killreport"), "derive:rebuild"], env=b.env(DATABASE_URL=url, RABBITMQ_URL=None),
                          timeout=1800)
            res[f"derive_{label}_wall"] = m.wall
            log(f"  derive:rebuild {label}: {m.wall:.2f} s")
            # The rebuild rewrote the derived tables: vacuum them now (untimed), or autovacuum does it
            # in the middle of a later measurement (seen: a 100k scan at 1.92x its ceiling).
            b.psql("VACUUM ANALYZE", name)
        if not have_scan:
            continue
        for q in ("pgq", "amqp"):
            amqp = b.amqp_url if q == "amqp" else None
            env = b.env(DATABASE_URL=url, RABBITMQ_URL=amqp, ESI_RATE_LIMIT=0)
            b.psql("DELETE FROM kr_pending_entities", name)
            b.run([b.bin("kr_bench_tool"), "purge", *INFO_QUEUES.values()], env=env)
            m = b.measure([b.bin("killreport"), "scan:entities"], env=env, timeout=1800)
            res[f"scan_{label}_{q}_wall"] = m.wall
            res[f"scan_{label}_{q}_rss"] = m.maxrss_mb
            log(f"  scan {label} {q}: {m.wall:.2f} s, {m.maxrss_mb:.1f} MB")
            b.run([b.bin("kr_bench_tool"), "purge", *INFO_QUEUES.values()], env=env)
            if q == "amqp":
                counts = scan_counts(m.output)
                if counts:
                    out = b.run([b.bin("queue_bench"), "--confirm-ceiling", ",".join(map(str, counts))],
                                env=b.env(KR_TEST_AMQP_URL=b.amqp_url), timeout=900)
                    c = re.search(r"confirmed-publish ceiling: \d+ messages .* in ([\d.]+) s", out)
                    if c:
                        res[f"scan_{label}_amqp_ceiling"] = float(c.group(1))
                        res[f"scan_{label}_amqp_vs_ceiling"] = m.wall / float(c.group(1))
                        log(f"  ceiling {label}: {float(c.group(1)):.2f} s; the scan took "
                            f"{m.wall / float(c.group(1)):.2f}× that")
    if b.quick:
        for k in ("wall", "rss", "ceiling", "vs_ceiling"):
            figure(f"scan_1M_amqp_{k}").missing = "not run in --quick"
        figure("derive_1M_wall").missing = "not run in --quick"
        for k in ("wall", "rss", "store"):
            figure(f"scan_1M_{k}" if k == "store" else f"scan_1M_pgq_{k}").missing = "not run in --quick"
    if not have_scan:
        for label, _ in sizes:
            for q in ("pgq", "amqp"):
                for k in ("wall", "rss"):
                    figure(f"scan_{label}_{q}_{k}").missing = "`killreport scan:entities` does not exist yet"
    return res
