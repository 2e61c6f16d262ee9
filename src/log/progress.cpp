#include "log/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "log/log.hpp"

namespace kr::log {

namespace {

/// "42 s", "3 min 5 s", "2 h 10 min".
std::string Duration(double s) {
    const auto secs = static_cast<std::int64_t>(std::ceil(std::max(0.0, s)));
    if (secs < 60) return std::to_string(secs) + " s";
    if (secs < 3600) return std::to_string(secs / 60) + " min " + std::to_string(secs % 60) + " s";
    return std::to_string(secs / 3600) + " h " + std::to_string(secs % 3600 / 60) + " min";
}

}  // namespace

Progress::Options Progress::ForStderr(double plain_every_s) {
    Options o;
    o.tty = ::isatty(STDERR_FILENO) != 0;
    o.plain_every = std::chrono::milliseconds(static_cast<std::int64_t>(plain_every_s * 1000));
    return o;
}

Progress::Progress(std::string label, std::int64_t total, std::string unit, Options options)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : SystemClock::Instance()),
      started_ms_(clock_.NowMs()),
      last_print_ms_(started_ms_) {
    if (!options_.write_tty) {
        options_.write_tty = [](const std::string& s) {
            std::fputs(s.c_str(), stderr);
            std::fflush(stderr);
        };
    }
}

Progress::~Progress() { Finish(); }

std::string Progress::Line(const std::string& label, std::int64_t done, std::int64_t total, const std::string& unit,
                           double rate_per_s) {
    std::string out = label + ": " + std::to_string(done);
    if (total >= 0) out += "/" + std::to_string(total);
    out += " " + unit;
    if (total > 0) out += " (" + std::to_string(std::min<std::int64_t>(100, done * 100 / total)) + "%)";
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f/s", rate_per_s);
    out += std::string(", ") + rate;
    if (total >= 0 && done < total) {
        out += rate_per_s > 0 ? ", ETA " + Duration(static_cast<double>(total - done) / rate_per_s) : ", ETA ?";
    }
    return out;
}

std::int64_t Progress::ElapsedMs() const { return std::max<std::int64_t>(0, clock_.NowMs() - started_ms_); }

std::string Progress::Current() const {
    const std::int64_t ms = ElapsedMs();
    return Line(label_, done_, total_, unit_,
                ms > 0 ? static_cast<double>(done_) * 1000.0 / static_cast<double>(ms) : 0);
}

void Progress::Set(std::int64_t done, std::int64_t total) {
    done_ = done;
    total_ = total;
    const std::int64_t now = clock_.NowMs();
    const auto every = options_.tty ? options_.tty_every : options_.plain_every;
    if (now - last_print_ms_ < every.count()) return;
    last_print_ms_ = now;
    printed_ = true;
    printed_done_ = done_;
    const std::string line = Current();
    if (options_.tty) {
        // Spaces over what is left of a longer line before.
        const std::size_t pad = last_width_ > line.size() ? last_width_ - line.size() : 0;
        options_.write_tty("\r" + line + std::string(pad, ' '));
        last_width_ = line.size();
    } else {
        spdlog::info("{}", line);
    }
}

void Progress::Finish() {
    if (finished_) return;
    finished_ = true;
    // A plain log gets its last line only when it had progress lines (a quick command stays quiet;
    // its own summary says what it did).
    if (options_.tty) {
        if (!printed_) return;
        const std::string line = Current();
        const std::size_t pad = last_width_ > line.size() ? last_width_ - line.size() : 0;
        options_.write_tty("\r" + line + std::string(pad, ' ') + "\n");
    } else if (printed_ && printed_done_ != done_) {  // not the line just printed again
        spdlog::info("{}", Current());
    }
}

}  // namespace kr::log
