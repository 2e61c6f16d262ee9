#include "metrics/metrics_server.hpp"

#include <httplib.h>

#include <sys/socket.h>

#include "core/errors.hpp"
#include "log/log.hpp"

namespace kr::metrics {

ListenAddress ParseListenAddress(const std::string& text, const std::string& what) {
    ListenAddress a;
    std::string port = text;
    const auto colon = text.rfind(':');
    if (colon != std::string::npos) {
        std::string host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (!host.empty()) a.host = host;
    }
    const bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(port) > 65535 || a.host.find_first_of(" /") != std::string::npos) {
        throw FatalError(what + "='" + text + "' is not a listen address (PORT or HOST:PORT, e.g. 127.0.0.1:9464)");
    }
    a.port = std::stoi(port);
    return a;
}

MetricsServer::MetricsServer(const ListenAddress& addr, Registry& registry)
    : registry_(registry), host_(addr.host), server_(std::make_unique<httplib::Server>()) {
    auto& s = *server_;
    s.new_task_queue = [] { return new httplib::ThreadPool(1); };  // one scrape at a time is plenty
    s.set_keep_alive_max_count(1);  // answer and close: stop() never waits on an idle keep-alive
    s.set_read_timeout(5, 0);
    s.set_write_timeout(5, 0);
    // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would let a second process
    // bind the same port and take half of the scrapes.
    s.set_socket_options([](int sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(registry_.Scrape(), kContentType);
    });
    s.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(routes_mu_);
        auto it = routes_.find(req.path);
        if (it != routes_.end()) {
            try {
                auto page = it->second();
                res.set_content(page.body, page.content_type);
            } catch (const std::exception& e) {
                res.status = 503;
                res.set_content(std::string("unavailable: ") + e.what() + "\n", "text/plain");
            }
        } else if (req.path == "/") {
            res.set_content("killreport: see /metrics\n", "text/plain");
        } else {
            res.status = 404;
            res.set_content("not found\n", "text/plain");
        }
    });
    if (addr.port == 0) {
        port_ = s.bind_to_any_port(addr.host);
        if (port_ <= 0) throw FatalError("metrics: cannot listen on " + addr.host);
    } else {
        if (!s.bind_to_port(addr.host, addr.port)) {
            throw FatalError("metrics: cannot listen on " + addr.host + ":" + std::to_string(addr.port) +
                             " (in use? set KILLREPORT_METRICS_ADDR / --metrics-addr)");
        }
        port_ = addr.port;
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    spdlog::info("metrics: serving {}", Url());
}

MetricsServer::~MetricsServer() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
}

std::string MetricsServer::BaseUrl() const {
    const bool v6 = host_.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

std::string MetricsServer::Url() const { return BaseUrl() + "/metrics"; }

void MetricsServer::Route(const std::string& path, Handler handler) {
    std::lock_guard lock(routes_mu_);
    routes_[path] = std::move(handler);
}

void MetricsServer::Unroute(const std::string& path) {
    std::lock_guard lock(routes_mu_);
    routes_.erase(path);
}

}  // namespace kr::metrics
