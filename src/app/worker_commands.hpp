#pragma once
// The spec's queue scripts and workers as subcommands (cmd_workers.cpp).
#include <CLI/CLI.hpp>

#include <functional>

#include "app/commands.hpp"

namespace kr::app {

using AddCommand = std::function<CLI::App*(const std::string& name, const std::string& description)>;
using Bind = std::function<void(CLI::App*, std::function<int(const Context&)>)>;
using AddFlags = void (*)(CLI::App*, WorkerFlags&);

void RegisterWorkerCommands(const AddCommand& add, const Bind& bind, AddFlags add_worker_flags);

}  // namespace kr::app
