#!/usr/bin/env python3
"""The load of `just soak` (scripts/soak.sh starts keyport and calls this). Standard library only.

Against a running keyport whose members' tokens are in --tokens (one a line), it:

1. subscribes every member to gpt-4o-mini and creates 10 keys for each;
2. unless --rate is given, measures the capacity: --workers clients in a closed loop (each sends its next
   request when the last one is answered), 5 s of warm-up and 20 s measured; the rate is half of that;
3. sends the mix open loop at the rate (requests leave on a fixed schedule, however slowly keyport answers,
   over as many keep-alive connections as that needs) for --minutes, and prints a row every 30 s: requests
   answered in the window, errors, p50/p99/max latency (from sending the request to reading the whole
   answer), the largest delay of a request behind its schedule (the driver's own lag), keyport's CPU use,
   resident memory (VmRSS) and the load average;
4. prints totals per operation and writes the Markdown tables to --out.

The mix, in requests: 60 % list my keys (GET /api/v1/api-keys), 12.5 % create a key, 12.5 % revoke one
(DELETE and POST .../revoke alternately), 10 % rotate one, 5 % sessions (a development login, then a logout
with its cookies and CSRF token: 2.5 % each). Each member keeps 5 to 20 keys: a create at 20 revokes
instead, a revoke at 5 creates instead. A key in use by one request is not picked by another, so no
request can collide with another (no 409 is expected).

An error is any other status than the operation's success status (200, or 201 for create and rotate), a
connection error, no answer within 30 s, an answer it cannot read, or a request not sent because 1,000
were in flight. Exit code 1 when any request of the probe or the soak failed, or
when keyport's resident memory at the end exceeds the one after the first minute by more than 20 % + 10 MiB
(room for allocator caches and connection buffers; a leak of about 100 bytes a request crosses it within a
10-minute run at 270 requests/s, the rate of a 2-core machine).
"""

import argparse
import asyncio
import json
import math
import os
import random
import resource
import sys
import time
import urllib.parse

MODEL = "gpt-4o-mini"
SEED_KEYS = 10
MIN_KEYS = 5
MAX_KEYS = 20
LOGIN_NAMES = 32
TIMEOUT = 30.0
WINDOW = 30.0
IDLE_DROP = 3.0  # keyport (actix-web) closes a keep-alive connection idle for 5 s; drop ours before that
MAX_IN_FLIGHT = 1000
RSS_MARGIN_PCT = 20
RSS_MARGIN_MIB = 10

# Operations and their share of requests; a session is two requests (login, logout).
MIX = [("list", 60.0), ("create", 12.5), ("revoke", 12.5), ("rotate", 10.0), ("session", 2.5)]
REQUESTS_PER_OP = sum(w * (2 if op == "session" else 1) for op, w in MIX) / sum(w for _, w in MIX)


class HttpError(Exception):
    pass


