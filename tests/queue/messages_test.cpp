// Message bodies, the retry policy and the settle decision (no servers).
#include "queue/messages.hpp"

#include <chrono>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "queue/consumer.hpp"

namespace kr::test {

using namespace std::chrono_literals;
using namespace kr::queue;

constexpr const char* kQueuedAt = "2026-07-08T22:00:01.123Z";

std::string ReasonOf(std::string_view body, bool zkill = false) {
    try {
        if (zkill) {
            ParseZkillboardJob(body);
        } else {
            ParseEntityMessage(body);
        }
    } catch (const kr::PermanentError& e) {
        return e.Reason();
    }
    return "ok";
}

TEST(Messages, EntityMessageMatchesTheOriginal) {
    EntityMessage m;
    m.entity_id = 99003214;
    m.queued_at = "2026-07-08T22:00:01.123Z";
    m.source = "queue-alliances";
    EXPECT_EQ(BuildEntityMessage(m),
              R"({"entityId":99003214,"queuedAt":"2026-07-08T22:00:01.123Z","source":"queue-alliances"})");
    auto p = ParseEntityMessage(R"({"entityId": 99003214, "queuedAt": "2026-07-08T22:00:01.123Z", "source": "x"})");
    EXPECT_EQ(p.entity_id, 99003214);
    EXPECT_EQ(p.source, "x");
    // GraphQL refresh adds userId; unknown fields are ignored.
    EXPECT_EQ(ParseEntityMessage(R"({"entityId":5,"userId":12,"extra":[1]})").user_id, 12);
    auto built = nlohmann::json::parse(BuildEntityMessage(12345, "killmail_scan", kQueuedAt));
    EXPECT_EQ(built["entityId"], 12345);
    EXPECT_EQ(built["queuedAt"].get<std::string>().size(), 24u);
    // The hand-written builder escapes strings and writes userId last, as nlohmann's dump would.
    m.source = "a\"b\\c\n";
    m.user_id = 7;
    nlohmann::ordered_json expect;
    expect["entityId"] = 99003214;
    expect["queuedAt"] = m.queued_at;
    expect["source"] = m.source;
    expect["userId"] = 7;
    EXPECT_EQ(BuildEntityMessage(m), expect.dump());
}

TEST(Messages, EntityIdValidation) {
    EXPECT_EQ(ReasonOf(R"({"entityId":1})"), "ok");
    EXPECT_EQ(ReasonOf(R"({"entityId":9007199254740992})"), "ok");  // 2^53
    EXPECT_EQ(ReasonOf(R"({"entityId":9007199254740993})"), "id_out_of_range");
    EXPECT_EQ(ReasonOf(R"({"entityId":18446744073709551615})"), "id_out_of_range");
    EXPECT_EQ(ReasonOf(R"({"entityId":99999999999999999999999})"), "id_out_of_range");
    EXPECT_EQ(ReasonOf(R"({"entityId":0})"), "id_out_of_range");
    EXPECT_EQ(ReasonOf(R"({"entityId":-1})"), "id_out_of_range");
    EXPECT_EQ(ReasonOf(R"({"entityId":12.0})"), "ok");
    EXPECT_EQ(ReasonOf(R"({"entityId":12.5})"), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"entityId":"12"})"), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"entityId":null})"), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"entityId":true})"), "bad_field");
    EXPECT_EQ(ReasonOf(R"({})"), "bad_field");
    EXPECT_EQ(ReasonOf(R"([])"), "bad_field");
    EXPECT_EQ(ReasonOf(R"("text")"), "bad_field");
    EXPECT_EQ(ReasonOf(""), "bad_json");
    EXPECT_EQ(ReasonOf("{\"entityId\":1"), "bad_json");
    EXPECT_EQ(ReasonOf("{\"entityId\":1,\"s\":\"\xff\"}"), "bad_json");  // not UTF-8
    EXPECT_THROW(BuildEntityMessage(0, "x", kQueuedAt), kr::PermanentError);
}

