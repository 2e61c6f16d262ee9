"""budget: 4 worker processes sharing one ESI budget of 50 req/s through PostgreSQL."""
import signal
import statistics
import time

from ..figures import fig
from ..servers import FakeEsi, rate_env
from .common import INFO_QUEUES, write_ids

NAME = "budget"
SERVERS = True
DESCRIPTION = ("4 × `killreport worker:info:characters --concurrency 64` with ESI_RATE_LIMIT=50 sharing one "
               "PostgreSQL (the budget lives there) and one RabbitMQ queue holding more work than the run can do; "
               "20 s (quick 8 s), then SIGTERM. Share = mean requests/s at fake-esi over the steady seconds ÷ 50.")


def define_figures():
    fig("budget_share", NAME, "4 worker processes, budget 50/s over PostgreSQL: share used", "%", 97, ">=",
        fmt="{:.1f}")
    fig("budget_max1s", NAME, "4 worker processes: most requests in any 1-s window (server)", "req", 50, "<=")
    fig("budget_420", NAME, "4 worker processes: 420s received", "count", 0, "==")


def run(b, i):
    b.require_commands("worker:info:characters", "db:migrate")
    seconds = 8 if b.quick else 20
    procs = 4
    with FakeEsi(b, "--characters", 60000, "--no-samples") as fake:
        ids = fake.get("/_admin/truth/characters")[: 50 * seconds * 3]
        name, url = b.new_pg_db("kr_bench_budget")
        env = rate_env(b, fake, url, b.amqp_url, esi_rate=50)
        b.run([b.bin("killreport"), "db:migrate"], env=env)
        b.run([b.bin("kr_bench_tool"), "purge", INFO_QUEUES["characters"]], env=env)
        b.run([b.bin("kr_bench_tool"), "publish", INFO_QUEUES["characters"], write_ids(b, ids, "budget.ids")], env=env)
        fake.post("/_admin/reset-stats")
        ps = [b.start([b.bin("killreport"), "worker:info:characters", "--concurrency", "64"], env=env, measured=True)
              for _ in range(procs)]
        time.sleep(seconds + 1)
        for p in ps:
            p.send_signal(signal.SIGTERM)
        st = fake.get("/_admin/stats")
        tl = fake.get("/_admin/timeline")["esi_per_second"]
        for p in ps:
            b.reap(p, 30, from_now=True)
        b.run([b.bin("kr_bench_tool"), "purge", INFO_QUEUES["characters"]], env=env)
        b.drop_pg_db(name)
    # Steady state: from the first second with requests, without that second (processes starting)
    # and without the last one (stopping / partial).
    while tl and tl[0] == 0:
        tl.pop(0)
    steady = tl[1:-1]
    b.write_log(f"budget timeline: {tl}")
    if len(steady) < 3:
        raise RuntimeError(f"too few seconds with requests: {tl}")
    return {"budget_share": 100.0 * statistics.mean(steady) / 50, "budget_max1s": st["max_per_second"]["esi"],
            "budget_420": st["error_limited_420"]}
