#!/usr/bin/python3
"""A load test of `translator serve` on loopback, as a crowd of clients uses it: for each number of
clients (default 64, 200 and 1,000), all start at once and each sends --requests POST /api/translate
(sentences of the given file in turn), on one keep-alive connection or a new connection per request.
Every request ends as answered (200), refused (503: busy) or silent (no answer within --deadline
seconds, or the connection closed without one). Prints one JSON line per run: the counts, latency
percentiles of the answers and of the refusals (ms, the client's view), and the server's resident
memory at its peak (VmHWM). Any other status, or a silent request, is a failure (exit 1).

Usage: bench/serve_load.py TRANSLATOR CHECKPOINT SENTENCES.tsv [--clients 64,200,1000] [--requests 3]
       [--beam K] [--deadline S] [-- SERVE OPTIONS...]
"""
import argparse
import json
import resource
import socket
import subprocess
import threading
import time


def rss_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def read_response(sock, deadline):
    """One HTTP response from sock: its status, or None when none came by the deadline."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.001, deadline - time.perf_counter()))
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        sock.settimeout(max(0.001, deadline - time.perf_counter()))
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return status


def percentiles(values):
    if not values:
        return None
    values = sorted(values)
    pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 1)
    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": round(values[-1], 1)}


def run(port, pid, sentences, clients, requests, keep_alive, beam, deadline_s):
    results, lock = [], threading.Lock()
    start = threading.Barrier(clients)

    def client(k):
        start.wait()
        sock = None
        for r in range(requests):
            body = json.dumps({"text": sentences[(k * requests + r) % len(sentences)], "beam": beam}).encode()
            request = (f"POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n{'' if keep_alive else 'Connection: close' + chr(13) + chr(10)}\r\n").encode() + body
            t = time.perf_counter()
            deadline = t + deadline_s
            status = None
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=deadline_s)
                sock.sendall(request)
                status = read_response(sock, deadline)
            except OSError:
                status = None
            ms = (time.perf_counter() - t) * 1000
            with lock:
                results.append((status, ms))
            if not keep_alive or status is None or status == 503:
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    answered = [ms for s, ms in results if s == 200]
    refused = [ms for s, ms in results if s == 503]
    silent = sum(1 for s, _ in results if s is None)
    other = sum(1 for s, _ in results if s not in (None, 200, 503))
    return {"clients": clients, "keep_alive": keep_alive, "requests": len(results), "answered": len(answered),
            "busy_503": len(refused), "silent": silent, "other": other, "seconds": round(seconds, 2),
            "answered_ms": percentiles(answered), "busy_ms": percentiles(refused),
            "server_peak_rss_mb": round(rss_mb(pid, "VmHWM"), 1)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("translator")
    p.add_argument("checkpoint")
    p.add_argument("sentences")
    p.add_argument("--clients", default="64,200,1000")
    p.add_argument("--requests", type=int, default=3)
    p.add_argument("--beam", type=int, default=1)
    p.add_argument("--deadline", type=float, default=30)
    p.add_argument("serve_options", nargs="*")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with open(a.sentences, encoding="utf-8") as f:
        sentences = [line.split("\t")[0].strip() for line in f if line.strip()]
    server = subprocess.Popen([a.translator, "serve", "--checkpoint", a.checkpoint, "--port", "0"] + a.serve_options,
                              stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split("http://127.0.0.1:")[1].split("/")[0])
    failed = 0
    try:
        for clients in [int(c) for c in a.clients.split(",")]:
            for keep_alive in (False, True):
                out = run(port, server.pid, sentences, clients, a.requests, keep_alive, a.beam, a.deadline)
                failed += out["silent"] + out["other"]
                print(json.dumps(out), flush=True)
    finally:
        server.terminate()
        code = server.wait(timeout=10)
    return 1 if failed or code != 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
