#include "queue/messages.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/errors.hpp"

namespace kr::queue {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

Json ParseJson(std::string_view body) {
    if (body.size() > kMaxBodyBytes) {
        throw PermanentError("too_large", "message body of " + std::to_string(body.size()) + " bytes exceeds " +
                                              std::to_string(kMaxBodyBytes));
    }
    Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw PermanentError("bad_json", "message body is not valid JSON");
    return j;
}

Json ParseObject(std::string_view body) {
    Json j = ParseJson(body);
    if (!j.is_object()) throw PermanentError("bad_field", "message body is not a JSON object");
    return j;
}

std::int64_t CheckId(std::int64_t v, std::string_view field) {
    if (v < 1 || v > kMaxMessageId) {
        throw PermanentError("id_out_of_range", std::string(field) + " " + std::to_string(v) + " is not in 1..2^53");
    }
    return v;
}

/// A positive integer id no larger than 2^53 (JavaScript's safe range).
std::int64_t IdValue(const Json::const_iterator& it, const char* field) {
    if (it->is_number_unsigned()) {
        auto u = it->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(kMaxMessageId)) {
            throw PermanentError("id_out_of_range",
                                 std::string(field) + " " + std::to_string(u) + " is not in 1..2^53");
        }
        return CheckId(static_cast<std::int64_t>(u), field);
    }
    if (it->is_number_integer()) return CheckId(it->get<std::int64_t>(), field);
    if (it->is_number_float()) {
        double d = it->get<double>();
        if (!std::isfinite(d) || std::trunc(d) != d) {
            throw PermanentError("bad_field", std::string(field) + " is not an integer");
        }
        if (d < 1 || d > static_cast<double>(kMaxMessageId)) {
            throw PermanentError("id_out_of_range", std::string(field) + " " + it->dump() + " is not in 1..2^53");
        }
        return static_cast<std::int64_t>(d);
    }
    throw PermanentError("bad_field", std::string(field) + " is not a number (" + std::string(it->type_name()) + ")");
}

std::int64_t IdField(const Json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) throw PermanentError("bad_field", std::string("missing field ") + field);
    return IdValue(it, field);
}

std::optional<std::int64_t> OptIdField(const Json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return IdField(j, field);
}

std::string OptString(const Json& j, const char* field, bool strict) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_string()) {
        if (strict) throw PermanentError("bad_field", std::string(field) + " is not a string");
        return {};
    }
    return it->get<std::string>();
}

const std::string& CheckChain(const std::string& chain) {
    if (chain.empty() || chain.size() > kMaxChainKey) {
        throw PermanentError("bad_field", "chain is empty or longer than " + std::to_string(kMaxChainKey) + " bytes");
    }
    return chain;
}

const std::string& RequiredTime(const std::string& s) {
    if (s.empty()) throw PermanentError("bad_field", "queuedAt is empty");
    return s;
}

}  // namespace

std::string BuildEntityMessage(const EntityMessage& m) {
    // Written directly (scan:entities builds 100,000s of them): the same bytes as nlohmann's dump of
    // {"entityId","queuedAt","source"[,"userId"]} in that order; the strings are escaped by nlohmann.
    std::string out;
    out.reserve(96 + m.source.size());
    out += "{\"entityId\":";
    out += std::to_string(CheckId(m.entity_id, "entityId"));
    out += ",\"queuedAt\":";
    out += Json(RequiredTime(m.queued_at)).dump();
    out += ",\"source\":";
    out += Json(m.source).dump();
    if (m.user_id) {
        out += ",\"userId\":";
        out += std::to_string(*m.user_id);
    }
    out += '}';
    return out;
}

std::string BuildEntityMessage(std::int64_t entity_id, const std::string& source, const std::string& queued_at) {
    EntityMessage m;
    m.entity_id = entity_id;
    m.source = source;
    m.queued_at = queued_at;
    return BuildEntityMessage(m);
}

std::string BuildEntityMessage(const EntityMessage& m, MessageFormat format) {
    if (format == MessageFormat::kBareId) return std::to_string(CheckId(m.entity_id, "entityId"));
    return BuildEntityMessage(m);
}

EntityMessage ParseEntityMessage(std::string_view body) {
    Json j = ParseJson(body);
    EntityMessage m;
    if (j.is_number()) {  // a bare id (the universe queues)
        const Json wrapper = Json::array({j});
        m.entity_id = IdValue(wrapper.cbegin(), "entityId");
        return m;
    }
    if (!j.is_object()) throw PermanentError("bad_field", "message body is not a JSON object or an id");
    m.entity_id = IdField(j, "entityId");
    // The original's consumers read nothing else: be lenient with the rest.
    m.queued_at = OptString(j, "queuedAt", false);
    m.source = OptString(j, "source", false);
    auto u = j.find("userId");
    if (u != j.end() && u->is_number_integer() && u->get<std::int64_t>() > 0) m.user_id = u->get<std::int64_t>();
    return m;
}

std::string BuildZkillboardJob(const ZkillboardJob& job) {
    OrderedJson j;
    if (job.user_id) {
        j["userId"] = CheckId(*job.user_id, "userId");
    } else {
        j["userId"] = nullptr;
    }
    j["characterId"] = CheckId(job.character_id, "characterId");
    j["characterName"] =
        job.character_name.empty() ? "Character_" + std::to_string(job.character_id) : job.character_name;
    j["queuedAt"] = RequiredTime(job.queued_at);
    if (job.page) {
        if (*job.page < 1 || *job.page > kMaxZkillboardPage) {
            throw PermanentError("bad_field", "page " + std::to_string(*job.page) + " is out of range");
        }
        j["page"] = *job.page;
    }
    if (job.chain) j["chain"] = CheckChain(*job.chain);
    return j.dump();
}

ZkillboardJob ParseZkillboardJob(std::string_view body) {
    Json j = ParseObject(body);
    ZkillboardJob job;
    job.user_id = OptIdField(j, "userId");
    job.character_id = IdField(j, "characterId");
    job.character_name = OptString(j, "characterName", true);
    job.queued_at = OptString(j, "queuedAt", false);
    auto p = j.find("page");
    if (p != j.end() && !p->is_null()) {
        if (!p->is_number_integer()) throw PermanentError("bad_field", "page is not an integer");
        auto v = p->get<std::int64_t>();
        if (v < 1 || v > kMaxZkillboardPage)
            throw PermanentError("bad_field", "page " + std::to_string(v) + " is out of range");
        job.page = static_cast<int>(v);
    }
    auto c = j.find("chain");
    if (c != j.end() && !c->is_null()) {
        if (!c->is_string()) throw PermanentError("bad_field", "chain is not a string");
        job.chain = CheckChain(c->get<std::string>());
    }
    return job;
}

}  // namespace kr::queue
