"""live: worker:redisq catching up on R2Z2 (killmails/s, peak RSS, ESI requests) and at the head
(the delay from a kill appearing at the simulator to its row being committed)."""
import os
import random
import statistics
import time

from .. import log
from ..figures import fig
from ..servers import FakeEsi, rate_env
from .common import ALL_QUEUES, remove_sqlite, run_watched, sqlite_count

NAME = "live"
SERVERS = True
FIRST_SEQUENCE = 96000000
DESCRIPTION = ("fake-esi with 20,000 (quick 5,000) killmails queued on its R2Z2 feed (`--r2z2-backlog N --r2z2-rate "
               "0`); `killreport worker:redisq --until-idle --from <first sequence>` with `R2Z2_RATE_LIMIT=0`; "
               "killmails/s = killmails stored ÷ the time until the last one committed; ESI requests counted by the "
               "simulator (every route). Head: `worker:redisq` left running at the head, then one kill uploaded at a "
               "random moment (uniform over R2Z2's 6 s poll interval), 12 times; the delay from the upload to the "
               "row being visible in the database (polled every 20 ms).")


def define_figures():
    for backend, label in (("pg", "RabbitMQ + PostgreSQL"), ("sqlite", "embedded SQLite")):
        fig(f"live_{backend}", NAME, f"live catch-up (R2Z2), {label}", "killmails/s", 3000, ">=")
        fig(f"live_{backend}_rss", NAME, f"live catch-up, {label}: peak RSS", "MB", 30, "<=", fmt="{:.1f}",
            note="target: the per-process memory target")
        fig(f"live_{backend}_esi", NAME, f"live catch-up, {label}: ESI requests", "requests", 0, "<=", fmt="{:.0f}")
        fig(f"live_{backend}_head_p50", NAME, f"live at the head, {label}: upload → committed, median", "s",
            fmt="{:.2f}")
        fig(f"live_{backend}_head_p99", NAME, f"live at the head, {label}: upload → committed, p99", "s",
            fmt="{:.2f}")


def _count(b, backend, target):
    if backend == "pg":
        return int(b.psql("SELECT count(*) FROM killmails", target))
    return sqlite_count(target, "SELECT count(*) FROM killmails")


def _head_latency(b, fake, backend, target, env, samples=12):
    """Seconds from an upload to its row, `samples` times, with worker:redisq running at the head."""
    p = b.start([b.bin("killreport"), "worker:redisq"], env)
    try:
        stored = _count(b, backend, target)
        delays = []
        for _ in range(samples):
            time.sleep(random.uniform(0, 6.2))  # any phase of the worker's 6 s wait
            t0 = time.monotonic()
            fake.post("/_admin/r2z2", {"publish": 1})
            deadline = t0 + 60
            while _count(b, backend, target) <= stored:
                if time.monotonic() > deadline:
                    raise RuntimeError("a live kill was not stored within 60 s")
                time.sleep(0.02)
            delays.append(time.monotonic() - t0)
            stored += 1
        return delays
    finally:
        p.terminate()
        b.reap(p, 30, from_now=True)


def run(b, i):
    b.require_commands("worker:redisq", "db:migrate")
    kills = 5000 if b.quick else 20000
    res = {}
    for backend in ("pg", "sqlite"):
        samples = 6 if b.quick else 12
        # `kills` queued on the feed; `samples` more of the universe are uploaded one by one at the head.
        with FakeEsi(b, "--killmails", kills + samples, "--r2z2-backlog", kills, "--r2z2-rate", 0,
                     "--r2z2-first-sequence",
                     FIRST_SEQUENCE, "--history-characters", 0, "--no-samples") as fake:
            truth = fake.get("/_admin/truth/r2z2")
            queued = len(truth["killmails"])
            if backend == "pg":
                name, url = b.new_pg_db("kr_bench_live")
                amqp, target = b.amqp_url, name
                b.run([b.bin("kr_bench_tool"), "purge", *ALL_QUEUES], env=b.env(RABBITMQ_URL=amqp))
            else:
                path = os.path.join(b.work, f"live-{i}.db")
                url, amqp, target = "sqlite://" + path, None, path
            env = dict(rate_env(b, fake, url, amqp))
            env.update(R2Z2_BASE_URL=fake.url + "/r2z2", R2Z2_RATE_LIMIT="0", LOG_LEVEL="warn")
            b.run([b.bin("killreport"), "db:migrate"], env=env)
            esi_before = fake.get("/_admin/stats").get("esi_requests", 0)
            m, busy = run_watched(b, [b.bin("killreport"), "worker:redisq", "--until-idle", "--from",
                                      str(FIRST_SEQUENCE)], env, url, "SELECT count(*) FROM killmails")
            stored = _count(b, backend, target)
            esi = fake.get("/_admin/stats").get("esi_requests", 0) - esi_before
            if stored < queued:
                raise RuntimeError(f"only {stored} of {queued} live killmails stored ({backend})")
            busy = busy or m.wall
            res[f"live_{backend}"] = stored / busy
            res[f"live_{backend}_rss"] = m.maxrss_mb
            res[f"live_{backend}_esi"] = esi
            delays = sorted(_head_latency(b, fake, backend, target, env, samples))
            res[f"live_{backend}_head_p50"] = statistics.median(delays)
            res[f"live_{backend}_head_p99"] = delays[min(len(delays) - 1, int(round(0.99 * (len(delays) - 1))))]
            log(f"  live {backend:6} {stored} killmails in {busy:.2f} s = {stored / busy:,.0f}/s (process "
                f"{m.wall:.2f} s), RSS {m.maxrss_mb:.1f} MB, ESI requests {esi}; head: median "
                f"{res[f'live_{backend}_head_p50']:.2f} s, p99 {res[f'live_{backend}_head_p99']:.2f} s")
            if backend == "pg":
                b.drop_pg_db(name)
                b.run([b.bin("kr_bench_tool"), "purge", *ALL_QUEUES], env=b.env(RABBITMQ_URL=amqp))
            else:
                remove_sqlite(path)
    return res
