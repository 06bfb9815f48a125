#include "http_server.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <thread>

#include "autograd/error.hpp"
#include "io/files.hpp"

namespace translator::http {

using Clock = std::chrono::steady_clock;

std::string error_body(const std::string& message) {
    // Text that is not UTF-8 (a path as the client sent it) is replaced, never an exception.
    return nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Reply error(int status, const std::string& message) { return {status, error_body(message), "application/json"}; }

namespace {

// One connection: its socket, and by when its next request must have arrived whole.
struct Connection {
    int fd = -1;
    Clock::time_point deadline = Clock::time_point::max();
    bool shut = false;
};

// What the server knows about the address it listens on.
struct Address {
    std::string numeric;  // "127.0.0.1", "::1"
    bool ipv6 = false, loopback = false, any = false;
};

Address describe(const sockaddr_storage& a) {
    Address out;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
        inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
        out.ipv6 = true;
        out.loopback = IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr) ||
                       (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr) && in6.sin6_addr.s6_addr[12] == 127);
        out.any = IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
    } else {
        const auto& in4 = reinterpret_cast<const sockaddr_in&>(a);
        inet_ntop(AF_INET, &in4.sin_addr, text, sizeof text);
        out.loopback = (ntohl(in4.sin_addr.s_addr) >> 24) == 127;
        out.any = in4.sin_addr.s_addr == htonl(INADDR_ANY);
    }
    out.numeric = text;
    return out;
}

std::string with_port(const std::string& host, bool ipv6, int port) {
    return ipv6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

struct Server::Impl {
    Limits limits;
    Handler handler;
    Address address;
    int port = 0;
    int listen_fd = -1;
    std::set<std::string> hosts;  // the Host values accepted; empty: any (listening on every network)
    MHD_Daemon* daemon = nullptr;

    std::mutex mutex;                 // guards what follows
    std::set<Connection*> connections;
    std::set<struct Exchange*> waiting;  // deferred answers outstanding
    std::size_t answering = 0;           // requests handed to the handler and not yet sent
    bool stopping = false;
    std::condition_variable wake, sent;
    std::thread reaper;

    void reap();  // closes connections past their deadline

    static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                                 const char* upload, size_t* upload_size, void** req_cls);
    static void on_completed(void* cls, MHD_Connection* c, void** req_cls, MHD_RequestTerminationCode);
    static void on_connection(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode code);
    MHD_Result send(MHD_Connection* c, const Reply& r, bool close = false);
    std::optional<Reply> refuse(MHD_Connection* c, const Request& req, bool has_body);
};

// One request on a connection, from its headers to its answer.
struct Exchange : Deferred, std::enable_shared_from_this<Exchange> {
    Server::Impl* server = nullptr;
    MHD_Connection* connection = nullptr;
    Connection* conn = nullptr;
    Request request;
    std::size_t body_bytes = 0;   // as received, counting what was over the limit and dropped
    std::optional<Reply> refused;  // before the handler: a refusal decided at the headers
    bool handled = false;          // the handler has run

    mutable std::mutex mutex;
    std::optional<Reply> answer;
    bool suspended = false;

    void reply(Reply r) override {
        std::lock_guard lock(mutex);
        if (answer) return;
        answer = std::move(r);
        if (suspended) {
            suspended = false;
            MHD_resume_connection(connection);  // the server's thread then sends it (on_request)
        }
        std::lock_guard s(server->mutex);
        server->waiting.erase(this);
    }

    // The client's side closed: a FIN (or a reset) is waiting on the socket.
    bool peer_closed() const {
        pollfd p{conn->fd, POLLRDHUP, 0};
        return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
    }
    bool client_gone() const override {
        std::lock_guard lock(mutex);
        return !answer && peer_closed();
    }
};

MHD_Result Server::Impl::send(MHD_Connection* c, const Reply& r, bool close) {
    MHD_Response* res = MHD_create_response_from_buffer(r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
    if (!res) return MHD_NO;
    MHD_add_response_header(res, "Content-Type", r.content_type.c_str());
    MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(res, "Cache-Control", "no-store");
    if (close) MHD_add_response_header(res, "Connection", "close");
    const MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(r.status), res);
    MHD_destroy_response(res);
    return ok;
}

