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
               "committed (polled as in enrichment); over the whole process lifetime beside it. Each is run twice "
               "in the same run: with the derived tables (killmail_filters + 3 kill-stats tables, the default) and "
               "with `KILLREPORT_DERIVE=0` (the ingest without them, as before issue 15); the ratio of the two "
               "throughputs is issue 15's target (derived tables cost at most 15 %).")


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
            fig(f"ingest_{backend}_{fmt_}_noderive", NAME, f"killmail ingest '{fmt_}', {label}, KILLREPORT_DERIVE=0 "
                "(without the derived tables)", "killmails/s")
            fig(f"ingest_{backend}_{fmt_}_ratio", NAME, f"killmail ingest '{fmt_}', {label}: with the derived tables "
                "÷ without (same run)", "%", 85, ">=", fmt="{:.1f}", note="issue 15: within 15 % of the ingest "
                "without them")


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
                for derive in ("1", "0") if i % 2 == 0 else ("0", "1"):  # neither always first
                    key = f"ingest_{backend}_{fmt_}" + ("" if derive == "1" else "_noderive")
                    stored, busy, m = ingest_once(b, i, fake, hist, backend, fmt_, chars, derive)
                    if stored < len(expected):
                        raise RuntimeError(f"only {stored} of {len(expected)} killmails stored ({backend}, {fmt_}, "
                                           f"KILLREPORT_DERIVE={derive})")
                    res[key] = stored / busy
                    if derive == "1":
                        res[f"{key}_life"] = stored / m.wall
                        res[f"{key}_cpu"] = m.cpu * 1000 / stored
                        res[f"{key}_rss"] = m.maxrss_mb
                    log(f"  ingest {backend:6} {fmt_:4} KILLREPORT_DERIVE={derive} {stored} killmails in {busy:.2f} s "
                        f"= {stored / busy:,.0f}/s (process {m.wall:.2f} s), CPU {m.cpu:.2f} s, "
                        f"RSS {m.maxrss_mb:.1f} MB")
                res[f"ingest_{backend}_{fmt_}_ratio"] = (100.0 * res[f"ingest_{backend}_{fmt_}"]
                                                         / res[f"ingest_{backend}_{fmt_}_noderive"])
    return res


def ingest_once(b, i, fake, hist, backend, fmt_, chars, derive):
    """One worker:zkillboard run over the history characters' jobs on a fresh database:
    (killmails stored, seconds until the last commit, the process's measure)."""
    if backend == "pg":
        name, url = b.new_pg_db("kr_bench_ingest")
        amqp = b.amqp_url
        b.run([b.bin("kr_bench_tool"), "purge", *ALL_QUEUES], env=b.env(RABBITMQ_URL=amqp))
    else:
        path = os.path.join(b.work, f"ingest-{fmt_}-{derive}-{i}.db")
        url, amqp = "sqlite://" + path, None
    env = rate_env(b, fake, url, amqp)
    env["KILLREPORT_DERIVE"] = derive
    b.run([b.bin("killreport"), "db:migrate"], env=env)
    b.run([b.bin("kr_bench_tool"), "publish-zkb", write_ids(b, hist, "hist.ids")], env=env)
    m, busy = run_watched(b, [b.bin("killreport"), "worker:zkillboard", "--until-idle", "--concurrency",
                              str(chars)], env, url, "SELECT count(*) FROM killmails")
    if backend == "pg":
        stored = int(b.psql("SELECT count(*) FROM killmails", name))
        filters = int(b.psql("SELECT count(*) FROM killmail_filters", name))
        b.drop_pg_db(name)
        b.run([b.bin("kr_bench_tool"), "purge", *ALL_QUEUES], env=b.env(RABBITMQ_URL=amqp))
    else:
        stored = sqlite_count(path, "SELECT count(*) FROM killmails")
        filters = sqlite_count(path, "SELECT count(*) FROM killmail_filters")
        remove_sqlite(path)
    if filters != (stored if derive == "1" else 0):
        raise RuntimeError(f"{filters} killmail_filters rows for {stored} killmails with KILLREPORT_DERIVE={derive}")
    return stored, busy or m.wall, m
