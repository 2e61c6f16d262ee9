#pragma once
// The spec's queue scripts and workers as subcommands (cmd_workers.cpp).
#include <functional>
#include <stop_token>

#include <CLI/CLI.hpp>

#include "app/commands.hpp"

namespace kr::app {

using AddCommand = std::function<CLI::App*(const std::string& name, const std::string& description)>;
using Bind = std::function<void(CLI::App*, std::function<int(const Context&)>)>;
using AddFlags = void (*)(CLI::App*, WorkerFlags&);

/// `run`: every worker on its own thread in this process; with until_idle it stops once every
/// queue is empty and nothing is in flight or waiting for a retry.
int RunAll(const Context& ctx, const WorkerFlags& flags, std::stop_token stop);

void RegisterWorkerCommands(const AddCommand& add, const Bind& bind, AddFlags add_worker_flags);

}  // namespace kr::app
