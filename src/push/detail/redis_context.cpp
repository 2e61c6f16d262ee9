#include "push/detail/redis_context.hpp"

namespace kr::push::detail {

TransientError RedisError(const std::string& what, const redisContext* c) {
    std::string why = c && c->err ? std::string(c->errstr) : std::string("no connection");
    return TransientError("Redis " + what + ": " + why);
}

ReplyPtr Checked(redisContext* c, void* reply, const std::string& command) {
    ReplyPtr r(static_cast<redisReply*>(reply));
    if (!r) throw RedisError(command, c);
    if (r->type == REDIS_REPLY_ERROR) {
        throw TransientError("Redis " + command + ": " + std::string(r->str, r->len));
    }
    return r;
}

}  // namespace kr::push::detail
