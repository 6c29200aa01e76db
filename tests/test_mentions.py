"""One reading of a typed Slack id, for /standup history, /approval delegate and the approvals YAML."""

import pytest

from models.mentions import group_id, user_id


@pytest.mark.parametrize("typed", ["<@U0OLGA|olga>", "<@U0OLGA>", "@U0OLGA", "U0OLGA", " U0OLGA "])
def test_a_user_is_read_from_each_way_it_is_typed(typed):
    assert user_id(typed) == "U0OLGA"


@pytest.mark.parametrize("typed", ["olga", "@olga", "<#C0OPS|ops>", "S0GROUP", "", "U1"])
def test_anything_else_is_no_user(typed):
    assert user_id(typed) is None


def test_a_user_group_is_read_from_its_mention_or_id():
    assert group_id("<!subteam^S0OPS|ops-team>") == group_id("S0OPS") == "S0OPS"
    assert group_id("U0OLGA") is None
