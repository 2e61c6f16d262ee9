"""ingest: worker:zkillboard, killmails/s from zKillboard pages in both list formats."""
import os

from .. import log
from ..figures import FIGURES, fig
from ..servers import FakeEsi, rate_env
from .common import ALL_QUEUES, remove_sqlite, run_watched, sqlite_count, write_ids

NAME = "ingest"
SERVERS = True
DESCRIPTION = ("fake-esi `--zkb-rate 0` with 8 (quick 4) history characters of 3,000 (quick 1,000) killmails each; "
               "their zKillboard jobs queued, then `killreport worker:zkillboard --until-idle --concurrency "
               "<characters>` with both rate limits off; killmails/s = killmails stored ÷ the time until the last one "
               "committed (polled as in enrichment); over the whole process lifetime beside it.")


def define_figures():
    for backend, label in (("pg", "RabbitMQ + PostgreSQL"), ("sqlite", "embedded SQLite")):
        for fmt_ in ("ids", "full"):
            fig(f"ingest_{backend}_{fmt_}", NAME, f"killmail ingest, zKillboard list format '{fmt_}', {label}",
                "killmails/s", 2000, ">=")
            fig(f"ingest_{backend}_{fmt_}_life", NAME, f"killmail ingest '{fmt_}', {label}: over the whole "
                "process lifetime", "killmails/s")
            fig(f"ingest_{backend}_{fmt_}_rss", NAME, f"killmail ingest '{fmt_}', {label}: peak RSS", "MB", 30, "<=",
                fmt="{:.1f}", note="target: the per-process memory target")
            fig(f"ingest_{backend}_{fmt_}_cpu", NAME, f"killmail ingest '{fmt_}', {label}: worker CPU per killmail",
                "ms", fmt="{:.3f}")


def run(b, i):
    b.require_commands("worker:zkillboard", "db:migrate")
    chars, kills = (4, 1000) if b.quick else (8, 3000)
    backends = ("pg",) if b.quick else ("pg", "sqlite")
    res = {}
    if b.quick:
        for f in FIGURES:
            if f.key.startswith("ingest_sqlite"):
                f.missing = "not run in --quick"
    for fmt_ in ("ids", "full"):
        with FakeEsi(b, "--zkb-format", fmt_, "--zkb-rate", 0, "--history-characters", chars, "--history-kills", kills,
                     "--killmails", 2 * chars * kills, "--killmail-bucket-tokens", 100000000, "--no-samples") as fake:
            hist = fake.get("/_admin/truth/history-characters")
            expected = set()
            for c in hist:
                expected.update(fake.get(f"/_admin/truth/characters/{c}/killmails"))
            for backend in backends:
                if backend == "pg":
                    name, url = b.new_pg_db("kr_bench_ingest")
                    amqp = b.amqp_url
                    b.run([b.bin("kr_bench_tool"), "purge", *ALL_QUEUES], env=b.env(RABBITMQ_URL=amqp))
                else:
                    path = os.path.join(b.work, f"ingest-{fmt_}-{i}.db")
                    url, amqp = "sqlite://" + path, None
                env = rate_env(b, fake, url, amqp)
                b.run([b.bin("killreport"), "db:migrate"], env=env)
                b.run([b.bin("kr_bench_tool"), "publish-zkb", write_ids(b, hist, "hist.ids")], env=env)
                m, busy = run_watched(b, [b.bin("killreport"), "worker:zkillboard", "--until-idle", "--concurrency",
                                          str(chars)], env, url, "SELECT count(*) FROM killmails")
                if backend == "pg":
                    stored = int(b.psql("SELECT count(*) FROM killmails", name))
                    b.drop_pg_db(name)
                    b.run([b.bin("kr_bench_tool"), "purge", *ALL_QUEUES], env=b.env(RABBITMQ_URL=amqp))
                else:
                    stored = sqlite_count(path, "SELECT count(*) FROM killmails")
                    remove_sqlite(path)
                if stored < len(expected):
                    raise RuntimeError(f"only {stored} of {len(expected)} killmails stored ({backend}, {fmt_})")
                busy = busy or m.wall
                res[f"ingest_{backend}_{fmt_}"] = stored / busy
                res[f"ingest_{backend}_{fmt_}_life"] = stored / m.wall
                res[f"ingest_{backend}_{fmt_}_cpu"] = m.cpu * 1000 / stored
                res[f"ingest_{backend}_{fmt_}_rss"] = m.maxrss_mb
                log(f"  ingest {backend:6} {fmt_:4} {stored} killmails in {busy:.2f} s = {stored / busy:,.0f}/s "
                    f"(process {m.wall:.2f} s), "
                    f"CPU {m.cpu:.2f} s, RSS {m.maxrss_mb:.1f} MB")
    return res
