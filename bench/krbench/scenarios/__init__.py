"""The scenarios. Each module has NAME (for --only and RESULTS.md), SERVERS (needs PostgreSQL +
RabbitMQ), DESCRIPTION (RESULTS.md's paragraph), define_figures() and run(bench, run_index) ->
{figure key: value}, raising krbench.NotMeasured for what cannot be run."""
from . import budget, enrichment, esi_client, fake_esi, ingest, live, metrics, queue, refresh, requests, scan

# The order they run in. ingest runs before requests: in --quick, requests starts generating the
# scan database in the background, which overlaps the I/O-bound requests and budget scenarios only.
SCENARIOS = [fake_esi, queue, esi_client, enrichment, metrics, ingest, live, requests, budget, scan, refresh]
# RESULTS.md's section order: as before ingest moved up in the run order, so old and new reports diff.
REPORT_ORDER = [fake_esi, queue, esi_client, enrichment, metrics, requests, budget, ingest, live, scan, refresh]
assert sorted(s.NAME for s in REPORT_ORDER) == sorted(s.NAME for s in SCENARIOS)

BY_NAME = {s.NAME: s for s in SCENARIOS}
