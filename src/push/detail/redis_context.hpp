#pragma once
// hiredis glue: owners of a redisContext and a redisReply, and the one place hiredis errors become
// kr errors.
#include <memory>
#include <string>

#include <hiredis/hiredis.h>

#include "core/errors.hpp"

namespace kr::push::detail {

struct ContextFree {
    void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

/// Every Redis failure is transient for us (the push retries; ingest never waits for it).
TransientError RedisError(const std::string& what, const redisContext* c);
/// The reply of `command` on `c`, or throws: no reply (the connection failed) or an error reply.
ReplyPtr Checked(redisContext* c, void* reply, const std::string& command);

}  // namespace kr::push::detail
