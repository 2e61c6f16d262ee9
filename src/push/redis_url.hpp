#pragma once
// REDIS_URL as the original reads it (ioredis): redis://[[user]:password@]host[:port][/db].
#include <cstdint>
#include <string>

namespace kr::push {

struct RedisAddress {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string user;      ///< "" = the default user
    std::string password;  ///< "" = no AUTH
    int db = 0;
};

/// Throws kr::FatalError naming the problem (the URL's password masked).
RedisAddress ParseRedisUrl(const std::string& url);

}  // namespace kr::push
