#include "queue/detail/amqp_connection.hpp"

#include <amqp_tcp_socket.h>

#include <cstring>
#include <utility>

#include "db/connection.hpp"

namespace kr::queue::detail {

namespace {

constexpr amqp_channel_t kChannel = 1;

timeval ToTimeval(std::chrono::milliseconds ms) {
    if (ms.count() < 0) ms = std::chrono::milliseconds(0);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

amqp_bytes_t Bytes(const std::string& s) {
    amqp_bytes_t b;
    b.len = s.size();
    b.bytes = const_cast<char*>(s.data());
    return b;
}

std::string ToString(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

amqp_table_entry_t StringEntry(const char* key, const std::string& value) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = Bytes(value);
    return e;
}

amqp_table_entry_t IntEntry(const char* key, std::int64_t value) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = value;
    return e;
}

amqp_table_entry_t BoolEntry(const char* key, bool value) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e.value.value.boolean = value ? 1 : 0;
    return e;
}

std::optional<std::int64_t> FieldInt(const amqp_field_value_t& v) {
    switch (v.kind) {
        case AMQP_FIELD_KIND_I8: return v.value.i8;
        case AMQP_FIELD_KIND_U8: return v.value.u8;
        case AMQP_FIELD_KIND_I16: return v.value.i16;
        case AMQP_FIELD_KIND_U16: return v.value.u16;
        case AMQP_FIELD_KIND_I32: return v.value.i32;
        case AMQP_FIELD_KIND_U32: return v.value.u32;
        case AMQP_FIELD_KIND_I64: return v.value.i64;
        case AMQP_FIELD_KIND_U64: return static_cast<std::int64_t>(v.value.u64);
        default: return std::nullopt;
    }
}

}  // namespace

AmqpUrl ParseAmqpUrl(const std::string& url) {
    std::vector<char> buf(url.begin(), url.end());
    buf.push_back('\0');
    amqp_connection_info info{};
    amqp_default_connection_info(&info);
    int rc = amqp_parse_url(buf.data(), &info);
    if (rc != AMQP_STATUS_OK) {
        throw kr::FatalError("malformed AMQP URL '" + kr::db::MaskUrl(url) + "': " + amqp_error_string2(rc));
    }
    AmqpUrl out;
    out.host = info.host ? info.host : "localhost";
    out.port = info.port;
    out.user = info.user ? info.user : "guest";
    out.password = info.password ? info.password : "guest";
    out.vhost = info.vhost && *info.vhost ? info.vhost : "/";
    out.ssl = info.ssl != 0;
    return out;
}

std::optional<std::int64_t> ReceivedMessage::IntHeader(std::string_view key) const {
    for (const auto& h : headers) {
        if (h.key == key && h.is_int) return h.i;
    }
    return std::nullopt;
}

std::optional<std::string> ReceivedMessage::StringHeader(std::string_view key) const {
    for (const auto& h : headers) {
        if (h.key == key && !h.is_int) return h.s;
    }
    return std::nullopt;
}

AmqpConnection::~AmqpConnection() { Close(); }