// What is refused from the headers alone, before a byte of the body is read.
std::optional<Reply> Server::Impl::refuse(MHD_Connection* c, const Request& req, bool has_body) {
    auto header = [&](const char* name) -> std::optional<std::string> {
        const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
    const std::optional<std::string> host = header("Host");
    if (!hosts.empty() && host && !hosts.count(lower(*host)))
        return error(403, fmt::format("{}: Host '{}' is not this server; it answers as {} (a page that renamed "
                                      "the server, DNS rebinding, is refused)", req.where(), tg::printable(*host), *hosts.begin()));
    if (const auto origin = header("Origin"); origin && (!host || lower(*origin) != "http://" + lower(*host)))
        return error(403, fmt::format("{}: a request from another origin ('{}'); only the server's own page may ask", req.where(),
                                      tg::printable(*origin)));
    if (const auto encoding = header("Content-Encoding"); encoding && lower(*encoding) != "identity")
        return error(415, fmt::format("{}: Content-Encoding '{}' is not accepted; send the body as it is", req.where(),
                                      tg::printable(*encoding)));
    if (const auto length = header("Content-Length"); length && has_body) {
        errno = 0;
        char* end = nullptr;
        const unsigned long long n = std::strtoull(length->c_str(), &end, 10);
        if (errno == 0 && end && *end == '\0' && n > limits.max_body)
            return error(413, fmt::format("{}: the body is {} bytes; the limit is {} (--max-body)", req.where(), n, limits.max_body));
    }
    return std::nullopt;
}

MHD_Result Server::Impl::on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                                    const char* upload, size_t* upload_size, void** req_cls) {
    auto* self = static_cast<Server::Impl*>(cls);
    auto* slot = static_cast<std::shared_ptr<Exchange>*>(*req_cls);
    if (!slot) {  // the headers are in: the first call
        auto x = std::make_shared<Exchange>();
        x->server = self;
        x->connection = c;
        x->conn = static_cast<Connection*>(MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT)->socket_context);
        x->request.method = method;
        x->request.path = url;
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, [](void* q, MHD_ValueKind, const char* k, const char* v) {
            static_cast<Request*>(q)->query[k] = v ? v : "";
            return MHD_YES;
        }, &x->request);
        const bool has_body = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length") ||
                              MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
        x->refused = self->refuse(c, x->request, has_body);
        *req_cls = new std::shared_ptr<Exchange>(std::move(x));
        slot = static_cast<std::shared_ptr<Exchange>*>(*req_cls);
        // A refusal goes at once, the body unread: the connection closes after it.
        if ((*slot)->refused && has_body) return self->send(c, *(*slot)->refused, true);
        return MHD_YES;
    }
    Exchange& x = **slot;
    if (*upload_size != 0) {  // a piece of the body: kept while within the limit, counted and dropped past it
        x.body_bytes += *upload_size;
        if (x.body_bytes <= self->limits.max_body) x.request.body.append(upload, *upload_size);
        else x.request.body.clear();
        *upload_size = 0;
        return MHD_YES;
    }
    if (x.handled) {  // resumed: the deferred answer is in
        std::lock_guard lock(x.mutex);
        return self->send(c, *x.answer);
    }
    x.handled = true;
    {
        std::lock_guard lock(self->mutex);
        x.conn->deadline = Clock::time_point::max();  // arrived whole: no deadline while it is answered
        ++self->answering;
    }
    if (x.refused) return self->send(c, *x.refused);
    if (x.body_bytes > self->limits.max_body)
        return self->send(c, error(413, fmt::format("{}: the body is over {} bytes (--max-body)", x.request.where(), self->limits.max_body)));
    {
        std::lock_guard lock(self->mutex);
        if (self->stopping) return self->send(c, error(503, x.request.where() + ": the server is stopping"));
        self->waiting.insert(&x);
    }
    std::optional<Reply> now;
    try {
        now = self->handler(x.request, *slot);
    } catch (const std::exception& e) {
        now = error(500, x.request.where() + ": " + e.what());
    }
    if (now) x.reply(std::move(*now));
    std::lock_guard lock(x.mutex);
    if (x.answer) return self->send(c, *x.answer);
    x.suspended = true;  // under the lock: reply() resumes it, whichever comes first
    MHD_suspend_connection(c);
    return MHD_YES;
}

void Server::Impl::on_completed(void* cls, MHD_Connection*, void** req_cls, MHD_RequestTerminationCode) {
    auto* self = static_cast<Server::Impl*>(cls);
    auto* slot = static_cast<std::shared_ptr<Exchange>*>(*req_cls);
    if (!slot) return;
    {
        std::lock_guard lock(self->mutex);
        self->waiting.erase(slot->get());
        if ((*slot)->handled && --self->answering == 0) self->sent.notify_all();
        if ((*slot)->conn) (*slot)->conn->deadline = Clock::now() + std::chrono::seconds(self->limits.request_seconds);  // for the next request
    }
    delete slot;
    *req_cls = nullptr;
}

void Server::Impl::on_connection(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode code) {
    auto* self = static_cast<Server::Impl*>(cls);
    std::lock_guard lock(self->mutex);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        auto* conn = new Connection;
        conn->fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd;
        conn->deadline = Clock::now() + std::chrono::seconds(self->limits.request_seconds);
        self->connections.insert(conn);
        *socket_context = conn;
    } else if (auto* conn = static_cast<Connection*>(*socket_context)) {  // closed: MHD closes the socket after this
        self->connections.erase(conn);
        delete conn;
        *socket_context = nullptr;
    }
}

