"""JSON <-> item values, with the command line's mapping (client/cli/wp_json.h).

A value that came from JSON (json.loads) is pushed as is: dicts, lists,
str, int, float, bool and None pack to the same msgpack bytes the CLI
makes from the same JSON text, so items round-trip between the two. What
JSON cannot hold takes the CLI's reserved shapes:

    {"$bin": "BASE64"}                 bytes (a msgpack bin)
    {"$ext": TYPE, "$bin": "BASE64"}   a msgpack ext (msgpack.ExtType)
    {"$raw": "BASE64"}                 bytes that are not one msgpack value

from_json() turns those shapes into values to push; to_json() turns any
item value into what `workpool get` prints (bytes as $bin, NaN as "NaN",
a map key that is not a string as its compact JSON text).
"""
import base64
import json
import math

import msgpack

from ._wire import Raw

_INT64_MAX = (1 << 63) - 1


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def from_json(value):
    """A JSON value (as json.loads gives it) as the value to push."""
    if isinstance(value, dict):
        if "$bin" in value and (len(value) == 1 or (len(value) == 2 and "$ext" in value)):
            text = value["$bin"]
            if not isinstance(text, str):
                raise ValueError('"$bin" must be a base64 string')
            try:
                data = base64.b64decode(text, validate=True)
            except ValueError:
                raise ValueError('"$bin" is not valid base64 (standard alphabet, padded)') \
                    from None
            if "$ext" in value:
                code = value["$ext"]
                if isinstance(code, bool) or not isinstance(code, int) or not -128 <= code <= 127:
                    raise ValueError('"$ext" must be an integer from -128 to 127')
                return msgpack.ExtType(code, data)
            return data
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def _key(value):
    if isinstance(value, str):
        return value
    return json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)


def to_json(value):
    """An item value as a JSON value, as the CLI prints it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return float(value) if value > _INT64_MAX else value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bin": _b64(value)}
    if isinstance(value, Raw):
        return {"$raw": _b64(value.data)}
    if isinstance(value, msgpack.ExtType):
        return {"$ext": value.code, "$bin": _b64(value.data)}
    if isinstance(value, msgpack.Timestamp):
        return {"$ext": -1, "$bin": _b64(value.to_bytes())}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {_key(k): to_json(v) for k, v in value.items()}
    raise TypeError("%r has no JSON form" % (value,))
