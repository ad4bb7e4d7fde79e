"""Recommendations: the profile's recent products, item-to-item co-occurrence on a hand-computed
example, a shopper's top-N (favourite categories first, popularity for the rest), hit rate and NDCG."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from payloads import tracked

from nudge.predictions.recommendations_eval import (
    DOC_END,
    DOC_START,
    RecommendationRow,
    hit_at_k,
    markdown,
    ndcg_at_k,
    write_into_doc,
)
from shared.catalog.product import Product
from shared.delivery.message_context import recommendations_lookup, recommended_ids
from shared.predictions.scoring import scores_changed
from shared.profiles.fold import fold_events
from shared.profiles.merge import absorb
from shared.profiles.products import (
    BOUGHT,
    CARTED,
    MAX_RECENT_PRODUCTS,
    VIEWED,
    absorb_products,
    day_number,
    note_products,
)
from shared.profiles.profile import Profile
from shared.recommendations.cooccurrence import ItemModel, ItemSketch
from shared.recommendations.ranking import favourite_categories, neighbour_scores, recommend, shows_bought

AT = datetime(2026, 11, 2, 8, tzinfo=UTC)
DAY = day_number(AT)


def _recent(**actions: int) -> dict[str, tuple[int, int, str]]:
    return {product: (DAY, action, "") for product, action in actions.items()}


def _model() -> ItemModel:
    """Four shoppers: viewed A then bought B; carted A then bought B; viewed A then bought C; bought B.
    Weights: A 1 + 2 + 1 = 4, B 3 * 3 = 9, C 3; buyers: B 3, C 1; pairs A→B 1 + 2 = 3, A→C 1."""
    sketch = ItemSketch()
    for shopper in (
        _recent(A=VIEWED, B=BOUGHT),
        _recent(A=CARTED | VIEWED, B=BOUGHT),
        _recent(A=VIEWED, C=BOUGHT),
        _recent(B=BOUGHT),
    ):
        sketch.add(shopper)
    sketch.category.update({"A": "shoes", "B": "shoes", "C": "bags"})
    return ItemModel.from_sketch(sketch)


def test_the_co_occurrence_of_a_hand_computed_example() -> None:
    model = _model()
    assert model.neighbours == {"A": [("B", round(3 / math.sqrt(4 * 3), 4)), ("C", 0.5)]}
    assert model.neighbours["A"][0][1] == 0.866
    assert model.popular == ["B", "C"]
    assert model.category == {"A": "shoes", "B": "shoes", "C": "bags"}


def test_a_viewer_is_recommended_the_neighbours_best_first_n_at_most() -> None:
    model = _model()
    assert recommend(_recent(A=VIEWED), {}, model) == ["B", "C"]
    assert recommend(_recent(A=VIEWED | CARTED), {}, model, n=1) == ["B"]


def test_a_carted_product_weighs_twice_a_viewed_one() -> None:
    model = _model()
    assert neighbour_scores(_recent(A=VIEWED), model) == {"B": 0.866, "C": 0.5}
    assert neighbour_scores(_recent(A=CARTED), model) == {"B": 1.732, "C": 1.0}
    assert neighbour_scores(_recent(A=BOUGHT), model) == {"B": pytest.approx(2.598), "C": 1.5}


def test_what_the_shopper_bought_is_never_recommended() -> None:
    assert recommend(_recent(A=VIEWED, B=BOUGHT), {}, _model()) == ["C"]


def test_favourite_categories_come_first() -> None:
    bags_lover = {"bags": [1.0, 1.0], "shoes": [2.0, 0.0]}  # bags 1 + 3 = 4 beats shoes 2
    assert favourite_categories(bags_lover) == ["bags", "shoes"]
    assert favourite_categories(bags_lover, 1) == ["bags"]
    assert recommend(_recent(A=VIEWED), {"bags": [1.0, 0.0]}, _model()) == ["C", "B"]
    assert recommend(_recent(A=VIEWED), {"bags": [1.0, 0.0]}, _model(), categories_first=False) == ["B", "C"]


def test_a_new_shopper_gets_the_most_bought_products_in_their_categories_first() -> None:
    model = _model()
    assert recommend({}, {}, model) == ["B", "C"]
    assert recommend({}, {"bags": [0.0, 1.0]}, model) == ["C", "B"]
    assert recommend(_recent(Z=VIEWED), {}, model, n=1) == ["B"]  # a cold product: popularity


def test_popularity_fills_after_the_neighbours_without_repeating_them() -> None:
    sketch = ItemSketch()
    sketch.add(_recent(A=VIEWED, B=BOUGHT))
    for _ in range(3):
        sketch.add(_recent(D=BOUGHT))
    model = ItemModel.from_sketch(sketch)
    assert model.popular == ["D", "B"]
    assert recommend(_recent(A=VIEWED), {}, model) == ["B", "D"]


def test_a_sketch_survives_its_census_item_and_merges_by_adding() -> None:
    one, other = ItemSketch(), ItemSketch()
    one.add(_recent(A=VIEWED, B=BOUGHT))
    other.add({"A": (DAY, CARTED, "shoes"), "B": (DAY, BOUGHT, "shoes")})
    one.merge(ItemSketch.from_dict(other.to_dict()))
    assert one.weight == {"A": 3.0, "B": 6.0}
    assert (
        one.buyers == {"B": 2}
        and one.pairs == {"A": {"B": 3.0}}
        and one.category == {"A": "shoes", "B": "shoes"}
    )


def test_a_sketch_is_bounded_by_bytes_keeping_the_heaviest_products() -> None:
    sketch = ItemSketch()
    for i in range(200):
        for _ in range(i + 1):
            sketch.add({f"p-{i:03d}": (DAY, VIEWED, "")})
    kept = sketch.compacted(max_bytes=10 * (3 * (5 + 12) + 6))
    assert sorted(kept.weight) == [f"p-{i:03d}" for i in range(190, 200)]


def test_an_item_model_round_trips() -> None:
    model = _model()
    assert ItemModel.from_dict(model.to_dict()) == model


def test_ingest_folds_views_carts_and_orders_into_recent_products() -> None:
    events = [
        tracked("Product Viewed", AT, 1, product_id="p-1", category="shoes"),
        tracked("Product Added", AT + timedelta(minutes=1), 2, product_id="p-2", category="bags"),
        tracked(
            "Order Completed",
            AT + timedelta(days=1),
            3,
            order_id="o-1",
            revenue=10,
            products=[{"product_id": "p-2"}, {"product_id": "p-3", "category": "hats"}],
        ),
    ]
    profile = fold_events(Profile(user_id="u-1"), events).profile
    assert profile.activity.products == {
        "p-1": (DAY, VIEWED, "shoes"),
        "p-2": (DAY + 1, CARTED | BOUGHT, "bags"),
        "p-3": (DAY + 1, BOUGHT, "hats"),
    }
    stored = Profile.model_validate(profile.model_dump())  # the packed activity, as DynamoDB keeps it
    assert stored.activity.products == profile.activity.products


def test_recent_products_keep_the_latest_twenty_of_six_months() -> None:
    recent: dict[str, tuple[int, int, str]] = {}
    note_products(recent, "Product Viewed", {"product_id": "old"}, AT - timedelta(days=200), 100)
    assert list(recent) == ["old"]
    note_products(recent, "Product Viewed", {"product_id": "new"}, AT, 100)
    assert list(recent) == ["new"]  # 200 days old: out of the six months
    note_products(recent, "Product Viewed", {"product_id": "older"}, AT - timedelta(days=179), 100)
    assert list(recent) == ["older", "new"]  # a late event of 179 days ago still counts
    for i in range(MAX_RECENT_PRODUCTS + 1):
        note_products(recent, "Product Viewed", {"product_id": f"p-{i}"}, AT, 100)
    assert list(recent) == [f"p-{i}" for i in range(1, MAX_RECENT_PRODUCTS + 1)]
    note_products(recent, "Product Viewed", {"product_id": "x" * 65}, AT, 100)
    note_products(recent, "Checkout Started", {"product_id": "p-99"}, AT, 100)
    assert "p-99" not in recent and len(recent) == MAX_RECENT_PRODUCTS


def test_an_anonymous_visitors_products_join_the_shoppers_at_login() -> None:
    into = {"A": (DAY, VIEWED, ""), "B": (DAY - 3, BOUGHT, "bags")}
    absorb_products(into, {"A": (DAY - 1, CARTED, "shoes"), "C": (DAY - 2, VIEWED, "")})
    assert into == {
        "B": (DAY - 3, BOUGHT, "bags"),
        "C": (DAY - 2, VIEWED, ""),
        "A": (DAY, VIEWED | CARTED, "shoes"),
    }
    visitor = fold_events(
        Profile(user_id="anon:v"), [tracked("Product Viewed", AT, 1, product_id="p-9")]
    ).profile
    merged = absorb(Profile(user_id="u-1"), visitor)
    assert merged.activity.products == {"p-9": (DAY, VIEWED, "")}


def test_ndcg_of_two_hits_at_ranks_two_and_four() -> None:
    ranked = ["x", "r1", "y", "r2"]
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, {"r1", "r2"}) == pytest.approx(expected)
    assert ndcg_at_k(ranked, {"r1", "r2"}) == pytest.approx(0.650921, abs=1e-6)
    assert ndcg_at_k(["r1"], {"r1"}) == 1.0
    assert ndcg_at_k(ranked, set()) == 0.0
    assert ndcg_at_k(ranked, {"r2"}, k=3) == 0.0


def test_a_hit_is_any_relevant_product_in_the_first_k() -> None:
    assert hit_at_k(["a", "b", "c"], {"c"}) == 1.0
    assert hit_at_k(["a", "b", "c"], {"c"}, k=2) == 0.0
    assert hit_at_k([], {"c"}) == 0.0


def test_the_evaluation_table_replaces_only_its_block(tmp_path: Path) -> None:
    doc = tmp_path / "predictions.md"
    doc.write_text(f"before\n{DOC_START}\nold\n{DOC_END}\nafter\n", encoding="utf-8")
    rows = [RecommendationRow("synthetic", "popularity (baseline)", 284, 0.3063, 0.0661)]
    write_into_doc(doc, markdown(rows))
    assert doc.read_text(encoding="utf-8") == (
        f"before\n{DOC_START}\n| dataset | model | shoppers | hit rate@10 | NDCG@10 |\n"
        "| --- | --- | ---: | ---: | ---: |\n| synthetic | popularity (baseline) | 284 | 0.306 | 0.066 |\n"
        f"{DOC_END}\nafter\n"
    )
    (tmp_path / "bare.md").write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no"):
        write_into_doc(tmp_path / "bare.md", "x")


def test_recommendations_are_worth_a_write_when_their_first_three_change() -> None:
    old = {
        "scored_at": AT.isoformat(),
        "model_version": "v",
        "model_kind": "trained",
        "recommendations": ["A", "B", "C", "D"],
    }
    later = AT + timedelta(days=1)
    assert not scores_changed(old, {**old}, later)
    assert not scores_changed(old, {**old, "recommendations": ["B", "D", "E", "F", "A", "C"]}, later)  # drift
    assert scores_changed(old, {**old, "recommendations": ["A", "B", "D", "E"]}, later)  # C left the list
    assert scores_changed(old, {k: v for k, v in old.items() if k != "recommendations"}, later)
    assert scores_changed({k: v for k, v in old.items() if k != "recommendations"}, old, later)


def test_stored_recommendations_showing_a_product_bought_since_are_stale() -> None:
    assert shows_bought(["A", "B"], _recent(B=BOUGHT | VIEWED))
    assert not shows_bought(["A", "B"], _recent(B=VIEWED, C=BOUGHT))
    assert not shows_bought(None, _recent(B=BOUGHT))


def test_a_template_is_shown_at_most_ten_recommended_products_the_catalog_has_in_stock() -> None:
    ids = [f"p-{i}" for i in range(14)]
    products = {p: Product(product_id=p, name=p.upper(), updated_at=AT) for p in ids if p != "p-1"}
    products["p-2"] = products["p-2"].model_copy(update={"in_stock": False})
    recommendations = recommendations_lookup(ids, products)
    assert [p["name"] for p in recommendations()] == ["P-0", "P-3", "P-4"]
    assert [p["name"] for p in recommendations(12)] == [f"P-{i}" for i in (0, 3, 4, 5, 6, 7, 8, 9, 10, 11)]
    assert recommendations(0) == [] and recommendations(-1) == []
    assert recommendations_lookup(ids, {})(3) == []
    assert recommended_ids(Profile(user_id="u-1", scores={"recommendations": ids})) == ids[:10]
    assert recommended_ids(Profile(user_id="u-1", scores={"recommendations": "p-1"})) == []
