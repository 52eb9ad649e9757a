"""The golden vectors (proto/vectors): every request re-encoded by the
client's canonical encoder, and every reply decoded into records and
encoded back, byte for byte."""
import glob
import os

import msgpack
import pytest

import workpool
from workpool import _wire
from workpool.records import Item, Ping, Schedule, Stats, WorkerRecord


def _vectors(source_dir):
    found = []
    for path in sorted(glob.glob(os.path.join(source_dir, "proto", "vectors", "*.hex"))):
        fields = {}
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _, value = line.partition(" ")
                    fields[key] = value
        found.append((os.path.basename(path), fields))
    return found


SOURCE = os.environ.get("WP_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
VECTORS = _vectors(SOURCE)
GOOD = [(n, v) for n, v in VECTORS if not n.startswith("malformed.")]


def test_there_are_vectors():
    assert len(GOOD) >= 60, "only %d vectors found under %s" % (len(GOOD), SOURCE)


def _reencode_reply(method, body):
    """The reply body as the client reads it, written back to the wire form."""
    out = dict(body)
    if "item" in body:
        out["item"] = None if body["item"] is None else Item.from_wire(body["item"]).to_wire()
    if "items" in body:
        out["items"] = [Item.from_wire(m).to_wire() for m in body["items"]]
    if "worker" in body:
        w = body["worker"]
        out["worker"] = None if w is None else WorkerRecord.from_wire(w).to_wire()
    if "workers" in body and method == "Registry.List":
        out["workers"] = [WorkerRecord.from_wire(m).to_wire() for m in body["workers"]]
    if "schedule" in body:
        out["schedule"] = Schedule.from_wire(body["schedule"]).to_wire()
    if "schedules" in body:
        out["schedules"] = [Schedule.from_wire(m).to_wire() for m in body["schedules"]]
    if method == "Broker.Stats":
        stats = Stats.from_wire(body)
        out = {"pools": [p.to_wire(with_paused="paused" in m, with_scheduling="scheduled" in m)
                         for p, m in zip(stats.pools, body["pools"])],
               "workers": stats.workers, "counters": stats.counters}
    if method == "Broker.Ping":
        ping = Ping.from_wire(body)
        out = {"version": ping.version, "server": ping.server,
               "time": _wire.format_time(ping.time), "max_message": ping.max_message}
    return out


@pytest.mark.parametrize("name,vector", GOOD, ids=[n for n, _ in GOOD])
def test_vector(name, vector):
    header = bytes.fromhex(vector["header"])
    body = bytes.fromhex(vector["body"])
    method = vector["method"]
    if vector["kind"] == "request":
        head = _wire.unpack(header)
        fields = _wire.unpack(body)
        assert head[3] == method
        assert _wire.REQUEST_FIELDS[method] is not None
        frames = _wire.encode_request(head[2], method, _wire.request_body(method, fields),
                                      head[4], head[5])
        assert frames[0].hex() == header.hex()
        assert frames[1].hex() == body.hex()
    else:
        request_id, status, message = _wire.decode_reply_header(header)
        assert _wire.pack(["WPR", 1, request_id, status, message]) == header
        decoded = _wire.decode_reply_body(body, method)
        if status != 0:
            error = workpool.error_for(status, message)
            assert isinstance(error, workpool.WorkpoolError)
            assert error.code == status and error.message == message
            assert type(error).__name__.upper() == workpool.Status(status).name.replace("_", "")
            assert decoded == {}
            return
        again = _wire.pack(_reencode_reply(method, decoded))
        assert again.hex() == body.hex()


def test_values_round_trip_as_msgpack():
    """data is the msgpack encoding of the user's value (README's examples)."""
    assert _wire.encode_value({"n": 1}).hex() == "81a16e01"
    assert _wire.encode_value("ok").hex() == "a26f6b"
    assert _wire.encode_value([1, 2, 3]).hex() == "93010203"
    assert _wire.decode_value(bytes.fromhex("93010203")) == [1, 2, 3]
    assert _wire.decode_value(b"\xc1") == workpool.Raw(b"\xc1")
    assert _wire.encode_value(workpool.Raw(b"\x01")) == b"\x01"
    value = {1: [b"\x00", 2.5, None, True], "s": msgpack.ExtType(5, b"xy")}
    assert _wire.decode_value(_wire.encode_value(value)) == value


def test_every_method_has_a_table_entry():
    methods = {v["method"] for n, v in GOOD if v["kind"] == "request"}
    assert methods and methods <= set(_wire.REQUEST_FIELDS)