class Connection:
    """One HTTP/1.1 keep-alive connection; just enough of the protocol for keyport's answers."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.last_used = 0.0

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def request(self, method, path, headers, body=b""):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise HttpError("connection closed before an answer")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError(f"bad status line {status_line[:80]!r}")
        status = int(parts[1])
        answer_headers = []
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            answer_headers.append((name.strip().lower(), value.strip()))
        fields = dict(answer_headers)
        if "content-length" in fields:
            data = await self.reader.readexactly(int(fields["content-length"]))
        elif "chunked" in fields.get("transfer-encoding", ""):
            data = b""
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.read()
            fields["connection"] = "close"
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer_headers, data


class Stats:
    def __init__(self):
        self.latencies = []  # ms
        self.requests = 0
        self.errors = 0
        self.max_lag = 0.0  # ms


class Soak:
    def __init__(self, args, tokens):
        url = urllib.parse.urlsplit(args.base)
        self.host, self.port = url.hostname, url.port or 80
        self.args = args
        self.rng = random.Random(args.seed)
        self.members = [{"token": t, "sub": None, "keys": []} for t in tokens]
        self.idle = []  # connections, most recently used last
        self.in_flight = 0
        self.counter = 0
        self.window = Stats()
        self.per_op = {}  # op -> [latencies], errors
        self.error_samples = []
        self.errors_total = 0
        self.requests_total = 0

    # --- HTTP ------------------------------------------------------------------------------------------------

    async def call(self, op, method, path, headers, body=None, expect=200):
        """One request; records its latency and whether it failed. Returns (status, headers, body) or None."""
        payload = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            headers = headers + [("Content-Type", "application/json")]
        conn = None
        now = time.monotonic()
        while self.idle:
            candidate = self.idle.pop()
            if now - candidate.last_used < IDLE_DROP and candidate.writer is not None:
                conn = candidate
                break
            candidate.close()
        started = time.monotonic()
        result = None
        failure = None
        try:
            if conn is None:
                conn = Connection(self.host, self.port)
                await asyncio.wait_for(conn.open(), TIMEOUT)
            result = await asyncio.wait_for(conn.request(method, path, headers, payload), TIMEOUT)
        except (OSError, HttpError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            failure = f"{type(e).__name__}: {e}"
            if conn is not None:
                conn.close()
            conn = None
        elapsed = (time.monotonic() - started) * 1000
        if conn is not None and conn.writer is not None:
            conn.last_used = time.monotonic()
            self.idle.append(conn)
        if result is not None and result[0] != expect:
            failure = f"HTTP {result[0]}: {result[2][:300].decode('utf-8', 'replace')}"
        self.record(op, elapsed, failure, f"{method} {path}")
        return None if failure else result

    def record(self, op, elapsed_ms, failure, what):
        w = self.window
        w.requests += 1
        w.latencies.append(elapsed_ms)
        self.requests_total += 1
        lat, errs = self.per_op.setdefault(op, ([], [0]))
        lat.append(elapsed_ms)
        if failure:
            self.fail(op, f"{what}: {failure}")

    def fail(self, op, description):
        """An error: a failed request, or one that was not sent or whose answer could not be read."""
        self.window.errors += 1
        self.errors_total += 1
        self.per_op.setdefault(op, ([], [0]))[1][0] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(description)

    def auth(self, member):
        return [("Authorization", f"Bearer {member['token']}")]

    # --- operations --------------------------------------------------------------------------------------

    async def op_list(self, member):
        await self.call("list", "GET", "/api/v1/api-keys", self.auth(member))

    async def op_create(self, member):
        if len(member["keys"]) >= MAX_KEYS:
            return await self.op_revoke(member)
        self.counter += 1
        r = await self.call("create", "POST", "/api/v1/api-keys", self.auth(member),
                            {"name": f"soak-{self.counter}", "subscription_ids": [member["sub"]]}, expect=201)
        if r is not None:
            member["keys"].append(json.loads(r[2])["key"]["id"])

    async def op_revoke(self, member):
        if len(member["keys"]) <= MIN_KEYS:
            return await self.op_create(member)
        key = member["keys"].pop(self.rng.randrange(len(member["keys"])))
        self.counter += 1
        if self.counter % 2:
            await self.call("revoke", "DELETE", f"/api/v1/api-keys/{key}", self.auth(member))
        else:
            await self.call("revoke", "POST", f"/api/v1/api-keys/{key}/revoke", self.auth(member))

    async def op_rotate(self, member):
        if not member["keys"]:
            return await self.op_create(member)
        key = member["keys"].pop(self.rng.randrange(len(member["keys"])))
        r = await self.call("rotate", "POST", f"/api/v1/api-keys/{key}/rotate", self.auth(member), {}, expect=201)
        # On a failure the key's state is unknown: it is left out of the pool.
        if r is not None:
            member["keys"].append(json.loads(r[2])["key"]["id"])

    async def op_session(self, _member):
        self.counter += 1
        name = f"soak-login-{self.counter % LOGIN_NAMES}"
        r = await self.call("login", "POST", "/api/v1/auth/dev-login", [], {"username": name, "role": "user"})
        if r is None:
            return
        cookies = "; ".join(v.split(";", 1)[0] for k, v in r[1] if k == "set-cookie")
        csrf = json.loads(r[2]).get("csrf_token") or ""
        await self.call("logout", "POST", "/api/v1/auth/logout", [("Cookie", cookies), ("X-CSRF-Token", csrf)])

    def pick(self):
        op = self.rng.choices([o for o, _ in MIX], weights=[w for _, w in MIX])[0]
        member = self.rng.choice(self.members)
        return getattr(self, f"op_{op}")(member)

    # --- phases ------------------------------------------------------------------------------------------

    async def setup(self):
        async def one(member):
            r = await self.call("setup", "POST", "/api/v1/subscriptions", self.auth(member),
                                {"model_id": MODEL}, expect=201)
            if r is None:
                return
            member["sub"] = json.loads(r[2])["id"]
            for _ in range(SEED_KEYS):
                await self.op_create(member)

        await asyncio.gather(*(one(m) for m in self.members))
        if self.errors_total:
            raise SystemExit("setup failed:\n  " + "\n  ".join(self.error_samples))
        self.per_op.clear()
        self.requests_total = 0
        self.window = Stats()

    async def probe(self, warmup, seconds):
        stop = False

        async def worker():
            while not stop:
                await self.guarded(self.pick())

        errors_before = self.errors_total
        tasks = [asyncio.create_task(worker()) for _ in range(self.args.workers)]
        await asyncio.sleep(warmup)
        self.window = Stats()
        before = self.requests_total
        cpu0 = cpu_seconds(self.args.pid)
        await asyncio.sleep(seconds)
        done = self.requests_total - before
        cpu = cpu_seconds(self.args.pid) - cpu0
        stop = True
        await asyncio.gather(*tasks)
        w, self.window = self.window, Stats()
        return done / seconds, cpu / seconds, percentile(w.latencies, 99), self.errors_total - errors_before

    async def soak(self, rate, minutes):
        loop_start = time.monotonic()
        end = loop_start + minutes * 60
        interval = REQUESTS_PER_OP / rate
        rows = []
        tasks = set()

        async def reporter():
            n = 0
            cpu_last = cpu_seconds(self.args.pid)
            while True:
                n += 1
                await asyncio.sleep(max(0.0, loop_start + n * WINDOW - time.monotonic()))
                w, self.window = self.window, Stats()
                cpu_now = cpu_seconds(self.args.pid)
                row = {
                    "elapsed": int(n * WINDOW),
                    "requests": w.requests,
                    "rate": w.requests / WINDOW,
                    "errors": w.errors,
                    "p50": percentile(w.latencies, 50),
                    "p99": percentile(w.latencies, 99),
                    "max": max(w.latencies, default=0.0),
                    "lag": w.max_lag,
                    "cpu": (cpu_now - cpu_last) / WINDOW * 100,
                    "rss": rss_kib(self.args.pid),
                    "double_rss": rss_kib(self.args.double_pid),
                    "load": os.getloadavg()[0],
                }
                cpu_last = cpu_now
                rows.append(row)
                print(format_row(row), flush=True)
                if loop_start + n * WINDOW >= end:
                    return

        print(table_head(), flush=True)
        report = asyncio.create_task(reporter())
        i = 0
        while True:
            due = loop_start + i * interval
            if due >= end:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = (time.monotonic() - due) * 1000
            self.window.max_lag = max(self.window.max_lag, lag)
            if self.in_flight >= MAX_IN_FLIGHT:
                self.fail("backlog", f"not sent: more than {MAX_IN_FLIGHT} requests in flight")
            else:
                task = asyncio.create_task(self.tracked(self.pick()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            i += 1
        # The last window closes at the end of the schedule; what is still in flight then is awaited (each
        # request is bounded by its timeout) and counted in the totals, not in a row.
        await report
        if tasks:
            await asyncio.gather(*tasks)
        return rows

    async def tracked(self, coroutine):
        self.in_flight += 1
        try:
            await self.guarded(coroutine)
        finally:
            self.in_flight -= 1

    async def guarded(self, coroutine):
        """An operation; an answer it cannot read (not the JSON it expects) counts as an error too."""
        try:
            await coroutine
        except (ValueError, KeyError, TypeError) as e:
            self.fail("unreadable", f"an answer: {type(e).__name__}: {e}")


# --- measurements ----------------------------------------------------------------------------------------

def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def proc_status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid):
    return proc_status(pid, "VmRSS")


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def table_head():
    return ("| Elapsed | Requests | Requests/s | Errors | p50 | p99 | max | Driver lag (max) | keyport CPU "
            "| keyport RSS | Double RSS | Load (1 min) |\n"
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def format_row(r):
    return (f"| {r['elapsed'] // 60}:{r['elapsed'] % 60:02d} | {r['requests']:,} | {r['rate']:.1f} | {r['errors']} "
            f"| {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.0f} ms | {r['lag']:.0f} ms | {r['cpu']:.0f} % "
            f"| {mib(r['rss'])} | {mib(r['double_rss'])} | {r['load']:.2f} |")


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="keyport's URL, http://127.0.0.1:PORT")
    p.add_argument("--tokens", required=True, help="file with one member token a line")
    p.add_argument("--pid", type=int, required=True, help="keyport's process id (memory and CPU)")
    p.add_argument("--double-pid", type=int, default=0, help="the LiteLLM double's process id (memory)")
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--rate", type=int, default=0, help="requests/s; 0 measures the capacity and takes half")
    p.add_argument("--workers", type=int, default=32, help="closed-loop clients of the capacity probe")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="where to write the Markdown result")
    p.add_argument("--describe", default="", help="a line about the build and the machine, for the result")
    args = p.parse_args()
    with open(args.tokens) as f:
        tokens = [t.strip() for t in f if t.strip()]
    if not tokens:
        raise SystemExit("no tokens")

    s = Soak(args, tokens)
    await s.setup()
    await asyncio.sleep(2)
    idle_rss = rss_kib(args.pid)
    print(f"setup: {len(tokens)} members, {SEED_KEYS} keys each; keyport RSS {mib(idle_rss)}", flush=True)

    probe = None
    rate = args.rate
    if not rate:
        capacity, cpu, p99, probe_errors = await s.probe(5, 20)
        probe = (capacity, cpu, p99, probe_errors)
        rate = max(1, int(capacity / 2))
        print(f"capacity probe: {capacity:.0f} requests/s with {args.workers} clients in a closed loop "
              f"(p99 {p99:.1f} ms, keyport CPU {cpu * 100:.0f} %, {probe_errors} errors); soak rate {rate}/s",
              flush=True)
        await asyncio.sleep(5)
    after_probe_rss = rss_kib(args.pid)

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    s.per_op.clear()
    requests_before = s.requests_total
    errors_before = s.errors_total
    started = time.monotonic()
    rows = await s.soak(rate, args.minutes)
    wall = time.monotonic() - started
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    driver_cpu = (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime) / wall * 100
    requests = s.requests_total - requests_before
    soak_errors = s.errors_total - errors_before
    hwm = proc_status(args.pid, "VmHWM")

    ref = rows[1] if len(rows) > 1 else rows[0]
    final = rows[-1]
    allowed = ref["rss"] * (1 + RSS_MARGIN_PCT / 100) + RSS_MARGIN_MIB * 1024
    flat = final["rss"] <= allowed
    all_lat = [x for lat, _ in s.per_op.values() for x in lat]

    out = [f"Build and machine: {args.describe}" if args.describe else "",
           f"Load: {len(tokens)} members; "
           + (f"capacity probe {probe[0]:.0f} requests/s ({args.workers} clients, closed loop, 20 s; p99 "
              f"{probe[2]:.1f} ms; {probe[3]} errors), so " if probe else "rate given, ")
           + f"{rate} requests/s open loop for {args.minutes} min; the driver used {driver_cpu:.0f} % of a core.",
           "", table_head()] + [format_row(r) for r in rows] + [
           "",
           "| Operation | Requests | Errors | p50 | p99 | max |",
           "|---|---:|---:|---:|---:|---:|"]
    for op in ["list", "create", "revoke", "rotate", "login", "logout", "backlog", "unreadable"]:
        if op in s.per_op:
            lat, errs = s.per_op[op]
            out.append(f"| {op} | {len(lat):,} | {errs[0]} | {percentile(lat, 50):.1f} ms | "
                       f"{percentile(lat, 99):.1f} ms | {max(lat, default=0):.0f} ms |")
    out.append(f"| **all** | **{requests:,}** | **{soak_errors}** | {percentile(all_lat, 50):.1f} ms | "
               f"{percentile(all_lat, 99):.1f} ms | {max(all_lat, default=0):.0f} ms |")
    out += ["",
            f"keyport resident memory: {mib(idle_rss)} after the setup, "
            + (f"{mib(after_probe_rss)} after the probe, " if probe else "") +
            f"{mib(ref['rss'])} at {ref['elapsed'] // 60}:{ref['elapsed'] % 60:02d}, {mib(final['rss'])} at the end "
            f"(peak VmHWM {mib(hwm)}); allowed at the end: {mib(allowed)} "
            f"(+{RSS_MARGIN_PCT} % + {RSS_MARGIN_MIB} MiB): {'flat' if flat else 'GROWING'}.",
            f"Errors: {soak_errors} in the soak" + (f", {probe[3]} in the probe" if probe else "") + "."]
    if s.error_samples:
        out += ["", "First errors:", ""] + [f"- `{e}`" for e in s.error_samples]
    text = "\n".join(out).lstrip("\n") + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print("\n" + text, flush=True)

    failed = soak_errors or (probe and probe[3]) or not flat
    if failed:
        print("soak FAILED: " + ", ".join(
            x for x in [f"{soak_errors} errors in the soak" if soak_errors else "",
                        f"{probe[3]} errors in the probe" if probe and probe[3] else "",
                        "resident memory grew" if not flat else ""] if x), file=sys.stderr)
        return 1
    print("soak passed: no errors, resident memory flat", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
