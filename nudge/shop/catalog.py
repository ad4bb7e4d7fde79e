"""The shop's catalog (products, categories, prices, its shelves by category) and the Segment e-commerce
shapes its events take."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from nudge.shop.randomness import ascii_slug

if TYPE_CHECKING:
    from nudge.shop.pricing import PriceBook

Event = dict[str, Any]

CURRENCY: Final = "USD"


SHOP_URL: Final = "https://shop.example.com"
CDN_URL: Final = "https://cdn.example.com"

# The Segment e-commerce events the funnel emits, and what each must carry downstream.
REQUIRED_PROPERTIES: Final[Mapping[str, frozenset[str]]] = {
    "Product Viewed": frozenset(
        {"product_id", "sku", "name", "category", "brand", "price", "url", "image_url"}
    ),
    "Product List Viewed": frozenset({"list_id", "category", "products"}),
    "Product Added": frozenset(
        {"cart_id", "product_id", "sku", "name", "category", "brand", "price", "quantity", "url", "image_url"}
    ),
    "Product Removed": frozenset({"cart_id", "product_id", "sku", "name", "price", "quantity"}),
    "Checkout Started": frozenset(
        {"order_id", "checkout_id", "cart_id", "value", "total", "revenue", "currency", "products"}
    ),
    "Order Completed": frozenset(
        {
            "order_id",
            "checkout_id",
            "cart_id",
            "total",
            "subtotal",
            "revenue",
            "shipping",
            "tax",
            "discount",
            "currency",
            "products",
        }
    ),
    "Product Reviewed": frozenset({"product_id", "sku", "review_id", "rating"}),
}
ORDER_LINE_FIELDS: Final = frozenset(
    {"product_id", "sku", "name", "category", "brand", "price", "quantity", "image_url", "url"}
)
# Names outside the spec that apps send anyway; the system must keep them, not drop them.
CUSTOM_EVENTS: Final = (
    "Wishlist Product Added",
    "Coupon Applied",
    "Size Guide Opened",
    "Store Locator Opened",
    "Back In Stock Requested",
)


@dataclass(frozen=True)
class Product:
    product_id: str
    sku: str
    name: str
    category: str
    brand: str
    price: float
    image_url: str
    url: str
    stock: int | None = None  # known only for a product that sells out (nudge/shop/pricing.py)


# (category, brands, model words, [(item, price)]): fifteen items each, prices typical for the item.
_CATALOG_SPEC: Final = (
    (
        "shoes",
        ("Stridewell", "Kiko Run", "Urban Sole", "Peakline"),
        ("Aero", "Classic", "Flex", "Trail", "Cloud"),
        (
            ("Running Shoe", 89.99),
            ("Leather Sneaker", 74.99),
            ("Trail Runner", 119.0),
            ("Chelsea Boot", 139.0),
            ("Canvas High-Top", 49.99),
            ("Slip-On Loafer", 64.99),
            ("Hiking Boot", 159.0),
            ("Sport Sandal", 39.99),
            ("Court Sneaker", 69.99),
            ("Knit Trainer", 94.99),
            ("Ballet Flat", 44.99),
            ("Desert Boot", 109.0),
            ("Basketball Shoe", 129.0),
            ("Flip-Flop", 14.99),
            ("Walking Shoe", 79.99),
        ),
    ),
    (
        "apparel",
        ("Aurora Threads", "Nusa Basics", "Fieldhouse", "Linea"),
        ("Everyday", "Essential", "Heritage", "Studio", "Weekend"),
        (
            ("Crew-Neck T-Shirt", 14.99),
            ("Slim-Fit Chinos", 39.99),
            ("Linen Shirt", 34.99),
            ("Hooded Sweatshirt", 44.99),
            ("Denim Jacket", 69.99),
            ("Midi Dress", 49.99),
            ("Puffer Vest", 59.99),
            ("Oxford Shirt", 36.99),
            ("Jogger Pants", 29.99),
            ("Wrap Skirt", 32.99),
            ("Batik Shirt", 27.99),
            ("Polo Shirt", 24.99),
            ("Rain Jacket", 79.99),
            ("Cargo Shorts", 26.99),
            ("Knit Cardigan", 54.99),
        ),
    ),
    (
        "electronics",
        ("Voltix", "Sonora", "Kairo", "Lumen"),
        ("Pro", "Air", "Max", "Lite", "S2"),
        (
            ("Wireless Earbuds", 59.99),
            ("Bluetooth Speaker", 45.99),
            ("Smartwatch", 179.0),
            ("65W USB-C Charger", 29.99),
            ("20000mAh Power Bank", 34.99),
            ("Noise-Cancelling Headphones", 199.0),
            ("4K Action Camera", 249.0),
            ("Mechanical Keyboard", 89.99),
            ("Wireless Mouse", 24.99),
            ('27" QHD Monitor', 299.0),
            ('10" Android Tablet', 229.0),
            ("Fitness Tracker", 49.99),
            ("1TB Portable SSD", 99.99),
            ("Smart Plug 2-Pack", 19.99),
            ("Phone Gimbal", 79.99),
        ),
    ),
    (
        "beauty",
        ("Glowlab", "Serene", "Kulit", "Maison Rose"),
        ("Daily", "Radiance", "Pure", "Velvet", "Hydra"),
        (
            ("Vitamin C Serum", 24.99),
            ("Face Moisturizer", 19.99),
            ("SPF 50 Sunscreen", 15.99),
            ("Matte Lipstick", 12.99),
            ("Micellar Cleansing Water", 9.99),
            ("Sheet Mask 10-Pack", 14.99),
            ("Hair Repair Oil", 17.99),
            ("Volumizing Mascara", 11.99),
            ("Clay Face Mask", 16.99),
            ("Eau de Parfum 50ml", 59.99),
            ("Nail Polish Set", 18.99),
            ("Hyaluronic Toner", 21.99),
            ("Beard Oil", 13.99),
            ("Cushion Foundation", 22.99),
            ("Lip Balm Trio", 7.99),
        ),
    ),
    (
        "home",
        ("Casa Nova", "Hearth & Co", "Rumah", "Nordlys"),
        ("Essential", "Signature", "Loft", "Modern", "Cosy"),
        (
            ("Ceramic Dinner Set", 69.99),
            ("Scented Soy Candle", 16.99),
            ("Bath Towel Set", 34.99),
            ("Non-Stick Frying Pan", 29.99),
            ("Linen Duvet Cover", 89.99),
            ("4L Air Fryer", 99.99),
            ("French Press", 24.99),
            ("Storage Basket Set", 27.99),
            ("Table Lamp", 39.99),
            ("Memory Foam Pillow", 34.99),
            ("1.8L Rice Cooker", 49.99),
            ("Wall Clock", 22.99),
            ("Knife Block Set", 79.99),
            ("Throw Blanket", 32.99),
            ("Cordless Vacuum", 219.0),
        ),
    ),
    (
        "sports",
        ("Peakline", "Arena", "Motiv", "Tidal"),
        ("Pro", "Active", "Core", "Endure", "Flex"),
        (
            ("Yoga Mat", 29.99),
            ("Adjustable Dumbbells", 149.0),
            ("Resistance Band Set", 19.99),
            ("Badminton Racket", 44.99),
            ("Football", 24.99),
            ("Cycling Helmet", 59.99),
            ("Insulated Water Bottle", 22.99),
            ("Running Belt", 17.99),
            ("Jump Rope", 9.99),
            ("Foam Roller", 21.99),
            ("Tennis Balls 3-Pack", 6.99),
            ("Gym Duffel Bag", 39.99),
            ("Swimming Goggles", 14.99),
            ("Trekking Poles", 49.99),
            ("2-Person Camping Tent", 129.0),
        ),
    ),
    (
        "toys",
        ("Playbox", "Tiny Tinker", "Wonderkin", "Bloco"),
        ("Junior", "Deluxe", "Mini", "Explorer", "Classic"),
        (
            ("Building Blocks 500-Piece", 39.99),
            ("Remote Control Car", 49.99),
            ("Plush Teddy Bear", 19.99),
            ("Wooden Puzzle", 14.99),
            ("Art & Craft Kit", 24.99),
            ("Family Board Game", 29.99),
            ("Doll House", 79.99),
            ("STEM Robot Kit", 64.99),
            ("Water Blaster", 16.99),
            ("Magnetic Tiles 60-Piece", 44.99),
            ("Kids Scooter", 59.99),
            ("Play Kitchen Set", 89.99),
            ("Card Game", 9.99),
            ("Stunt Kite", 18.99),
            ("Wooden Train Set", 54.99),
        ),
    ),
    (
        "grocery",
        ("Pantry Lane", "Kebun", "Harvest Table", "Daily Bread"),
        ("Organic", "Premium", "Everyday", "Family", "Select"),
        (
            ("Arabica Coffee Beans 1kg", 21.99),
            ("Jasmine Rice 5kg", 12.99),
            ("Extra Virgin Olive Oil 1L", 13.99),
            ("Green Tea 100 Bags", 7.99),
            ("Dark Chocolate Bar", 3.49),
            ("Instant Noodles 10-Pack", 5.99),
            ("Mixed Nuts 500g", 9.99),
            ("Raw Honey 500g", 11.99),
            ("Coconut Milk 6-Pack", 8.99),
            ("Granola 750g", 6.99),
            ("Basmati Rice 5kg", 14.99),
            ("Sambal Chili Sauce", 3.99),
            ("Oat Milk 6-Pack", 12.49),
            ("Protein Bar Box", 24.99),
            ("Sparkling Water 12-Pack", 8.49),
        ),
    ),
)
CATEGORIES: Final = tuple(spec[0] for spec in _CATALOG_SPEC)


def build_catalog() -> list[Product]:
    """A fixed catalog (independent of the seed) so product ids mean the same thing in every run."""
    rng = random.Random("nudge-store/catalog")
    products: list[Product] = []
    for category, brands, models, items in _CATALOG_SPEC:
        for item, price in items:
            number = len(products) + 1
            product_id = f"p-{number:04d}"
            sku = f"{category[:3].upper()}-{1000 + number}"
            name = f"{rng.choice(models)} {item}"
            products.append(
                Product(
                    product_id=product_id,
                    sku=sku,
                    name=name,
                    category=category,
                    brand=rng.choice(brands),
                    price=price,
                    image_url=f"{CDN_URL}/products/{sku.lower()}.jpg",
                    url=f"{SHOP_URL}/products/{ascii_slug(name, '-')}-{product_id}",
                )
            )
    return products


def order_line(product: Product, quantity: int) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "brand": product.brand,
        "price": product.price,
        "quantity": quantity,
        "image_url": product.image_url,
        "url": product.url,
    }


def product_properties(product: Product) -> dict[str, Any]:
    stock = {"stock": product.stock} if product.stock is not None else {}
    return {
        **stock,
        "product_id": product.product_id,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "brand": product.brand,
        "price": product.price,
        "currency": CURRENCY,
        "url": product.url,
        "image_url": product.image_url,
    }


class Shelves:
    """The catalog as the shop's pages show it: a product by its id, and the products of a category
    (in catalog order); with ``prices``, as priced (and stocked) at the moment ``at`` of the visit."""

    def __init__(self, products: Sequence[Product], prices: PriceBook | None = None) -> None:
        self._by_id = {p.product_id: p for p in products}
        self._by_category: dict[str, list[Product]] = {c: [] for c in CATEGORIES}
        for product in products:
            self._by_category[product.category].append(product)
        self.prices = prices
        self.at: datetime | None = None

    def _shown(self, product: Product) -> Product:
        return self.prices.priced(product, self.at) if self.prices and self.at else product

    def product(self, product_id: str) -> Product:
        return self._shown(self._by_id[product_id])

    def products_in(self, category: str) -> list[Product]:
        if self.prices is None or self.at is None:
            return self._by_category[category]
        return [self._shown(p) for p in self._by_category[category]]
