#pragma once
// Progress of a one-shot command (queue:*, scan:entities, db:migrate) or `run --until-idle`: on a
// terminal one line rewritten in place (at most every 250 ms); otherwise a plain log line every
// 10 s (so through the one log format, text or JSON). Each line: what, how far, the rate since the
// start and the ETA when the total is known.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/clock.hpp"

namespace kr::log {

class Progress {
public:
    struct Options {
        bool tty = false;  ///< a terminal: rewrite one line in place
        std::chrono::milliseconds tty_every{250};
        std::chrono::milliseconds plain_every{10000};
        /// Where a terminal's line goes ("\r…"; default: stderr). Plain lines go to spdlog (info).
        std::function<void(const std::string&)> write_tty;
        Clock* clock = nullptr;  ///< default: SystemClock
    };
    /// The options for this process's stderr (a terminal or not); plain lines every `plain_every_s`.
    static Options ForStderr(double plain_every_s = 10);

    /// `total` < 0: unknown (no percentage, no ETA). `unit`: "ids", "messages", …
    Progress(std::string label, std::int64_t total, std::string unit, Options options = ForStderr());
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// How far it is (and, when it changed, the new total); prints when a line is due.
    void Set(std::int64_t done, std::int64_t total);
    void Set(std::int64_t done) { Set(done, total_); }
    void Add(std::int64_t n) { Set(done_ + n, total_); }
    /// `more` units are still to come beyond what is done (a total becomes known, or grows).
    void Expect(std::int64_t more) { Set(done_, std::max<std::int64_t>(total_, done_) + more); }
    /// The last line (a terminal's ends with a newline); once, also from the destructor.
    void Finish();

    /// "queue:alliances: 1200/3400 ids (35%), 812/s, ETA 3 s" (no total: "1200 ids, 812/s").
    static std::string Line(const std::string& label, std::int64_t done, std::int64_t total, const std::string& unit,
                            double rate_per_s);

private:
    std::string Current() const;
    std::int64_t ElapsedMs() const;

    std::string label_;
    std::int64_t total_;
    std::string unit_;
    Options options_;
    Clock& clock_;
    std::int64_t started_ms_;
    std::int64_t last_print_ms_;
    std::int64_t done_ = 0;
    std::size_t last_width_ = 0;
    bool printed_ = false;
    std::int64_t printed_done_ = -1;  ///< the count of the last line printed
    bool finished_ = false;
};

}  // namespace kr::log
