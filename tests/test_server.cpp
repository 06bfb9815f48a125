// The server under hostile clients (issue 46, items 1-12): the real `translator serve` and `train
// --serve` on 127.0.0.1, spoken to over raw sockets as a hostile or careless client would. Every wait
// is for an event (an answer, a close) with a deadline, never a sleep.
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli_helpers.hpp"

using namespace tg::test;
using Clock = std::chrono::steady_clock;

namespace {

// `translator ARGS` running in the background; its first line says where it listens.
struct Process {
    pid_t pid = -1;
    int out = -1;
    std::string first_line;
    int port = 0;
    explicit Process(const std::vector<std::string>& args) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::dup2(fds[1], 1);
            ::dup2(fds[1], 2);
            ::close(fds[0]);
            std::vector<char*> argv{const_cast<char*>(TG_TRANSLATOR)};
            for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(TG_TRANSLATOR, argv.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        out = fds[0];
        char c;  // its first line, within a minute (a program that says nothing fails the test, never hangs it)
        const auto until = Clock::now() + std::chrono::seconds(60);
        for (pollfd p{out, POLLIN, 0}; Clock::now() < until && ::poll(&p, 1, 1000) >= 0;)
            if (p.revents) {
                if (::read(out, &c, 1) != 1 || c == '\n') break;
                first_line += c;
            }
        const std::size_t at = first_line.find("http://127.0.0.1:");
        if (at != std::string::npos) port = std::stoi(first_line.substr(at + 17));
    }
    std::string rest() {  // what it printed after its first line, until it ended
        std::string s;
        char buf[4096];
        for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
        return s;
    }
    int wait() {
        int st = 0;
        ::waitpid(pid, &st, 0);
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    int stop() {
        ::kill(pid, SIGTERM);
        return wait();
    }
    ~Process() {
        if (pid > 0) stop();
        ::close(out);
    }
};

Process serve(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"serve", "--checkpoint", trained().model, "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Process(args);
}

int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

// Sends what it can of `data` (the server may close early: that is an answer too).
void send_all(int fd, const std::string& data) {
    for (std::size_t sent = 0; sent < data.size();) {
        const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
    }
}

// Everything the server sends until it closes or `seconds` pass; `closed` tells which.
std::string receive(int fd, double seconds, bool* closed = nullptr, std::size_t responses = 0) {
    std::string got;
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        if (responses && got.find("\r\n\r\n") != std::string::npos) {  // stop after `responses` whole ones
            std::size_t count = 0, at = 0;
            while ((at = got.find("HTTP/1.1 ", at)) != std::string::npos) ++count, ++at;
            const std::size_t body = got.rfind("\r\n\r\n");
            const std::size_t length_at = got.rfind("Content-Length: ");
            if (count >= responses && length_at != std::string::npos &&
                got.size() >= body + 4 + std::stoul(got.substr(length_at + 16)))
                break;
        }
        const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, left) <= 0) {
            if (closed) *closed = false;
            return got;
        }
        char buf[65536];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            if (closed) *closed = true;
            return got;
        }
        got.append(buf, static_cast<std::size_t>(n));
    }
    if (closed) *closed = false;
    return got;
}

// What the server sends up to the first blank line (a response's head), within `seconds`.
std::string receive_head(int fd, double seconds) {
    std::string got;
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (got.find("\r\n\r\n") == std::string::npos) {
        const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
        pollfd p{fd, POLLIN, 0};
        char c;
        if (left <= 0 || ::poll(&p, 1, left) <= 0 || ::recv(fd, &c, 1, 0) != 1) break;
        got += c;
    }
    return got;
}

int status_of(const std::string& response) {
    return response.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(response.substr(9, 3)) : 0;
}

// One request on a new connection; the response (empty when none came within `seconds`).
std::string ask(int port, const std::string& request, double seconds = 20) {
    const int fd = connect_to(port);
    send_all(fd, request);
    std::string r = receive(fd, seconds, nullptr, 1);
    ::close(fd);
    return r;
}

std::string post(int port, const std::string& body, const std::string& headers = "") {
    return fmt::format("POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n"
                       "Content-Length: {}\r\n{}\r\n{}", port, body.size(), headers, body);
}