TEST(Messages, BareIdsAsTheOriginalsUniverseQueuesCarryThem) {
    // The original's queue:regions / worker:regions: the body is the id's digits.
    EntityMessage m;
    m.entity_id = 10000002;
    m.queued_at = "2026-07-08T22:00:01.123Z";
    m.source = "queue-regions";
    EXPECT_EQ(BuildEntityMessage(m, MessageFormat::kBareId), "10000002");
    EXPECT_EQ(BuildEntityMessage(m, MessageFormat::kEntityJson), BuildEntityMessage(m));
    auto p = ParseEntityMessage("10000002");
    EXPECT_EQ(p.entity_id, 10000002);
    EXPECT_TRUE(p.source.empty());
    EXPECT_EQ(ParseEntityMessage(" 30000142\n").entity_id, 30000142);
    EXPECT_EQ(ReasonOf("0"), "id_out_of_range");
    EXPECT_EQ(ReasonOf("-5"), "id_out_of_range");
    EXPECT_EQ(ReasonOf("12.5"), "bad_field");
    EXPECT_EQ(ReasonOf("9007199254740993"), "id_out_of_range");
    EXPECT_EQ(ReasonOf("abc"), "bad_json");
    m.entity_id = 0;
    EXPECT_THROW(BuildEntityMessage(m, MessageFormat::kBareId), kr::PermanentError);
}

TEST(Messages, HugeBodyIsRejectedBeforeParsing) {
    std::string body = "{\"entityId\":1,\"pad\":\"" + std::string(1 << 20, 'x') + "\"}";
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(ReasonOf(body), "too_large");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);  // no parse: ~0 per body
    std::string nested(kMaxBodyBytes - 10, '[');
    EXPECT_EQ(ReasonOf(nested), "bad_json");
}

TEST(Messages, ZkillboardJob) {
    ZkillboardJob j;
    j.user_id = 12;
    j.character_id = 95465499;
    j.character_name = "CCP Falcon";
    j.queued_at = "2026-07-08T10:00:00.000Z";
    EXPECT_EQ(
        BuildZkillboardJob(j),
        R"({"userId":12,"characterId":95465499,"characterName":"CCP Falcon","queuedAt":"2026-07-08T10:00:00.000Z"})");
    ZkillboardJob ext;
    ext.character_id = 95465499;
    ext.queued_at = "x";
    ext.page = 3;
    EXPECT_EQ(BuildZkillboardJob(ext),
              R"({"userId":null,"characterId":95465499,"characterName":"Character_95465499","queuedAt":"x","page":3})");
    auto p = ParseZkillboardJob(BuildZkillboardJob(ext));
    EXPECT_FALSE(p.user_id);
    EXPECT_EQ(p.page, 3);
    EXPECT_EQ(ParseZkillboardJob(R"({"userId":null,"characterId":1,"characterName":"a","queuedAt":"q"})").page,
              std::nullopt);
    EXPECT_EQ(ReasonOf(R"({"userId":null,"characterName":"a"})", true), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"userId":-3,"characterId":1})", true), "id_out_of_range");
    EXPECT_EQ(ReasonOf(R"({"userId":"12","characterId":1})", true), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"characterId":1,"characterName":5})", true), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"characterId":1,"page":0})", true), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"characterId":1,"page":"2"})", true), "bad_field");
}

TEST(Messages, ZkillboardJobCarriesItsChainAfterThePage) {
    ZkillboardJob j;
    j.character_id = 95465499;
    j.queued_at = "2026-07-08T10:05:00.000Z";
    j.page = 2;
    j.chain = "2026-07-08T10:00:00.000Z";
    const std::string body = BuildZkillboardJob(j);
    EXPECT_EQ(body, R"({"userId":null,"characterId":95465499,"characterName":"Character_95465499",)"
                    R"("queuedAt":"2026-07-08T10:05:00.000Z","page":2,"chain":"2026-07-08T10:00:00.000Z"})");
    EXPECT_EQ(ParseZkillboardJob(body).chain, "2026-07-08T10:00:00.000Z");
    // The original's body (no chain) still parses: a new sync.
    EXPECT_EQ(ParseZkillboardJob(R"({"userId":null,"characterId":1,"characterName":"a","queuedAt":"q"})").chain,
              std::nullopt);
    EXPECT_EQ(ParseZkillboardJob(R"({"characterId":1,"chain":null})").chain, std::nullopt);
    EXPECT_EQ(ReasonOf(R"({"characterId":1,"chain":7})", true), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"characterId":1,"chain":""})", true), "bad_field");
    EXPECT_EQ(ReasonOf(R"({"characterId":1,"chain":")" + std::string(kMaxChainKey + 1, 'x') + R"("})", true),
              "bad_field");
}

