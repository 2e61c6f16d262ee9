"""enrichment: worker:info:<kind> throughput, CPU and peak RSS per process, on RabbitMQ + PostgreSQL
and on embedded SQLite."""
import os

from .. import log
from ..figures import fig
from ..servers import FakeEsi, rate_env
from .common import INFO_QUEUES, KINDS, remove_sqlite, run_info_worker, sqlite_count

NAME = "enrichment"
SERVERS = True
DESCRIPTION = ("Per kind and backend: a fresh database, N ids that exist in fake-esi published to the info queue, "
               "then `killreport worker:info:KIND --until-idle --concurrency 64` with ESI_RATE_LIMIT=0 (N = 20,000; "
               "quick 3,000). entities/s = N ÷ the time from the process's start until its last entity row committed "
               "(`kr_bench_tool watch` polls the row count every 50 ms), i.e. without the idle-detection tail of "
               "--until-idle; the rate over the whole process lifetime (start to exit) is beside it. "
               "CPU (user + system) and peak RSS are the whole process's.")
BACKENDS = (("pg", "RabbitMQ + PostgreSQL", 4000), ("sqlite", "embedded SQLite", 5000))


def define_figures():
    for backend, label, target in BACKENDS:
        for kind in KINDS:
            fig(f"enrich_{backend}_{kind}_eps", NAME, f"enrichment {kind}, {label}: entities/s per process",
                "entities/s", target, ">=")
            fig(f"enrich_{backend}_{kind}_life", NAME, f"enrichment {kind}, {label}: entities/s over the "
                "whole process lifetime", "entities/s")
            fig(f"enrich_{backend}_{kind}_cpu", NAME, f"enrichment {kind}, {label}: CPU per entity", "ms",
                0.3, "<=", fmt="{:.3f}", note="whole process CPU ÷ entities")
            fig(f"enrich_{backend}_{kind}_rss", NAME, f"enrichment {kind}, {label}: peak RSS", "MB", 30, "<=",
                fmt="{:.1f}")


def universe():
    # Enough distinct ids of every kind for one run (every id exists in fake-esi).
    return ["--alliances", 20000, "--corporations", 40000, "--characters", 60000, "--types", 20000,
            "--killmails", 2000, "--no-samples"]


def run(b, i):
    b.require_commands("worker:info:characters", "db:migrate")
    n = 3000 if b.quick else 20000
    res = {}
    with FakeEsi(b, *universe()) as fake:
        truth = {k: fake.get(f"/_admin/truth/{k}") for k in KINDS}
        for backend, _, _ in BACKENDS:
            for kind in KINDS:
                ids = truth[kind][:n]
                if backend == "pg":
                    name, url = b.new_pg_db("kr_bench_enrich")
                    amqp = b.amqp_url
                    b.run([b.bin("kr_bench_tool"), "purge", INFO_QUEUES[kind]], env=b.env(RABBITMQ_URL=amqp))
                else:
                    path = os.path.join(b.work, f"enrich-{kind}-{i}.db")
                    url, amqp = "sqlite://" + path, None
                env = rate_env(b, fake, url, amqp)
                b.run([b.bin("killreport"), "db:migrate"], env=env)
                m, busy = run_info_worker(b, fake, kind, ids, url, amqp)
                if backend == "pg":
                    stored = int(b.psql(f"SELECT count(*) FROM {kind}", name))
                    b.drop_pg_db(name)
                    b.run([b.bin("kr_bench_tool"), "purge", INFO_QUEUES[kind]], env=b.env(RABBITMQ_URL=amqp))
                else:
                    stored = sqlite_count(path, f"SELECT count(*) FROM {kind}")
                    remove_sqlite(path)
                b.write_log(f"enrichment {backend} {kind}: {len(ids)} queued, {stored} stored, {m.wall:.2f} s "
                            f"(busy {busy})")
                if stored < 0.9 * len(ids) or busy is None:
                    raise RuntimeError(f"only {stored} of {len(ids)} {kind} stored ({backend})")
                res[f"enrich_{backend}_{kind}_eps"] = len(ids) / busy
                res[f"enrich_{backend}_{kind}_life"] = len(ids) / m.wall
                res[f"enrich_{backend}_{kind}_cpu"] = m.cpu * 1000 / len(ids)
                res[f"enrich_{backend}_{kind}_rss"] = m.maxrss_mb
                log(f"  enrichment {backend:6} {kind:12} {len(ids) / busy:8,.0f}/s ({len(ids) / m.wall:,.0f}/s "
                    f"process lifetime)  {m.cpu * 1000 / len(ids):.3f} ms CPU/entity  {m.maxrss_mb:.1f} MB")
    return res
