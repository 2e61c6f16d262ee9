#include "esi/wait_hooks.hpp"

#include <string>

#include "core/errors.hpp"

namespace kr::esi {

void WaitHooks::Check(std::string_view what) {
    if (stop_.stop_requested()) throw StoppedError(std::string(what) + ": stopping; the wait was abandoned");
    if (!idle_hook_) return;
    const std::int64_t now = clock_.NowUs();
    if (now - last_idle_us_ < 1'000'000) return;
    last_idle_us_ = now;
    idle_hook_();
}

}  // namespace kr::esi