std::string get(int port, const std::string& path, const std::string& headers = "") {
    return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{}\r\n", path, port, headers);
}

std::string chunked(const std::string& body, std::size_t piece) {
    std::string s;
    for (std::size_t i = 0; i < body.size(); i += piece) {
        const std::string part = body.substr(i, piece);
        s += fmt::format("{:x}\r\n{}\r\n", part.size(), part);
    }
    return s + "0\r\n\r\n";
}

std::size_t threads_of(pid_t pid) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) ++n;
    return n;
}

const std::string kSentence = R"({"text": "happy old house"})";

}  // namespace

TEST_CASE("serve 1, 2, 3: a body is limited however it is framed; encodings and oversized headers are refused") {
    Process s = serve({"--max-body", "4096"});
    REQUIRE(s.port > 0);
    // Chunked within the limit is read and answered; over it, 413 (it was read whole and translated).
    const std::string head = fmt::format("POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nTransfer-Encoding: chunked\r\n\r\n", s.port);
    CHECK(status_of(ask(s.port, head + chunked(kSentence, 7))) == 200);
    const std::string big = R"({"text": ")" + std::string(2'000'000, 'a') + R"("})";
    const std::string refused = ask(s.port, head + chunked(big, 65536));
    CHECK(status_of(refused) == 413);
    CHECK(refused.find("--max-body") != std::string::npos);
    // With Content-Length too, before the body is read.
    CHECK(status_of(ask(s.port, post(s.port, big))) == 413);
    // A compressed body is refused, whatever it would inflate to.
    const std::string gz = ask(s.port, post(s.port, kSentence, "Content-Encoding: gzip\r\n"));
    CHECK(status_of(gz) == 415);
    CHECK(gz.find("Content-Encoding") != std::string::npos);
    // So is a transfer coding other than chunked (the body's length could not be told).
    const std::string te = ask(s.port, fmt::format("POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n"
                                                   "Transfer-Encoding: gzip\r\n\r\nxxxx", s.port));
    CHECK(status_of(te) == 501);
    CHECK(te.find("Transfer-Encoding 'gzip'") != std::string::npos);
    // A client that asks before sending its body (curl does past 1 KB) is told to go on at once.
    const int e = connect_to(s.port);
    send_all(e, fmt::format("POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n"
                            "Expect: 100-continue\r\n\r\n", s.port, kSentence.size()));
    CHECK(receive_head(e, 5) == "HTTP/1.1 100 Continue\r\n\r\n");
    send_all(e, kSentence);
    CHECK(status_of(receive(e, 20, nullptr, 1)) == 200);
    ::close(e);
    // 300,000 headers (several MB) get 431 at once; so does one huge header.
    std::string many;
    for (int i = 0; i < 300000; ++i) many += fmt::format("X-{}: a\r\n", i);
    CHECK(status_of(ask(s.port, get(s.port, "/api/models", many))) == 431);
    CHECK(status_of(ask(s.port, get(s.port, "/api/models", "X-Big: " + std::string(100000, 'b') + "\r\n"))) == 431);
    CHECK(status_of(ask(s.port, get(s.port, "/api/models"))) == 200);  // and it still answers
}

TEST_CASE("serve 4: slow clients cannot stop others, and are closed when their request takes too long to arrive") {
    Process s = serve({"--workers", "1", "--queue", "0", "--request-timeout", "1"});
    REQUIRE(s.port > 0);
    // More slow connections than the old thread pool had (workers + queue + 2): each sent half a request.
    std::vector<int> slow;
    for (int i = 0; i < 40; ++i) {
        slow.push_back(connect_to(s.port));
        send_all(slow.back(), fmt::format("POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", s.port));
    }
    const auto t = Clock::now();
    CHECK(status_of(ask(s.port, post(s.port, kSentence), 10)) == 200);
    CHECK(std::chrono::duration<double>(Clock::now() - t).count() < 5);
    // One that keeps sending a header line, never idle, is still closed: its request did not arrive in time.
    const auto start = Clock::now();
    bool closed = false;
    for (int line = 0; line < 100 && !closed; ++line) {
        send_all(slow[0], fmt::format("X-{}: a\r\n", line));
        receive(slow[0], 0.2, &closed);
    }
    CHECK(closed);
    CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 5);
    for (int fd : slow) ::close(fd);
}