TEST(Messages, BuildersNeedAQueuedAtAndReadNoClock) {
    EXPECT_EQ(ReasonOf(R"({"entityId":1})", false), "ok");  // parsing stays lenient
    EntityMessage m;
    m.entity_id = 1;
    EXPECT_THROW(BuildEntityMessage(m), kr::PermanentError);
    ZkillboardJob j;
    j.character_id = 1;
    EXPECT_THROW(BuildZkillboardJob(j), kr::PermanentError);
}

TEST(RetryPolicy, ExponentialWithCapJitterAndRetryAfter) {
    RetryPolicy p;  // 5 s, x3, cap 30 min, +-20 %
    EXPECT_EQ(p.Delay(0, std::nullopt, 0.5), 5s);
    EXPECT_EQ(p.Delay(1, std::nullopt, 0.5), 15s);
    EXPECT_EQ(p.Delay(2, std::nullopt, 0.5), 45s);
    EXPECT_EQ(p.Delay(20, std::nullopt, 0.5), 30min);
    EXPECT_EQ(p.Delay(100000, std::nullopt, 0.5), 30min);
    EXPECT_EQ(p.Delay(0, std::nullopt, 0.0), 4s);
    EXPECT_EQ(p.Delay(0, std::nullopt, 1.0), 6s);
    EXPECT_EQ(p.Delay(0, 60s, 0.5), 60s);  // Retry-After wins when longer
    EXPECT_EQ(p.Delay(3, 1s, 0.5), 135s);
    for (int i = 0; i < 1000; ++i) {
        auto d = p.Delay(1);
        EXPECT_GE(d, 12s);
        EXPECT_LE(d, 18s);
    }
}

TEST(Settle, DecisionTable) {
    RetryPolicy p;
    p.max_attempts = 3;
    Delivery d;
    d.attempt = 0;
    auto ex = [](auto e) { return std::make_exception_ptr(e); };
    EXPECT_EQ(Decide(d, nullptr, p).action, Settled::kAcked);

    auto t = Decide(d, ex(kr::TransientError("ESI 503")), p);
    EXPECT_EQ(t.action, Settled::kRetried);
    EXPECT_GE(t.delay, 4s);
    EXPECT_LE(t.delay, 6s);
    EXPECT_EQ(t.error, "ESI 503");
    EXPECT_GE(Decide(d, ex(kr::TransientError("420", 90s)), p).delay, 90s);
    EXPECT_EQ(Decide(d, ex(kr::Error("db")), p).action, Settled::kRetried);
    EXPECT_EQ(Decide(d, ex(std::out_of_range("bug")), p).action, Settled::kRetried);

    auto perm = Decide(d, ex(kr::PermanentError("esi_422", "unprocessable")), p);
    EXPECT_EQ(perm.action, Settled::kDeadLettered);
    EXPECT_EQ(perm.reason, "esi_422");

    d.attempt = 2;  // the third attempt failed: no more
    auto last = Decide(d, ex(kr::TransientError("again")), p);
    EXPECT_EQ(last.action, Settled::kDeadLettered);
    EXPECT_EQ(last.reason, "max_attempts");
    EXPECT_EQ(last.error, "again");
    // A wait that gave up because the process stops hands the message back, even on its last attempt.
    auto stopped = Decide(d, ex(kr::StoppedError("stopping")), p);
    EXPECT_EQ(stopped.action, Settled::kReleased);
    EXPECT_EQ(stopped.error, "stopping");

    EXPECT_THROW(Decide(d, ex(kr::FatalError("config")), p), kr::FatalError);
    EXPECT_THROW(Decide(d, std::make_exception_ptr(42), p), int);
}

}  // namespace kr::test
