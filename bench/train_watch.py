#!/usr/bin/python3
"""What `translator train --serve` costs training: the same training run with the page's event stream
open (one client asking /api/updates, as the page does) and without, alternated (AB, BA, ...) for
R rounds of S seconds each, on 2 threads; prints JSON: the steps each run reached, the median ratio
watched / unwatched, and the cost the translator measures itself (wall time of its hooks on the
training thread, CPU time of the server's threads), which does not depend on the machine's noise.

OpenBLAS picks its kernels as on a user's machine (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, for
both runs alike).

Usage: bench/train_watch.py TRANSLATOR TRAIN.tsv VALID.tsv [--seconds S (30)] [--rounds R (6)] [--valid-every N]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request


def run(a, work, watched):
    out = os.path.join(work, "model")
    shutil.rmtree(out, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    cmd = [a.translator, "train", "--train", a.train, "--valid", a.valid, "--out", out, "--epochs", "100000",
           "--time-limit", str(a.seconds), "--valid-every", str(a.valid_every), "--threads", "2"]
    if watched:
        cmd += ["--serve", "0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    events, client_cpu = [0], [0.0]
    client = None
    if watched:
        line = p.stdout.readline()
        port = int(re.search(r"http://127.0.0.1:(\d+)/", line).group(1))

        def read_events():  # what the page does: the history once, then ask for what is new
            start = time.thread_time()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/training") as r:
                state = json.load(r)
            points, validations, finished = len(state["points"]), len(state["validations"]), state["finished"]
            try:
                while not finished:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/updates?points={points}&validations={validations}") as r:
                        news = json.load(r)
                    events[0] += 1
                    points += len(news["points"])
                    validations += len(news["validations"])
                    finished = news["finished"]
            except OSError:
                pass  # training ended and its server with it
            client_cpu[0] = time.thread_time() - start

        client = threading.Thread(target=read_events, daemon=True)
        client.start()
    text = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{text}")
    if client:
        client.join(timeout=30)
    steps = int(re.search(r"after (\d+) steps", text).group(1))
    result = {"steps": steps, "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}
    m = re.search(r"watching cost training ([\d.]+) s on its thread and ([\d.]+) s of CPU on the server's threads: "
                  r"([\d.]+)% of .*; (\d+) updates sent", text)
    if watched:
        if not m:
            raise SystemExit(f"no cost line in the output of {' '.join(cmd)}:\n{text}")
        result.update(training_thread_s=float(m.group(1)), server_cpu_s=float(m.group(2)),
                      cost_percent=float(m.group(3)), updates_sent=int(m.group(4)), events_received=events[0],
                      client_cpu_s=round(client_cpu[0], 3))
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("translator")
    p.add_argument("train")
    p.add_argument("valid")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--valid-every", type=int, default=200)
    a = p.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as work:
        for r in range(a.rounds):
            order = [False, True] if r % 2 == 0 else [True, False]
            got = {w: run(a, work, w) for w in order}
            per_cpu = {w: got[w]["steps"] / got[w]["cpu_s"] for w in got}
            rounds.append({"without": got[False], "with": got[True],
                           "ratio": round(got[True]["steps"] / got[False]["steps"], 4),
                           "steps_per_cpu_second_ratio": round(per_cpu[True] / per_cpu[False], 4)})
    print(json.dumps({
        "seconds_per_run": a.seconds, "valid_every": a.valid_every, "threads": 2,
        "openblas": "as it picks (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset)",
        "rounds": rounds,
        "median_steps_ratio_with_over_without": statistics.median(x["ratio"] for x in rounds),
        "median_steps_per_cpu_second_ratio": statistics.median(x["steps_per_cpu_second_ratio"] for x in rounds),
        "max_measured_cost_percent": max(x["with"]["cost_percent"] for x in rounds),
    }, indent=1))


if __name__ == "__main__":
    main()
