#!/usr/bin/env python3
"""bench_python: the Python client's rates against a workpoold it starts.

    bench_python.py WORKPOOLD [--jobs N] [--runs R] [--payload BYTES] [--store S]

Measures, each R times on a fresh broker (sqlite store, ipc socket), and
prints the median of each as the last line, one JSON object:
  push_sync      pushes/s from one Client, one at a time (a round trip each)
  push_async64   pushes/s from one AsyncClient keeping 64 pushes in flight
  drain_worker   items/s a workpool.Worker drains (claim, handler, complete)
  drain_fused    items/s a loop of complete_and_claim drains (one round trip)
and for each the broker's CPU (user + system, from /proc/PID/stat) per
request it ran (its batched_requests counter), in microseconds: on a
machine whose cores the client shares, what the rate comes down to.
Benchmarks are never pass/fail; the ctest entry is a smoke run.
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "client", "python"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "python"))

import workpool                 # noqa: E402
from broker import Broker       # noqa: E402


def _requests(client):
    return client.stats().counters.get("batched_requests", 0)


def _measure(broker, client, work, ops):
    """Runs work(); returns (ops/s, broker CPU us per request)."""
    cpu0, req0 = broker.cpu_seconds(), _requests(client)
    t0 = time.perf_counter()
    work()
    elapsed = time.perf_counter() - t0
    cpu1, req1 = broker.cpu_seconds(), _requests(client)
    # The two Stats calls are requests too; they cost little against N
    return ops / elapsed, (cpu1 - cpu0) * 1e6 / max(1, req1 - req0 - 1)


def push_sync(broker, client, jobs, payload):
    pool = client.pool("sync")

    def work():
        for _ in range(jobs):
            pool.push(payload)
    return _measure(broker, client, work, jobs)


def push_async64(broker, client, jobs, payload):
    def work():
        async def main():
            async with workpool.AsyncClient(broker.endpoint, timeout=60) as c:
                pool = c.pool("async")

                async def lane(n):
                    for _ in range(n):
                        await pool.push(payload)
                share = [jobs // 64 + (1 if k < jobs % 64 else 0) for k in range(64)]
                await asyncio.gather(*(lane(n) for n in share))
        asyncio.run(main())
    return _measure(broker, client, work, jobs)


def _preload(client, pool, jobs, payload):
    for start in range(0, jobs, 1000):
        client.push_many(pool, [payload] * min(1000, jobs - start))


def drain_worker(broker, client, jobs, payload):
    _preload(client, "drain", jobs, payload)
    worker = workpool.Worker(broker.endpoint, "drain", wait=1.0, handle_signals=False)

    def handle(item):
        if worker.processed + 1 >= jobs:
            worker.stop()
        return None

    def work():
        worker.run(handle)
    return _measure(broker, client, work, jobs)


def drain_fused(broker, client, jobs, payload):
    _preload(client, "fused", jobs, payload)

    def work():
        with workpool.Client(broker.endpoint, timeout=60) as c:
            item = c.claim("fused", "fw")
            while item is not None:
                item = c.complete_and_claim("fused", item.id, "fw")
    return _measure(broker, client, work, jobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workpoold")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--payload", type=int, default=64, help="bytes of each item's value")
    parser.add_argument("--store", default="sqlite")
    args = parser.parse_args()
    payload = b"x" * args.payload
    results = {}
    for name, bench in (("push_sync", push_sync), ("push_async64", push_async64),
                        ("drain_worker", drain_worker), ("drain_fused", drain_fused)):
        rates, cpus = [], []
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="wp-bench-py-") as directory:
                broker = Broker(args.workpoold, directory, "--log-level", "error",
                                store=args.store).start()
                try:
                    with workpool.Client(broker.endpoint, timeout=60) as client:
                        rate, cpu = bench(broker, client, args.jobs, payload)
                finally:
                    broker.stop()
            rates.append(rate)
            cpus.append(cpu)
            print("%s run %d: %.0f/s, broker %.1f us/request" % (name, run + 1, rate, cpu),
                  file=sys.stderr, flush=True)
        results[name + "_per_s"] = round(statistics.median(rates))
        results[name + "_broker_cpu_us_per_request"] = round(statistics.median(cpus), 1)
    results.update(bench="python", jobs=args.jobs, runs=args.runs, payload=args.payload,
                   store=args.store, python=sys.version.split()[0])
    print(json.dumps(results))


if __name__ == "__main__":
    main()