TEST_CASE("serve 5, 8: under more clients than workers and queue, each is answered or refused (503), none silent") {
    Process s = serve({"--workers", "1", "--queue", "2", "--max-words", "1000", "--max-pieces", "1000"});
    REQUIRE(s.port > 0);
    const std::size_t before = threads_of(s.pid);
    std::string words;
    for (int i = 0; i < 200; ++i) words += "happy old house ";
    const std::string request = post(s.port, R"({"text": ")" + words + R"(", "beam": 8})");
    const int clients = 64;
    std::vector<int> fds;
    for (int i = 0; i < clients; ++i) fds.push_back(connect_to(s.port));
    for (int fd : fds) send_all(fd, request);
    int answered = 0, busy = 0, other = 0;
    for (int fd : fds) {
        const int st = status_of(receive(fd, 60, nullptr, 1));
        (st == 200 ? answered : st == 503 ? busy : other) += 1;
        ::close(fd);
    }
    CHECK(other == 0);  // no silence, no other status
    CHECK(answered + busy == clients);
    CHECK(answered >= 1);
    CHECK(busy >= 1);
    // Connections and the queue cost no threads.
    CHECK(threads_of(s.pid) == before);
    Process big = serve({"--queue", "100000"});
    CHECK(threads_of(big.pid) < 10);
}

TEST_CASE("serve 6: a port in use is refused, by serve and by train --serve") {
    Process first = serve();
    REQUIRE(first.port > 0);
    const std::string port = std::to_string(first.port);
    Process second({"serve", "--checkpoint", trained().model, "--port", port});
    CHECK(second.wait() == 2);
    CHECK(second.first_line.find("cannot listen on 127.0.0.1:" + port + ": address in use") != std::string::npos);
    Workdir w;
    CHECK_RUN(run(trained().train + "--epochs 1 --serve " + port + " --out " + w / "m"), 2, "--serve", "address in use");
    CHECK(status_of(ask(first.port, get(first.port, "/api/models"))) == 200);  // the first still serves alone
}

#ifndef __SANITIZE_ADDRESS__  // a sanitized program needs terabytes of address space: no ulimit -v for it
TEST_CASE("serve 7: threads that cannot be made are one line and status 1, not a server that never answers") {
    const Result r = run_shell(fmt::format("ulimit -v 400000; {} serve --checkpoint {} --port 0 --workers 64 2>&1", TG_TRANSLATOR,
                                           trained().model));
    CHECK_RUN(r, 1, "cannot start 64 worker threads");
    CHECK(r.output.find("serving") == std::string::npos);
}
#endif

