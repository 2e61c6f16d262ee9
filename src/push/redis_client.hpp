#pragma once
// What the push needs of Redis: a connection and PUBLISH. Real: HiredisClient (hiredis); tests:
// FakeRedisClient (tests/support).
#include <cstdint>
#include <string>

namespace kr::push {

class RedisClient {
public:
    virtual ~RedisClient() = default;
    /// (Re)connects, authenticates and selects the database; throws kr::TransientError.
    virtual void Connect() = 0;
    virtual bool Connected() const = 0;
    /// PUBLISH channel message; the number of subscribers that got it. Throws kr::TransientError
    /// (the connection is dropped: Connect again).
    virtual std::int64_t Publish(const std::string& channel, const std::string& message) = 0;
};

}  // namespace kr::push
