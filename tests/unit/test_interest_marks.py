"""The profile's marks of the interest items ingest wrote (``Activity.indexed``,
shared/profiles/products.py): what makes ingest write a (shopper, product) item at most once a day.
A mark may go missing (one more write), never be invented or moved to a later day than an item written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.profiles.merge import absorb
from shared.profiles.products import MAX_INDEXED_PRODUCTS, day_number, indexed_since, note_indexed
from shared.profiles.profile import Activity, Profile

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
DAY = day_number(T0)


def test_a_product_marked_today_or_later_is_indexed_since_any_time_that_day_and_not_the_next() -> None:
    marks = {"p-17": DAY, "p-3": DAY - 1}

    assert indexed_since(marks, "p-17", T0.replace(hour=0))
    assert indexed_since(marks, "p-17", T0.replace(hour=23, minute=59, second=59))
    assert indexed_since(marks, "p-17", T0 - timedelta(days=1))  # a late event: its day has a newer item
    assert not indexed_since(marks, "p-17", T0.replace(hour=0) + timedelta(days=1))
    assert not indexed_since(marks, "p-3", T0)  # marked yesterday: today's view is written
    assert not indexed_since(marks, "p-9", T0)  # never marked


def test_marks_keep_the_later_day_of_a_product_and_only_the_newest_two_days() -> None:
    marks = {"p-old": DAY - 3, "p-yesterday": DAY - 1, "p-17": DAY}

    note_indexed(marks, {"p-17": DAY - 1, "p-3": DAY})

    assert marks == {"p-yesterday": DAY - 1, "p-17": DAY, "p-3": DAY}


def test_marks_are_bounded_the_latest_written_kept() -> None:
    marks = {f"p-{n}": DAY - 1 for n in range(MAX_INDEXED_PRODUCTS)}

    note_indexed(marks, {"p-today": DAY, "p-0": DAY})

    # one too many: the earliest written of yesterday's goes (p-0 was written again today)
    assert len(marks) == MAX_INDEXED_PRODUCTS
    assert (marks["p-today"], marks["p-0"]) == (DAY, DAY)
    assert set(marks) == {"p-today", *(f"p-{n}" for n in range(MAX_INDEXED_PRODUCTS) if n != 1)}
    note_indexed(marks, {f"q-{n}": DAY for n in range(MAX_INDEXED_PRODUCTS)})
    assert set(marks) == {f"q-{n}" for n in range(MAX_INDEXED_PRODUCTS)}


products = st.sampled_from([f"p-{n}" for n in range(40)])
days = st.integers(min_value=DAY - 4, max_value=DAY + 2)


@given(st.dictionaries(products, days, max_size=MAX_INDEXED_PRODUCTS), st.dictionaries(products, days))
def test_a_mark_is_always_the_latest_day_an_item_was_written_and_none_is_invented(
    marked: dict[str, int], written: dict[str, int]
) -> None:
    marks = dict(marked)

    note_indexed(marks, written)

    assert len(marks) <= MAX_INDEXED_PRODUCTS
    for product, day in marks.items():
        assert day == max(d for d in (marked.get(product), written.get(product)) if d is not None)
    newest = max([*marked.values(), *written.values()], default=0)
    assert all(day >= newest - 1 for day in marks.values())
    newest_written = {p for p, d in written.items() if d == newest and marked.get(p, d) <= d}
    if len(newest_written) <= MAX_INDEXED_PRODUCTS:
        assert newest_written <= set(marks)  # the newest day's items are all marked within the bound


def test_a_visitors_history_merged_at_login_carries_no_mark() -> None:
    shopper = Profile(user_id="u1", activity=Activity(indexed={"p-3": DAY}))
    visitor = Profile(
        user_id="anon:dev-1", activity=Activity(products={"p-17": (DAY, 1, "shoes")}, indexed={"p-17": DAY})
    )

    merged = absorb(shopper, visitor)

    assert merged.activity.products == {"p-17": (DAY, 1, "shoes")}
    assert merged.activity.indexed == {"p-3": DAY}


def test_marks_survive_the_profiles_stored_form() -> None:
    profile = Profile(user_id="u1", activity=Activity(indexed={"p-17": DAY}))

    stored = Profile.model_validate(profile.model_dump())

    assert stored.activity.indexed == {"p-17": DAY}
    assert Profile.model_validate(Profile(user_id="u1").model_dump()).activity.indexed == {}
