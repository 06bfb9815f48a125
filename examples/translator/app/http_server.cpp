#include "http_server.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <thread>

#include "autograd/error.hpp"
#include "io/files.hpp"

namespace translator::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::string error_body(const std::string& message) {
    // Text that is not UTF-8 (a path as the client sent it) is replaced, never an exception.
    return nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Reply error(int status, const std::string& message) { return {status, error_body(message), "application/json"}; }

struct Exchange;

namespace {

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

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

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// %XX decoded (and '+' as a space in a query); a broken escape is kept as it came.
std::string unescape(std::string_view s, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += plus_is_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    return out;
}

// "/api/updates?points=3&x" -> path "/api/updates", query {points: 3, x: ""}.
void split_target(std::string_view target, Request& r) {
    const std::size_t q = target.find('?');
    r.path = unescape(target.substr(0, q), false);
    if (q == std::string_view::npos) return;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const std::size_t amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        const std::size_t eq = pair.find('=');
        if (!pair.empty())
            r.query[unescape(pair.substr(0, eq), true)] = eq == std::string_view::npos ? "" : unescape(pair.substr(eq + 1), true);
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
}

// The client closed its socket: the connection was reset. A FIN alone is not enough: a client that
// half-closes after its request (`nc -N`) sends one too, and still reads. Session::watch tells them
// apart.
bool peer_closed(int fd) {
    pollfd p{fd, 0, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

class Session;

// What outlives the server while a worker still holds a Deferred: the event loop and the books.
struct Core {
    std::mutex mutex;                       // guards what follows
    std::map<Exchange*, std::weak_ptr<Exchange>> waiting;  // deferred answers outstanding
    std::size_t answering = 0;              // requests handed to the handler and not yet sent
    bool stopping = false;                  // new requests get 503
    bool running = true;                    // the event loop still runs: answers can be posted to it
    std::condition_variable sent;
    std::atomic<std::size_t> open = 0;      // connections open
    net::io_context loop{1};                // last: destroyed first, with the sessions it still holds
};

}  // namespace

// One request on a connection, from its arrival to its answer: what a handler holds to answer later.
struct Exchange : Deferred, std::enable_shared_from_this<Exchange> {
    std::shared_ptr<Core> core;
    Request request;
    int fd = -1;

    mutable std::mutex mutex;
    bool answered = false;
    std::shared_ptr<Session> session;  // kept alive until the answer is handed to it

    ~Exchange() override {
        std::lock_guard lock(core->mutex);
        core->waiting.erase(this);
    }
    void reply(Reply r) override;
    bool client_gone() const override {
        std::lock_guard lock(mutex);
        return !answered && peer_closed(fd);
    }
};

struct Server::Impl {
    Limits limits;
    Handler handler;
    Address address;
    int port = 0;
    std::set<std::string> hosts;  // the Host values accepted; empty: any (listening on every network)
    std::shared_ptr<Core> core = std::make_shared<Core>();
    std::optional<tcp::acceptor> acceptor;
    std::optional<net::steady_timer> pause;  // after an accept failed (out of files): try again shortly
    std::thread thread;

    void accept();
    std::optional<Reply> refuse(const Request& req, const bhttp::request<bhttp::string_body>& head, bool has_body) const;
};

namespace {

// One connection: reads a request, hands it to the handler, writes its answer, and again while the
// client keeps the connection (pipelined requests wait in `buffer`, answered in order).
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Server::Impl& server, tcp::socket socket)
        : server_(server), core_(*server.core), stream_(std::move(socket)) {
        fd_ = stream_.socket().native_handle();
        ++core_.open;
    }
    ~Session() { --core_.open; }

    void start() {
        stream_.expires_after(std::chrono::seconds(server_.limits.request_seconds));
        read_header();
    }

    // The answer, on the loop's thread.
    void send(const Reply& r, bool close = false) {
        if (probing_) {  // one write at a time: this one after watch()'s
            pending_.emplace(r, close);
            return;
        }
        response_ = {};
        response_.version(11);
        response_.result(static_cast<unsigned>(r.status));
        response_.set(bhttp::field::content_type, r.content_type);
        response_.set("X-Content-Type-Options", "nosniff");
        response_.set(bhttp::field::cache_control, "no-store");
        response_.body() = r.body;
        response_.prepare_payload();
        {
            std::lock_guard lock(core_.mutex);
            close = close || core_.stopping;
        }
        close_after_ = close || !keep_alive_;
        response_.keep_alive(!close_after_);
        bhttp::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->written(ec); });
    }

private:
    void read_header() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(server_.limits.connection_memory));
        parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // applied once the framing is known
        bhttp::async_read_header(stream_, buffer_, *parser_,
                                 [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
    }

    void on_header(beast::error_code ec) {
        if (ec) return failed(ec, "");
        const auto& head = parser_->get();
        request_ = {};
        request_.method = std::string(head.method_string());
        split_target(view(head.target()), request_);
        keep_alive_ = head.keep_alive();
        version_ = head.version();
        const auto te = head.find(bhttp::field::transfer_encoding);
        const bool has_body = parser_->chunked() || te != head.end() || parser_->content_length().value_or(0) > 0;
        refused_ = server_.refuse(request_, head, has_body);
        // A refusal decided at the headers goes at once, the body unread (and drained, so that the
        // client reads the answer before the connection closes).
        if (refused_ && has_body) return send(*refused_, true);
        if (te != head.end() && !parser_->chunked())
            return send(error(501, fmt::format("{}: Transfer-Encoding '{}' is not accepted; send the body as it is, or chunked",
                                               request_.where(), tg::printable(std::string(te->value())))), true);
        parser_->body_limit(server_.limits.max_body);
        if (parser_->is_done()) return on_body({});
        const auto expect = head.find(bhttp::field::expect);
        if (expect != head.end() && lower(view(expect->value())) == "100-continue")  // curl waits a second for this
            return net::async_write(stream_, net::buffer(kContinue, sizeof kContinue - 1),
                                    [self = shared_from_this()](beast::error_code e, std::size_t) {
                                        if (e) return self->stream_.close();
                                        self->read_body();
                                    });
        read_body();
    }

    void read_body() {
        bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
    }

    void on_body(beast::error_code ec) {
        if (ec) return failed(ec, request_.where());
        stream_.expires_never();  // arrived whole: no deadline while it is answered
        request_.body = std::move(parser_->get().body());
        bool stopping = false;
        {
            std::lock_guard lock(core_.mutex);
            ++core_.answering;
            stopping = core_.stopping;
        }
        counted_ = true;
        if (stopping) return send(error(503, request_.where() + ": the server is stopping"));
        if (refused_) return send(*refused_);
        auto x = std::make_shared<Exchange>();
        x->core = server_.core;
        x->request = std::move(request_);
        x->fd = fd_;
        x->session = shared_from_this();
        {
            std::lock_guard lock(core_.mutex);
            core_.waiting.emplace(x.get(), x);
        }
        std::optional<Reply> now;
        try {
            now = server_.handler(x->request, x);
        } catch (const std::exception& e) {
            now = error(500, x->request.where() + ": " + e.what());
        }
        if (now) return x->reply(std::move(*now));
        watch(x);
    }

    // While a request waits for its answer, its client's FIN means either that it left (its socket
    // closed) or that it half-closed and still reads (`nc -N`). An interim "100 Continue" (which an
    // HTTP/1.1 client must accept before any answer) tells which: a closed socket answers it with a
    // reset, which client_gone() then sees; a half-closed one reads it and waits for its answer.
    void watch(const std::shared_ptr<Exchange>& x) {
        {
            std::lock_guard lock(x->mutex);
            if (x->answered || version_ < 11) return;
        }
        stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), x = std::weak_ptr<Exchange>(x)](beast::error_code ec) {
            const auto exchange = x.lock();
            char c;
            if (ec || !exchange || ::recv(self->fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 0) return;  // data: pipelined
            {
                std::lock_guard lock(exchange->mutex);
                if (exchange->answered) return;
            }
            self->probing_ = true;
            net::async_write(self->stream_, net::buffer(kContinue, sizeof kContinue - 1), [self](beast::error_code, std::size_t) {
                self->probing_ = false;
                if (self->pending_) {  // the answer came while the probe was being written
                    auto [r, close] = std::move(*self->pending_);
                    self->pending_.reset();
                    self->send(r, close);
                }
            });
        });
    }

    // What a request that could not be read gets: nothing when the client left or its time ran out
    // (the connection is closed), else the status its fault deserves, and the connection closed.
    void failed(beast::error_code ec, const std::string& where) {
        const std::string at = where.empty() ? "" : where + ": ";
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
            ec == net::error::connection_reset || ec == bhttp::error::partial_message || ec == net::error::operation_aborted)
            return stream_.close();
        if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
            return send(error(431, fmt::format("the request line and headers are over {} bytes", server_.limits.connection_memory)), true);
        if (ec == bhttp::error::body_limit)
            return send(error(413, fmt::format("{}the body is over {} bytes (--max-body)", at, server_.limits.max_body)), true);
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category())
            return send(error(400, fmt::format("{}a malformed request ({}): HTTP/1.1 is 'METHOD /path HTTP/1.1', headers, a blank line",
                                               at, ec.message())), true);
        stream_.close();
    }

    void written(beast::error_code ec) {
        if (counted_) {
            counted_ = false;
            std::lock_guard lock(core_.mutex);
            if (--core_.answering == 0) core_.sent.notify_all();
        }
        if (ec) return stream_.close();
        beast::error_code ignored;
        stream_.socket().cancel(ignored);  // watch()'s wait, if still pending
        if (close_after_) return linger();
        stream_.expires_after(std::chrono::seconds(server_.limits.request_seconds));  // for the next request
        read_header();
    }

    // Closing with unread bytes waiting would reset the connection and could destroy the answer
    // before the client reads it: shut our side, drop what still comes for a second, then close.
    void linger() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(std::chrono::seconds(1));
        buffer_.consume(buffer_.size());
        drain();
    }
    void drain() {
        buffer_.consume(buffer_.size());
        stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->stream_.close();
            self->drain();
        });
    }

    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

    Server::Impl& server_;
    Core& core_;
    beast::tcp_stream stream_;
    int fd_ = -1;
    beast::flat_buffer buffer_{1 << 16};  // what arrived and is not yet parsed: headers, pipelined requests
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    bhttp::response<bhttp::string_body> response_;
    Request request_;
    std::optional<Reply> refused_;
    bool keep_alive_ = true, close_after_ = false;
    bool counted_ = false;  // in core_.answering until its answer is written
    unsigned version_ = 11;  // the request's HTTP version: 10 or 11
    bool probing_ = false;   // watch()'s interim answer is being written
    std::optional<std::pair<Reply, bool>> pending_;  // the answer (and close) waiting for it
};

}  // namespace

