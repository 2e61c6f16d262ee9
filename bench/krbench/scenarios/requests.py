"""requests: ESI requests per queued entity — first run, again within Expires, again after Expires
(conditional, 304)."""
import os
import time

from ..figures import fig
from ..servers import FakeEsi, rate_env
from . import scan
from .common import remove_sqlite, run_info_worker

NAME = "requests"
SERVERS = False
DESCRIPTION = ("fake-esi with `--cache-seconds` 10 (quick: 5), SQLite: N characters (2,000, quick 1,000, plus 2 % "
               "deleted ones that answer 404) queued and worked three times — "
               "first, at once again (within Expires), and after Expires; ESI requests counted by fake-esi.")


def define_figures():
    fig("rpe_first", NAME, "ESI requests per queued character, first run", "req/entity", 1, "~1", fmt="{:.3f}")
    fig("rpe_within", NAME, "ESI requests per queued character, again within Expires", "req/entity", 0, "==",
        fmt="{:.3f}")
    fig("rpe_after", NAME, "ESI requests per queued character, again after Expires", "req/entity", 1, "<=",
        fmt="{:.3f}", note="1/51 of the ids are deleted characters: their recorded 404 is not asked again (≈ 0.98)")
    fig("rpe_after_conditional", NAME, "after Expires: share of requests that are conditional (If-None-Match)",
        "%", 100, ">=", fmt="{:.1f}")
    fig("rpe_after_304", NAME, "after Expires: share of requests answered 304", "%", fmt="{:.1f}")


def run(b, i):
    if b.quick and scan.NAME in b.only:
        scan.generate_async(b, 100000)
    b.require_commands("worker:info:characters", "db:migrate")
    n = 1000 if b.quick else 2000
    cache = 5 if b.quick else 10
    res = {}
    with FakeEsi(b, "--cache-seconds", cache, "--characters", 20000, "--no-samples") as fake:
        # 2 % deleted characters (404), as in the universe: their 404 is recorded and not asked again
        ids = fake.get("/_admin/truth/characters")[:n] + fake.get("/_admin/truth/deleted-characters")[: n // 50]
        n = len(ids)
        path = os.path.join(b.work, f"requests-{i}.db")
        url = "sqlite://" + path
        env = rate_env(b, fake, url)
        b.run([b.bin("killreport"), "db:migrate"], env=env)

        def one_pass():
            fake.post("/_admin/reset-stats")
            run_info_worker(b, fake, "characters", ids, url, None)
            return fake.get("/_admin/stats")

        t_first = time.monotonic()
        st = one_pass()
        res["rpe_first"] = st["esi_requests"] / n
        st = one_pass()
        res["rpe_within"] = st["esi_requests"] / n
        if time.monotonic() - t_first > cache:
            raise RuntimeError("the first two passes took longer than the cache time")
        time.sleep(max(0.0, t_first + cache + 2.5 - time.monotonic()))
        st = one_pass()
        reqs = max(1, st["esi_requests"])
        res["rpe_after"] = st["esi_requests"] / n
        res["rpe_after_conditional"] = 100.0 * st["conditional_requests"] / reqs
        res["rpe_after_304"] = 100.0 * st["not_modified_304"] / reqs
        remove_sqlite(path)
    return res