void AmqpConnection::Open(const AmqpUrl& url, std::chrono::milliseconds heartbeat,
                          std::chrono::milliseconds rpc_timeout, const std::string& connection_name) {
    Close();
    if (url.ssl) throw kr::FatalError("amqps:// is not supported by this build (use amqp://)");
    rpc_timeout_ = rpc_timeout;
    state_ = amqp_new_connection();
    if (!state_) throw AmqpConnectionError("amqp: out of memory");
    dead_ = false;
    channel_open_ = false;
    confirms_ = false;
    next_seq_ = 1;
    amqp_socket_t* sock = amqp_tcp_socket_new(state_);
    if (!sock) Dead("amqp: cannot create socket");
    timeval connect_tv = ToTimeval(std::min(rpc_timeout, std::chrono::milliseconds(5000)));
    int rc = amqp_socket_open_noblock(sock, url.host.c_str(), url.port, &connect_tv);
    if (rc != AMQP_STATUS_OK) {
        // rabbitmq-c keeps the system's reason to itself; a failed connect is one of these.
        const std::string reason =
            rc == AMQP_STATUS_SOCKET_ERROR ? "connection refused or host unreachable" : amqp_error_string2(rc);
        Dead("amqp: cannot connect to " + url.host + ":" + std::to_string(url.port) + ": " + reason);
    }
    timeval rpc_tv = ToTimeval(rpc_timeout);
    amqp_set_rpc_timeout(state_, &rpc_tv);

    amqp_table_entry_t caps[2] = {BoolEntry("authentication_failure_close", true),
                                  BoolEntry("consumer_cancel_notify", true)};
    amqp_table_entry_t props[2] = {StringEntry("connection_name", connection_name), {}};
    props[1].key = amqp_cstring_bytes("capabilities");
    props[1].value.kind = AMQP_FIELD_KIND_TABLE;
    props[1].value.value.table.num_entries = 2;
    props[1].value.value.table.entries = caps;
    amqp_table_t props_table{2, props};
    int heartbeat_s = heartbeat.count() <= 0 ? 0 : static_cast<int>((heartbeat.count() + 999) / 1000);
    amqp_rpc_reply_t r = amqp_login_with_properties(state_, url.vhost.c_str(), 0, 131072, heartbeat_s, &props_table,
                                                    AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* c = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        int code = c->reply_code;
        std::string text = ToString(c->reply_text);
        amqp_connection_close_ok_t ok{};
        amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        dead_ = true;
        if (code == AMQP_ACCESS_REFUSED || code == AMQP_NOT_ALLOWED) {
            throw kr::FatalError("amqp: login to " + url.host + ":" + std::to_string(url.port) + " vhost '" +
                                 url.vhost + "' refused: " + std::to_string(code) + " " + text);
        }
        throw AmqpConnectionError("amqp: login failed: " + std::to_string(code) + " " + text);
    }
    CheckReply(r, "login");
    EnsureChannel();
}

void AmqpConnection::Close() noexcept {
    if (!state_) return;
    if (!dead_) {
        timeval tv = ToTimeval(std::min(rpc_timeout_, std::chrono::milliseconds(2000)));
        amqp_set_rpc_timeout(state_, &tv);
        amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state_);
    state_ = nullptr;
    dead_ = false;
    channel_open_ = false;
}

void AmqpConnection::Dead(const std::string& what) {
    dead_ = true;
    channel_open_ = false;
    throw AmqpConnectionError(what);
}

void AmqpConnection::HandleServerMethod(const amqp_method_t& m, std::string_view context) {
    if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* c = static_cast<amqp_channel_close_t*>(m.decoded);
        int code = c->reply_code;
        std::string text = ToString(c->reply_text);
        // rabbitmq-c does not answer channel.close itself: without close-ok every later RPC on
        // this channel would block.
        amqp_channel_close_ok_t ok{};
        int st = amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        channel_open_ = false;
        if (st != AMQP_STATUS_OK)
            Dead(std::string(context) + ": cannot send channel.close-ok: " + amqp_error_string2(st));
        throw AmqpChannelError(
            code, std::string(context) + ": broker closed the channel: " + std::to_string(code) + " " + text);
    }
    if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* c = static_cast<amqp_connection_close_t*>(m.decoded);
        std::string text = std::to_string(c->reply_code) + " " + ToString(c->reply_text);
        amqp_connection_close_ok_t ok{};
        amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        Dead(std::string(context) + ": broker closed the connection: " + text);
    }
    Dead(std::string(context) + ": unexpected method 0x" + std::to_string(m.id) + " from broker");
}

void AmqpConnection::CheckReply(const amqp_rpc_reply_t& r, std::string_view context) {
    switch (r.reply_type) {
        case AMQP_RESPONSE_NORMAL: return;
        case AMQP_RESPONSE_NONE: Dead("amqp: " + std::string(context) + ": missing RPC reply");
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            // Includes AMQP_STATUS_TIMEOUT of an RPC: the connection state is then undefined.
            Dead("amqp: " + std::string(context) + ": " + amqp_error_string2(r.library_error));
        case AMQP_RESPONSE_SERVER_EXCEPTION: HandleServerMethod(r.reply, "amqp: " + std::string(context));
    }
    Dead("amqp: " + std::string(context) + ": unknown reply type");
}

