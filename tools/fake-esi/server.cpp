// fakeesi::Server: wiring only. Start() configures cpp-httplib and dispatches every request by
// its path to the ESI, zKillboard or admin handlers; the shared state lives in ServerState.
#include "server.hpp"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "admin.hpp"
#include "esi_handlers.hpp"
#include "http_util.hpp"
#include "r2z2_handlers.hpp"
#include "routes.hpp"
#include "server_state.hpp"
#include "zkb_handlers.hpp"

namespace fakeesi {
namespace {

// cpp-httplib 0.11 only notices stop() on an idle keep-alive connection after its keep-alive
// timeout. To stop promptly, shut down our accepted sockets (local port == our port).
void ShutdownAcceptedSockets(int port, int listen_fd) {
    std::error_code ec;
    for (const auto& de : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        int fd = -1;
        try {
            fd = std::stoi(de.path().filename().string());
        } catch (...) {
            continue;
        }
        if (fd < 0 || fd == listen_fd) continue;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
        if (ss.ss_family != AF_INET) continue;
        const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        if (ntohs(in->sin_port) != port) continue;
        ::shutdown(fd, SHUT_RDWR);
    }
}

}  // namespace

struct Server::Impl {
    explicit Impl(Options o) : st(std::move(o)) {}

    ServerState st;
    EsiHandlers esi{st};
    ZkbHandlers zkb{st};
    R2z2Handlers r2z2{st};
    Admin admin{st};
    std::unique_ptr<httplib::Server> svr;
    std::thread thread;
    int listen_fd = -1;

    void Dispatch(const httplib::Request& req, httplib::Response& res, bool post) {
        switch (ServiceOf(req.path)) {
            case Service::kAdmin: return admin.Handle(req, res, post);
            case Service::kZkb:
                if (post) {
                    res.status = 405;
                    return;
                }
                return zkb.Handle(req, res);
            case Service::kR2z2:
                if (post) {
                    res.status = 405;
                    return;
                }
                return r2z2.Handle(req, res);
            case Service::kEsi: return esi.Handle(req, res, post);
        }
    }
};

Server::Server(Options opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
Server::~Server() { Stop(); }

bool Server::Start() {
    Impl& m = *impl_;
    if (m.svr) return true;
    const Options& opts = m.st.opts;
    if (opts.host != "127.0.0.1" && opts.host != "localhost") return false;  // loopback only
    m.svr = std::make_unique<httplib::Server>();
    auto& s = *m.svr;
    const int threads = std::max(4, opts.threads);
    s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    s.set_tcp_nodelay(true);
    s.set_keep_alive_max_count(100000000);
    s.set_keep_alive_timeout(std::max(1, opts.keep_alive_seconds));
    s.set_read_timeout(30, 0);
    s.set_write_timeout(30, 0);
    s.set_payload_max_length(16 * 1024 * 1024);
    int* fd_slot = &m.listen_fd;
    s.set_socket_options([fd_slot](int sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        *fd_slot = sock;
    });
    Impl* ip = &m;
    s.set_pre_routing_handler([ip](const httplib::Request& req, httplib::Response& res) {
        if (req.method == "GET" || req.method == "HEAD") {
            ip->Dispatch(req, res, false);
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    s.Post(".*", [ip](const httplib::Request& req, httplib::Response& res) { ip->Dispatch(req, res, true); });
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {}
        SetError(res, 500, what);
    });

    const std::string host = "127.0.0.1";
    int port = opts.port;
    if (port == 0) {
        port = s.bind_to_any_port(host);
        if (port <= 0) return false;
    } else if (!s.bind_to_port(host, port)) {
        return false;
    }
    m.st.port = port;
    if (m.listen_fd >= 0) ::listen(m.listen_fd, std::max(16, opts.listen_backlog));  // raise backlog (httplib uses 5)
    m.st.stop.Reset();
    m.thread = std::thread([&s] { s.listen_after_bind(); });
    for (int i = 0; i < 2000 && !s.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!opts.port_file.empty()) {
        std::string tmp = opts.port_file + ".tmp";
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << port << "\n";
        }
        std::filesystem::rename(tmp, opts.port_file);
    }
    return true;
}

void Server::Stop() {
    Impl& m = *impl_;
    m.st.stop.Stop();
    if (m.svr) {
        m.svr->stop();
        ShutdownAcceptedSockets(m.st.port, m.listen_fd);
        if (m.thread.joinable()) m.thread.join();
        m.svr.reset();
    }
}

void Server::Wait() { impl_->st.stop.Wait(); }

int Server::Port() const { return impl_->st.port; }
std::string Server::BaseUrl() const { return "http://127.0.0.1:" + std::to_string(impl_->st.port); }
Universe& Server::GetUniverse() { return impl_->st.uni; }
const Options& Server::GetOptions() const { return impl_->st.opts; }
nlohmann::json Server::Stats() const { return impl_->admin.Stats(); }
nlohmann::json Server::Timeline() const { return impl_->admin.Timeline(); }
void Server::ResetStats() { impl_->admin.ResetStats(); }
void Server::ResetLimits() { impl_->admin.ResetLimits(); }
void Server::SetFaults(const FaultConfig& f) { impl_->st.faults.Set(f); }
FaultConfig Server::Faults() const { return impl_->st.faults.Get(); }
void Server::StartErrorStorm(double seconds) { impl_->admin.StartStorm(seconds); }
void Server::UpdateConfig(const nlohmann::json& j) { impl_->admin.UpdateConfig(j); }
nlohmann::json Server::Config() const { return impl_->admin.Config(); }
void Server::InvalidateCache() { impl_->st.cache.Clear(); }

}  // namespace fakeesi
