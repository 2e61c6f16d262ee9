#pragma once
// Logging: spdlog on stderr, one format for every command. Per-message lines are debug level;
// workers print a summary line every few seconds at info. Never log secrets (use db::MaskUrl).
// The format is set here and only here: text (aligned levels) or JSON, one object per line.
#include <string>

#include <spdlog/spdlog.h>

namespace kr::log {

/// Sets the level ("debug", "info", …) and the format ("text" or "json"). Safe to call more than once.
void Init(const std::string& level, const std::string& format = "text");

/// A command's last word when it fails: "killreport: error: <text>" on stderr, or, once Init set
/// the JSON format, one JSON line like any other (level "error", component "killreport"), so a
/// log collector parsing every line does not choke on the one that matters most.
void CommandError(const std::string& text);

/// The JSON line of one message (without the newline): {"ts": ISO 8601 UTC with ms, "level",
/// "component": the message's first word before ':' ("worker:info:characters", "ESI", "run"),
/// "msg": the text, and each counter the text lists — "label N" at its start, after "(" or ", " —
/// as a number field ("not found 5" → "not_found": 5; a trailing "N/s" → "per_second": N)}.
std::string JsonLine(std::int64_t unix_ms, const std::string& level, const std::string& text);

}  // namespace kr::log
