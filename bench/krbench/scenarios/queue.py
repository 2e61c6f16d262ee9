"""queue: publish and consume rates of RabbitMQ and of the database queue (bench/queue_bench.cpp)."""
import re

from .. import NotMeasured
from ..figures import fig

NAME = "queue"
SERVERS = True
DESCRIPTION = ("`queue_bench N` (N = 100,000, quick 10,000; database queues N/2): confirmed publishes in batches of "
               "10,000, then consume + ack with prefetch 200. Durable queues with the original's x-max-priority 10, "
               "persistent messages of priorities 0–9; the broker runs with classic_queue.default_version = 2 "
               "(docs/operations.md).")


def define_figures():
    fig("queue_amqp_pub", NAME, "RabbitMQ confirmed publishes", "msg/s", 10000, ">=")
    fig("queue_amqp_cons", NAME, "RabbitMQ consume + ack", "msg/s", 8000, ">=")
    fig("queue_amqp_ceiling", NAME, "RabbitMQ enqueue without confirms (broker ceiling, context)", "msg/s")
    fig("queue_sqlite_pub", NAME, "database queue, SQLite: committed publishes", "msg/s")
    fig("queue_sqlite_cons", NAME, "database queue, SQLite: consume + ack", "msg/s")
    fig("queue_pg_pub", NAME, "database queue, PostgreSQL: committed publishes", "msg/s")
    fig("queue_pg_cons", NAME, "database queue, PostgreSQL: consume + ack", "msg/s")


def run(b, i):
    n = 10000 if b.quick else 100000
    out = b.run([b.bin("queue_bench"), str(n)], env=b.env(KR_TEST_AMQP_URL=b.amqp_url, KR_TEST_PG_DSN=b.pg_dsn),
                timeout=900)
    res = {}
    pats = {"RabbitMQ": ("queue_amqp_pub", "queue_amqp_cons"), "DbQueue SQLite": ("queue_sqlite_pub", "queue_sqlite_cons"),
            "DbQueue PostgreSQL": ("queue_pg_pub", "queue_pg_cons")}
    for line in out.splitlines():
        for prefix, (kp, kc) in pats.items():
            m = re.match(re.escape(prefix) + r".*publish\s+([\d.]+) msg/s\s+consume\+ack\s+([\d.]+) msg/s", line)
            if m:
                res[kp], res[kc] = float(m.group(1)), float(m.group(2))
        m = re.search(r"enqueued without confirms\s+([\d.]+) msg/s", line)
        if m:
            res["queue_amqp_ceiling"] = float(m.group(1))
    if not res:
        raise NotMeasured("queue_bench printed nothing parsable")
    return res
