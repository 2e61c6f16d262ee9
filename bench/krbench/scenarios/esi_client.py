"""esi-client: the ESI client alone against an in-process fake-esi (bench/esi_bench.cpp)."""
import os
import re

from .. import NotMeasured
from ..figures import fig

NAME = "esi-client"
SERVERS = False
DESCRIPTION = ("`esi_bench` against an in-process fake-esi: budget off, 32 transfers in flight, one thread; "
               "budget 50/s with work queued (one client, in-process budget).")


def define_figures():
    fig("esi_client_rps", NAME, "ESI client, budget off, one thread", "req/s", 5000, ">=")
    fig("esi_client_cpu", NAME, "ESI client CPU per request (one thread)", "µs/req", fmt="{:,.1f}")
    fig("esi_client_share", NAME, "ESI client, budget 50/s (one client): share of budget used", "%",
        97, ">=", fmt="{:.1f}")
    fig("esi_client_max1s", NAME, "ESI client, budget 50/s: most requests in any 1-s window", "req", 50, "<=")


def run(b, i):
    if not os.path.exists(b.bin("esi_bench")):
        raise NotMeasured("bench/esi_bench is not built")
    paced, unpaced = (250, 10000) if b.quick else (600, 40000)
    out = b.run([b.bin("esi_bench"), "--rate", "50", "--paced", str(paced), "--unpaced", str(unpaced), "--conc", "32"],
                timeout=600)
    res = {}
    m = re.search(r"([\d.]+)% of the budget", out)
    if m:
        res["esi_client_share"] = float(m.group(1))
    m = re.search(r"server max in any 1-s window: (\d+)", out)
    if m:
        res["esi_client_max1s"] = float(m.group(1))
    m = re.search(r"unpaced: (\d+) requests.*?: ([\d.]+) req/s; client thread CPU ([\d.]+) s", out)
    if m:
        res["esi_client_rps"] = float(m.group(2))
        res["esi_client_cpu"] = float(m.group(3)) / int(m.group(1)) * 1e6
    if not res:
        raise NotMeasured("esi_bench printed nothing parsable")
    return res
