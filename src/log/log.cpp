#include "log/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <regex>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/time_format.hpp"

namespace kr::log {

namespace {

/// One JSON object per message (JsonLine).
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
        const auto level = spdlog::level::to_string_view(msg.level);
        const std::string line =
            JsonLine(ms, std::string(level.data(), level.size()), std::string(msg.payload.data(), msg.payload.size())) +
            "\n";
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::atomic<bool> json_format{false};

}  // namespace

void CommandError(const std::string& text) {
    spdlog::default_logger()->flush();  // what was logged comes first
    if (json_format.load()) {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        std::fprintf(stderr, "%s\n", JsonLine(ms, "error", "killreport: " + text).c_str());
    } else {
        std::fprintf(stderr, "killreport: error: %s\n", text.c_str());
    }
    std::fflush(stderr);
}

std::string JsonLine(std::int64_t unix_ms, const std::string& level, const std::string& text) {
    nlohmann::json j;
    j["ts"] = IsoUtc(unix_ms);
    j["level"] = level;
    const auto head_end = text.find(": ");
    std::string component = text.substr(0, std::min(head_end, text.find(' ')));
    if (!component.empty() && component.back() == ':') component.pop_back();
    j["component"] = component;
    j["msg"] = text;
    if (head_end != std::string::npos) {
        static const std::regex counter(R"((?:^|\(|, )([a-z]+(?: [a-z]+)?) (-?\d+(?:\.\d+)?)(?=[ ,)]|$))");
        static const std::regex rate(R"((?:^| )(-?\d+(?:\.\d+)?)/s$)");
        const std::string body = text.substr(head_end + 2);
        for (std::sregex_iterator it(body.begin(), body.end(), counter), end; it != end; ++it) {
            std::string name = (*it)[1].str();
            for (char& c : name) c = c == ' ' ? '_' : c;
            if (name == "ts" || name == "level" || name == "component" || name == "msg") continue;
            const std::string v = (*it)[2].str();
            if (v.find('.') == std::string::npos) {
                j[name] = std::stoll(v);
            } else {
                j[name] = std::stod(v);
            }
        }
        std::smatch m;
        if (std::regex_search(body, m, rate)) j["per_second"] = std::stod(m[1].str());
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Init(const std::string& level, const std::string& format) {
    static auto logger = [] {
        auto l = spdlog::stderr_color_mt("killreport");
        spdlog::set_default_logger(l);
        return l;
    }();
    json_format.store(format == "json");
    if (format == "json") {
        logger->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        // "warning" is the longest level: the column keeps its width.
        logger->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%d %H:%M:%S.%e %^%-7l%$ %v"));
    }
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::info);
}

}  // namespace kr::log
