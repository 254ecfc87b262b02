"""A bounded HTTP load on a server of this machine, run as its own process by tests/test_production.py.

    python tests/load.py URL COUNT [--concurrency N] [--deadline SECONDS] [--header NAME:VALUE]

Sends exactly COUNT GET requests to URL from N threads (a fresh connection each, as a load balancer's probes or
first-time visitors make them), stops early at the deadline, and prints one JSON object: requests sent, non-200
answers, errors, wall time, requests per second, median and p99 latency in milliseconds. Only loopback addresses are
accepted: the load never leaves the machine.
"""

import argparse
import http.client
import ipaddress
import json
import socket
import statistics
import threading
import time
import urllib.parse


def loopback_only(url):
    parts = urllib.parse.urlsplit(url)
    address = ipaddress.ip_address(socket.gethostbyname(parts.hostname))
    if parts.scheme != "http" or not address.is_loopback:
        raise SystemExit(f"{url} is not a plain-HTTP loopback address; this load only targets this machine.")
    return parts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--header", action="append", default=[])
    options = parser.parse_args()
    parts = loopback_only(options.url)
    headers = dict(header.split(":", 1) for header in options.header)
    path = parts.path + (f"?{parts.query}" if parts.query else "")

    latencies, statuses, errors = [], [], []
    lock = threading.Lock()
    remaining = iter(range(options.count))
    stop_at = time.monotonic() + options.deadline

    def worker():
        while time.monotonic() < stop_at:
            with lock:
                if next(remaining, None) is None:
                    return
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                connection.close()
                status = response.status
            except OSError as error:
                with lock:
                    errors.append(repr(error))
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses.append(status)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(options.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    print(
        json.dumps(
            {
                "requests": len(statuses) + len(errors),
                "non_200": sum(1 for status in statuses if status != 200),
                "errors": len(errors),
                "first_error": errors[0] if errors else None,
                "seconds": round(wall, 3),
                "requests_per_second": round(len(statuses) / wall, 1) if wall else 0.0,
                "median_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
                "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)
                if ordered
                else None,
            }
        )
    )


if __name__ == "__main__":
    main()
