#pragma once
// The spec's queue scripts and workers as subcommands (cmd_workers.cpp).
#include <functional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/commands.hpp"

namespace kr::app {

using AddCommand = std::function<CLI::App*(const std::string& name, const std::string& description)>;
using Bind = std::function<void(CLI::App*, std::function<int(const Context&)>)>;
using AddFlags = void (*)(CLI::App*, WorkerFlags&);

/// `run`: every worker on its own thread in this process; with until_idle it stops once every
/// queue is empty and nothing is in flight or waiting for a retry.
int RunAll(const Context& ctx, const WorkerFlags& flags, std::stop_token stop);

/// Every queue a worker consumes, in the workers' order: derived from the entity-kind registry and
/// the queue names of queue/queue.hpp, as the workers themselves (`dead:list`/`dead:retry` accept
/// these and no other).
std::vector<std::string> KnownQueues();

/// Each long-running command (`run`, every worker:*) with the address it serves /metrics on when
/// KILLREPORT_METRICS_ADDR is not set: config::kDefaultMetricsPort for `run`, the next ports for
/// the workers in their order (the entity-kind registry's, then the others). One-shot commands serve none.
std::vector<std::pair<std::string, std::string>> DefaultMetricsAddrs();

void RegisterWorkerCommands(const AddCommand& add, const Bind& bind, AddFlags add_worker_flags);

}  // namespace kr::app
