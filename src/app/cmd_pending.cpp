// TEMPORARY: replaced as the store/queue/worker modules land.
#include <cstdio>

#include "app/worker_commands.hpp"

namespace kr::app {
int CmdStatus(const Context&) { std::puts("status: pending"); return 0; }
int CmdUserAdd(const Context&, Id, const std::string&) { return 1; }
int CmdDeadList(const Context&, const std::string&, std::size_t) { return 1; }
int CmdDeadRetry(const Context&, const std::string&) { return 1; }
void RegisterWorkerCommands(const AddCommand&, const Bind&, AddFlags) {}
}  // namespace kr::app
