"""Builds a known population of loopback sockets for the tests that hold portscope against `ss`.

    python3 population.py server        # listeners, UDP sockets, a TIME_WAIT, accepts PAIRS
    python3 population.py client PORTS  # PAIRS connections to the server, QUEUED never accepted
    python3 population.py churn         # opens and closes connections, bounded

Each role prints one line when its sockets are in place (the server a JSON object of its ports)
and then holds them until its standard input closes. Loopback addresses only.
"""

import json
import socket
import sys
import time

PAIRS = 60
QUEUED = 3
DATAGRAMS = 100
CHURN_MAX_SECONDS = 120
CHURN_MAX_CONNECTIONS = 100_000


def listener(family, addr, backlog=128, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((addr, 0))
    s.listen(backlog)
    return s


def udp(family, addr, peer=None):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    if peer is not None:
        s.connect(peer)
    return s


def server():
    held = []
    pairs = listener(socket.AF_INET, "127.0.0.1")
    queue = listener(socket.AF_INET, "127.0.0.1", backlog=QUEUED + 2)
    v6 = listener(socket.AF_INET6, "::1")
    dual = listener(socket.AF_INET6, "::", v6only=0)
    mapped = listener(socket.AF_INET6, "::ffff:127.0.0.1")
    udp4 = udp(socket.AF_INET, "127.0.0.1")
    udp6 = udp(socket.AF_INET6, "::1")
    udp4_connected = udp(socket.AF_INET, "127.0.0.1", udp4.getsockname()[:2])
    udp6_connected = udp(socket.AF_INET6, "::1", udp6.getsockname()[:2])
    held += [pairs, queue, v6, dual, mapped, udp4, udp6, udp4_connected, udp6_connected]

    # A UDP socket with a small receive buffer, sent more than it holds and never read: the
    # kernel drops the rest and counts the drops.
    flooded = udp(socket.AF_INET, "127.0.0.1")
    flooded.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(DATAGRAMS):
        sender.sendto(b"d" * 1000, flooded.getsockname())
    sender.close()
    held.append(flooded)

    # A connection whose client end closes first: that end stays in TIME_WAIT.
    tw_listener = listener(socket.AF_INET, "127.0.0.1")
    closer = socket.create_connection(tw_listener.getsockname())
    accepted, _ = tw_listener.accept()
    time_wait_port = closer.getsockname()[1]
    closer.close()
    accepted.close()
    tw_listener.close()

    ports = {
        "pairs": pairs.getsockname()[1],
        "queue": queue.getsockname()[1],
        "v6": v6.getsockname()[1],
        "dual": dual.getsockname()[1],
        "mapped": mapped.getsockname()[1],
        "udp4": udp4.getsockname()[1],
        "udp6": udp6.getsockname()[1],
        "udp4_connected": udp4_connected.getsockname()[1],
        "udp6_connected": udp6_connected.getsockname()[1],
        "udp_drops": flooded.getsockname()[1],
        "time_wait": time_wait_port,
    }
    print(json.dumps(ports), flush=True)
    for _ in range(PAIRS):
        conn, _ = pairs.accept()
        held.append(conn)
    print("accepted", flush=True)
    sys.stdin.read()


def client(ports_json):
    ports = json.loads(ports_json)
    held = [socket.create_connection(("127.0.0.1", ports["pairs"])) for _ in range(PAIRS)]
    # Each pair carries its own number of bytes, left unread at the server: its Recv-Q.
    for i, conn in enumerate(held):
        conn.sendall(b"x" * (i * 10 + 1))
    held += [socket.create_connection(("127.0.0.1", ports["queue"])) for _ in range(QUEUED)]
    print("connected", flush=True)
    sys.stdin.read()


def churn():
    """Opens and closes connections to a listener of its own until told to stop, within fixed
    bounds of time and count. Each ends with a reset, so none is left in TIME_WAIT."""
    import struct
    import threading

    target = listener(socket.AF_INET, "127.0.0.1")

    def accept_and_drop():
        while True:
            conn, _ = target.accept()
            conn.close()

    threading.Thread(target=accept_and_drop, daemon=True).start()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    deadline = time.monotonic() + CHURN_MAX_SECONDS
    print(json.dumps({"churn": target.getsockname()[1]}), flush=True)
    count = 0
    while not stop.is_set() and count < CHURN_MAX_CONNECTIONS and time.monotonic() < deadline:
        try:
            c = socket.create_connection(target.getsockname())
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        except OSError:
            pass
        count += 1


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "server":
        server()
    elif role == "client":
        client(sys.argv[2])
    elif role == "churn":
        churn()
    else:
        sys.exit(f"unknown role {role}")
