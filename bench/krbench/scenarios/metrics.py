"""metrics: what the Prometheus endpoint costs the enrichment it watches."""
import os
import socket
import statistics
import threading
import urllib.request

from .. import log
from ..figures import fig
from ..servers import FakeEsi
from .common import remove_sqlite, run_info_worker, sqlite_count
from .enrichment import universe

NAME = "metrics"
SERVERS = False
DESCRIPTION = ("`worker:info:characters --until-idle --concurrency 64` on embedded SQLite against fake-esi "
               "(ESI_RATE_LIMIT=0), N ids a run (N = 60,000; quick 20,000), in pairs within the same bench run: "
               "once with /metrics off, once with KILLREPORT_METRICS_ADDR set and the endpoint scraped every "
               "second (as Prometheus would, a thread of the bench). entities/s as in enrichment (start to last "
               "row committed); the overhead is 1 − median(on) ÷ median(off) over the pairs (3; quick 2; "
               "the order alternates so drift does not favour one side).")


def define_figures():
    fig("metrics_off_eps", NAME, "enrichment characters, SQLite, /metrics off: entities/s", "entities/s")
    fig("metrics_on_eps", NAME, "enrichment characters, SQLite, /metrics on, scraped every second: entities/s",
        "entities/s")
    fig("metrics_overhead_pct", NAME, "/metrics cost: enrichment throughput lost with /metrics scraped every second",
        "%", 2, "<=", fmt="{:.2f}")
    fig("metrics_cpu_overhead_pct", NAME,
        "/metrics cost in the worker's own CPU time (user + system) for the same entities, on vs off "
        "(less sensitive to other load than throughput)", "%", fmt="{:.2f}")
    fig("metrics_scrapes", NAME, "scrapes answered during the 'on' runs (all pairs)", "scrapes", fmt="{:.0f}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scraper:
    """GET /metrics every second on a thread of its own while the worker runs."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.wait(1.0):
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200 and b"killreport_messages_settled_total" in r.read():
                        self.answered += 1
            except OSError:
                pass  # not listening yet, or gone

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run(b, i):
    b.require_commands("worker:info:characters", "db:migrate")
    n = 20000 if b.quick else 60000  # long enough for a scrape every second to matter (quick: ~2 s a run)
    pairs = 2 if b.quick else 3
    eps = {"off": [], "on": []}
    cpu = {"off": [], "on": []}
    scrapes = 0
    with FakeEsi(b, *universe()) as fake:
        ids_all = fake.get("/_admin/truth/characters")
        for p in range(pairs):
            # The same ids each time (a fresh database each run), the order alternating.
            ids = ids_all[:n]
            for side in (("off", "on") if p % 2 == 0 else ("on", "off")):
                path = os.path.join(b.work, f"metrics-{side}-{i}-{p}.db")
                url = "sqlite://" + path
                b.run([b.bin("killreport"), "db:migrate"], env=b.env(DATABASE_URL=url))
                if side == "on":
                    port = free_port()
                    with Scraper(port) as s:
                        m, busy = run_info_worker(b, fake, "characters", ids, url, None,
                                                  KILLREPORT_METRICS_ADDR=f"127.0.0.1:{port}")
                    scrapes += s.answered
                else:
                    m, busy = run_info_worker(b, fake, "characters", ids, url, None)
                stored = sqlite_count(path, "SELECT count(*) FROM characters")
                remove_sqlite(path)
                if stored < 0.9 * len(ids) or busy is None:
                    raise RuntimeError(f"only {stored} of {len(ids)} characters stored (metrics {side})")
                eps[side].append(len(ids) / busy)
                cpu[side].append(m.cpu)
                log(f"  metrics {side:3} pair {p + 1}: {len(ids) / busy:8,.0f}/s")
    if scrapes == 0:
        raise RuntimeError("no scrape was answered while /metrics was on")
    off, on = statistics.median(eps["off"]), statistics.median(eps["on"])
    overhead = (1 - on / off) * 100
    cpu_overhead = (statistics.median(cpu["on"]) / statistics.median(cpu["off"]) - 1) * 100
    log(f"  metrics: off {off:,.0f}/s, on {on:,.0f}/s, overhead {overhead:.2f} %, CPU {cpu_overhead:+.2f} % "
        f"({scrapes} scrapes)")
    return {"metrics_off_eps": off, "metrics_on_eps": on, "metrics_overhead_pct": overhead,
            "metrics_cpu_overhead_pct": cpu_overhead, "metrics_scrapes": scrapes}
