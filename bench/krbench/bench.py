"""Bench: the state of one bench/run, handed to every scenario as `b`."""
import os
import subprocess
import tempfile

from . import ROOT, NotMeasured
from .procs import Procs
from .servers import Servers


class Bench(Procs, Servers):
    def __init__(self, args, only):
        self.args = args
        self.quick = args.quick
        self.only = only
        self.build = os.path.join(ROOT, os.environ.get("BUILD_DIR", "build"))
        self.out = os.path.join(ROOT, "bench", "out")
        os.makedirs(self.out, exist_ok=True)
        self.logfile = open(os.path.join(self.out, "bench.log"), "w")
        self.work = tempfile.mkdtemp(prefix="kr-bench-work-")
        self.servers_dir = None
        self.pg_dsn = self.amqp_url = None
        self.children = []
        self.db_counter = 0

    def has_command(self, name):
        p = subprocess.run([self.bin("killreport"), name, "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=self.env())
        return p.returncode == 0

    def require_commands(self, *names):
        missing = [n for n in names if not self.has_command(n)]
        if missing:
            raise NotMeasured(f"`killreport {missing[0]}` does not exist yet in this build")
