#pragma once
// HttpClient on the libcurl multi interface: many concurrent transfers on the calling thread.
// Easy handles are created once per concurrency slot and reused, so the multi handle's connection
// cache keeps connections alive between requests. Requests beyond max_concurrency wait in FIFO
// order inside the client. Not thread-safe: one instance per event loop.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "http/http_client.hpp"

namespace kr::http {

struct CurlOptions {
    long connect_timeout_ms = 5000;
    long timeout_ms = 30000;        ///< default total time per transfer
    int max_concurrency = 20;       ///< simultaneous transfers (= easy handles)
    int max_host_connections = 20;  ///< CURLMOPT_MAX_HOST_CONNECTIONS
    bool verify_tls = true;         ///< peer + host verification (never disable in production)
    std::string user_agent;         ///< CURLOPT_USERAGENT default; a request header overrides it
};

class CurlHttpClient final : public HttpClient {
public:
    explicit CurlHttpClient(CurlOptions options = {});
    ~CurlHttpClient() override;
    CurlHttpClient(const CurlHttpClient&) = delete;
    CurlHttpClient& operator=(const CurlHttpClient&) = delete;

    void Start(HttpRequest request, HttpCallback callback) override;
    int Drive(std::chrono::microseconds max_wait) override;
    std::size_t InFlight() const override { return active_ + waiting_.size(); }

    /// New TCP connections opened so far (to check keep-alive).
    long ConnectionsOpened() const { return connections_opened_; }

    struct Slot;

private:
    void Launch(Slot& slot, HttpRequest&& request, HttpCallback&& callback);
    void FillSlots();
    int CollectDone();

    CurlOptions options_;
    struct MultiDeleter {
        void operator()(void* m) const;
    };
    std::unique_ptr<void, MultiDeleter> multi_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<Slot*> free_;
    std::deque<std::pair<HttpRequest, HttpCallback>> waiting_;
    std::size_t active_ = 0;
    long connections_opened_ = 0;
};

/// curl_global_init, exactly once per process (called by the CurlHttpClient constructor; call it
/// early from main() if other threads might use libcurl first).
void GlobalInitCurl();

}  // namespace kr::http
