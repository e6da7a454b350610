#!/usr/bin/python3
"""A swarm of simulated workers on one coordinator, for the scale run in docs/SCALING.md.

Each simulated worker is its own DEALER socket (its own routing id and READY) with --slots slots;
all of them live in this one process, written from PROTOCOL.md with pyzmq (Debian: python3-zmq).
A worker holds each JOB for the grid's `trivialMillis` (WELCOME gives the grid), sends HEARTBEAT
every heartbeatMs (the coordinator's WELCOME says how often) naming every job it holds with a
rising step counter, then sends RESULT and keeps it until ACK, as a real worker does.

Usage: swarm.py ENDPOINT VERSION [--workers 1000] [--slots 64] [--seconds 120] [--stagger 0]

With --stagger S the workers join one after another over S seconds (worker i says READY at
i × S / workers), as the nodes of a cluster come up, instead of all at once: with S a little under
the job length, results then arrive spread over time, as in a long sweep, rather than in one burst
per wave.

Prints one line per second (slots busy, results, messages) and at the end, as one JSON line, the
busy fraction of the slots in the steady state: from the moment every slot first held a job to
the arrival of the last JOB (after it the coordinator has nothing left to send, and idle slots are
the grid's end, not the coordinator's doing). A slot is busy from its JOB's arrival to its RESULT.
It stops when the coordinator says BYE to every worker, or after --seconds.
"""
import argparse
import heapq
import json
import os
import sys
import time
import zlib

import zmq

RECORD = b'{"format":"thermosweep-trivial/1"}'


def checksum(data):
    """CRC-32 of bytes, 8 lowercase hex digits (PROTOCOL.md: attachment checksums)."""
    return f"{zlib.crc32(data):08x}"


RECORD_HASH = checksum(RECORD)


def body(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Peer:
    __slots__ = ("index", "socket", "host", "pid", "nonce", "slots", "version", "jobs", "unacked", "admitted",
                 "millis", "next_beat", "gone", "outbox")

    def __init__(self, index, context, endpoint, pid, slots, version):
        self.index = index
        self.host = f"swarm{index}"
        self.pid, self.slots, self.version = pid, slots, version
        self.nonce = nonce = os.urandom(4).hex()
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.ROUTING_ID, f"{self.host}/{pid}/{nonce}".encode())
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SNDHWM, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.connect(endpoint)
        self.jobs = {}  # jobId -> (attempt, started)
        self.unacked = {}  # jobId -> attempt
        self.admitted = False
        self.millis = 0
        self.next_beat = 0.0
        self.gone = False
        self.outbox = []

    def ready(self):
        """READY, naming the jobs held (after an ERROR unknownPeer, as a real worker re-announces)."""
        self.send("READY", {"name": f"swarm/{self.index}", "host": self.host, "pid": self.pid, "nonce": self.nonce,
                            "cores": self.slots, "cpuFeatures": [], "buildCPU": "python", "version": self.version,
                            "datasets": [], "slots": self.slots,
                            "running": [{"jobId": j, "attempt": a} for j, (a, _) in self.jobs.items()]})

    def send(self, command, payload, *attachments):
        """Queues a message; `flush` sends what one pass queued as one batch, as a worker does."""
        self.outbox += [command.encode(), body(payload), *attachments]

    def flush(self):
        if self.outbox:
            self.socket.send_multipart([b"TSW6", *self.outbox], zmq.NOBLOCK)
            self.outbox = []


def split(frames):
    """The messages of one batch (PROTOCOL.md, "Frames"): (command, body bytes), attachments
    skipped (one per `resultBytes` or `checkpointBytes` in the body)."""
    messages, index = [], 1
    while index < len(frames):
        payload = frames[index + 1]
        messages.append((frames[index], payload))
        index += 2 + (b'"resultBytes"' in payload) + (b'"checkpointBytes"' in payload)
    return messages


