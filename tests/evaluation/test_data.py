import json

import pytest

from vlm4rec_agent.errors import InvalidInputError, NotFoundError
from vlm4rec_agent.evaluation.data import read_groups, read_interactions

INDEX = {"a": 0, "b": 1, "c": 2, "d": 3}


def test_groups_become_users_with_known_items_once_each(tmp_path):
    path = tmp_path / "rooms.jsonl"
    rows = [
        {"id": "r1", "items": ["a", "b", "a", "zz"], "scenes": ["scenes/r1.jpg"]},
        {"items": ["c", "d"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    users = read_groups(path, INDEX)
    assert [(u.id, u.items) for u in users.users] == [("r1", (0, 1)), ("line-2", (2, 3))]
    assert users.unknown_items == 1
    assert users.users[0].scenes == (tmp_path / "scenes" / "r1.jpg",)
    assert not users.has_timestamps


@pytest.mark.parametrize("line", ["{not json", '{"id": "x", "items": "a,b"}', "[1, 2]"])
def test_bad_group_lines_say_where(tmp_path, line):
    path = tmp_path / "g.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InvalidInputError, match="line 1"):
        read_groups(path, INDEX)


def test_interactions_are_ordered_by_time_and_filtered_by_rating(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(
        "user_id,item_id,rating,timestamp\n"
        "u1,b,5,2024-03-02\n"
        "u1,a,4,2024-03-01\n"
        "u1,c,1,2024-03-03\n"
        "u1,b,5,2024-03-09\n"
        "u2,d,5,1700000000\n"
        "u2,nope,5,1700000001\n"
    )
    users = read_interactions(path, INDEX, min_rating=4)
    by_id = {u.id: u for u in users.users}
    assert by_id["u1"].items == (0, 1)  # a before b; c rated 1 is not a like; b counted once
    assert by_id["u2"].items == (3,)
    assert users.unknown_items == 1 and users.has_timestamps


def test_interactions_need_user_and_item_columns_and_numbers(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("customer,thing\n1,a\n")
    with pytest.raises(InvalidInputError, match="user and an item column"):
        read_interactions(path, INDEX)
    path.write_text("user,item,timestamp\nu,a,yesterday\n")
    with pytest.raises(InvalidInputError, match="row 2"):
        read_interactions(path, INDEX)
    with pytest.raises(NotFoundError):
        read_interactions(tmp_path / "missing.csv", INDEX)