void Exchange::reply(Reply r) {
    std::shared_ptr<Session> s;
    {
        std::lock_guard lock(mutex);
        if (answered) return;
        answered = true;
        s = std::move(session);
    }
    std::lock_guard lock(core->mutex);
    core->waiting.erase(this);
    if (core->running)  // the loop's thread writes it
        net::post(core->loop, [s = std::move(s), r = std::move(r)] { s->send(r); });
}

void Server::Impl::accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted) return;
        if (ec) {  // out of files (EMFILE) or memory: the backlog waits; try again in a moment, never spin
            pause->expires_after(std::chrono::milliseconds(50));
            pause->async_wait([this](beast::error_code e) { if (!e) accept(); });
            return;
        }
        if (core->open >= limits.max_connections) {
            beast::error_code ignored;
            socket.close(ignored);  // over the limit: closed at once
        } else {
            std::make_shared<Session>(*this, std::move(socket))->start();
        }
        accept();
    });
}

// What is refused from the headers alone, before a byte of the body is read.
std::optional<Reply> Server::Impl::refuse(const Request& req, const bhttp::request<bhttp::string_body>& head, bool has_body) const {
    auto header = [&](bhttp::field name) -> std::optional<std::string> {
        const auto at = head.find(name);
        return at == head.end() ? std::nullopt : std::optional<std::string>(at->value());
    };
    const std::optional<std::string> host = header(bhttp::field::host);
    if (!hosts.empty() && host && !hosts.count(lower(*host)))
        return error(403, fmt::format("{}: Host '{}' is not this server; it answers as {} (a page that renamed "
                                      "the server, DNS rebinding, is refused)", req.where(), tg::printable(*host), *hosts.begin()));
    if (const auto origin = header(bhttp::field::origin); origin && (!host || lower(*origin) != "http://" + lower(*host)))
        return error(403, fmt::format("{}: a request from another origin ('{}'); only the server's own page may ask", req.where(),
                                      tg::printable(*origin)));
    if (const auto encoding = header(bhttp::field::content_encoding); encoding && lower(*encoding) != "identity")
        return error(415, fmt::format("{}: Content-Encoding '{}' is not accepted; send the body as it is", req.where(),
                                      tg::printable(*encoding)));
    if (const auto length = header(bhttp::field::content_length); length && has_body) {
        errno = 0;
        char* end = nullptr;
        const unsigned long long n = std::strtoull(length->c_str(), &end, 10);
        if (errno == 0 && end && *end == '\0' && n > limits.max_body)
            return error(413, fmt::format("{}: the body is {} bytes; the limit is {} (--max-body)", req.where(), n, limits.max_body));
    }
    return std::nullopt;
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
    const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw tg::Error(fmt::format("cannot listen on {}: {}", where, std::strerror(errno)));
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0 || ::listen(fd, 1024) != 0) {
        const int err = errno;
        ::close(fd);
        throw ListenError(fmt::format("cannot listen on {}: {}", where, err == EADDRINUSE ? "address in use" : std::strerror(err)));
    }
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
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
        s.acceptor.emplace(s.core->loop, s.address.ipv6 ? tcp::v6() : tcp::v4(), fd);
        s.pause.emplace(s.core->loop);
        s.accept();
        s.thread = std::thread([&s] { s.core->loop.run(); });
    } catch (const std::system_error& e) {  // no thread, or no epoll: both refused under a low ulimit -v
        if (!s.acceptor) ::close(fd);
        throw tg::Error(fmt::format("cannot start the server on {}: {}", where, e.what()));
    }
}

