#pragma once
#include "app/worker_commands.hpp"

namespace kr::app {
/// `demo`: the offline end-to-end run (fake ESI + zKillboard → queues → workers → database).
void RegisterDemo(const AddCommand& add, const Bind& bind);
}  // namespace kr::app