void AmqpConnection::CheckStatus(int status, std::string_view context) {
    if (status >= 0) return;
    Dead("amqp: " + std::string(context) + ": " + amqp_error_string2(status));
}

void AmqpConnection::Require(std::string_view context) {
    if (!state_ || dead_) throw AmqpConnectionError("amqp: " + std::string(context) + ": not connected");
    EnsureChannel();
}

void AmqpConnection::ReleaseBuffers() {
    if (state_ && !amqp_frames_enqueued(state_)) amqp_maybe_release_buffers(state_);
}

bool AmqpConnection::EnsureChannel() {
    if (channel_open_) return false;
    if (!state_ || dead_) throw AmqpConnectionError("amqp: open channel: not connected");
    amqp_channel_open(state_, kChannel);
    CheckReply(amqp_get_rpc_reply(state_), "channel.open");
    channel_open_ = true;
    ++channel_epoch_;
    next_seq_ = 1;
    if (confirms_) {
        amqp_confirm_select(state_, kChannel);
        CheckReply(amqp_get_rpc_reply(state_), "confirm.select");
    }
    return true;
}

void AmqpConnection::ConfirmSelect() {
    Require("confirm.select");
    if (confirms_) return;
    amqp_confirm_select(state_, kChannel);
    CheckReply(amqp_get_rpc_reply(state_), "confirm.select");
    confirms_ = true;
    next_seq_ = 1;
}

QueueCounts AmqpConnection::DeclareQueue(const std::string& name, const QueueArgs& args, bool passive) {
    Require("queue.declare");
    ReleaseBuffers();
    std::vector<amqp_table_entry_t> entries;
    if (args.max_priority) {
        amqp_table_entry_t e{};
        e.key = amqp_cstring_bytes("x-max-priority");
        e.value.kind = AMQP_FIELD_KIND_I32;  // amqplib sends a signed integer too; the type is not compared
        e.value.value.i32 = *args.max_priority;
        entries.push_back(e);
    }
    if (args.message_ttl_ms) entries.push_back(IntEntry("x-message-ttl", *args.message_ttl_ms));
    if (args.dead_letter_exchange) entries.push_back(StringEntry("x-dead-letter-exchange", *args.dead_letter_exchange));
    if (args.dead_letter_routing_key) {
        entries.push_back(StringEntry("x-dead-letter-routing-key", *args.dead_letter_routing_key));
    }
    amqp_table_t table{static_cast<int>(entries.size()), entries.empty() ? nullptr : entries.data()};
    auto* ok = amqp_queue_declare(state_, kChannel, Bytes(name), passive ? 1 : 0, 1 /*durable*/, 0 /*exclusive*/,
                                  0 /*auto_delete*/, passive ? amqp_empty_table : table);
    CheckReply(amqp_get_rpc_reply(state_), (passive ? "queue.declare (passive) '" : "queue.declare '") + name + "'");
    QueueCounts counts;
    if (ok) {
        counts.messages = ok->message_count;
        counts.consumers = ok->consumer_count;
    }
    return counts;
}

void AmqpConnection::DeleteQueue(const std::string& name) {
    Require("queue.delete");
    amqp_queue_delete(state_, kChannel, Bytes(name), 0, 0);
    CheckReply(amqp_get_rpc_reply(state_), "queue.delete '" + name + "'");
}

void AmqpConnection::Qos(std::uint16_t prefetch) {
    Require("basic.qos");
    amqp_basic_qos(state_, kChannel, 0, prefetch, 0 /*per consumer*/);
    CheckReply(amqp_get_rpc_reply(state_), "basic.qos");
}

std::string AmqpConnection::Consume(const std::string& queue) {
    Require("basic.consume");
    auto* ok =
        amqp_basic_consume(state_, kChannel, Bytes(queue), amqp_empty_bytes, 0, 0 /*manual ack*/, 0, amqp_empty_table);
    CheckReply(amqp_get_rpc_reply(state_), "basic.consume '" + queue + "'");
    return ok ? ToString(ok->consumer_tag) : std::string{};
}

