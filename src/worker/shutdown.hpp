#pragma once
// Graceful shutdown: SIGTERM/SIGINT request a stop through one std::stop_source that every worker
// loop observes (stop consuming, finish or hand back in-flight messages, ack what committed,
// close cleanly). A second signal exits at once.
#include <stop_token>

namespace kr::worker {

/// Installs the handlers (idempotent) and returns the process-wide stop token.
std::stop_token InstallShutdownHandlers();
/// Requests a stop programmatically (e.g. `run --until-idle` when everything is idle).
void RequestStop();
std::stop_token ShutdownToken();

}  // namespace kr::worker
