"""tests/cases/wire_cases.json through the Python client, each case on a
fresh broker (the same list run_cases.c holds libworkpool to)."""
import os

import pytest

import workpool
import cases

SOURCE = os.environ.get("WP_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
CASES = cases.load(SOURCE)


def _has_lifecycle(endpoint):
    #  A broker from before the lifecycle verbs refuses WorkPool.List, or
    #  (built while they were being added) does not answer it
    with workpool.Client(endpoint, timeout=2) as c:
        try:
            c.list_items("probe", limit=1)
            return True
        except (workpool.Unimplemented, workpool.DeadlineExceeded):
            return False


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case, client, broker):
    if case.get("needs") == "lifecycle" and not _has_lifecycle(broker.endpoint):
        pytest.skip("this broker has no WorkPool.List yet (the lifecycle verbs)")
    cases.run(case, client)
