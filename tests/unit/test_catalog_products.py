"""Products: their bounds (a feed row over one is refused, naming the field; an event's value is
clipped or dropped), updates by event time, and what templates see of them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fakes import triggered

from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.render import render_message
from shared.campaigns.template_check import template_problems
from shared.catalog.enrichment import (
    MAX_PRODUCTS_PER_MESSAGE,
    enriched_event,
    named_products,
    wanted_products,
)
from shared.catalog.product import MAX_NAME_CHARS, Product, problems_of, product_from
from shared.catalog.updates import CatalogChange, merged
from shared.delivery.message_context import products_for, template_context
from shared.profiles.profile import Cart, CartItem, Profile

T0 = datetime(2026, 11, 2, 7, tzinfo=UTC)
ROW = {"product_id": "p-17", "price": "59.99", "updated_at": "2026-11-02T07:00:00Z"}


def product(price: Any = "59.99", at: datetime = T0, **fields: Any) -> Product:
    return Product.model_validate({"product_id": "p-17", "price": price, "updated_at": at, **fields})


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("name", "x" * (MAX_NAME_CHARS + 1), ("name", "String should have at most 200 characters")),
        ("price", "-1", ("price", "Input should be greater than or equal to 0")),
        ("currency", "dollars", ("currency", "Value error, an ISO 4217 code of three letters, e.g. USD")),
        ("url", "javascript:alert(1)", ("url", "Value error, an http(s) URL")),
        (
            "updated_at",
            "2026-11-02T07:00:00",
            ("updated_at", "Value error, a time with its zone, e.g. 2026-12-01T08:00:00Z"),
        ),
        ("stock", 2_000_000_000, ("stock", "Input should be less than or equal to 1000000000")),
    ],
)
def test_a_feed_row_over_a_bound_is_refused_naming_the_field(
    field: str, value: Any, problem: tuple[str, str]
) -> None:
    assert problems_of({**ROW, field: value}) == (None, [problem])


def test_a_good_feed_row_is_a_product_and_its_stock_says_whether_it_is_in_stock() -> None:
    found, problems = problems_of({**ROW, "stock": 0, "currency": "usd"})
    assert problems == []
    assert found == Product(
        product_id="p-17", price=Decimal("59.99"), currency="USD", stock=0, in_stock=False, updated_at=T0
    )


def test_an_events_values_are_clipped_or_dropped_not_refused() -> None:
    found = product_from(
        {
            "product_id": 17,
            "name": "n" * 500,
            "price": "1e3",
            "url": "ftp://x",
            "image_url": "https://c/i.jpg",
            "currency": "eu",
            "in_stock": "yes",
        },
        T0,
        currency="usd",
    )
    assert found is not None
    assert (found.product_id, len(found.name or ""), found.price, found.url, found.image_url) == (
        "17",
        MAX_NAME_CHARS,
        None,
        None,
        "https://c/i.jpg",
    )
    assert (found.currency, found.in_stock) == (
        None,
        None,
    )  # the line's own "eu" wins over the order's, and is no code
    assert product_from({"name": "no id"}, T0) is None
    assert product_from({"sku": "S-1", "price": 3}, T0) == Product(
        product_id="S-1", sku="S-1", price=Decimal("3.00"), updated_at=T0
    )


def test_an_update_no_newer_than_the_stored_product_changes_nothing() -> None:
    stored = product(at=T0)
    assert merged(stored, product("10", at=T0)) is None
    assert merged(stored, product("10", at=datetime(2026, 11, 2, 6, tzinfo=UTC))) is None
    newer = merged(stored, product("10", at=datetime(2026, 11, 2, 8, tzinfo=UTC)))
    assert newer is not None and newer.price == Decimal("10")


def test_in_stock_without_a_count_forgets_the_stored_count() -> None:
    stored = product(stock=4)
    later = Product(product_id="p-17", in_stock=False, updated_at=datetime(2026, 11, 2, 8, tzinfo=UTC))
    after = merged(stored, later)
    assert after is not None and (after.in_stock, after.stock, after.price) == (False, None, Decimal("59.99"))


def test_a_price_drop_is_measured_in_percent_and_a_restock_is_out_then_in() -> None:
    later = datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert CatalogChange(product("80"), product("60", at=later)).price_drop_percent == Decimal("25.00")
    assert CatalogChange(product("60"), product("80", at=later)).price_drop_percent is None
    assert CatalogChange(product("60"), product("60", at=later)).price_drop_percent is None
    assert CatalogChange(None, product("60")).price_drop_percent is None
    assert CatalogChange(product(stock=0), product(stock=3, at=later)).restocked is True
    assert CatalogChange(product(), product(stock=3, at=later)).restocked is False  # in stock unknown before
    assert CatalogChange(None, product(stock=3)).restocked is False


def test_templates_name_products_literally_and_a_message_reads_at_most_a_hundred() -> None:
    assert named_products(
        ["{{ product(\"p-17\").price }} {{ product( 'p-2' ).name }}", None, "{{ product(x) }}"]
    ) == [
        "p-17",
        "p-2",
    ]
    cart = [{"product_id": f"c-{i}"} for i in range(150)]
    wanted = wanted_products(cart, {"product_id": "e-1", "products": [{"sku": "e-2"}]}, ["p-17"])
    assert wanted[:4] == ["p-17", "e-1", "e-2", "c-0"] and len(wanted) == MAX_PRODUCTS_PER_MESSAGE


class Catalog:
    """A catalog that remembers what it was asked (the adapter is tested on moto)."""

    keeps_interest = False

    def __init__(self, *products: Product) -> None:
        self.products = {p.product_id: p for p in products}
        self.asked: list[list[str]] = []

    def get_many(self, product_ids: list[str]) -> dict[str, Product]:
        self.asked.append(list(product_ids))
        return {i: self.products[i] for i in product_ids if i in self.products}

    def put_many(self, products: list[Product], interests: Any = ()) -> None:
        raise AssertionError("templates never write")


CART = Cart(
    items=[CartItem(product_id="p-17", price=Decimal("70"), quantity=1), CartItem(product_id="p-9")],
    updated_at=T0,
)


def job(**properties: Any) -> DeliveryJob:
    trigger = TriggerContext(event="Product Viewed", message_id="m-1", timestamp=T0, properties=properties)
    return DeliveryJob(send_key="k", campaign_id="c-1", user_id="u-1", occurrence="m-1", trigger=trigger)


def test_a_message_shows_the_current_price_stock_and_image_of_its_cart_and_event_items() -> None:
    body = (
        "{% for i in cart['items'] %}{{ i.product_id }} {{ i.price }}→{{ i.current_price }} "
        "{{ i.in_stock }} {{ i.image_url }}; {% endfor %}"
        "{{ event.current_price }} | {{ product('p-17').name }} {{ product('p-404').name | default('gone') }}"
    )
    campaign = triggered("c-1", {"push": {"title": "t", "body": body}}, event="Product Viewed")
    catalog = Catalog(
        product("49.99", name="Aero", stock=3, image_url="https://cdn.example.com/17.jpg"),
        Product(product_id="p-9", price=Decimal(5), in_stock=False, updated_at=T0),
    )
    profile = Profile(user_id="u-1", cart=CART)
    shown = products_for(campaign, profile, job(product_id="p-9"), catalog)
    context = template_context(campaign, profile, job(product_id="p-9"), T0, None, shown)

    message = render_message(campaign, "push", "k", context)

    assert catalog.asked == [["p-17", "p-404", "p-9"]]
    assert message.body_text == (
        "p-17 70→49.99 True https://cdn.example.com/17.jpg; p-9 None→5 False None; 5 | Aero gone"
    )


def test_a_message_whose_templates_show_no_product_reads_no_catalog() -> None:
    campaign = triggered(
        "c-1", {"push": {"title": "t", "body": "{{ event.name }} {{ cart['items'] | length }}"}}
    )
    catalog = Catalog(product())
    assert products_for(campaign, Profile(user_id="u-1", cart=CART), job(product_id="p-17"), catalog) == {}
    assert catalog.asked == []


def test_the_template_check_knows_product() -> None:
    assert template_problems('{{ product("p-17").price }}', {"user": frozenset()}, has_event=False) == []


def test_an_items_own_image_is_kept_and_each_order_line_is_enriched() -> None:
    catalog = {
        "p-1": Product(
            product_id="p-1",
            price=Decimal(8),
            stock=2,
            image_url="https://cdn.example.com/new.jpg",
            updated_at=T0,
        )
    }
    event = {"order_id": "o-1", "products": [{"product_id": "p-1", "image_url": "https://x/own.jpg"}, "junk"]}

    assert enriched_event(event, catalog) == {
        "order_id": "o-1",
        "products": [
            {
                "product_id": "p-1",
                "image_url": "https://x/own.jpg",
                "current_price": Decimal(8),
                "in_stock": True,
                "stock": 2,
            },
            "junk",
        ],
    }
