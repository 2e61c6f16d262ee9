#include "log/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace kr::log {

void Init(const std::string& level) {
    static auto logger = [] {
        auto l = spdlog::stderr_color_mt("killreport");
        spdlog::set_default_logger(l);
        return l;
    }();
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-7l%$ %v");  // "warning" is the longest: levels align
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::info);
}

}  // namespace kr::log
