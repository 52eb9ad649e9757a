"""Fixtures of the Python client's tests: the package from the source tree,
and a real workpoold started per test on an ipc endpoint in the test's
temporary directory (stopped with SIGTERM at the end, which must exit 0).

WP_WORKPOOLD names the broker binary (CMake passes it); without it the
build tree's broker/workpoold under WP_BINARY_DIR, else ./build's.
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("WP_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "client", "python"))
sys.path.insert(0, HERE)

from broker import Broker  # noqa: E402


def _workpoold():
    path = os.environ.get("WP_WORKPOOLD")
    if not path:
        path = os.path.join(os.environ.get("WP_BINARY_DIR") or os.path.join(SOURCE, "build"),
                            "broker", "workpoold")
    if not os.access(path, os.X_OK):
        pytest.exit("no workpoold at %s (set WP_WORKPOOLD)" % path, returncode=2)
    return path


@pytest.fixture(scope="session")
def workpoold():
    return _workpoold()


@pytest.fixture(scope="session")
def source_dir():
    return SOURCE


@pytest.fixture
def broker(workpoold, tmp_path):
    """A running broker; broker.endpoint to connect to."""
    b = Broker(workpoold, str(tmp_path)).start()
    yield b
    b.stop()


@pytest.fixture
def start_broker(workpoold, tmp_path):
    """A factory of brokers with extra flags: start_broker("--lease", "1")."""
    started = []

    def start(*args, name="broker"):
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        b = Broker(workpoold, str(directory), *args).start()
        started.append(b)
        return b
    yield start
    for b in started:
        b.stop()


@pytest.fixture
def client(broker):
    import workpool
    with workpool.Client(broker.endpoint, timeout=10) as c:
        yield c
