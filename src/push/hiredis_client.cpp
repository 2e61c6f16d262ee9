#include "push/hiredis_client.hpp"

#include <sys/time.h>

namespace kr::push {

HiredisClient::HiredisClient(RedisAddress address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

void HiredisClient::Connect() {
    ctx_.reset();
    timeval tv{static_cast<time_t>(timeout_.count() / 1000), static_cast<suseconds_t>(timeout_.count() % 1000 * 1000)};
    detail::ContextPtr c(redisConnectWithTimeout(address_.host.c_str(), address_.port, tv));
    const std::string where = address_.host + ":" + std::to_string(address_.port);
    if (!c || c->err) throw detail::RedisError("connect to " + where, c.get());
    if (redisSetTimeout(c.get(), tv) != REDIS_OK) throw detail::RedisError("timeout on " + where, c.get());
    if (!address_.password.empty()) {
        if (address_.user.empty()) {
            detail::Checked(c.get(), redisCommand(c.get(), "AUTH %s", address_.password.c_str()), "AUTH");
        } else {
            detail::Checked(
                c.get(), redisCommand(c.get(), "AUTH %s %s", address_.user.c_str(), address_.password.c_str()), "AUTH");
        }
    }
    if (address_.db != 0) detail::Checked(c.get(), redisCommand(c.get(), "SELECT %d", address_.db), "SELECT");
    ctx_ = std::move(c);
}

std::int64_t HiredisClient::Publish(const std::string& channel, const std::string& message) {
    if (!ctx_) throw detail::RedisError("PUBLISH", nullptr);
    try {
        auto r = detail::Checked(
            ctx_.get(),
            redisCommand(ctx_.get(), "PUBLISH %b %b", channel.data(), channel.size(), message.data(), message.size()),
            "PUBLISH");
        return r->type == REDIS_REPLY_INTEGER ? static_cast<std::int64_t>(r->integer) : 0;
    } catch (const TransientError&) {
        ctx_.reset();  // a context that failed once is not used again
        throw;
    }
}

}  // namespace kr::push
