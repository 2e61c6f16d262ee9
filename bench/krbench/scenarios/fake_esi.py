"""fake-esi: the simulator's own throughput (it must outrun every client measured against it)."""
import re

from .. import NotMeasured
from ..figures import fig

NAME = "fake-esi"
SERVERS = False
DESCRIPTION = "`fake-esi --self-bench` (8 keep-alive clients in the same process, mixed routes)."


def define_figures():
    fig("fakeesi_rps", NAME, "fake-esi self-bench throughput", "req/s", 10000, ">=")


def run(b, i):
    out = b.run([b.bin("fake-esi"), "--self-bench", "--bench-seconds", "2" if b.quick else "3"], timeout=120)
    m = re.search(r"([\d.]+) req/s", out)
    if not m:
        raise NotMeasured("fake-esi --self-bench printed no req/s")
    return {"fakeesi_rps": float(m.group(1))}
