#pragma once
// The standard process_* families (as Prometheus' own clients export them), read from /proc at
// scrape time: CPU seconds, resident memory, start time, open file descriptors.
#include "metrics/exposition.hpp"

namespace kr::metrics {

/// Adds process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds and
/// process_open_fds; a value /proc does not give is left out.
void CollectProcess(Exposition& out);

}  // namespace kr::metrics
