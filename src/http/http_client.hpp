#pragma once
// Asynchronous HTTP client interface for single-threaded event loops.
//
//   client.Start(request, callback);    // queue a transfer (never blocks, never calls back inline)
//   client.Drive(max_wait);             // run transfers, wait up to max_wait for progress and
//                                       // invoke the callbacks of finished transfers
//
// The HTTP status is data: any response that arrived (200, 304, 404, 420, 503, …) is reported with
// transport == kNone. Only transfers that produced no complete response (timeout, refused, reset,
// TLS failure, …) carry a transport error. Header names are lower-case.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kr::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method = "GET";  ///< GET or POST
    std::string url;             ///< absolute URL
    Headers headers;             ///< extra request headers ("Name", "value")
    std::string body;            ///< POST body
    /// Total time limit for this transfer; 0 = the client's default.
    std::chrono::milliseconds timeout{0};
};

enum class TransportError {
    kNone = 0,  ///< a complete HTTP response arrived (whatever its status)
    kTimeout,   ///< connect or total timeout
    kConnect,   ///< refused / unreachable / DNS
    kTls,       ///< certificate or handshake failure
    kReset,     ///< connection dropped, empty reply, partial body, receive/send error
    kProtocol,  ///< malformed HTTP, bad content encoding
    kOther,     ///< anything else (out of memory, aborted, …)
};

std::string_view ToString(TransportError e);

struct HttpResponse {
    long status = 0;  ///< 0 when transport != kNone
    Headers headers;  ///< lower-case names, values trimmed, in arrival order
    std::string body;
    TransportError transport = TransportError::kNone;
    std::string error_message;  ///< transport error detail
    std::int64_t elapsed_us = 0;

    bool Ok() const { return transport == TransportError::kNone; }
    /// First header with this (lower-case) name, or nullptr.
    const std::string* Header(std::string_view lower_name) const {
        for (const auto& [k, v] : headers) {
            if (k == lower_name) return &v;
        }
        return nullptr;
    }
};

using HttpCallback = std::function<void(HttpResponse)>;

class HttpClient {
public:
    virtual ~HttpClient() = default;
    /// Queue a transfer. The callback runs later, from Drive(), exactly once.
    virtual void Start(HttpRequest request, HttpCallback callback) = 0;
    /// Progress transfers; waits at most max_wait for network activity (also when nothing is in
    /// flight: then it simply waits, so Drive doubles as the loop's sleep). Returns the number of
    /// callbacks invoked.
    virtual int Drive(std::chrono::microseconds max_wait) = 0;
    /// Transfers started and not yet called back.
    virtual std::size_t InFlight() const = 0;
};

}  // namespace kr::http
