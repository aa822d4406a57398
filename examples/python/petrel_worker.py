#!/usr/bin/env python3
"""A Petrel worker in Python, with nothing but the standard library.

It serves one job type over a node's client port (the protocol in the README's "Workers"):
each job's arguments go to `handle`; what it returns is the job's output (a string as it is,
anything else as JSON), what it raises fails the job with its message (retried when the job's
`retry` allows). Up to CONCURRENCY jobs run at once, each on a thread of its own. The worker
reconnects when its node goes away, to the next address given first, and sends PING when the
node has said nothing for a while, so a node that froze is noticed too. When the node takes a
job back (CANCEL: a client cancelled it, or it timed out), the job's `cancelled` event is set
and its result is not sent.

Usage:   petrel_worker.py <type> [host:port ...]     (default localhost:9000)
         PETREL_TOKEN: the node's CLIENT_TOKEN, when it has one
         PETREL_CONCURRENCY: jobs at once (default 4)
         PETREL_REPLY_TIMEOUT: silence after a PING before the connection counts as hung, in
                               ms or with a unit as petrel takes it (default 15s; 0 never)

The example's `handle` answers with the arguments in capitals: replace it with your own.
"""

import json
import os
import re
import socket
import sys
import threading
import time

UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(name, text):
    """A duration as petrel reads one: whole milliseconds (1500), or a number with a unit
    (500ms, 2s, 1.5m, 2h, 1d)."""
    m = re.fullmatch(r"(\d+)(?:(\.\d+)?(ms|s|m|h|d))?", text)
    if not m:
        print(f"petrel worker: {name} takes milliseconds (1500) or a number with a unit "
              "(500ms, 2s, 1.5m, 2h, 1d)", file=sys.stderr)
        sys.exit(64)
    return round(float(m[1] + (m[2] or "")) * UNIT_MS[m[3] or "ms"])


CONCURRENCY = int(os.environ.get("PETREL_CONCURRENCY", "4"))
# seconds, or None: 0 waits for ever and never pings
REPLY_TIMEOUT = duration_ms("PETREL_REPLY_TIMEOUT", os.environ.get("PETREL_REPLY_TIMEOUT") or "15s")
REPLY_TIMEOUT = REPLY_TIMEOUT / 1000 or None
MAX_LINE = 64 * 1024  # a node refuses a longer line and closes the connection
MAX_READ = 16 * 1024 * 1024  # a longer line from the node is not one: the worker reconnects
KEEP = 24 * 1024  # characters kept at each end of an output too long for a line (or fewer)


def handle(args, job):
    """One job: its arguments (strings) and the job (`ticket`, `attempt`, `env`, `stdin`,
    `cancelled`, a threading.Event set when the node takes the job back)."""
    if not args:
        raise ValueError("upper needs words")
    return " ".join(args).upper()


def log(text):
    print(f"petrel worker: {text}", file=sys.stderr, flush=True)


def output_text(value):
    """The rest of a DONE or FAIL line: as it is, or as one JSON string when it has a line
    break or starts with a quote; only its head and tail when it would not fit a line."""
    text = value if isinstance(value, str) else json.dumps(value)
    keep = len(text)
    while True:
        part = text
        if keep < len(text):
            part = f"{text[:keep]}\n[... {len(text) - 2 * keep} characters dropped ...]\n{text[-keep:]}"
        if "\n" in part or "\r" in part or part.startswith('"'):
            part = json.dumps(part, ensure_ascii=False)
        if len(part.encode()) <= MAX_LINE - 200:
            return part
        keep = min(keep, KEEP) if keep > KEEP else keep // 2


class Connection:
    """One connection to a node, serving the type; ends when the node goes or goes silent."""

    def __init__(self, addr, job_type):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=REPLY_TIMEOUT)
        self.buffer = b""
        self.lock = threading.Lock()
        self.jobs = {}  # ticket -> the job's cancelled event
        token = os.environ.get("PETREL_TOKEN")
        if token:
            self.expect_ok(f"AUTH {token}")
        self.expect_ok(f"WORKER {job_type} {CONCURRENCY}")

    def send(self, line):
        with self.lock:
            self.sock.sendall((line + "\n").encode())

    def read_line(self):
        """The node's next line; socket.timeout when it says nothing for the timeout."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_READ:
                raise ConnectionError(f"a line from the node longer than {MAX_READ} bytes")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the node closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def expect_ok(self, line):
        self.send(line)
        answer = self.read_line()
        if not answer.startswith("OK"):
            raise ConnectionError(f"{line.split()[0]}: {answer}")

    def serve(self):
        """Reads the node's lines until it goes away or stays silent after a PING."""
        self.sock.settimeout(REPLY_TIMEOUT and REPLY_TIMEOUT / 2)
        pinged = False
        while True:
            try:
                line = self.read_line()
            except socket.timeout:
                if pinged:
                    raise ConnectionError("the node sent nothing after PING: counted as hung")
                self.send("PING")
                pinged = True
                continue
            pinged = False
            if line.startswith("JOB "):
                try:
                    _, ticket, spec = line.split(" ", 2)
                    spec = json.loads(spec)
                except ValueError:
                    log(f"not a job: {line[:80]}")
                    continue
                self.start(ticket, spec)
            elif line.startswith("CANCEL "):
                cancelled = self.jobs.get(line.split(" ", 1)[1])
                if cancelled is not None:
                    cancelled.set()
            elif line.startswith("ERR "):
                log(line)

    def start(self, ticket, spec):
        cancelled = threading.Event()
        self.jobs[ticket] = cancelled
        job = {
            "ticket": ticket,
            "attempt": spec.get("attempt", 1),
            "env": spec.get("env", {}),
            "stdin": spec.get("stdin"),
            "cancelled": cancelled,
        }
        args = [str(a) for a in spec.get("args", [])]
        # the node sends at most CONCURRENCY jobs at once (one taken back frees its place)
        threading.Thread(target=self.run, args=(ticket, args, job), daemon=True).start()

    def run(self, ticket, args, job):
        try:
            try:
                line = f"DONE {ticket} {output_text(handle(args, job))}"
            except Exception as e:  # the job failed: its message is the error
                line = f"FAIL {ticket} {output_text(str(e) or type(e).__name__)}"
            if not job["cancelled"].is_set():
                self.send(line)
        except OSError:
            pass  # the connection went: the node gives the job to another worker
        finally:
            self.jobs.pop(ticket, None)

    def close(self):
        for cancelled in self.jobs.values():
            cancelled.set()  # the node runs them again elsewhere
        try:
            self.sock.close()
        except OSError:
            pass


def main():
    if len(sys.argv) < 2:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        sys.exit(64)
    job_type, addrs = sys.argv[1], sys.argv[2:] or ["localhost:9000"]
    index, failures = 0, 0
    while True:
        addr = addrs[index]
        # after a lost connection or a failed try, the next address is tried first
        index = (index + 1) % len(addrs)
        try:
            conn = Connection(addr, job_type)
        except (OSError, ConnectionError) as e:
            delay = min(5.0, 0.1 * 2 ** min(failures, 6))
            log(f"{addr}: {e}; trying again in {delay:.1f} s")
            failures += 1
            time.sleep(delay)
            continue
        log(f"serving {job_type} on {addr} ({CONCURRENCY} at once)")
        failures = 0
        try:
            conn.serve()
        except (OSError, ConnectionError) as e:
            log(f"{addr}: {e}; reconnecting")
        finally:
            conn.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