void AmqpConnection::Cancel(const std::string& consumer_tag) {
    Require("basic.cancel");
    // Deliveries that arrive before cancel-ok are queued by rabbitmq-c and come out of ConsumeOne.
    amqp_basic_cancel(state_, kChannel, Bytes(consumer_tag));
    CheckReply(amqp_get_rpc_reply(state_), "basic.cancel");
}

std::uint64_t AmqpConnection::Publish(const RawMessage& m, bool mandatory) {
    Require("basic.publish");
    static const std::string kJson = "application/json";
    amqp_basic_properties_t p{};
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG;
    p.content_type = Bytes(kJson);
    p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    p.priority = m.priority;
    std::vector<amqp_table_entry_t> entries;
    entries.reserve(m.headers.size());
    for (const auto& h : m.headers) {
        amqp_table_entry_t e{};
        e.key = Bytes(h.key);
        if (h.is_int) {
            e.value.kind = AMQP_FIELD_KIND_I64;
            e.value.value.i64 = h.i;
        } else {
            e.value.kind = AMQP_FIELD_KIND_UTF8;
            e.value.value.bytes = Bytes(h.s);
        }
        entries.push_back(e);
    }
    if (!entries.empty()) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers.num_entries = static_cast<int>(entries.size());
        p.headers.entries = entries.data();
    }
    std::string expiration;
    if (m.expiration_ms) {
        expiration = std::to_string(std::max<std::int64_t>(0, *m.expiration_ms));
        p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p.expiration = Bytes(expiration);
    }
    int st = amqp_basic_publish(state_, kChannel, amqp_empty_bytes, Bytes(m.routing_key), mandatory ? 1 : 0, 0, &p,
                                Bytes(m.body));
    CheckStatus(st, "basic.publish");
    return next_seq_++;
}

std::optional<ConfirmEvent> AmqpConnection::WaitConfirm(std::chrono::milliseconds timeout) {
    Require("wait for confirms");
    ReleaseBuffers();
    timeval tv = ToTimeval(timeout);
    amqp_frame_t f{};
    int st = amqp_simple_wait_frame_noblock(state_, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT) return std::nullopt;
    CheckStatus(st, "wait for confirms");
    if (f.frame_type != AMQP_FRAME_METHOD) return std::nullopt;
    ConfirmEvent ev;
    switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            auto* a = static_cast<amqp_basic_ack_t*>(f.payload.method.decoded);
            ev.kind = ConfirmEvent::kAck;
            ev.tag = a->delivery_tag;
            ev.multiple = a->multiple != 0;
            return ev;
        }
        case AMQP_BASIC_NACK_METHOD: {
            auto* n = static_cast<amqp_basic_nack_t*>(f.payload.method.decoded);
            ev.kind = ConfirmEvent::kNack;
            ev.tag = n->delivery_tag;
            ev.multiple = n->multiple != 0;
            return ev;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            auto* ret = static_cast<amqp_basic_return_t*>(f.payload.method.decoded);
            std::string rk = ToString(ret->routing_key);
            amqp_message_t msg{};
            CheckReply(amqp_read_message(state_, f.channel, &msg, 0), "read returned message");
            ev.kind = ConfirmEvent::kReturn;
            ev.returned = FromMessage(msg);
            ev.returned.routing_key = std::move(rk);
            amqp_destroy_message(&msg);
            return ev;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD: HandleServerMethod(f.payload.method, "amqp: wait for confirms");
        default: return std::nullopt;
    }
}

ReceivedMessage AmqpConnection::FromMessage(const amqp_message_t& msg) {
    ReceivedMessage out;
    out.body = ToString(msg.body);
    const auto& p = msg.properties;
    if (p._flags & AMQP_BASIC_PRIORITY_FLAG) out.priority = p.priority;
    if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
        for (int i = 0; i < p.headers.num_entries; ++i) {
            const auto& e = p.headers.entries[i];
            HeaderValue h;
            h.key = ToString(e.key);
            if (auto v = FieldInt(e.value)) {
                h.is_int = true;
                h.i = *v;
            } else if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
                h.s = ToString(e.value.value.bytes);
            } else {
                continue;  // x-death (array of tables) etc.: not needed
            }
            out.headers.push_back(std::move(h));
        }
    }
    return out;
}