Server::~Server() {
    Impl& s = *impl_;
    Core& core = *s.core;
    std::vector<std::shared_ptr<Exchange>> outstanding;
    {
        std::lock_guard lock(core.mutex);
        core.stopping = true;
        for (const auto& [x, alive] : core.waiting)
            if (auto kept = alive.lock()) outstanding.push_back(std::move(kept));
    }
    // Each outstanding request is answered 503 (unless its owner answers first: reply() is once), and
    // the answers get a moment to be sent before the connections close.
    for (const auto& x : outstanding) x->reply(error(503, x->request.where() + ": the server is stopping"));
    {
        std::unique_lock lock(core.mutex);
        core.sent.wait_for(lock, std::chrono::seconds(1), [&] { return core.answering == 0; });
        core.running = false;
    }
    core.loop.stop();
    s.thread.join();
    s.pause.reset();
    s.acceptor.reset();
}

int Server::port() const { return impl_->port; }
bool Server::loopback() const { return impl_->address.loopback; }
std::string Server::url() const {
    const Address& a = impl_->address;
    if (a.any) return fmt::format("http://{}/", with_port(a.ipv6 ? "::1" : "127.0.0.1", a.ipv6, impl_->port));
    return fmt::format("http://{}/", with_port(a.numeric, a.ipv6, impl_->port));
}
std::size_t Server::deferred() const {
    std::lock_guard lock(impl_->core->mutex);
    return impl_->core->waiting.size();
}

}  // namespace translator::http
