#include "http/curl_http_client.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>

#include <curl/curl.h>

#include "core/errors.hpp"

namespace kr::http {

std::string_view ToString(TransportError e) {
    switch (e) {
        case TransportError::kNone: return "none";
        case TransportError::kTimeout: return "timeout";
        case TransportError::kConnect: return "connect";
        case TransportError::kTls: return "tls";
        case TransportError::kReset: return "reset";
        case TransportError::kProtocol: return "protocol";
        case TransportError::kOther: return "other";
    }
    return "other";
}

namespace {

/// The one place where libcurl result codes are mapped to our transport errors.
TransportError MapCurlCode(CURLcode rc) {
    switch (rc) {
        case CURLE_OK: return TransportError::kNone;
        case CURLE_OPERATION_TIMEDOUT: return TransportError::kTimeout;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT: return TransportError::kConnect;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS: return TransportError::kTls;
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR: return TransportError::kReset;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_BAD_CONTENT_ENCODING: return TransportError::kProtocol;
        default: return TransportError::kOther;
    }
}

struct EasyDeleter {
    void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::string Trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

}  // namespace

void GlobalInitCurl() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw FatalError("curl_global_init failed");
    });
}

struct CurlHttpClient::Slot {
    std::unique_ptr<CURL, EasyDeleter> easy;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    HttpRequest request;  // kept alive for the transfer (POST body)
    HttpCallback callback;
    HttpResponse response;
    std::chrono::steady_clock::time_point started;
};

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* slot = static_cast<CurlHttpClient::Slot*>(user);
    slot->response.body.append(data, size * n);
    return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    auto* slot = static_cast<CurlHttpClient::Slot*>(user);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new status line (100-continue, redirect): start over
        slot->response.headers.clear();
        return size * n;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;  // blank line ending the header block
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    slot->response.headers.emplace_back(std::move(name), Trim(line.substr(colon + 1)));
    return size * n;
}

}  // namespace

void CurlHttpClient::MultiDeleter::operator()(void* m) const { curl_multi_cleanup(static_cast<CURLM*>(m)); }

CurlHttpClient::CurlHttpClient(CurlOptions options) : options_(std::move(options)) {
    GlobalInitCurl();
    multi_.reset(curl_multi_init());
    if (!multi_) throw FatalError("curl_multi_init failed");
    auto* m = static_cast<CURLM*>(multi_.get());
    const int conc = std::max(1, options_.max_concurrency);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(std::max(1, options_.max_host_connections)));
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(conc));
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, static_cast<long>(conc));
    for (int i = 0; i < conc; ++i) {
        auto slot = std::make_unique<Slot>();
        slot->easy.reset(curl_easy_init());
        if (!slot->easy) throw FatalError("curl_easy_init failed");
        CURL* e = slot->easy.get();
        curl_easy_setopt(e, CURLOPT_PRIVATE, slot.get());
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnBody);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, slot.get());
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &OnHeader);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, slot.get());
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl supports (gzip, br)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        if (!options_.user_agent.empty()) curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
        free_.push_back(slot.get());
        slots_.push_back(std::move(slot));
    }
}

CurlHttpClient::~CurlHttpClient() {
    auto* m = static_cast<CURLM*>(multi_.get());
    for (auto& s : slots_) {
        if (s->callback) curl_multi_remove_handle(m, s->easy.get());
    }
    // easy handles are cleaned up by their unique_ptrs; the multi handle last (member order).
    slots_.clear();
}

void CurlHttpClient::Start(HttpRequest request, HttpCallback callback) {
    waiting_.emplace_back(std::move(request), std::move(callback));
}

void CurlHttpClient::Launch(Slot& slot, HttpRequest&& request, HttpCallback&& callback) {
    CURL* e = slot.easy.get();
    slot.request = std::move(request);
    slot.callback = std::move(callback);
    slot.response = HttpResponse{};
    curl_slist* list = nullptr;
    for (const auto& [k, v] : slot.request.headers) {
        std::string line = k + ": " + v;
        list = curl_slist_append(list, line.c_str());
    }
    if (slot.request.method == "POST") list = curl_slist_append(list, "Expect:");
    slot.headers.reset(list);
    curl_easy_setopt(e, CURLOPT_URL, slot.request.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    if (slot.request.method == "POST") {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(slot.request.body.size()));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, slot.request.body.c_str());
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    long timeout =
        slot.request.timeout.count() > 0 ? static_cast<long>(slot.request.timeout.count()) : options_.timeout_ms;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    slot.started = std::chrono::steady_clock::now();
    CURLMcode mc = curl_multi_add_handle(static_cast<CURLM*>(multi_.get()), e);
    if (mc != CURLM_OK) throw FatalError(std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc));
    ++active_;
}

void CurlHttpClient::FillSlots() {
    while (!free_.empty() && !waiting_.empty()) {
        Slot* s = free_.back();
        free_.pop_back();
        auto item = std::move(waiting_.front());
        waiting_.pop_front();
        Launch(*s, std::move(item.first), std::move(item.second));
    }
}

int CurlHttpClient::CollectDone() {
    auto* m = static_cast<CURLM*>(multi_.get());
    std::vector<std::pair<HttpCallback, HttpResponse>> done;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* e = msg->easy_handle;
        Slot* slot = nullptr;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, reinterpret_cast<char**>(&slot));
        CURLcode rc = msg->data.result;
        HttpResponse resp = std::move(slot->response);
        resp.transport = MapCurlCode(rc);
        if (rc == CURLE_OK) {
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            resp.status = code;
        } else {
            resp.status = 0;
            resp.error_message = curl_easy_strerror(rc);
        }
        long conns = 0;
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
        connections_opened_ += conns;
        resp.elapsed_us =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - slot->started)
                .count();
        curl_multi_remove_handle(m, e);
        done.emplace_back(std::move(slot->callback), std::move(resp));
        slot->callback = nullptr;
        slot->headers.reset();
        slot->request = HttpRequest{};
        free_.push_back(slot);
        --active_;
    }
    FillSlots();  // start waiting transfers before running callbacks (which may add more)
    for (auto& [cb, resp] : done) cb(std::move(resp));
    return static_cast<int>(done.size());
}

int CurlHttpClient::Drive(std::chrono::microseconds max_wait) {
    auto* m = static_cast<CURLM*>(multi_.get());
    FillSlots();
    int running = 0;
    curl_multi_perform(m, &running);
    int n = CollectDone();
    if (n > 0) return n;
    long wait_ms = static_cast<long>(std::max<std::int64_t>(0, max_wait.count()) / 1000);
    if (max_wait.count() > 0 && wait_ms == 0) wait_ms = 1;
    if (wait_ms > 0) {
        int numfds = 0;
        curl_multi_poll(m, nullptr, 0, static_cast<int>(wait_ms), &numfds);
        curl_multi_perform(m, &running);
        n = CollectDone();
    }
    return n;
}

}  // namespace kr::http
