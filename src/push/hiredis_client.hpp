#pragma once
// RedisClient over hiredis (Debian's libhiredis): one blocking connection with timeouts.
#include <chrono>

#include "push/detail/redis_context.hpp"
#include "push/redis_client.hpp"
#include "push/redis_url.hpp"

namespace kr::push {

class HiredisClient final : public RedisClient {
public:
    explicit HiredisClient(RedisAddress address, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    void Connect() override;
    bool Connected() const override { return ctx_ != nullptr; }
    std::int64_t Publish(const std::string& channel, const std::string& message) override;

private:
    RedisAddress address_;
    std::chrono::milliseconds timeout_;
    detail::ContextPtr ctx_;
};

}  // namespace kr::push