ConsumeResult AmqpConnection::ConsumeOne(std::chrono::milliseconds timeout) {
    Require("consume");
    ReleaseBuffers();
    timeval tv = ToTimeval(timeout);
    amqp_envelope_t env{};
    amqp_rpc_reply_t r = amqp_consume_message(state_, &env, &tv, 0);
    ConsumeResult out;
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        out.kind = ConsumeResult::kDelivery;
        out.message = FromMessage(env.message);
        out.message.delivery_tag = env.delivery_tag;
        out.message.redelivered = env.redelivered != 0;
        out.message.routing_key = ToString(env.routing_key);
        out.message.consumer_tag = ToString(env.consumer_tag);
        amqp_destroy_envelope(&env);
        return out;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) return out;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        // A frame other than basic.deliver is waiting (put back by amqp_consume_message).
        amqp_frame_t f{};
        CheckStatus(amqp_simple_wait_frame(state_, &f), "consume");
        if (f.frame_type != AMQP_FRAME_METHOD) return out;
        switch (f.payload.method.id) {
            case AMQP_CHANNEL_CLOSE_METHOD:
            case AMQP_CONNECTION_CLOSE_METHOD: HandleServerMethod(f.payload.method, "amqp: consume");
            case AMQP_BASIC_CANCEL_METHOD: {
                // The broker cancelled our consumer (queue deleted). Close the channel so the owner
                // re-declares and re-consumes like after a channel error.
                amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
                channel_open_ = false;
                CheckReply(amqp_get_rpc_reply(state_), "channel.close after basic.cancel");
                throw AmqpChannelError(0, "amqp: consume: the broker cancelled the consumer (queue deleted?)");
            }
            case AMQP_BASIC_RETURN_METHOD: {
                amqp_message_t msg{};
                CheckReply(amqp_read_message(state_, f.channel, &msg, 0), "read returned message");
                amqp_destroy_message(&msg);
                return out;
            }
            default: return out;  // basic.ack etc. are not expected on a consuming connection
        }
    }
    CheckReply(r, "consume");
    return out;
}

std::optional<ReceivedMessage> AmqpConnection::Get(const std::string& queue) {
    Require("basic.get");
    ReleaseBuffers();
    amqp_rpc_reply_t r = amqp_basic_get(state_, kChannel, Bytes(queue), 0);
    CheckReply(r, "basic.get '" + queue + "'");
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) return std::nullopt;
    auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
    std::uint64_t tag = ok->delivery_tag;
    bool redelivered = ok->redelivered != 0;
    std::string rk = ToString(ok->routing_key);
    amqp_message_t msg{};
    CheckReply(amqp_read_message(state_, kChannel, &msg, 0), "read message of basic.get");
    ReceivedMessage out = FromMessage(msg);
    amqp_destroy_message(&msg);
    out.delivery_tag = tag;
    out.redelivered = redelivered;
    out.routing_key = std::move(rk);
    return out;
}

void AmqpConnection::Ack(std::uint64_t tag, bool multiple) {
    Require("basic.ack");
    CheckStatus(amqp_basic_ack(state_, kChannel, tag, multiple ? 1 : 0), "basic.ack");
}

void AmqpConnection::Reject(std::uint64_t tag, bool requeue) {
    Require("basic.reject");
    CheckStatus(amqp_basic_reject(state_, kChannel, tag, requeue ? 1 : 0), "basic.reject");
}

void AmqpConnection::Nack(std::uint64_t tag, bool multiple, bool requeue) {
    Require("basic.nack");
    CheckStatus(amqp_basic_nack(state_, kChannel, tag, multiple ? 1 : 0, requeue ? 1 : 0), "basic.nack");
}

void AmqpConnection::SendHeartbeat() noexcept {
    if (!state_ || dead_) return;
    amqp_frame_t f{};
    f.frame_type = AMQP_FRAME_HEARTBEAT;
    f.channel = 0;
    amqp_send_frame(state_, &f);
}

}  // namespace kr::queue::detail
