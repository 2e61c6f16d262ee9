// End to end: `run` against tools/fake-esi serves the status page on its metrics address. Once the
// synced characters' history is stored (and one message was dead-lettered), headless Chromium loads
// the page — its script run — and the numbers it renders are those of `status --json` taken by
// the command line at the same moment; /status.json is that same document. The screenshot it takes
// is docs/status-page.png (the README shows it; KR_UPDATE_GOLDEN=1 rewrites it). Skipped where `chromium` is not
// installed.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <set>

#include "e2e/fault_harness.hpp"
#include "e2e/pipeline_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {
namespace {

using nlohmann::json;

bool HaveChromium() { return RunCommand("command -v chromium").exit_code == 0; }

/// Headless Chromium on `url` with extra `args`; its stdout (the DOM with --dump-dom).
std::string Chromium(const std::string& profile, const std::string& args, const std::string& url) {
    auto r = RunCommand(
        "timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run "
        "--disable-background-networking --user-data-dir='" +
        profile + "' --virtual-time-budget=5000 " + args + " '" + url + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
}

/// The inner HTML of the first `<tr ATTRS>…</tr>` of the DOM ("" when there is none).
std::string Row(const std::string& dom, const std::string& attrs) {
    const auto at = dom.find("<tr " + attrs + ">");
    if (at == std::string::npos) return "";
    return dom.substr(at, dom.find("</tr>", at) - at);
}

/// The text of the `data-field` cell of a row; "?" when it is missing.
std::string Field(const std::string& row, const std::string& field) {
    const std::regex re("data-field=\"" + field + "\"[^>]*>([^<]*)<");
    std::smatch m;
    return std::regex_search(row, m, re) ? m[1].str() : "?";
}

/// The text of the element with this id; "?" when it is missing.
std::string ById(const std::string& dom, const std::string& id) {
    const std::regex re("id=\"" + id + "\"[^>]*>([^<]*)<");
    std::smatch m;
    return std::regex_search(dom, m, re) ? m[1].str() : "?";
}

std::string Num(const json& v) { return v.is_null() ? "-" : std::to_string(v.get<std::int64_t>()); }

/// What may differ between two snapshots of an unchanged deployment: when they were taken and the
/// ages and one-minute rates derived from the clock.
json Stable(json s) {
    s.erase("at");
    for (auto& q : s["queues"]) q.erase("rate_per_second");
    for (auto& w : s["workers"]) {
        w.erase("heartbeat_age_seconds");
        w.erase("settled_last_minute");
    }
    s["esi"].erase("tokens_last_minute");
    s["esi"].erase("error_limit");
    s.erase("universe");
    s.erase("live");
    return s;
}

TEST(StatusPageE2e, ChromiumShowsWhatStatusJsonSays) {
    if (!HaveChromium()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
    TempDir dir;
    const std::string db = "sqlite://" + dir.Path() + "/kr.db";
    Pipeline p({db, ""}, SmallUniverse());
    auto history = p.Get("/_admin/truth/history-characters");
    ASSERT_TRUE(history.is_array() && history.size() == 2);
    for (const auto& id : history) p.Kr("user:add " + std::to_string(id.get<Id>()));
    p.Kr("queue:character");
    // One message no worker can read: a dead letter with its reason on the page.
    {
        auto q = queue::OpenQueue(std::nullopt, db);
        q->Declare("esi_character_info_queue");
        q->Publish("esi_character_info_queue", {{"this is not json", 0, 0}});
    }

    const std::string env = p.Env() + "ESI_RATE_LIMIT=400 LOG_LEVEL=info KILLREPORT_UNIVERSE_CHECK=0 ";
    faults::Proc run("run", "env " + env + KR_KILLREPORT_BIN " --metrics-addr 127.0.0.1:0 run", dir.Path() + "/log");
    run.Start();
    int port = 0;
    ASSERT_TRUE(faults::WaitFor([&] { return (port = faults::LoggedPort(run.Log(), "status page")) > 0; },
                                std::chrono::seconds(30)))
        << run.LogTail();
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    httplib::Client http("127.0.0.1", port);

    // Settled: the killmails stored, every queue empty, the dead letter there, and the same stable
    // snapshot three times in a row.
    std::set<Id> killmail_ids;
    for (const auto& c : history) {
        for (const auto& km : p.Get("/_admin/truth/characters/" + std::to_string(c.get<Id>()) + "/killmails"))
            killmail_ids.insert(km.get<Id>());
    }
    json last;
    int quiet = 0;
    ASSERT_TRUE(faults::WaitFor(
        [&] {
            auto res = http.Get("/status.json");
            if (!res || res->status != 200) return false;
            const json s = json::parse(res->body);
            bool empty = s["dead_letters"] == 1;
            for (const auto& q : s["queues"])
                empty = empty && q["ready"] == 0 && q["unacked"] == 0 && q["retrying"] == 0;
            const bool stored = s["rows"].value("killmails", -1) == static_cast<std::int64_t>(killmail_ids.size());
            quiet = (empty && stored && Stable(s) == last) ? quiet + 1 : 0;
            last = Stable(s);
            return quiet >= 3;
        },
        std::chrono::seconds(240), std::chrono::milliseconds(500)))
        << run.LogTail() << "\n"
        << last.dump(2);

    // /status.json is `status --json`.
    auto cli = RunCommand(p.Env() + KR_KILLREPORT_BIN " status --json");
    EXPECT_EQ(cli.exit_code, 1) << cli.err;  // a dead letter
    const json st = json::parse(cli.out);
    auto served = http.Get("/status.json");
    ASSERT_TRUE(served && served->status == 200);
    EXPECT_EQ(Stable(json::parse(served->body)), Stable(st));

    // The page as Chromium renders it (the script has drawn it and refreshed it).
    const std::string profile = dir.Path() + "/chromium";
    const std::string dom = Chromium(profile, "--dump-dom", base + "/");
    ASSERT_NE(dom.find("id=\"throughput\""), std::string::npos) << dom.substr(0, 2000);
    EXPECT_EQ(ById(dom, "backend"), "database");
    for (const auto& q : st["queues"]) {
        const std::string name = q["queue"];
        const std::string row = Row(dom, "data-queue=\"" + name + "\"");
        ASSERT_FALSE(row.empty()) << name;
        for (const char* f : {"ready", "unacked", "consumers", "retrying", "dead"}) {
            EXPECT_EQ(Field(row, f), Num(q[f])) << name << " " << f;
        }
    }
    EXPECT_EQ(ById(dom, "dead-total"), "1");
    const std::string dead = Row(dom, "data-queue=\"esi_character_info_queue\" data-reason=\"" +
                                          st["dead"][0]["reason"].get<std::string>() + "\"");
    EXPECT_EQ(Field(dead, "count"), "1") << dom;
    for (const auto& [table, n] : st["rows"].items()) {
        EXPECT_EQ(Field(Row(dom, "data-table=\"" + table + "\""), "rows"), std::to_string(n.get<std::int64_t>()))
            << table;
    }
    EXPECT_EQ(st["workers"].size(), EntityKinds().size() + 2);
    for (const auto& w : st["workers"]) {
        EXPECT_EQ(Field(Row(dom, "data-worker=\"" + w["worker"].get<std::string>() + "\""), "state"), "running")
            << w["worker"];
    }
    EXPECT_EQ(ById(dom, "esi-limits"), "400 req/s");
    // Self-contained: nothing loaded from elsewhere.
    EXPECT_EQ(dom.find("src=\"http"), std::string::npos);
    EXPECT_EQ(dom.find("href=\"http"), std::string::npos);
    // The plot has the samples this process took while it ran.
    EXPECT_EQ(dom.find("data-samples=\"0\""), std::string::npos);

    // The screenshot the README shows: taken into the test's directory; KR_UPDATE_GOLDEN=1 writes it
    // to docs/status-page.png (so a test run does not leave the checkout modified).
    const char* update = std::getenv("KR_UPDATE_GOLDEN");
    const std::string png = update && std::string(update) == "1" ? std::string(KR_SOURCE_DIR) + "/docs/status-page.png"
                                                                 : dir.Path() + "/status-page.png";
    std::remove(png.c_str());
    Chromium(profile, "--hide-scrollbars --window-size=1280,1100 --screenshot='" + png + "'", base + "/");
    std::ifstream f(png, std::ios::binary);
    char magic[8] = {};
    f.read(magic, sizeof magic);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << png;

    run.Kill(SIGTERM);
    EXPECT_EQ(run.Wait(std::chrono::seconds(60)), 0) << run.LogTail();
}

}  // namespace
}  // namespace kr::test
