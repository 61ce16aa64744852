"""frostfork.dispatch: the SEED's smart_dispatch, validated, in C."""

from typing import Annotated

import pytest

import frostfork
from frostfork import Ge, MinLen, dispatch


def my_api_handler(user_id: int, session_token: Annotated[str, MinLen(3)]) -> str:
    return f"Handling {user_id} with {session_token}"


def test_only_the_keys_the_function_asks_for_are_passed():
    payload = {"user_id": 123, "session_token": "abc", "extra_slop": object()}
    assert dispatch(my_api_handler, payload) == "Handling 123 with abc"


def test_defaults_fill_missing_keys():
    def page(n: Annotated[int, Ge(1)] = 1, size: int = 20) -> tuple:
        return (n, size)

    assert dispatch(page, {}) == (1, 20)
    assert dispatch(page, {"size": 5}) == (1, 5)


def test_every_problem_is_reported():
    with pytest.raises(frostfork.ValidationError) as e:
        dispatch(my_api_handler, {"user_id": "x", "session_token": "a"})
    assert [(x["loc"], x["type"]) for x in e.value.args[0]] == [
        (["user_id"], "int_type"), (["session_token"], "string_too_short")]
    with pytest.raises(frostfork.ValidationError) as e:
        dispatch(my_api_handler, {})
    assert {x["type"] for x in e.value.args[0]} == {"missing"}


def test_models_round_trip_through_dispatch():
    class Order(frostfork.Model):
        sku: str
        qty: Annotated[int, Ge(1)]

    def place(order: Order, priority: bool = False) -> str:
        return f"{order.sku} x{order.qty} {'!' if priority else ''}"

    assert dispatch(place, {"order": Order(sku="a", qty=2), "priority": True}) == "a x2 !"
    with pytest.raises(frostfork.ValidationError):
        dispatch(place, {"order": Order(sku="a", qty=0)})
