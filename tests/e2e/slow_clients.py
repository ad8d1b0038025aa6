"""Slow and idle clients, as a slowloris attack opens them, for the tests and the benchmark.

`SlowClientAttack(host, port)` opens `slow` sockets that send a request head one byte at a
time (one byte per second each, from a background thread) and `idle` keep-alive sockets
that made one request and then say nothing, spread over the source addresses
127.0.0.2-127.0.0.9 (so a per-address cap alone cannot be what keeps a server answering).
Everything stays on the loopback interface; loops are bounded and the attack stops by
itself after `max_seconds`.
"""
import resource
import socket
import threading
import time

SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]


def raise_file_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def _connect(source, host, port, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((host, port))
    return s


class SlowClientAttack:
    def __init__(self, host, port, slow=1000, idle=1000, idle_path="/health", max_seconds=120):
        raise_file_limit(slow + idle + 256)
        self.host, self.port = host, port
        self.slow, self.idle = [], []
        self.slow_closed = 0  # slow sockets the server has closed
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        head = f"GET {idle_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        for i in range(idle):
            s = _connect(SOURCES[i % len(SOURCES)], host, port)
            s.sendall(head)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = s.recv(4096)
                if not chunk:
                    break
                received += chunk
            self.idle.append(s)
        self.slow_head = (f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          + "X-Padding: " + "a" * 4000 + "\r\n\r\n").encode()
        for i in range(slow):
            s = _connect(SOURCES[i % len(SOURCES)], host, port)
            s.setblocking(False)
            s.send(self.slow_head[:1])
            self.slow.append([s, 1])
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self):
        """One more byte on every open slow socket each second."""
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            closed = 0
            for entry in self.slow:
                s, sent = entry
                if s is None:
                    closed += 1
                    continue
                try:
                    if s.recv(1) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    entry[0] = None
                    closed += 1
                    continue
                try:
                    s.send(self.slow_head[sent:sent + 1])
                    entry[1] = min(sent + 1, len(self.slow_head) - 5)
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    entry[0] = None
                    closed += 1
            self.slow_closed = closed
            self._stop.wait(1.0)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        for entry in self.slow:
            if entry[0] is not None:
                entry[0].close()
        for s in self.idle:
            s.close()


def timed_request(host, port, path="/health", timeout=10):
    """One request over a new connection from 127.0.0.1; returns (seconds, status)."""
    start = time.monotonic()
    s = _connect("127.0.0.1", host, port, timeout=timeout)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                  .encode())
        received = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
    finally:
        s.close()
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else 0
    return time.monotonic() - start, status
