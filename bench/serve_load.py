#!/usr/bin/python3
"""A load test of `translator serve` on loopback: N clients (default 8) send POST /api/translate
back to back for S seconds (default 60), each a sentence of the given file in turn; prints JSON:
requests, statuses, latency p50/p99 (ms, the client's view), the server's resident memory idle and at
its peak (VmHWM). Any status but 200 and 503 is a failure (exit 1).

Usage: bench/serve_load.py TRANSLATOR CHECKPOINT SENTENCES.tsv [--clients N] [--seconds S] [--beam K]
"""
import argparse
import json
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request


def rss_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("translator")
    p.add_argument("checkpoint")
    p.add_argument("sentences")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--beam", type=int, default=1)
    a = p.parse_args()
    with open(a.sentences, encoding="utf-8") as f:
        sentences = [line.split("\t")[0].strip() for line in f if line.strip()]
    server = subprocess.Popen([a.translator, "serve", "--checkpoint", a.checkpoint, "--port", "0"], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split("http://127.0.0.1:")[1].split("/")[0])
    url = f"http://127.0.0.1:{port}/api/translate"
    idle = rss_mb(server.pid, "VmRSS")
    latencies, statuses, lock = [], {}, threading.Lock()
    stop = time.perf_counter() + a.seconds

    def client(k):
        i = k
        while time.perf_counter() < stop:
            body = json.dumps({"text": sentences[i % len(sentences)], "beam": a.beam}).encode()
            i += a.clients
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=body)) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError as e:
                status = type(e).__name__
            ms = (time.perf_counter() - t) * 1000
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(ms)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = rss_mb(server.pid, "VmHWM")
    server.terminate()
    code = server.wait(timeout=10)
    latencies.sort()
    failed = sum(n for s, n in statuses.items() if s not in (200, 503))
    print(json.dumps({
        "clients": a.clients, "seconds": a.seconds, "beam": a.beam, "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in statuses.items()}, "failed": failed,
        "requests_per_s": round(len(latencies) / a.seconds, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2) if latencies else None,
        "idle_rss_mb": round(idle, 1), "peak_rss_mb": round(peak, 1), "exit": code}))
    return 1 if failed or code != 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
