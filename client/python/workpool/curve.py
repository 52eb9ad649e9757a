"""CURVE certificates in czmq's zcert format, read without czmq.

A zcert file is ZPL (ZeroMQ RFC 4): `#` comments, sections and
`name = value` lines nested by four-space indentation. The public
certificate holds

    metadata
        role = "worker"
    curve
        public-key = "<40 Z85 characters>"

and the secret one (NAME_secret) also `secret-key`. The clients take the
same files as the CLI: server_key is the broker's public certificate,
cert the client's secret certificate.
"""
import os
import re
from typing import Dict, NamedTuple, Optional

from .errors import InvalidArgument

_Z85_KEY = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_LINE = re.compile(r"^(?P<indent>(?:    )*)(?P<name>[^=\s#][^=\s]*)\s*(?:=\s*(?P<value>.*?))?\s*$")


class Certificate(NamedTuple):
    """A certificate's keys (Z85 text) and metadata. secret_key is None
    for a public certificate."""
    public_key: str
    secret_key: Optional[str]
    metadata: Dict[str, str]


def parse_zpl(text, what="certificate"):
    """The ZPL text as nested dicts (a value is a str; a section a dict).
    Raises InvalidArgument naming the line that is not ZPL."""
    root = {}
    stack = [root]                      # stack[depth] is the section at that depth
    last = None                         # the latest name at the current depth
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise InvalidArgument("%s line %d is not ZPL: %r" % (what, number, line))
        depth = len(m.group("indent")) // 4
        if depth > len(stack) - 1:
            #  One level deeper: a child of the previous name
            if depth != len(stack) or last is None or not isinstance(stack[-1].get(last), dict):
                raise InvalidArgument("%s line %d is indented too far" % (what, number))
            stack.append(stack[-1][last])
        del stack[depth + 1:]
        value = m.group("value")
        name = m.group("name")
        if value is None or value == "":
            stack[depth][name] = {}
        else:
            if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
                value = value[1:-1]
            elif "#" in value:
                value = value.split("#", 1)[0].rstrip()
            stack[depth][name] = value
        last = name
    return root


def load_certificate(path):
    """Reads a zcert file. Raises InvalidArgument if it cannot be read or
    holds no valid public key (or a malformed secret key)."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InvalidArgument("cannot read certificate '%s': %s" % (path, e.strerror)) from None
    tree = parse_zpl(text, "certificate '%s'" % path)
    curve = tree.get("curve")
    if not isinstance(curve, dict):
        raise InvalidArgument("certificate '%s' has no curve section" % path)
    public = curve.get("public-key")
    secret = curve.get("secret-key")
    if not isinstance(public, str) or not _Z85_KEY.match(public):
        raise InvalidArgument("certificate '%s' has no valid public-key (40 Z85 characters)"
                              % path)
    if secret is not None and (not isinstance(secret, str) or not _Z85_KEY.match(secret)):
        raise InvalidArgument("certificate '%s' has a malformed secret-key" % path)
    meta = tree.get("metadata")
    meta = {k: v for k, v in meta.items() if isinstance(v, str)} if isinstance(meta, dict) else {}
    return Certificate(public, secret, meta)


def server_public_key(server_key):
    """The broker's public key from server_key: a certificate file's path,
    or the 40-character Z85 key itself."""
    if isinstance(server_key, bytes):
        server_key = server_key.decode("ascii")
    if _Z85_KEY.match(server_key) and not os.path.exists(server_key):
        return server_key
    return load_certificate(server_key).public_key


def client_keys(cert):
    """(public, secret) Z85 keys of the client's secret certificate file."""
    certificate = load_certificate(cert)
    if certificate.secret_key is None:
        raise InvalidArgument("certificate '%s' holds no secret-key: give the client's "
                              "secret certificate (NAME_secret)" % cert)
    return certificate.public_key, certificate.secret_key
