// The translator's HTTP server (for `serve` and `train --serve`), over Boost.Beast: one thread
// watches every connection (Asio's epoll loop), so an idle or slow client costs a few KB of memory,
// never a thread; work that takes time is answered later, from any thread, while its connection
// waits (no thread held). Pipelined requests are answered in order; a client that half-closes after
// its request (`nc -N`) is answered; a request that is not HTTP gets a 400 and the connection closes. What one client can do to everyone else is bounded here, before any
// handler sees a request:
//
//   connections     at most Limits::max_connections open at once; beyond them new ones are closed
//   arrival         a request must arrive whole (line, headers, body) within request_seconds of its
//                   connection opening or of the previous answer on it; else the connection is closed
//   headers         request line and headers within the connection's memory (431 beyond)
//   body            at most max_body bytes, however framed (Content-Length or chunked): 413, never
//                   buffered past the limit; a Content-Encoding (gzip...) is refused (415)
//   Host            only the names the server listens as (127.0.0.1:PORT, localhost:PORT, [::1]:PORT
//                   and --host's), when it listens on loopback: a page using DNS rebinding gets 403
//   Origin          a request a browser sends from another origin is refused (403): no web page can
//                   make the server work for it (Jupyter's rule)
//
// Answers given later are bounded by whoever defers them (serve's WorkQueue, training's page limit).
// Every refusal is a one-line JSON error {"error": "METHOD PATH: why"} with its status.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace translator::http {

struct Limits {
    std::size_t max_body = 65536;          // bytes of a request's body (413)
    std::size_t connection_memory = 32768;  // a connection's buffer: request line and headers (431)
    std::size_t max_connections = 1000;    // open at once
    unsigned request_seconds = 10;         // for a request to arrive whole; the same for an idle keep-alive
};

struct Request {
    std::string method, path, body;
    std::map<std::string, std::string> query;    // ?a=1&b=2
    std::string where() const { return method + " " + path; }  // "POST /api/translate", for messages
};

struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
};

// {"error": message}, the body of every error reply.
std::string error_body(const std::string& message);
Reply error(int status, const std::string& message);

// An answer given later, from any thread, exactly once (later calls do nothing). Its connection
// waits without a thread until then.
class Deferred {
public:
    virtual ~Deferred() = default;
    virtual void reply(Reply r) = 0;
    // The client closed its connection: work for it can stop. A client that had shut its sending side
    // when its request was in (half-closed, as `nc -N` does) waits for its answer: it is gone only when
    // the connection is reset.
    virtual bool client_gone() const = 0;
};

// A handler answers now (a Reply) or later (nullopt, and then exactly one deferred->reply(...)).
using Handler = std::function<std::optional<Reply>(const Request&, const std::shared_ptr<Deferred>& deferred)>;

class Server {
public:
    // Listens on host:port (port 0: any free one). Throws ListenError when the address cannot be
    // listened on (in use: another process serves there), tg::Error when the server cannot start
    // (threads or memory refused).
    Server(const std::string& host, int port, const Limits& limits, Handler handler);
    ~Server();  // answers what is outstanding with 503 and closes every connection
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    int port() const;
    std::string url() const;      // http://127.0.0.1:8080/ ; http://[::1]:8080/
    bool loopback() const;        // this machine only
    std::size_t deferred() const; // answers outstanding now

    struct Impl;  // http_server.cpp: Beast and Asio stay out of this header

private:
    std::unique_ptr<Impl> impl_;
};

// The address could not be listened on; what() names it ("cannot listen on 127.0.0.1:8080: address
// in use"). The commands exit with status 2, as for a bad option.
struct ListenError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace translator::http