def main():
    parser = argparse.ArgumentParser(description="Simulated workers for the scale run (docs/SCALING.md).")
    parser.add_argument("endpoint")
    parser.add_argument("version")
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=120, help="the longest run, after the first JOB")
    parser.add_argument("--stagger", type=float, default=0, help="seconds over which the workers join, one by one")
    args = parser.parse_args()

    context = zmq.Context(io_threads=1)
    context.setsockopt(zmq.MAX_SOCKETS, args.workers + 64)
    pid = os.getpid()
    peers = [Peer(i, context, args.endpoint, pid, args.slots, args.version) for i in range(args.workers)]
    start = time.monotonic()
    joins = [(start + args.stagger * i / args.workers, i) for i in range(args.workers)]  # in order
    joined = 0
    by_socket = {peer.socket: peer for peer in peers}
    poller = zmq.Poller()
    for peer in peers:
        poller.register(peer.socket, zmq.POLLIN)

    due = []  # (time, peer index, jobId, attempt)
    heartbeat = 1.0
    total_slots = args.workers * args.slots
    first_job = None
    busy_slot_seconds = 0.0  # integral of held slots over time since the first JOB
    steady = {"full": None, "busyAtFull": 0.0, "lastJob": None, "busyAtLastJob": 0.0, "resultsAtFull": 0,
              "resultsAtLastJob": 0}
    counters = {"results": 0, "messages": 0, "refused": 0, "errors": 0, "cancelled": 0, "bye": 0}
    last_report = time.monotonic()
    held = 0
    last_t = time.monotonic()
    end = None
    while True:
        now = time.monotonic()
        # Slot-seconds held since the last pass (held changes only at JOB and RESULT).
        busy_slot_seconds += held * (now - last_t)
        last_t = now
        if end is not None and now >= end:
            break
        if counters["bye"] == args.workers:
            break
        while joined < len(joins) and joins[joined][0] <= now:
            peer = peers[joins[joined][1]]
            peer.ready()
            peer.flush()
            joined += 1
        wait = 0.05
        if due:
            wait = max(0.0, min(wait, due[0][0] - now))
        if joined < len(joins):
            wait = max(0.0, min(wait, joins[joined][0] - now))
        for sock, _ in poller.poll(wait * 1000):
            peer = by_socket[sock]
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                for command, payload in split(frames):
                    counters["messages"] += 1
                    if command == b"JOB":
                        job = json.loads(payload)
                        t = time.monotonic()
                        busy_slot_seconds += held * (t - last_t)
                        last_t = t
                        if first_job is None:
                            first_job = t
                            end = t + args.seconds
                        peer.jobs[job["jobId"]] = (job["attempt"], t)
                        held += 1
                        if steady["full"] is None and held == total_slots:
                            steady.update(full=t, busyAtFull=busy_slot_seconds, resultsAtFull=counters["results"])
                        steady.update(lastJob=t, busyAtLastJob=busy_slot_seconds, resultsAtLastJob=counters["results"])
                        heapq.heappush(due, (t + peer.millis / 1000, peer.index, job["jobId"], job["attempt"]))
                    elif command == b"ACK":
                        ack = json.loads(payload)
                        peer.unacked.pop(ack["jobId"], None)
                    elif command == b"WELCOME":
                        peer.admitted = True
                        welcome = json.loads(payload)
                        heartbeat = welcome["heartbeatMs"] / 1000
                        peer.millis = welcome["grid"]["trivialMillis"]  # every JOB names a cell of this grid
                        peer.next_beat = time.monotonic() + heartbeat * peer.index / args.workers
                    elif command == b"CANCEL":
                        cancel = json.loads(payload)
                        if peer.jobs.pop(cancel["jobId"], None) is not None:
                            held -= 1
                        counters["cancelled"] += 1
                    elif command == b"BYE":
                        counters["bye"] += 1
                        peer.gone = True
                        peer.send("BYE", {"reason": f"swarm/{peer.index} is leaving"})  # as a worker answers
                    elif command == b"REFUSE":
                        counters["refused"] += 1
                        print(f"worker {peer.index} refused: {payload.decode()}", file=sys.stderr)
                    elif command == b"ERROR":
                        counters["errors"] += 1
                        error = json.loads(payload)
                        if counters["errors"] <= 5:
                            print(f"worker {peer.index} got ERROR: {payload.decode()}", file=sys.stderr)
                        if error.get("code") == "unknownPeer" and not peer.gone:
                            peer.ready()
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, index, job_id, attempt = heapq.heappop(due)
            peer = peers[index]
            held_job = peer.jobs.get(job_id)
            if held_job is None or held_job[0] != attempt or peer.gone:
                continue  # cancelled meanwhile, or the peer has left
            del peer.jobs[job_id]
            held -= 1
            peer.unacked[job_id] = attempt
            peer.send("RESULT", {"jobId": job_id, "attempt": attempt, "kind": "trivial", "outcome": "done",
                                 "wallSeconds": round(now - held_job[1], 3), "resultBytes": len(RECORD),
                                 "resultHash": RECORD_HASH}, RECORD)
            counters["results"] += 1
        for peer in peers:
            if peer.admitted and not peer.gone and now >= peer.next_beat:
                peer.next_beat = now + heartbeat
                beats = [{"jobId": j, "attempt": a, "step": min(1000, int((now - s) * 100)), "totalSteps": 1000}
                         for j, (a, s) in peer.jobs.items()]
                peer.send("HEARTBEAT", {"jobs": beats})
        for peer in peers:
            peer.flush()
        if now - last_report >= 1:
            print(f"{time.strftime('%H:%M:%S')} busy {held}/{total_slots} ({100 * held / total_slots:.1f} %) · "
                  f"{counters['results']} results · {counters['messages']} messages in · "
                  f"{counters['cancelled']} cancelled · {counters['errors']} errors", flush=True)
            last_report = now
    window = steady["lastJob"] - steady["full"] if steady["full"] is not None else 0
    summary = {"workers": args.workers, "slots": total_slots,
               "rampSeconds": round(steady["full"] - first_job, 2) if steady["full"] is not None else None,
               "steadySeconds": round(window, 2),
               "busy": round((steady["busyAtLastJob"] - steady["busyAtFull"]) / (total_slots * window), 4)
               if window > 0 else None,
               "steadyResultsPerSecond": round((steady["resultsAtLastJob"] - steady["resultsAtFull"]) / window, 1)
               if window > 0 else None,
               "results": counters["results"], "cancelled": counters["cancelled"], "errors": counters["errors"],
               "refused": counters["refused"]}
    print(json.dumps(summary), flush=True)
    for peer in peers:
        peer.socket.close(200)  # long enough for the last answers to BYE to leave
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
