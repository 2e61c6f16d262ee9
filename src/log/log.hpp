#pragma once
// Logging: spdlog on stderr, one format for every command. Per-message lines are debug level;
// workers print a summary line every few seconds at info. Never log secrets (use db::MaskUrl).
#include <string>

#include <spdlog/spdlog.h>

namespace kr::log {

/// Sets the level ("debug", "info", …) and the format. Safe to call more than once.
void Init(const std::string& level);

}  // namespace kr::log
