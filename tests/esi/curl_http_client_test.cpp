// CurlHttpClient against a tiny raw-socket HTTP server on 127.0.0.1 (in this process), so the
// transport edge cases are exact: partial bodies, hangs, refused connections, keep-alive.
#include "http/curl_http_client.hpp"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace kr::http;
using Ms = std::chrono::milliseconds;

namespace {

class RawServer {
public:
    RawServer() {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 64) != 0) {
            throw std::runtime_error("test server: cannot listen on loopback");
        }
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        accept_ = std::thread([this] { AcceptLoop(); });
    }
    ~RawServer() {
        stop_ = true;
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        accept_.join();
        std::lock_guard lock(mu_);
        for (auto& t : conns_) t.join();
    }
    std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    int Accepted() const { return accepted_; }
    std::string LastRequest() {
        std::lock_guard lock(mu_);
        return last_request_;
    }

private:
    void AcceptLoop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            int c = accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            ++accepted_;
            std::lock_guard lock(mu_);
            conns_.emplace_back([this, c] { Serve(c); });
        }
    }
    void Serve(int c) {
        std::string buf;
        char tmp[4096];
        while (!stop_) {
            auto end = buf.find("\r\n\r\n");
            if (end == std::string::npos) {
                pollfd p{c, POLLIN, 0};
                if (poll(&p, 1, 50) <= 0) continue;
                ssize_t n = read(c, tmp, sizeof tmp);
                if (n <= 0) break;
                buf.append(tmp, static_cast<std::size_t>(n));
                continue;
            }
            std::string req = buf.substr(0, end + 4);
            buf.erase(0, end + 4);
            {
                std::lock_guard lock(mu_);
                last_request_ = req;
            }
            std::string path = req.substr(req.find(' ') + 1);
            path = path.substr(0, path.find(' '));
            std::string out;
            if (path == "/partial") {
                out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":";
                (void)!write(c, out.data(), out.size());
                break;  // close mid-body
            }
            if (path == "/hang") {
                while (!stop_) std::this_thread::sleep_for(Ms(10));
                break;
            }
            std::string body = "{\"path\":\"" + path + "\"}";
            out =
                "HTTP/1.1 200 OK\r\nX-Mixed-Case: Value \r\nETag: \"e1\"\r\nContent-Type: application/json\r\n"
                "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
            (void)!write(c, out.data(), out.size());
        }
        close(c);
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread accept_;
    std::mutex mu_;
    std::vector<std::thread> conns_;
    std::string last_request_;
};

HttpResponse Get(CurlHttpClient& c, const std::string& url, Ms timeout = Ms(0)) {
    std::optional<HttpResponse> out;
    c.Start({"GET", url, {{"X-Test", "1"}}, "", timeout}, [&](HttpResponse r) { out = std::move(r); });
    while (!out) c.Drive(Ms(50));
    return std::move(*out);
}

TEST(CurlHttpClient, HeadersLowerCasedAndKeepAliveReused) {
    RawServer s;
    CurlOptions o;
    o.user_agent = "kr-test/1";
    CurlHttpClient c(o);
    for (int i = 0; i < 5; ++i) {
        HttpResponse r = Get(c, s.Url("/ok" + std::to_string(i)));
        ASSERT_TRUE(r.Ok()) << r.error_message;
        EXPECT_EQ(r.status, 200);
        ASSERT_NE(r.Header("x-mixed-case"), nullptr);
        EXPECT_EQ(*r.Header("x-mixed-case"), "Value");
        EXPECT_EQ(*r.Header("etag"), "\"e1\"");
        EXPECT_EQ(r.body, "{\"path\":\"/ok" + std::to_string(i) + "\"}");
    }
    EXPECT_EQ(s.Accepted(), 1);
    EXPECT_EQ(c.ConnectionsOpened(), 1);
    const std::string req = s.LastRequest();
    EXPECT_NE(req.find("User-Agent: kr-test/1"), std::string::npos) << req;
    EXPECT_NE(req.find("Accept-Encoding: "), std::string::npos) << req;
    EXPECT_NE(req.find("gzip"), std::string::npos) << req;
    EXPECT_NE(req.find("X-Test: 1"), std::string::npos);
}

TEST(CurlHttpClient, ManyConcurrentTransfersOnOneThread) {
    RawServer s;
    CurlOptions o;
    o.max_concurrency = 8;
    CurlHttpClient c(o);
    int done = 0, ok = 0;
    for (int i = 0; i < 200; ++i) {
        c.Start({"GET", s.Url("/n" + std::to_string(i)), {}, "", Ms(0)}, [&](HttpResponse r) {
            ++done;
            ok += r.Ok() && r.status == 200;
        });
    }
    EXPECT_EQ(c.InFlight(), 200u);
    while (done < 200) c.Drive(Ms(50));
    EXPECT_EQ(ok, 200);
    EXPECT_LE(s.Accepted(), 8);
    EXPECT_EQ(c.InFlight(), 0u);
}

TEST(CurlHttpClient, PartialBodyIsATransportError) {
    RawServer s;
    CurlHttpClient c;
    HttpResponse r = Get(c, s.Url("/partial"));
    EXPECT_FALSE(r.Ok());
    EXPECT_EQ(r.transport, TransportError::kReset) << r.error_message;
    EXPECT_EQ(r.status, 0);
}

TEST(CurlHttpClient, HangEndsAtTheTimeout) {
    RawServer s;
    CurlHttpClient c;
    auto t0 = std::chrono::steady_clock::now();
    HttpResponse r = Get(c, s.Url("/hang"), Ms(200));
    auto ms = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.transport, TransportError::kTimeout) << r.error_message;
    EXPECT_GE(ms, 190);
    EXPECT_LT(ms, 1000);
}

TEST(CurlHttpClient, RefusedConnectionIsConnectError) {
    int port = 0;
    {
        RawServer s;  // take a free port, then close it
        port = std::stoi(s.Url("").substr(17));
    }
    CurlHttpClient c;
    HttpResponse r = Get(c, "http://127.0.0.1:" + std::to_string(port) + "/x");
    EXPECT_EQ(r.transport, TransportError::kConnect) << r.error_message;
}

TEST(CurlHttpClient, DriveWaitsWhenIdle) {
    CurlHttpClient c;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(c.Drive(Ms(30)), 0);
    auto ms = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GE(ms, 25);
}

}  // namespace