TEST_CASE("serve 11: form bodies, pipelined requests and malformed lines are each answered or refused at once") {
    Process s = serve();
    REQUIRE(s.port > 0);
    const std::string form = ask(s.port, fmt::format("POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: "
                                                     "application/x-www-form-urlencoded\r\nContent-Length: 9000\r\n\r\n{}",
                                                     s.port, std::string(9000, 'a')));
    CHECK(status_of(form) == 400);  // the JSON is wrong; the size is within --max-body
    CHECK(form.find("not JSON") != std::string::npos);
    const int fd = connect_to(s.port);
    send_all(fd, post(s.port, kSentence) + post(s.port, R"({"text": "happy"})") + get(s.port, "/api/models"));
    const std::string three = receive(fd, 20, nullptr, 3);
    ::close(fd);
    std::size_t ok = 0;
    for (std::size_t at = 0; (at = three.find("HTTP/1.1 200", at)) != std::string::npos; ++at) ++ok;
    CHECK(ok == 3);
    for (const std::string bad : {"GARBAGE\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "GET\r\n\r\n"}) {
        const auto t = Clock::now();
        const int g = connect_to(s.port);
        send_all(g, bad);
        bool closed = false;
        const std::string r = receive(g, 5, &closed);
        ::close(g);
        CHECK_MESSAGE(closed, bad);  // a 400 and closed at once: never held
        CHECK_MESSAGE(status_of(r) == 400, bad);
        CHECK_MESSAGE(r.find("a malformed request") != std::string::npos, r);
        CHECK(std::chrono::duration<double>(Clock::now() - t).count() < 1);
    }
    // A client that shuts its sending side after its requests (`nc -N`) is answered, each of them.
    for (const int requests : {1, 2}) {
        const int h = connect_to(s.port);
        send_all(h, requests == 1 ? post(s.port, kSentence) : post(s.port, kSentence) + get(s.port, "/api/models"));
        ::shutdown(h, SHUT_WR);
        bool closed = false;
        std::string r = receive(h, 20, &closed);
        ::close(h);
        const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";  // allowed before any answer
        while (r.rfind(interim, 0) == 0) r.erase(0, interim.size());
        CHECK(status_of(r) == 200);
        std::size_t answers = 0;
        for (std::size_t at = 0; (at = r.find("HTTP/1.1 200", at)) != std::string::npos; ++at) ++answers;
        CHECK(answers == static_cast<std::size_t>(requests));
        CHECK(closed);  // and then closed, its side being shut
    }
}

TEST_CASE("serve 12: only the hosts it listens as, and no request a page of another origin sends") {
    Process s = serve();
    REQUIRE(s.port > 0);
    const std::string port = std::to_string(s.port);
    CHECK(status_of(ask(s.port, fmt::format("GET /api/models HTTP/1.1\r\nHost: attacker.example:{}\r\n\r\n", port))) == 403);
    CHECK(status_of(ask(s.port, fmt::format("GET /api/models HTTP/1.1\r\nHost: localhost:{}\r\n\r\n", port))) == 200);
    CHECK(status_of(ask(s.port, post(s.port, kSentence, "Origin: http://attacker.example\r\n"))) == 403);
    CHECK(status_of(ask(s.port, post(s.port, kSentence, "Origin: null\r\n"))) == 403);
    CHECK(status_of(ask(s.port, post(s.port, kSentence, "Origin: http://127.0.0.1:" + port + "\r\n"))) == 200);  // the page itself
}

TEST_CASE("serve 14: a translation whose client left stops, and its worker serves the next") {
    Process s = serve({"--workers", "1", "--queue", "0", "--max-words", "1000", "--max-pieces", "1000"});
    REQUIRE(s.port > 0);
    std::string words;
    for (int i = 0; i < 333; ++i) words += "happy old house ";
    const std::string long_one = post(s.port, R"({"text": ")" + words + R"(", "beam": 16})");
    auto t = Clock::now();
    REQUIRE(status_of(ask(s.port, long_one, 120)) == 200);
    const double whole = std::chrono::duration<double>(Clock::now() - t).count();
    const auto status = [&] {  // GET /api/status: what the server is doing now
        const std::string r = ask(s.port, get(s.port, "/api/status"));
        return nlohmann::json::parse(r.substr(r.find("\r\n\r\n") + 4));
    };
    t = Clock::now();  // (the worker counts itself free just after it answers)
    while (status()["translating"] != 0 && std::chrono::duration<double>(Clock::now() - t).count() < 30) {}
    REQUIRE(status()["translating"] == 0);
    const int gone = connect_to(s.port);
    send_all(gone, long_one);
    t = Clock::now();
    while (status()["translating"] != 1 && std::chrono::duration<double>(Clock::now() - t).count() < 30) {}
    REQUIRE(status()["translating"] == 1);  // its translation is under way...
    ::close(gone);                           // ...and the client leaves
    t = Clock::now();
    while (status()["translating"] != 0 && std::chrono::duration<double>(Clock::now() - t).count() < 2 * whole) {}
    const double freed = std::chrono::duration<double>(Clock::now() - t).count();
    CHECK(status()["cancelled"] == 1);
    CHECK(freed < whole / 2);
    CHECK(status_of(ask(s.port, post(s.port, kSentence))) == 200);  // the worker serves the next
}

TEST_CASE("train --serve 9, 10: any number of pages up to the limit, each sent only what is new") {
    Workdir w;
    Process t({"train", "--train", trained().w / "train.tsv", "--valid", trained().w / "valid.tsv", "--emb", "8", "--hidden", "16",
               "--attn", "8", "--batch", "16", "--seed", "3", "--epochs", "100000", "--time-limit", "3", "--valid-every", "10", "--serve", "0",
               "--out", w / "m"});
    REQUIRE(t.port > 0);
    // Ten pages wait for news at once (the old server had 4 threads); each is answered.
    std::vector<int> pages;
    for (int i = 0; i < 10; ++i) {
        pages.push_back(connect_to(t.port));
        send_all(pages.back(), get(t.port, "/api/updates?points=0&validations=0"));
    }
    std::size_t total_points = 0;
    for (int fd : pages) {
        const std::string r = receive(fd, 60, nullptr, 1);
        CHECK(status_of(r) == 200);
        if (status_of(r) == 200) total_points += nlohmann::json::parse(r.substr(r.find("\r\n\r\n") + 4))["points"].size();
        ::close(fd);
    }
    CHECK(total_points >= 10);
    // A page that has everything gets only what came after (here: the end), never the history again.
    const std::string all = ask(t.port, get(t.port, "/api/training"), 60);
    if (status_of(all) == 200) {
        const auto state = nlohmann::json::parse(all.substr(all.find("\r\n\r\n") + 4));
        const std::string news = ask(t.port, get(t.port, fmt::format("/api/updates?points={}&validations={}", state["points"].size(),
                                                                     state["validations"].size())), 60);
        if (status_of(news) == 200) {
            const auto n = nlohmann::json::parse(news.substr(news.find("\r\n\r\n") + 4));
            CHECK(n["points"].size() < state["points"].size() + 1);
            if (!n["validations"].empty() && !state["validations"].empty())
                CHECK(n["validations"][0]["step"] > state["validations"].back()["step"]);
        }
    }
    CHECK(status_of(ask(t.port, get(t.port, "/api/updates?points=x&validations=0"))) == 400);
    CHECK(t.wait() == 0);
}

TEST_CASE("serve 13, 14, 16: what a request may cost is bounded by pieces, words and bytes, refused before decoding") {
    Process s = serve({"--max-pieces", "40"});
    REQUIRE(s.port > 0);
    std::string words;
    for (int i = 0; i < 20; ++i) words += "happy old house ";  // 60 words: within --max-words (100), over 40 pieces
    const std::string pieces = ask(s.port, post(s.port, R"({"text": ")" + words + R"("})"));
    CHECK(status_of(pieces) == 400);
    CHECK(pieces.find("60 pieces") != std::string::npos);
    CHECK(pieces.find("--max-pieces") != std::string::npos);
    const std::string long_word = ask(s.port, post(s.port, R"({"text": "happy )" + std::string(60000, 'x') + R"("})"));
    CHECK(status_of(long_word) == 400);  // it was echoed back in a 200
    CHECK(long_word.find("word 2 is 60000 bytes; the limit is 1000") != std::string::npos);
    // --max-words is bounded where the documented memory bound holds.
    Process too_many({"serve", "--checkpoint", trained().model, "--port", "0", "--max-words", "10000"});
    CHECK(too_many.wait() == 2);
    CHECK(too_many.first_line.find("--max-words") != std::string::npos);
}

TEST_CASE("serve 23: the address it says is the one it listens on, bracketed for IPv6, and loopback is this machine only") {
    const auto says = [](const std::string& host) {
        Process p({"serve", "--checkpoint", trained().model, "--port", "0", "--host", host});
        const std::string line = p.first_line;
        CHECK_MESSAGE(p.stop() == 0, line);
        return line;
    };
    const std::string v6 = says("::1");
    CHECK(v6.find("http://[::1]:") != std::string::npos);
    CHECK(v6.find("this machine only") != std::string::npos);
    const std::string short_form = says("127.1");
    CHECK(short_form.find("http://127.0.0.1:") != std::string::npos);
    CHECK(short_form.find("this machine only") != std::string::npos);
    CHECK(says("::").find("reachable from the network") != std::string::npos);
    CHECK(says("0.0.0.0").find("reachable from the network") != std::string::npos);
    Process empty({"serve", "--checkpoint", trained().model, "--port", "0", "--host", ""});
    CHECK(empty.wait() == 2);
    CHECK(empty.first_line.find("--host: empty") != std::string::npos);
}
