#include "support/fake_redis_client.hpp"

#include "core/errors.hpp"

namespace kr::test {

void FakeRedisClient::Connect() {
    std::lock_guard lock(state_.mu);
    connected_ = false;
    if (state_.down) {
        ++state_.failures;
        throw TransientError("Redis connect to fake: Connection refused");
    }
    ++state_.connects;
    connected_ = true;
}

bool FakeRedisClient::Connected() const { return connected_; }

std::int64_t FakeRedisClient::Publish(const std::string& channel, const std::string& message) {
    std::lock_guard lock(state_.mu);
    if (!connected_ || state_.down) {
        connected_ = false;
        ++state_.failures;
        throw TransientError("Redis PUBLISH: Connection reset by peer");
    }
    state_.published.emplace_back(channel, message);
    return 1;
}

}  // namespace kr::test
