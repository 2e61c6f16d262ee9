"""What the scenarios run against, all on 127.0.0.1: PostgreSQL + RabbitMQ (scripts/servers.sh on
free ports in a private temp dir) and tools/fake-esi; the environment killreport processes get."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from . import ROOT, log

# Environment the killreport processes must not inherit from the user's shell.
KR_ENV = ["DATABASE_URL", "RABBITMQ_URL", "ESI_BASE_URL", "ZKILLBOARD_BASE_URL", "ESI_RATE_LIMIT",
          "ZKILLBOARD_RATE_LIMIT", "KILLREPORT_MAX_AGE", "KILLREPORT_MAX_ATTEMPTS", "KILLREPORT_DB_CONNECTIONS",
          "LOG_LEVEL", "R2Z2_BASE_URL", "R2Z2_RATE_LIMIT", "KILLREPORT_LIVE", "KILLREPORT_METRICS_ADDR",
          "KILLREPORT_DERIVE"]


class Servers:
    """Server handling of Bench (mixin): needs self.run() and self.write_log(); sets self.pg_dsn and
    self.amqp_url."""

    def env(self, **kv):
        e = {k: v for k, v in os.environ.items() if k not in KR_ENV}
        e.setdefault("LOG_LEVEL", "warn")
        e.setdefault("KILLREPORT_METRICS_ADDR", "")  # set but empty: off (unset = each command's default port)
        for k, v in kv.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    def start_servers(self):
        def free(port):
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) != 0
        base = 55532  # off scripts/test.sh's sequence (55432 + k·1000), so the two can start together
        while not (free(base) and free(base + 240) and free(base + 241) and free(base + 242)):
            base += 1000
        self.servers_dir = tempfile.mkdtemp(prefix="killreport-bench-")
        os.chmod(self.servers_dir, 0o755)
        self.server_env = dict(os.environ, KR_SERVERS_DIR=self.servers_dir, KR_PG_PORT=str(base),
                               KR_AMQP_PORT=str(base + 240), KR_AMQP_DIST_PORT=str(base + 241),
                               KR_AMQP_NODE=f"krbench{base}@localhost", KR_REDIS_PORT=str(base + 242))
        log(f"starting PostgreSQL and RabbitMQ on 127.0.0.1:{base}/{base + 240} in {self.servers_dir}")
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(ROOT, "scripts", "servers.sh"), "start", "all"], env=self.server_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.write_log(p.stdout)
        if p.returncode != 0:
            raise RuntimeError("scripts/servers.sh start failed: " + p.stdout.strip()[-300:])
        self.pg_dsn = f"postgresql://postgres@127.0.0.1:{base}/postgres"
        self.amqp_url = f"amqp://guest:guest@127.0.0.1:{base + 240}/"
        log(f"servers up in {time.monotonic() - t0:.1f} s")

    def stop_servers(self):
        if self.servers_dir:
            subprocess.run([os.path.join(ROOT, "scripts", "servers.sh"), "stop", "all"], env=self.server_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.servers_dir = None

    def pg_url(self, db):
        """The DSN of database db on the bench's PostgreSQL."""
        return self.pg_dsn.rsplit("/", 1)[0] + "/" + db

    def psql(self, sql, db="postgres"):
        return self.run(["psql", self.pg_url(db), "-v", "ON_ERROR_STOP=1", "-Atqc", sql]).strip()

    def new_pg_db(self, prefix):
        self.db_counter += 1
        name = f"{prefix}_{os.getpid()}_{self.db_counter}"
        self.psql(f"CREATE DATABASE {name}")
        return name, self.pg_url(name)

    def drop_pg_db(self, name):
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class FakeEsi:
    """tools/fake-esi as a child process on a free port."""

    def __init__(self, bench, *flags):
        self.bench = bench
        port_file = os.path.join(bench.work, f"fake-esi-{time.monotonic_ns()}.port")
        self.proc = bench.start([bench.bin("fake-esi"), "--port", "0", "--port-file", port_file, "--quiet",
                                 *map(str, flags)])
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake-esi did not start")
            time.sleep(0.02)
        self.port = int(open(port_file).read().strip())
        self.url = f"http://127.0.0.1:{self.port}"
        self.zkb_url = self.url + "/zkb/api"

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=60) as r:
            return json.loads(r.read())

    def post(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
            return json.loads(text) if text.strip() else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.bench.reap(self.proc, 20, from_now=True)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def rate_env(bench, fake, database_url, amqp_url=None, esi_rate=0, zkb_rate=0):
    """Environment of a killreport process against fake: both rate limits off unless given."""
    return bench.env(DATABASE_URL=database_url, RABBITMQ_URL=amqp_url, ESI_BASE_URL=fake.url,
                     ZKILLBOARD_BASE_URL=fake.zkb_url, ESI_RATE_LIMIT=esi_rate, ZKILLBOARD_RATE_LIMIT=zkb_rate,
                     KILLREPORT_LIVE=0)
