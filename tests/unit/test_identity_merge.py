"""The merge decision and the fold of an anonymous visitor's history (shared/profiles/merge.py), pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from payloads import alias, identify, track, tracked

from shared.events.contract import parse_detail
from shared.profiles.fold import fold_events
from shared.profiles.merge import absorb, linked_anonymous_id, logins, plan_links
from shared.profiles.profile import Profile

T = datetime(2026, 11, 2, 7, tzinfo=UTC)


def visitor_history() -> Profile:
    """An anonymous visitor who viewed boots twice, added them to the cart and placed an order."""
    events = [
        tracked("Product Viewed", T, 1, product_id="boots", category="shoes"),
        tracked("Product Viewed", T + timedelta(minutes=5), 2, product_id="boots", category="shoes"),
        tracked("Product Added", T + timedelta(minutes=10), 3, product_id="boots", price=80),
        tracked(
            "Order Completed",
            T - timedelta(days=3),
            4,
            order_id="o-1",
            revenue=30,
            products=[{"category": "socks", "quantity": 2}],
        ),
    ]
    return fold_events(Profile(user_id="anon:dev-1"), events).profile


def known_history() -> Profile:
    events = [
        parse_detail(identify("u1", "id-1", at=T - timedelta(days=10), first_name="Ana", country="ID")),
        tracked("Product Viewed", T - timedelta(days=10), 5, product_id="hat", category="hats"),
        tracked("Order Completed", T - timedelta(days=9), 6, order_id="o-0", revenue=12.5),
    ]
    return fold_events(Profile(user_id="u1"), events).profile


def on(device: str, detail: dict[str, object]) -> object:
    return parse_detail({**detail, "anonymousId": device})


def test_every_aggregate_of_the_visitor_adds_to_the_shoppers() -> None:
    merged = absorb(known_history(), visitor_history())

    assert merged.user_id == "u1" and merged.version == known_history().version
    assert merged.counts["Product Viewed"] == {"2026-10-23": 1, "2026-11-02": 2}
    assert merged.counts["Order Completed"] == {"2026-10-24": 1, "2026-10-30": 1}
    assert (merged.orders, merged.revenue) == (2, Decimal("42.50"))
    assert merged.first_order_at == T - timedelta(days=9)
    assert merged.last_order_at == T - timedelta(days=3)
    assert merged.first_seen == T - timedelta(days=10)
    assert merged.last_seen == T + timedelta(minutes=10)
    assert merged.category_views == {"hats": 1, "shoes": 2}
    assert merged.category_purchases == {"socks": 2}
    assert merged.cart is not None and [i.product_id for i in merged.cart.items] == ["boots"]
    assert merged.activity.orders == {
        "2026-10-24": (1, Decimal("12.50")),
        "2026-10-30": (1, Decimal("30.00")),
    }
    assert merged.activity.categories["Product Viewed"] == {
        "hats": {"2026-10-23": 1},
        "shoes": {"2026-11-02": 2},
    }
    assert merged.activity.last["Product Viewed"] == int((T + timedelta(minutes=5)).timestamp() // 60)
    assert sorted(merged.activity.viewed) == ["boots", "hat"] and len(merged.activity.viewed["boots"]) == 2
    assert len(merged.activity.placed) == 2
    assert merged.engagement_hours[7] == 6 and sum(merged.engagement_hours) == 6  # 07:00 UTC, both
    assert merged.affinity_at == T + timedelta(minutes=5)  # the latest event with a category
    # Both expressed as of the later time: the shopper's hats 10 days back have decayed, the visit's not.
    assert merged.category_affinity == {"hats": [0.794, 0.0], "socks": [0.0, 1.866], "shoes": [2.0, 0.0]}
    assert merged.traits == {"first_name": "Ana", "country": "ID", "country_raw": "ID"}


def test_the_merged_profile_recognises_the_visitors_events_as_duplicates() -> None:
    merged = absorb(known_history(), visitor_history())

    replay = fold_events(merged, [tracked("Product Viewed", T, 1, product_id="boots", category="shoes")])
    order = fold_events(merged, [tracked("Order Completed", T - timedelta(days=3), 4, order_id="o-1")])

    assert (replay.applied, replay.duplicates) == (0, 1)
    assert (order.applied, order.duplicates) == (0, 1)


def test_a_day_the_shopper_and_the_visitor_both_ordered_and_browsed_adds_up() -> None:
    def day_of(user_id: str, first: int) -> Profile:
        events = [
            tracked("Product Viewed", T, first, product_id="boots", category="shoes"),
            tracked("Order Completed", T, first + 1, order_id=f"o-{first}", revenue=10),
        ]
        return fold_events(Profile(user_id=user_id), events).profile

    merged = absorb(day_of("u1", 1), day_of("anon:dev-1", 3))

    assert merged.activity.orders == {"2026-11-02": (2, Decimal("20.00"))}
    assert merged.activity.categories["Product Viewed"] == {"shoes": {"2026-11-02": 2}}
    assert merged.orders_in(1, T) == (2, Decimal("20.00"))


def test_a_guest_order_replayed_after_the_merge_is_recognised_beyond_the_recent_events() -> None:
    order = tracked("Order Completed", T - timedelta(days=3), "guest-order", order_id="o-1", revenue=30)
    views = [
        tracked("Product Viewed", T + timedelta(minutes=i), 100 + i, product_id="boots") for i in range(60)
    ]
    visitor = fold_events(Profile(user_id="anon:dev-1"), [order, *views]).profile

    merged = absorb(known_history(), visitor)
    replay = fold_events(merged, [order])

    assert (replay.applied, replay.duplicates) == (0, 1)
    assert replay.profile.orders == 2


def test_the_more_recently_updated_cart_is_the_shoppers_and_known_traits_are_never_overwritten() -> None:
    visitor = visitor_history()
    visitor.traits = {"first_name": "Guest", "locale": "id-ID"}
    known = fold_events(
        known_history(), [tracked("Product Added", T + timedelta(hours=1), 9, product_id="hat")]
    )

    merged = absorb(known.profile, visitor)

    assert merged.cart is not None and [i.product_id for i in merged.cart.items] == ["hat"]
    assert merged.traits["first_name"] == "Ana" and merged.traits["locale"] == "id-ID"


def test_a_login_moves_the_visitors_history_and_leaves_a_link_at_the_version_read() -> None:
    visitor = visitor_history()
    login = on("dev-1", identify("u1", "login", at=T + timedelta(minutes=20)))

    plan = plan_links("u1", known_history(), [login], {"anon:dev-1": visitor})

    assert plan.absorbed == ("dev-1",)
    assert plan.profile.orders == 2 and plan.profile.anonymous_ids == ["dev-1"]
    (link,) = plan.links
    assert (link.user_id, link.linked_to, link.linked_at) == ("anon:dev-1", "u1", T + timedelta(minutes=20))
    assert link.version == visitor.version and link.counts == {} and link.cart is None


def test_a_device_never_seen_anonymously_gets_a_new_link_and_moves_nothing() -> None:
    plan = plan_links("u1", None, [on("dev-1", identify("u1", "login", at=T))], {})

    assert plan.absorbed == ()
    assert plan.profile.user_id == "u1" and plan.profile.counts == {}
    ((link),) = plan.links
    assert (link.linked_to, link.version) == ("u1", 0)


def test_a_link_to_the_same_shopper_costs_no_write() -> None:
    link = Profile(user_id="anon:dev-1", linked_to="u1", linked_at=T, version=1)

    plan = plan_links(
        "u1", known_history(), [on("dev-1", track("u1", "Product Viewed", "v", T))], {"anon:dev-1": link}
    )

    assert plan.links == () and plan.absorbed == ()
    assert plan.profile == known_history()


def test_a_shared_device_follows_a_newer_login_of_another_shopper_without_moving_history_again() -> None:
    link = Profile(user_id="anon:tablet", linked_to="u1", linked_at=T, version=3)

    newer = plan_links(
        "u2", None, [on("tablet", identify("u2", "l2", at=T + timedelta(hours=1)))], {"anon:tablet": link}
    )
    older = plan_links(
        "u2", None, [on("tablet", identify("u2", "l0", at=T - timedelta(hours=1)))], {"anon:tablet": link}
    )
    same_time = plan_links("u2", None, [on("tablet", identify("u2", "l1", at=T))], {"anon:tablet": link})

    ((relinked),) = newer.links
    assert (relinked.linked_to, relinked.linked_at, relinked.version) == ("u2", T + timedelta(hours=1), 3)
    assert newer.absorbed == () and newer.profile.counts == {}
    assert older.links == () and same_time.links == ()


def test_what_links_an_anonymous_id() -> None:
    assert linked_anonymous_id(parse_detail(alias("u1", "dev-1", "a", T))) == "dev-1"
    assert (
        linked_anonymous_id(parse_detail({**alias("u1", "dev-1", "a", T), "anonymousId": "dev-9"})) == "dev-1"
    )
    assert linked_anonymous_id(parse_detail({**alias("u1", "u1", "a", T), "anonymousId": "dev-9"})) is None
    assert linked_anonymous_id(parse_detail({**alias("u1", "", "a", T), "anonymousId": "dev-9"})) == "dev-9"
    assert linked_anonymous_id(on("dev-1", track("u1", "Product Viewed", "v", T))) == "dev-1"
    assert linked_anonymous_id(parse_detail(track("u1", "Product Viewed", "v", T))) is None
    anonymous = {k: v for k, v in track("u1", "Product Viewed", "v", T).items() if k != "userId"}
    assert linked_anonymous_id(parse_detail({**anonymous, "anonymousId": "dev-1"})) is None


def test_the_latest_login_of_each_device_is_the_one_kept() -> None:
    events = [
        on("dev-1", track("u1", "Product Viewed", "b", T)),
        on("dev-1", identify("u1", "a", at=T + timedelta(minutes=5))),
        on("dev-2", track("u1", "Product Viewed", "c", T + timedelta(minutes=1))),
    ]

    assert logins(events) == {"dev-1": T + timedelta(minutes=5), "dev-2": T + timedelta(minutes=1)}
