#!/usr/bin/python3
"""A worker written from PROTOCOL.md alone, with pyzmq (Debian: python3-zmq): it is admitted, runs
one trivial job and gets its ACK; before that it sends the deviations PROTOCOL.md forbids and
checks that each is answered as the spec says (REFUSE malformed for a READY, ERROR malformed for
the rest) naming the field. Nothing here comes from the Swift code.

Usage: outside_client.py ENDPOINT VERSION
Exits 0 when every step went as the protocol says (the sweep's BYE included), 1 with the reason.
"""
import json
import os
import socket
import sys
import time
import zlib

import zmq


def checksum(data):
    """CRC-32 of bytes, 8 lowercase hex digits (PROTOCOL.md: attachment checksums)."""
    return f"{zlib.crc32(data):08x}"


def body(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def split(frames):
    """The messages of one batch (PROTOCOL.md, "Frames"): after the tag, each message is its
    command, its body and the attachments its body declares (one per `resultBytes` or
    `checkpointBytes` field)."""
    if frames[0] != b"TSW6":
        fail(f"frame 0 is {frames[0]!r}, not TSW6")
    messages, index = [], 1
    while index < len(frames):
        command, payload = frames[index].decode(), json.loads(frames[index + 1])
        count = ("resultBytes" in payload) + ("checkpointBytes" in payload)
        messages.append((command, payload, frames[index + 2:index + 2 + count]))
        index += 2 + count
    return messages


class Client:
    def __init__(self, endpoint):
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        host, pid, nonce = socket.gethostname(), os.getpid(), os.urandom(4).hex()
        self.identity = f"{host}/{pid}/{nonce}"
        self.socket.setsockopt(zmq.ROUTING_ID, self.identity.encode())
        self.socket.setsockopt(zmq.LINGER, 500)
        self.socket.connect(endpoint)
        self.host, self.pid, self.nonce = host, pid, nonce
        self.pending = []  # the rest of the last batch received

    def send(self, command, payload, *attachments):
        self.send_batch([(command, payload, attachments)])

    def send_batch(self, messages):
        """Several messages in one ZeroMQ message: the tag, then each one's frames."""
        frames = [b"TSW6"]
        for command, payload, attachments in messages:
            raw = payload if isinstance(payload, bytes) else body(payload)
            frames += [command.encode(), raw, *attachments]
        self.socket.send_multipart(frames)

    def receive(self, wanted, timeout=15, beat=True):
        """The next message whose command is in `wanted`; HEARTBEATs are sent while waiting
        (`beat`: an admitted worker) and passed over."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.pending:
                if not self.socket.poll(200):
                    if beat:
                        self.send("HEARTBEAT", {"jobs": []})
                    continue
                self.pending = split(self.socket.recv_multipart())
            command, payload, attachments = self.pending.pop(0)
            if command in wanted:
                return command, payload, attachments
            if command != "HEARTBEAT":
                fail(f"expected {wanted}, got {command} {payload}")
        fail(f"no {wanted} within {timeout} s")


def fail(reason):
    print("FAIL: " + reason)
    sys.exit(1)


def main():
    endpoint, version = sys.argv[1], sys.argv[2]
    # A READY that cannot be read is refused (REFUSE malformed, naming the field), not answered
    # ERROR: sending it again could not help.
    broken = Client(endpoint)
    broken.send("READY", {
        "name": "outside/0", "host": broken.host, "pid": broken.pid, "nonce": broken.nonce, "cores": 1,
        "cpuFeatures": [], "buildCPU": "python", "version": version, "datasets": [], "slots": 1.5, "running": [],
    })
    command, refusal, _ = broken.receive(["REFUSE", "WELCOME", "ERROR"], beat=False)
    if command != "REFUSE" or refusal.get("reason") != "malformed" or "slots" not in refusal.get("message", ""):
        fail(f"a READY with slots 1.5: expected REFUSE malformed naming slots, got {command} {refusal}")
    print(f"refused as the spec says: a READY with slots 1.5: {refusal['message']}")
    # STATUS needs no admission (a status client never sends READY).
    broken.send("STATUS", {})
    _, status, _ = broken.receive(["STATUS-REPLY"], beat=False)
    print(f"STATUS answered before admission: {status['total']} jobs")

    client = Client(endpoint)
    client.send("READY", {
        "name": "outside/1", "host": client.host, "pid": client.pid, "nonce": client.nonce, "cores": 1,
        "cpuFeatures": [], "buildCPU": "python", "version": version, "datasets": [], "slots": 1, "running": [],
    })
    command, welcome, _ = client.receive(["WELCOME", "REFUSE"])
    if command != "WELCOME":
        fail(f"refused: {welcome}")
    print(f"admitted: heartbeat {welcome['heartbeatMs']} ms")
    # A JOB names a cell of the grid WELCOME gave; a trivial job waits the grid's trivialMillis.
    millis = welcome["grid"]["trivialMillis"]
    _, job, attachments = client.receive(["JOB"])
    if job["kind"] != "trivial" or attachments:
        fail(f"expected a trivial job without attachments: {job}")
    job_id, attempt = job["jobId"], job["attempt"]
    if job["learningRate"] not in welcome["grid"]["learningRates"]:
        fail(f"the JOB names a learning rate outside the grid: {job}")
    print(f"job {job_id} attempt {attempt}: {job['key']}, waits {millis} ms")

    record = body({"format": "thermosweep-trivial/1", "waitedMillis": millis})
    done = {"jobId": job_id, "attempt": attempt, "kind": "trivial", "outcome": "done", "wallSeconds": 0.1,
            "resultBytes": len(record), "resultHash": checksum(record)}

    def refused(name, command, raw, attachments, expected):
        client.send(command, raw, *attachments)
        _, error, _ = client.receive(["ERROR", "ACK"])
        if error.get("code") != "malformed" or expected not in error.get("message", ""):
            fail(f"{name}: expected ERROR malformed naming {expected!r}, got {error}")
        print(f"refused as the spec says: {name}: {error['message']}")

    refused("a key written twice, once escaped", "RESULT",
            body(done)[:-1] + b',"job\\u0049d":' + str(job_id).encode() + b"}", [record], "jobId")
    refused("null for an absent optional field", "RESULT", body({**done, "errorKind": None}), [record], "errorKind")
    refused("an unknown field", "RESULT", body({**done, "extra": 1}), [record], "extra")
    failed = {"jobId": job_id, "attempt": attempt, "kind": "trivial", "outcome": "failed", "wallSeconds": 0.1,
              "errorKind": "transient", "message": "line one\nline two"}
    refused("a control character in a message", "RESULT", body(failed), [], "message")
    bom = b"\xef\xbb\xbf" + record
    refused("a byte-order mark before the result", "RESULT",
            body({**done, "resultBytes": len(bom), "resultHash": checksum(bom)}), [bom], "result")
    twice = b'{"format":"thermosweep-trivial/1","a":1,"a":2}'
    refused("a key twice inside the result", "RESULT",
            body({**done, "resultBytes": len(twice), "resultHash": checksum(twice)}), [twice], "result")
    refused("a trailing comma", "RESULT", body(done)[:-1] + b",}", [record], "JSON")
    refused("a job id as a fraction", "HEARTBEAT",
            body({"jobs": [{"jobId": job_id + 0.5, "attempt": attempt, "step": 1, "totalSteps": 1}]}), [], "jobId")

    time.sleep(millis / 1000)
    # The RESULT goes in one batch with a heartbeat naming the job, as a worker may send them.
    client.send_batch([("HEARTBEAT", {"jobs": [{"jobId": job_id, "attempt": attempt, "step": 1, "totalSteps": 1}]}, []),
                       ("RESULT", done, [record])])
    _, acked, _ = client.receive(["ACK"])
    if (acked["jobId"], acked["attempt"]) != (job_id, attempt):
        fail(f"ACK for another lease: {acked}")
    print(f"ACK for job {job_id} attempt {attempt}")
    _, bye, _ = client.receive(["BYE"])
    print(f"BYE: {bye['reason']}")
    # The answer, the last message: the coordinator then knows nothing more of this client comes.
    client.send("BYE", {"reason": "outside/1 is leaving"})
    zmq.Context.instance().destroy(linger=500)  # every socket closed; 500 ms for the BYE to leave
    return 0


if __name__ == "__main__":
    sys.exit(main())
