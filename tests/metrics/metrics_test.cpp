// The metrics module: the text exposition read back the way Prometheus reads it (our strict parser
// in tests/support/prometheus_text — promtool is in Debian's 96 MB `prometheus` package), the
// registry's counters, histograms and collectors, the HTTP endpoint, and what the ESI client counts.
#include <httplib.h>

#include <chrono>
#include <cmath>

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "esi/client_metrics.hpp"
#include "esi/esi_client.hpp"
#include "metrics/exposition.hpp"
#include "metrics/metrics_server.hpp"
#include "metrics/process_stats.hpp"
#include "metrics/registry.hpp"
#include "support/fake_http_client.hpp"
#include "support/prometheus_text.hpp"

namespace kr {
namespace {

using metrics::Exposition;
using metrics::Registry;
using metrics::Type;
using test::ParsePrometheusText;

TEST(ExpositionTest, LabelValuesAndHelpSurviveEscaping) {
    Exposition e;
    const std::string nasty = "a \"quoted\" back\\slash\nnew line";
    e.Add("kr_test_gauge", Type::kGauge, "help with \\ and\nnewline", {{"q", nasty}, {"b", "x"}}, 1.5);
    e.Add("kr_test_gauge", Type::kGauge, "ignored", {{"q", "plain"}, {"b", "y"}}, -2);
    const auto f = ParsePrometheusText(e.Text());
    ASSERT_EQ(f.count("kr_test_gauge"), 1u);
    const auto& g = f.at("kr_test_gauge");
    EXPECT_EQ(g.type, "gauge");
    EXPECT_EQ(g.help, "help with \\\\ and\\nnewline");  // escaped in the text, as Prometheus expects
    EXPECT_EQ(g.Value("kr_test_gauge", {{"q", nasty}}), 1.5);
    EXPECT_EQ(g.Value("kr_test_gauge", {{"q", "plain"}}), -2);
}

TEST(ExpositionTest, ValuesAreWrittenAsPrometheusReadsThem) {
    EXPECT_EQ(Exposition::FormatValue(3), "3");
    EXPECT_EQ(Exposition::FormatValue(1e20), "1e+20");
    EXPECT_EQ(Exposition::FormatValue(0.25), "0.25");
    EXPECT_EQ(Exposition::FormatValue(INFINITY), "+Inf");
    EXPECT_EQ(Exposition::FormatValue(-INFINITY), "-Inf");
    EXPECT_EQ(Exposition::FormatValue(NAN), "NaN");
}

TEST(ExpositionTest, FamiliesAddedInterleavedAreWrittenTogether) {
    Exposition e;
    e.Add("b_total", Type::kCounter, "b", {{"x", "1"}}, 1);
    e.Add("a", Type::kGauge, "a", {}, 2);
    e.Add("b_total", Type::kCounter, "b", {{"x", "2"}}, 3);
    const auto f = ParsePrometheusText(e.Text());  // throws if b's samples were split
    EXPECT_EQ(f.at("b_total").Sum("b_total"), 4);
}

// The parser must be able to fail, or the tests above prove nothing.
TEST(PrometheusParserTest, RejectsWhatPrometheusRejects) {
    EXPECT_THROW(ParsePrometheusText("# TYPE a gauge\n# TYPE a gauge\na 1\n"), std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("a{x=\"1\"} 1\nb 2\na{x=\"2\"} 3\n"), std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("a{x=\"\\q\"} 1\n"), std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("a{x=\"1\"} 1\na{x=\"1\"} 2\n"), std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("a 1\n# TYPE a gauge\n"), std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("1a 1\n"), std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("a one\n"), std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("a 1"), std::runtime_error);                      // no final newline
    EXPECT_THROW(ParsePrometheusText("# TYPE c counter\nc 1\n"), std::runtime_error);  // not …_total
    EXPECT_THROW(ParsePrometheusText("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                                     "h_sum 1\nh_count 1\n"),
                 std::runtime_error);
    EXPECT_THROW(ParsePrometheusText("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"),
                 std::runtime_error);  // no +Inf
    EXPECT_NO_THROW(ParsePrometheusText("# a comment\n# TYPE a gauge\na{x=\"1\",} 1 1700000000\n"));
}

TEST(RegistryTest, CountersHistogramsAndCollectorsInOneScrape) {
    Registry r;
    auto& c = r.Counter("kr_things_total", "Things.", {{"kind", "a"}});
    c.fetch_add(2);
    EXPECT_EQ(&c, &r.Counter("kr_things_total", "Things.", {{"kind", "a"}}));  // one series, one atomic
    r.Counter("kr_things_total", "Things.", {{"kind", "b"}}).fetch_add(5);
    auto& h = r.Histogram("kr_latency_seconds", "Latency.", {{"group", "g"}}, {0.005, 0.25, 1});
    h.Observe(0.003);
    h.Observe(0.2);
    h.Observe(0.25);  // le is inclusive
    h.Observe(100);
    auto handle = r.AddCollector([](Exposition& out) { out.Add("kr_depth", Type::kGauge, "Depth.", {}, 7); });

    const auto f = ParsePrometheusText(r.Scrape());
    EXPECT_EQ(f.at("kr_things_total").type, "counter");
    EXPECT_EQ(f.at("kr_things_total").Value("kr_things_total", {{"kind", "a"}}), 2);
    EXPECT_EQ(f.at("kr_things_total").Value("kr_things_total", {{"kind", "b"}}), 5);
    const auto& lat = f.at("kr_latency_seconds");
    EXPECT_EQ(lat.type, "histogram");
    EXPECT_EQ(lat.Value("kr_latency_seconds_bucket", {{"le", "0.005"}}), 1);
    EXPECT_EQ(lat.Value("kr_latency_seconds_bucket", {{"le", "0.25"}}), 3);
    EXPECT_EQ(lat.Value("kr_latency_seconds_bucket", {{"le", "1"}}), 3);
    EXPECT_EQ(lat.Value("kr_latency_seconds_bucket", {{"le", "+Inf"}}), 4);
    EXPECT_EQ(lat.Value("kr_latency_seconds_count"), 4);
    EXPECT_NEAR(lat.Value("kr_latency_seconds_sum"), 100.453, 1e-9);
    EXPECT_EQ(f.at("kr_depth").Value("kr_depth"), 7);
    EXPECT_EQ(r.LabelValues("kr_things_total", "kind"), (std::vector<std::string>{"a", "b"}));

    handle = {};  // removed: the next scrape has no kr_depth
    EXPECT_EQ(ParsePrometheusText(r.Scrape()).count("kr_depth"), 0u);
}

TEST(RegistryTest, AFailingCollectorLeavesTheRestOfTheScrape) {
    Registry r;
    r.Counter("kr_ok_total", "Ok.").fetch_add(1);
    auto bad = r.AddCollector([](Exposition&) { throw std::runtime_error("broker down"); });
    EXPECT_EQ(ParsePrometheusText(r.Scrape()).at("kr_ok_total").Value("kr_ok_total"), 1);
}

TEST(ProcessStatsTest, CpuMemoryAndStartTimeAreSane) {
    Exposition e;
    metrics::CollectProcess(e);
    const auto f = ParsePrometheusText(e.Text());
    EXPECT_GE(f.at("process_cpu_seconds_total").Value("process_cpu_seconds_total"), 0);
    EXPECT_GT(f.at("process_resident_memory_bytes").Value("process_resident_memory_bytes"), 1e5);
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const double start = f.at("process_start_time_seconds").Value("process_start_time_seconds");
    EXPECT_LE(start, now + 2);  // /proc's boot time is whole seconds
    EXPECT_GT(start, now - 24 * 3600);
    EXPECT_GT(f.at("process_open_fds").Value("process_open_fds"), 2);
}

TEST(MetricsServerTest, ListenAddresses) {
    EXPECT_EQ(metrics::ParseListenAddress("9464").host, "127.0.0.1");
    EXPECT_EQ(metrics::ParseListenAddress(":9464").port, 9464);
    EXPECT_EQ(metrics::ParseListenAddress("0.0.0.0:80").host, "0.0.0.0");
    EXPECT_EQ(metrics::ParseListenAddress("[::1]:9464").host, "::1");
    EXPECT_THROW(metrics::ParseListenAddress("abc"), FatalError);
    EXPECT_THROW(metrics::ParseListenAddress("host:99999"), FatalError);
    EXPECT_THROW(metrics::ParseListenAddress("host:"), FatalError);
}

TEST(MetricsServerTest, ServesTheRegistryOnLoopback) {
    Registry r;
    r.Counter("kr_served_total", "Served.").fetch_add(41);
    metrics::MetricsServer server({"127.0.0.1", 0}, r);
    ASSERT_GT(server.Port(), 0);
    EXPECT_EQ(server.Url(), "http://127.0.0.1:" + std::to_string(server.Port()) + "/metrics");
    r.Counter("kr_served_total", "Served.").fetch_add(1);  // a scrape reads the live value
    httplib::Client client("127.0.0.1", server.Port());
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), metrics::kContentType);
    EXPECT_EQ(ParsePrometheusText(res->body).at("kr_served_total").Value("kr_served_total"), 42);
    // A second server on the same port is a clear fatal error.
    EXPECT_THROW(metrics::MetricsServer({"127.0.0.1", server.Port()}, r), FatalError);
}

TEST(ClientMetricsTest, EsiAnswersByGroupStatusAndCache) {
    ManualClock clock;
    http::FakeHttpClient fake(clock);
    esi::InProcessBudget budget(clock);
    esi::EsiOptions opts;
    opts.rate_limit = 0;
    opts.max_attempts = 1;
    // Each client has its own budget key here: its series are this test's alone.
    opts.budget_key = "esi-metrics-test";
    fake.Script("/alliances/1/", http::FakeHttpClient::Reply(200, "{}",
                                                             {{"X-Ratelimit-Group", "alliance"},
                                                              {"X-Ratelimit-Limit", "150/15m"},
                                                              {"X-Ratelimit-Remaining", "149"}},
                                                             250'000));
    fake.Script("/alliances/2/", http::FakeHttpClient::Reply(404, "{}", {}, 1000));
    fake.Script("/alliances/3/", http::FakeHttpClient::Reply(304, "", {}, 1000));
    fake.Script("/alliances/4/", http::FakeHttpClient::Reply(429, "", {{"Retry-After", "30"}}, 1000));
    esi::EsiClient esi(opts, fake, budget, clock);
    esi.Fetch({"GET", "/alliances/1/", "", {}});
    esi.Fetch({"GET", "/alliances/2/", "", {}});
    CacheEntry etag;
    etag.path = "/alliances/3/";
    etag.etag = "\"e\"";
    esi.Fetch({"GET", "/alliances/3/", "", etag});
    CacheEntry fresh = etag;
    fresh.expires_at_ms = clock.NowMs() + 60'000;
    esi.Fetch({"GET", "/alliances/3/", "", fresh});  // no request
    esi.Fetch({"GET", "/alliances/4/", "", {}});     // 429 → a pause of the route group it is in

    const auto f = ParsePrometheusText(Registry::Default().Scrape());
    const auto& req = f.at(esi::metric::kEsiRequests);
    EXPECT_EQ(req.Value(esi::metric::kEsiRequests, {{"group", "alliance"}, {"status", "200"}}), 1);
    EXPECT_EQ(req.Value(esi::metric::kEsiRequests, {{"group", "alliance"}, {"status", "404"}}), 1);
    EXPECT_EQ(req.Value(esi::metric::kEsiRequests, {{"group", "alliance"}, {"status", "304"}}), 1);
    EXPECT_EQ(req.Value(esi::metric::kEsiRequests, {{"group", "alliance"}, {"status", "429"}}), 1);
    EXPECT_EQ(f.at(esi::metric::kBudgetUsed).Value(esi::metric::kBudgetUsed, {{"budget", "esi-metrics-test"}}), 4);
    EXPECT_GE(f.at(esi::metric::kEsiCache).Value(esi::metric::kEsiCache, {{"result", "fresh"}}), 1);
    EXPECT_GE(f.at(esi::metric::kEsiCache).Value(esi::metric::kEsiCache, {{"result", "not_modified"}}), 1);
    EXPECT_EQ(
        f.at(esi::metric::kPauses).Value(esi::metric::kPauses, {{"budget", "esi-metrics-test"}, {"group", "alliance"}}),
        1);
    // The 250 ms answer sits in the 0.25 s bucket, the 1 ms ones lower.
    const auto& lat = f.at(esi::metric::kEsiLatency);
    EXPECT_EQ(lat.Value(std::string(esi::metric::kEsiLatency) + "_count", {{"group", "alliance"}}), 4);
    EXPECT_EQ(lat.Value(std::string(esi::metric::kEsiLatency) + "_bucket", {{"group", "alliance"}, {"le", "0.1"}}), 3);
    EXPECT_EQ(lat.Value(std::string(esi::metric::kEsiLatency) + "_bucket", {{"group", "alliance"}, {"le", "0.25"}}), 4);
}

}  // namespace
}  // namespace kr
