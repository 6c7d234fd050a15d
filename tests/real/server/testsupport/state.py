"""In-process state of the test hooks: the request records and the configured faults.
runserver serves each request in its own thread, hence the lock."""
import threading
import time

lock = threading.Lock()
records = []
_seq = 0
# Faults on the refresh endpoints (every kind in middleware.REFRESH_KINDS).
faults = {"down_until": 0.0, "down_status": 503, "retry_after": None, "latency_ms": 0}


def next_seq():
    global _seq
    with lock:
        _seq += 1
        return _seq


def add(record):
    with lock:
        records.append(record)


def snapshot(since=0):
    with lock:
        return [r for r in records if r["seq"] > since]


def last_seq():
    with lock:
        return _seq


def reset_records():
    with lock:
        records.clear()


def reset_faults():
    with lock:
        faults.update(down_until=0.0, down_status=503, retry_after=None, latency_ms=0)


def current_faults():
    with lock:
        return dict(faults, down=faults["down_until"] > time.monotonic())