// A slow client (a header line every few seconds) is never idle long enough for an idle timeout:
// every connection has a deadline for its next request, and past it its socket is shut down, which
// the server's thread sees as the client leaving.
void Server::Impl::reap() {
    std::unique_lock lock(mutex);
    while (!stopping) {
        wake.wait_for(lock, std::chrono::milliseconds(250));
        const Clock::time_point now = Clock::now();
        for (Connection* conn : connections)
            if (!conn->shut && conn->deadline < now) {
                ::shutdown(conn->fd, SHUT_RDWR);
                conn->shut = true;
            }
    }
}

Server::Server(const std::string& host, int port, const Limits& limits, Handler handler) : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.limits = limits;
    s.handler = std::move(handler);
    const std::string where = with_port(host, host.find(':') != std::string::npos, port);
    addrinfo hints{}, *found = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
        throw ListenError(fmt::format("cannot listen on {}: {}", where, gai_strerror(rc)));
    sockaddr_storage addr{};
    std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
    const socklen_t addr_len = found->ai_addrlen;
    freeaddrinfo(found);

    // Our own socket, so that it is never shared: SO_REUSEADDR (a restart need not wait for old
    // connections to time out) but not SO_REUSEPORT, with which a second server would take half the
    // requests. The backlog holds a burst of clients until the server's thread accepts them.
    s.listen_fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s.listen_fd < 0) throw tg::Error(fmt::format("cannot listen on {}: {}", where, std::strerror(errno)));
    const int one = 1;
    setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s.listen_fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0 || ::listen(s.listen_fd, 1024) != 0) {
        const int err = errno;
        ::close(s.listen_fd);
        throw ListenError(fmt::format("cannot listen on {}: {}", where, err == EADDRINUSE ? "address in use" : std::strerror(err)));
    }
    socklen_t len = sizeof addr;
    getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    s.port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(addr).sin6_port : reinterpret_cast<sockaddr_in&>(addr).sin_port);
    s.address = describe(addr);
    if (!s.address.any)  // on every network the names are the user's to choose; on one address, only its own
        for (const std::string& name : {lower(host), s.address.numeric, std::string(s.address.loopback ? "localhost" : ""),
                                        std::string(s.address.loopback ? "127.0.0.1" : ""), std::string(s.address.loopback ? "::1" : "")})
            if (!name.empty()) {
                const bool v6 = name.find(':') != std::string::npos;
                s.hosts.insert(with_port(name, v6, s.port));
                if (s.port == 80) s.hosts.insert(v6 ? "[" + name + "]" : name);
            }

    try {
        s.reaper = std::thread([&s] { s.reap(); });
    } catch (const std::system_error& e) {
        ::close(s.listen_fd);
        throw tg::Error(fmt::format("cannot start the server on {}: no thread ({})", where, e.what()));
    }
    s.daemon = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, nullptr, nullptr, &Impl::on_request, &s,
                                MHD_OPTION_LISTEN_SOCKET, s.listen_fd,
                                MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(limits.max_connections),
                                MHD_OPTION_CONNECTION_TIMEOUT, limits.request_seconds,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.connection_memory,
                                MHD_OPTION_NOTIFY_COMPLETED, &Impl::on_completed, &s,
                                MHD_OPTION_NOTIFY_CONNECTION, &Impl::on_connection, &s,
                                MHD_OPTION_END);
    if (!s.daemon) {
        {
            std::lock_guard lock(s.mutex);
            s.stopping = true;
        }
        s.wake.notify_all();
        s.reaper.join();
        ::close(s.listen_fd);
        throw tg::Error(fmt::format("cannot start the server on {}: its thread or memory was refused", where));
    }
}

Server::~Server() {
    Impl& s = *impl_;
    std::vector<std::shared_ptr<Exchange>> outstanding;
    {
        std::lock_guard lock(s.mutex);
        s.stopping = true;
        for (Exchange* x : s.waiting) outstanding.push_back(x->shared_from_this());
    }
    s.wake.notify_all();
    // Suspended connections must be resumed before the daemon stops; each is answered 503 (unless
    // its owner answered first), and the answers get a moment to be sent before the connections close.
    MHD_quiesce_daemon(s.daemon);
    for (auto& x : outstanding) x->reply(error(503, x->request.where() + ": the server is stopping"));
    {
        std::unique_lock lock(s.mutex);
        s.sent.wait_for(lock, std::chrono::seconds(1), [&] { return s.answering == 0; });
    }
    MHD_stop_daemon(s.daemon);
    s.reaper.join();
    ::close(s.listen_fd);
}

int Server::port() const { return impl_->port; }
bool Server::loopback() const { return impl_->address.loopback; }
std::string Server::url() const {
    const Address& a = impl_->address;
    if (a.any) return fmt::format("http://{}/", with_port(a.ipv6 ? "::1" : "127.0.0.1", a.ipv6, impl_->port));
    return fmt::format("http://{}/", with_port(a.numeric, a.ipv6, impl_->port));
}
std::size_t Server::deferred() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->waiting.size();
}

}  // namespace translator::http
