#pragma once
// A RedisClient that records what is published; it can be made to fail (an outage) and is
// thread-safe (RedisPush calls it from its own thread).
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "push/redis_client.hpp"

namespace kr::test {

class FakeRedisClient final : public push::RedisClient {
public:
    struct State {
        std::mutex mu;
        bool down = false;  ///< Connect and Publish fail while set
        int connects = 0;
        int failures = 0;
        std::vector<std::pair<std::string, std::string>> published;  ///< (channel, message)
    };
    explicit FakeRedisClient(State& state) : state_(state) {}
    void Connect() override;
    bool Connected() const override;
    std::int64_t Publish(const std::string& channel, const std::string& message) override;

private:
    State& state_;
    bool connected_ = false;
};

}  // namespace kr::test
