#pragma once
// Captures what is logged through spdlog's default logger ("LEVEL message" lines) while it lives.
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace kr::test {

class CapturedLog {
public:
    explicit CapturedLog(spdlog::level::level_enum level = spdlog::level::info) : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        auto logger = std::make_shared<spdlog::logger>("capture", sink);
        logger->set_pattern("%l %v");
        logger->set_level(level);
        spdlog::set_default_logger(logger);
    }
    ~CapturedLog() { spdlog::set_default_logger(previous_); }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;
    std::string Text() const { return out_.str(); }
    /// How many times `needle` occurs in what was logged.
    std::size_t Count(const std::string& needle) const {
        const std::string text = Text();
        std::size_t n = 0;
        for (std::size_t at = 0; (at = text.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
        return n;
    }

private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace kr::test
