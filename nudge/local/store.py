"""A seeded synthetic e-commerce store: shoppers, a catalog and a fortnight of Segment-Spec events.

``nudge demo`` needs traffic that looks like a real shop's so that campaigns, audiences and scores
have something to chew on: evening peaks in each shopper's own time zone, favourite categories,
carts abandoned far more often than bought, and shoppers who come back hours later and buy what
they left (so an abandoned-cart message sometimes has to be cancelled). Everything is drawn from
``random.Random`` instances seeded from the config, so one seed always yields byte-identical
events; each shopper draws from their own stream, so a smaller store is a prefix of a bigger one.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from shared.core.vocabulary import EMAIL_TRAIT, Channel

Event = dict[str, Any]

CURRENCY: Final = "USD"
EMAIL_DOMAINS: Final = ("example.com", "example.net", "example.org")  # RFC 2606: never deliverable
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

_MIN_SESSION_GAP = timedelta(minutes=45)  # > the 30-minute inactivity rule analytics tools use
_FREE_SHIPPING_FROM = 50.0
_SHIPPING_FEE = 4.99
_P_ANONYMOUS_START = 0.08  # sessions that begin logged out (pre-login browsing)
_P_CUSTOM_EVENT = 0.03
_P_LIST_VIEW = 0.35
_P_HOME_PAGE = 0.30
_P_SECOND_ADD = 0.25
_P_REMOVE = 0.12
_P_COMEBACK_COMPLETES = 0.8
_STALE_CART_CHECKOUT = 0.06  # relative to a cart filled in the same visit
_SALE_DAYS: Final[Mapping[tuple[int, int], float]] = {(11, 11): 1.8, (12, 12): 1.6}  # 11.11 and 12.12
# Relative likelihood of starting a session at each local hour: a lunch bump and an evening peak.
_HOUR_WEIGHTS: Final = (
    1.0,
    0.5,
    0.3,
    0.2,
    0.2,
    0.4,
    1.0,
    2.0,
    3.0,
    3.0,
    3.0,
    3.5,
    4.5,
    4.0,
    3.0,
    3.0,
    3.5,
    4.5,
    6.0,
    8.0,
    9.0,
    8.0,
    5.0,
    2.5,
)


@dataclass(frozen=True)
class Shopper:
    user_id: str
    first_name: str
    last_name: str
    email: str
    age: int
    gender: str
    country: str
    city: str
    language: str
    timezone: str
    email_opt_in: bool
    push_opt_in: bool
    push_platform: str | None  # "GCM" | "APNS" | None when the app is not installed
    persona: str

    @property
    def locale(self) -> str:
        return f"{self.language}-{self.country}"


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


@dataclass(frozen=True)
class StoreConfig:
    users: int = 2000
    days: int = 14
    seed: int = 7
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("StoreConfig.start must be timezone-aware")
        if self.users < 0 or self.days < 1:
            raise ValueError("StoreConfig needs users >= 0 and days >= 1")

    @property
    def end(self) -> datetime:
        return self.start.astimezone(UTC) + timedelta(days=self.days)


@dataclass(frozen=True)
class Persona:
    """How a kind of shopper behaves; the funnel probabilities apply per session."""

    name: str
    weight: float
    daily_visit: float  # chance of a session on a given local day
    views: tuple[int, int]
    add: float  # a session with views puts something in the cart
    checkout: float  # a session with a freshly filled cart starts checkout
    complete: float  # a started checkout is paid
    comeback: float  # an abandoned cart brings the shopper back within a day
    app_installed: float


PERSONAS: Final = (
    Persona("browser", 0.30, 0.30, (2, 6), 0.17, 0.22, 0.45, 0.15, 0.55),
    Persona("deal_hunter", 0.20, 0.30, (2, 6), 0.33, 0.26, 0.45, 0.22, 0.65),
    Persona("loyal", 0.15, 0.38, (1, 5), 0.45, 0.36, 0.67, 0.30, 0.80),
    Persona("one_timer", 0.20, 0.10, (1, 4), 0.35, 0.28, 0.50, 0.18, 0.45),
    Persona("dormant", 0.15, 0.02, (1, 3), 0.20, 0.21, 0.39, 0.10, 0.50),
)
_PERSONA_BY_NAME: Final = {p.name: p for p in PERSONAS}


@dataclass(frozen=True)
class _Region:
    country: str
    weight: float
    cities: tuple[tuple[str, str, float], ...]  # (city, IANA zone, weight)
    languages: tuple[tuple[str, float], ...]
    ios_share: float  # of app installs; the rest are Android (GCM/FCM)
    tax_rate: float
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]


REGIONS: Final = (
    _Region(
        "ID",
        0.30,
        (
            ("Jakarta", "Asia/Jakarta", 0.55),
            ("Surabaya", "Asia/Jakarta", 0.2),
            ("Bandung", "Asia/Jakarta", 0.15),
            ("Medan", "Asia/Jakarta", 0.1),
        ),
        (("id", 0.9), ("en", 0.1)),
        0.15,
        0.11,
        ("Siti", "Dewi", "Putri", "Ayu", "Rina", "Intan", "Nur", "Wulan", "Anisa", "Fitri"),
        ("Budi", "Agus", "Andi", "Rizky", "Dimas", "Fajar", "Yusuf", "Hendra", "Bayu", "Arief"),
        (
            "Santoso",
            "Wijaya",
            "Pratama",
            "Saputra",
            "Lestari",
            "Hidayat",
            "Kusuma",
            "Nugroho",
            "Halim",
            "Siregar",
        ),
    ),
    _Region(
        "IN",
        0.25,
        (
            ("Mumbai", "Asia/Kolkata", 0.4),
            ("Bengaluru", "Asia/Kolkata", 0.35),
            ("Delhi", "Asia/Kolkata", 0.25),
        ),
        (("en", 0.6), ("hi", 0.4)),
        0.12,
        0.18,
        ("Priya", "Ananya", "Aisha", "Kavya", "Neha", "Pooja", "Diya", "Meera", "Sneha", "Isha"),
        ("Arjun", "Rahul", "Vikram", "Rohan", "Aditya", "Karan", "Sanjay", "Imran", "Nikhil", "Varun"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Singh", "Nair", "Khan", "Mehta", "Rao"),
    ),
    _Region(
        "US",
        0.10,
        (
            ("New York", "America/New_York", 0.35),
            ("Los Angeles", "America/Los_Angeles", 0.3),
            ("Chicago", "America/Chicago", 0.2),
            ("Austin", "America/Chicago", 0.15),
        ),
        (("en", 0.9), ("es", 0.1)),
        0.55,
        0.08,
        ("Emily", "Olivia", "Sophia", "Madison", "Ashley", "Grace", "Hannah", "Chloe"),
        ("James", "Michael", "Ethan", "Daniel", "Tyler", "Marcus", "Ryan", "Jacob"),
        ("Smith", "Johnson", "Garcia", "Miller", "Davis", "Martinez", "Brown", "Wilson", "Nguyen", "Lee"),
    ),
    _Region(
        "GB",
        0.05,
        (("London", "Europe/London", 0.6), ("Manchester", "Europe/London", 0.4)),
        (("en", 1.0),),
        0.5,
        0.20,
        ("Amelia", "Isla", "Charlotte", "Freya", "Poppy", "Evie"),
        ("Oliver", "Harry", "George", "Jack", "Alfie", "Callum"),
        ("Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Patel"),
    ),
    _Region(
        "SG",
        0.06,
        (("Singapore", "Asia/Singapore", 1.0),),
        (("en", 0.85), ("zh", 0.15)),
        0.45,
        0.09,
        ("Jia Hui", "Wei Ling", "Nurul", "Divya", "Rachel", "Hui Min"),
        ("Wei Jie", "Jun Jie", "Hafiz", "Darren", "Ravi", "Kelvin"),
        ("Tan", "Lim", "Ng", "Wong", "Lee", "Goh", "Chua", "Rahman", "Kumar"),
    ),
    _Region(
        "MY",
        0.06,
        (
            ("Kuala Lumpur", "Asia/Kuala_Lumpur", 0.6),
            ("George Town", "Asia/Kuala_Lumpur", 0.2),
            ("Johor Bahru", "Asia/Kuala_Lumpur", 0.2),
        ),
        (("ms", 0.6), ("en", 0.4)),
        0.25,
        0.10,
        ("Aisyah", "Aminah", "Mei Yee", "Kavitha", "Farah", "Li Ting"),
        ("Ahmad", "Faiz", "Wei Kiat", "Suresh", "Hakim", "Jason"),
        ("Abdullah", "Ismail", "Lim", "Chong", "Tan", "Ramasamy", "Ibrahim", "Yusof"),
    ),
    _Region(
        "PH",
        0.08,
        (
            ("Manila", "Asia/Manila", 0.6),
            ("Quezon City", "Asia/Manila", 0.25),
            ("Cebu City", "Asia/Manila", 0.15),
        ),
        (("en", 0.6), ("fil", 0.4)),
        0.2,
        0.12,
        ("Maria", "Angelica", "Kristine", "Joy", "Andrea", "Bea"),
        ("Juan", "Mark", "Paolo", "Jerome", "Carlo", "Miguel"),
        ("Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Dela Cruz", "Villanueva"),
    ),
    _Region(
        "AU",
        0.04,
        (("Sydney", "Australia/Sydney", 0.55), ("Melbourne", "Australia/Melbourne", 0.45)),
        (("en", 1.0),),
        0.55,
        0.10,
        ("Chloe", "Ruby", "Matilda", "Zoe", "Harper", "Mia"),
        ("Liam", "Noah", "Lachlan", "Cooper", "Jack", "Oscar"),
        ("Smith", "Jones", "Williams", "Brown", "Kelly", "Murphy", "Ryan", "Nguyen"),
    ),
    _Region(
        "DE",
        0.03,
        (("Berlin", "Europe/Berlin", 0.55), ("München", "Europe/Berlin", 0.45)),
        (("de", 0.9), ("en", 0.1)),
        0.35,
        0.19,
        ("Anna", "Lena", "Hannah", "Leonie", "Mia", "Jana"),
        ("Lukas", "Felix", "Jonas", "Maximilian", "Paul", "Jörg"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner", "Hoffmann"),
    ),
    _Region(
        "BR",
        0.03,
        (("São Paulo", "America/Sao_Paulo", 0.6), ("Rio de Janeiro", "America/Sao_Paulo", 0.4)),
        (("pt", 1.0),),
        0.2,
        0.17,
        ("Ana", "Beatriz", "Júlia", "Larissa", "Camila", "Fernanda"),
        ("João", "Pedro", "Lucas", "Gabriel", "Rafael", "Thiago"),
        ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira"),
    ),
)
_REGION_BY_COUNTRY: Final = {r.country: r for r in REGIONS}

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


def _iso(moment: datetime) -> str:
    """Segment's wire format: UTC, millisecond precision, a trailing ``Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def _uuid(rng: random.Random) -> str:
    """A v4-shaped id drawn from a seeded stream, so ids repeat exactly with the seed.

    Same bits as ``uuid.UUID(int=..., version=4)``, formatted by hand because it is on the hot path.
    """
    h = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ascii_slug(text: str, sep: str = "") -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in folded).split()
    return sep.join(words)


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


class _Weighted:
    """A weighted choice with the cumulative weights computed once (it runs per event)."""

    def __init__(self, weighted: Sequence[tuple[Any, float]]) -> None:
        self.values = [v for v, _ in weighted]
        self.cumulative = list(itertools.accumulate(w for _, w in weighted))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


_LOCAL_HOUR: Final = _Weighted([(h, w) for h, w in enumerate(_HOUR_WEIGHTS)])


def _build_catalog() -> list[Product]:
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
                    url=f"{SHOP_URL}/products/{_ascii_slug(name, '-')}-{product_id}",
                )
            )
    return products


def _make_shopper(seed: int, number: int) -> Shopper:
    """One shopper from their own stream: consistent country, city, zone, language and push setup."""
    rng = random.Random(f"nudge-store/{seed}/shopper/{number}")
    region: _Region = _pick(rng, [(r, r.weight) for r in REGIONS])
    city, timezone = _pick(rng, [((c, z), w) for c, z, w in region.cities])
    persona: Persona = _pick(rng, [(p, p.weight) for p in PERSONAS])
    gender = _pick(rng, [("female", 0.52), ("male", 0.45), ("nonbinary", 0.03)])
    names = {"female": region.female, "male": region.male}.get(gender, region.female + region.male)
    first, last = rng.choice(names), rng.choice(region.surnames)
    app_installed = rng.random() < persona.app_installed
    platform = ("APNS" if rng.random() < region.ios_share else "GCM") if app_installed else None
    push_opt_in = app_installed and rng.random() < 0.75
    return Shopper(
        user_id=f"u-{number:06d}",
        first_name=first,
        last_name=last,
        email=f"{_ascii_slug(first)}.{_ascii_slug(last)}{number}@{rng.choice(EMAIL_DOMAINS)}",
        age=max(18, min(75, round(rng.triangular(18, 70, 29)))),
        gender=gender,
        country=region.country,
        city=city,
        language=_pick(rng, region.languages),
        timezone=timezone,
        email_opt_in=rng.random() < 0.70,
        push_opt_in=push_opt_in,
        push_platform=platform,
        persona=persona.name,
    )


def _order_line(product: Product, quantity: int) -> dict[str, Any]:
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


def _product_properties(product: Product) -> dict[str, Any]:
    return {
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


class SyntheticStore:
    """Shoppers and a catalog, plus the events they would send over ``config.days`` days."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.catalog: list[Product] = _build_catalog()
        self.shoppers: list[Shopper] = [_make_shopper(config.seed, n) for n in range(1, config.users + 1)]
        self._products_by_id = {p.product_id: p for p in self.catalog}
        self._by_category: dict[str, list[Product]] = {c: [] for c in CATEGORIES}
        for product in self.catalog:
            self._by_category[product.category].append(product)

    def product(self, product_id: str) -> Product:
        return self._products_by_id[product_id]

    def products_in(self, category: str) -> list[Product]:
        return self._by_category[category]

    def context(self, shopper: Shopper, device: str) -> dict[str, Any]:
        """The Segment ``context`` an SDK on the shopper's device would attach."""
        number = int(shopper.user_id.rsplit("-", 1)[1])
        network = "203.0.113" if number % 2 else "198.51.100"  # RFC 5737 documentation ranges
        return {
            "timezone": shopper.timezone,
            "locale": shopper.locale,
            "device": {"type": device},
            "ip": f"{network}.{1 + number % 254}",
        }

    def order_event(
        self, shopper: Shopper, at: datetime, rng: random.Random, products: Sequence[Product] = ()
    ) -> dict[str, Any]:
        """An ``Order Completed`` call for ``shopper`` at ``at`` (one to three catalogue products)."""
        chosen = list(products) or rng.sample(self.catalog, k=rng.randint(1, 3))
        lines = [_order_line(p, rng.randint(1, 2)) for p in chosen]
        subtotal = round(sum(line["price"] * line["quantity"] for line in lines), 2)
        return {
            "type": "track",
            "event": "Order Completed",
            "userId": shopper.user_id,
            "messageId": _uuid(rng),
            "timestamp": _iso(at),
            "context": self.context(shopper, self.primary_device(shopper)),
            "properties": {
                "order_id": f"o-{_uuid(rng)[:18]}",
                "revenue": subtotal,
                "subtotal": subtotal,
                "total": subtotal,
                "currency": CURRENCY,
                "products": lines,
            },
        }

    def primary_device(self, shopper: Shopper) -> str:
        return {"APNS": "ios", "GCM": "android"}.get(shopper.push_platform or "", "web")

    def identify_event(
        self,
        shopper: Shopper,
        at: datetime,
        push_endpoint_arn: str | None,
        *,
        anonymous_id: str | None = None,
        device: str | None = None,
    ) -> dict[str, Any]:
        """The identify call a shopper's first login sends; the push endpoint only when they have push."""
        traits: dict[str, Any] = {
            "firstName": shopper.first_name,
            "lastName": shopper.last_name,
            EMAIL_TRAIT: shopper.email,
            "age": shopper.age,
            "gender": shopper.gender,
            "address": {"country": shopper.country, "city": shopper.city},
            "language": shopper.language,
            "timezone": shopper.timezone,
            "consent": {
                Channel.EMAIL: shopper.email_opt_in,
                Channel.PUSH: shopper.push_opt_in,
                Channel.IN_APP: True,
            },
        }
        if push_endpoint_arn and shopper.push_platform is not None:
            traits["push_endpoint"] = push_endpoint_arn
        moment = at.astimezone(UTC)
        id_stream = random.Random(f"nudge-store/{self.config.seed}/identify/{shopper.user_id}/{_iso(moment)}")
        event: dict[str, Any] = {"type": "identify", "userId": shopper.user_id}
        if anonymous_id is not None:
            event["anonymousId"] = anonymous_id
        event.update(
            {
                "messageId": _uuid(id_stream),
                "timestamp": _iso(moment),
                "traits": traits,
                "context": self.context(shopper, device or self.primary_device(shopper)),
            }
        )
        return event

    def events(self, push_endpoints: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """All events of the simulation in timestamp order (ascending). Each is a Segment-Spec payload
        dict (what an app would send as the EventBridge ``detail``)."""
        endpoints = push_endpoints or {}
        timeline: list[tuple[datetime, int, int, Event]] = []
        for index, shopper in enumerate(self.shoppers):
            run = _ShopperRun(self, shopper, endpoints.get(shopper.user_id))
            timeline.extend((at, index, seq, event) for seq, (at, event) in enumerate(run.simulate()))
        timeline.sort()  # (time, shopper, sequence) is unique, so the dicts are never compared
        for *_, event in timeline:
            yield event

    def malformed_events(self, n: int) -> list[dict[str, Any]]:
        """``n`` payloads each broken in one way the ingest must reject; ``_why`` names the defect."""
        rng = random.Random(f"nudge-store/{self.config.seed}/malformed")
        broken: list[Event] = []
        for i in range(n):
            shopper = (
                self.shoppers[rng.randrange(len(self.shoppers))]
                if self.shoppers
                else _make_shopper(self.config.seed, 1)
            )
            at = self.config.end - timedelta(seconds=1 + rng.randrange(self.config.days * 86400 - 1))
            event: Event = {
                "type": "track",
                "event": "Product Viewed",
                "userId": shopper.user_id,
                "messageId": _uuid(rng),
                "timestamp": _iso(at),
                "properties": _product_properties(rng.choice(self.catalog)),
                "context": self.context(shopper, "web"),
            }
            broken.append(_DEFECTS[i % len(_DEFECTS)](event))
        return broken


def _missing_message_id(e: Event) -> Event:
    del e["messageId"]
    return {**e, "_why": "messageId is missing, so the event cannot be deduplicated"}


def _track_without_name(e: Event) -> Event:
    del e["event"]
    return {**e, "_why": "track call without an event name"}


def _timestamp_yesterday(e: Event) -> Event:
    return {**e, "timestamp": "yesterday", "_why": "timestamp 'yesterday' is not ISO-8601"}


def _user_id_list(e: Event) -> Event:
    return {**e, "userId": [e["userId"]], "_why": "userId is a list, not a string"}


def _no_identity(e: Event) -> Event:
    del e["userId"]
    return {**e, "_why": "neither userId nor anonymousId, so the event belongs to nobody"}


def _unknown_type(e: Event) -> Event:
    return {**e, "type": "purchase", "_why": "type 'purchase' is not a Segment call type"}


def _properties_list(e: Event) -> Event:
    return {**e, "properties": [e["properties"]], "_why": "properties is a list, not an object"}


def _empty_message_id(e: Event) -> Event:
    return {**e, "messageId": "", "_why": "messageId is an empty string"}


def _numeric_event_name(e: Event) -> Event:
    return {**e, "event": 42, "_why": "event name is a number, not a string"}


def _impossible_date(e: Event) -> Event:
    return {**e, "timestamp": "2026-13-45T25:61:00Z", "_why": "timestamp is not a real date (month 13)"}


def _missing_type(e: Event) -> Event:
    del e["type"]
    return {**e, "_why": "type is missing"}


def _traits_string(e: Event) -> Event:
    del e["event"], e["properties"]
    why = "identify traits is a string, not an object"
    return {**e, "type": "identify", "traits": "vip customer", "_why": why}


_DEFECTS: Final = (
    _missing_message_id,
    _track_without_name,
    _timestamp_yesterday,
    _user_id_list,
    _no_identity,
    _unknown_type,
    _properties_list,
    _empty_message_id,
    _numeric_event_name,
    _impossible_date,
    _missing_type,
    _traits_string,
)


@dataclass
class _Cart:
    """The shopper's open cart; it survives across sessions until an order empties it."""

    cart_id: str
    lines: dict[str, int] = field(default_factory=dict)  # product_id -> quantity, in insertion order
    order_id: str | None = None  # fixed at the first checkout so retries keep the same order


class _ShopperRun:
    """One shopper's fortnight: planned daily visits, plus comebacks that abandoned carts trigger."""

    def __init__(self, store: SyntheticStore, shopper: Shopper, push_endpoint: str | None) -> None:
        self.store = store
        self.shopper = shopper
        self.persona = _PERSONA_BY_NAME[shopper.persona]
        self.region = _REGION_BY_COUNTRY[shopper.country]
        self.push_endpoint = push_endpoint
        self.rng = random.Random(f"nudge-store/{store.config.seed}/events/{shopper.user_id}")
        self.zone = ZoneInfo(shopper.timezone)
        self.start = store.config.start.astimezone(UTC)
        self.end = store.config.end
        self.out: list[tuple[datetime, Event]] = []
        self.identified = False
        self.orders = 0
        self.cart: _Cart | None = None
        self.anonymous_ids: dict[str, str] = {}
        self.clock = self.start
        self.device = "web"
        self.session_anonymous_id: str | None = None
        rng = self.rng
        favourites = rng.sample(CATEGORIES, 2)
        # Most views land in one or two favourite categories.
        self.favourite_category = _Weighted(
            [
                (
                    c,
                    0.55
                    if c == favourites[0]
                    else 0.25
                    if c == favourites[1] and rng.random() < 0.7
                    else 0.03,
                )
                for c in CATEGORIES
            ]
        )
        self.context = store.context(shopper, "web")

    # -- planning ---------------------------------------------------------------------------------

    def _visit_times(self) -> list[datetime]:
        """Daily session starts at weighted local hours, converted to UTC, inside the window."""
        times: list[datetime] = []
        day = self.start.astimezone(self.zone).date()
        last_day = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        while day <= last_day:
            boost = _SALE_DAYS.get((day.month, day.day), 1.0)
            if self.rng.random() < self.persona.daily_visit * boost:
                times.append(self._local_moment(day))
            day += timedelta(days=1)
        return [t for t in times if self.start <= t < self.end]

    def _local_moment(self, day: date) -> datetime:
        hour = _LOCAL_HOUR(self.rng)
        local = datetime(
            day.year,
            day.month,
            day.day,
            hour,
            self.rng.randrange(60),
            self.rng.randrange(60),
            self.rng.randrange(1000) * 1000,
            tzinfo=self.zone,
        )
        return local.astimezone(UTC)

    def simulate(self) -> list[tuple[datetime, Event]]:
        queue: list[tuple[datetime, int, str]] = [(t, i, "") for i, t in enumerate(self._visit_times())]
        heapq.heapify(queue)
        seq = len(queue)
        last_end: datetime | None = None
        while queue:
            at, _, comeback_cart = heapq.heappop(queue)
            if at >= self.end:
                break
            if comeback_cart and not self._still_open(comeback_cart):
                continue  # the cart was bought or emptied in between: nothing to come back for
            if last_end is not None and at < last_end + _MIN_SESSION_GAP:
                if not comeback_cart:
                    continue  # already shopping then
                later = last_end + _MIN_SESSION_GAP + self._seconds(60, 1800)
                heapq.heappush(queue, (later, seq, comeback_cart))
                seq += 1
                continue
            if not comeback_cart and self._done_shopping():
                continue
            abandoned, last_end = self._session(at, comeback=bool(comeback_cart))
            if abandoned and self.cart is not None and self.rng.random() < self.persona.comeback:
                later = self._comeback_time(last_end)
                heapq.heappush(queue, (later, seq, self.cart.cart_id))
                seq += 1
        kept = [(at, event) for at, event in self.out if at < self.end]
        if not any(event["type"] == "identify" for _, event in kept):
            at = self.start + self._seconds(0, 3600)
            kept.insert(0, (at, self.store.identify_event(self.shopper, at, self.push_endpoint)))
        return kept

    def _still_open(self, cart_id: str) -> bool:
        return self.cart is not None and self.cart.cart_id == cart_id and bool(self.cart.lines)

    def _done_shopping(self) -> bool:
        """One-timers rarely come back once they have bought."""
        return self.persona.name == "one_timer" and self.orders > 0 and self.rng.random() < 0.85

    def _comeback_time(self, after: datetime) -> datetime:
        """Hours later, but not in the middle of the shopper's night."""
        later = after + self._seconds(90 * 60, 26 * 3600)
        local_hour = later.astimezone(self.zone).hour
        if local_hour < 7:
            later += timedelta(hours=7 - local_hour)
        return later

    # -- one session ------------------------------------------------------------------------------

    def _seconds(self, low: int, high: int) -> timedelta:
        """A uniform pause in whole milliseconds (the wire precision)."""
        return timedelta(milliseconds=int(1000 * (low + (high - low) * self.rng.random())))

    def _device(self) -> str:
        if self.shopper.push_platform is not None and self.rng.random() < 0.7:
            return self.store.primary_device(self.shopper)
        return "web"

    def _session(self, at: datetime, *, comeback: bool) -> tuple[bool, datetime]:
        """Emit one visit's events from ``at``; returns (abandoned a cart just now, end time).

        Only a visit that filled or tried to pay for the cart counts as abandoning it: that is what
        an abandoned-cart campaign reacts to, and what brings a shopper back hours later."""
        rng = self.rng
        self.clock = at
        self.device = self._device()
        self.session_anonymous_id = None
        if rng.random() < _P_ANONYMOUS_START:
            self.session_anonymous_id = self.anonymous_ids.setdefault(self.device, _uuid(rng))
            for _ in range(rng.randint(1, 2)):
                if rng.random() < 0.5:
                    self._page("Home", "/", anonymous=True)
                else:
                    self._track("Product Viewed", _product_properties(self._browse()), anonymous=True)
                self._tick(10, 120)
        if not self.identified:
            self.identified = True
            self.out.append(
                (
                    self.clock,
                    self.store.identify_event(
                        self.shopper,
                        self.clock,
                        self.push_endpoint,
                        anonymous_id=self.session_anonymous_id,
                        device=self.device,
                    ),
                )
            )
            self._tick(2, 20)
        if comeback:
            self._return_to_cart()
            touched_cart = False  # one comeback per abandonment
        else:
            touched_cart = self._browse_and_buy()
        return touched_cart and self.cart is not None and bool(self.cart.lines), self.clock

    def _return_to_cart(self) -> None:
        """The shopper comes back for what they left; most of them pay this time."""
        assert self.cart is not None
        rng = self.rng
        if rng.random() < 0.5:
            self._page("Cart", "/cart")
            self._tick(10, 90)
        if rng.random() < 0.6:
            product = self.store.product(rng.choice(list(self.cart.lines)))
            self._track("Product Viewed", _product_properties(product))
            self._tick(15, 150)
        self._checkout(complete_probability=_P_COMEBACK_COMPLETES)

    def _browse_and_buy(self) -> bool:
        """A browsing visit down the funnel; returns whether it added to the cart or started checkout."""
        rng, persona = self.rng, self.persona
        if rng.random() < _P_HOME_PAGE:
            self._page("Home", "/")
            self._tick(5, 60)
        viewed: list[Product] = []
        custom_at = rng.randrange(8) if rng.random() < _P_CUSTOM_EVENT else -1
        for step in range(rng.randint(*persona.views)):
            if rng.random() < _P_LIST_VIEW / 2:
                self._list_view()
            product = self._browse()
            viewed.append(product)
            self._track("Product Viewed", _product_properties(product))
            self._tick(15, 180)
            if step == custom_at:
                self._custom_event(product)
        added = False
        if rng.random() < persona.add:
            added = True
            self._add(rng.choice(viewed))
            if rng.random() < _P_SECOND_ADD:
                self._add(rng.choice(viewed))
            if self.cart is not None and rng.random() < _P_REMOVE:
                self._remove(rng.choice(list(self.cart.lines)))
        if custom_at >= len(viewed):
            self._custom_event(viewed[-1])
        if self.cart is None or not self.cart.lines:
            return added
        # A cart left from an earlier visit is sometimes checked out without adding anything new.
        checkout = persona.checkout if added else persona.checkout * _STALE_CART_CHECKOUT
        if rng.random() < checkout:
            self._checkout(complete_probability=persona.complete)
            return True
        return added

    def _browse(self) -> Product:
        category = self.favourite_category(self.rng)
        return self.rng.choice(self.store.products_in(category))

    def _list_view(self) -> None:
        category = self.favourite_category(self.rng)
        shown = self.rng.sample(self.store.products_in(category), 6)
        self._track(
            "Product List Viewed",
            {
                "list_id": f"category-{category}",
                "category": category,
                "products": [{**_order_line(p, 1), "position": i + 1} for i, p in enumerate(shown)],
            },
        )
        self._tick(10, 90)

    def _add(self, product: Product) -> None:
        if self.cart is None:
            self.cart = _Cart(cart_id=f"cart-{_uuid(self.rng)[:13]}")
        quantity = 2 if product.price < 20 and self.rng.random() < 0.3 else 1
        self.cart.lines[product.product_id] = self.cart.lines.get(product.product_id, 0) + quantity
        self._track("Product Added", {"cart_id": self.cart.cart_id, **_order_line(product, quantity)})
        self._tick(10, 120)

    def _remove(self, product_id: str) -> None:
        assert self.cart is not None
        quantity = self.cart.lines.pop(product_id)
        product = self.store.product(product_id)
        self._track("Product Removed", {"cart_id": self.cart.cart_id, **_order_line(product, quantity)})
        self._tick(10, 90)

    def _custom_event(self, product: Product) -> None:
        name = self.rng.choice(CUSTOM_EVENTS)
        properties: dict[str, Any] = {"product_id": product.product_id, "sku": product.sku}
        if name == "Coupon Applied":
            properties = {"coupon_id": f"SAVE{self.rng.choice((5, 10, 15))}"}
            if self.cart is not None:
                properties["cart_id"] = self.cart.cart_id
        elif name == "Store Locator Opened":
            properties = {"city": self.shopper.city}
        self._track(name, properties)
        self._tick(5, 60)

    def _checkout(self, complete_probability: float) -> None:
        assert self.cart is not None
        cart, rng = self.cart, self.rng
        if cart.order_id is None:
            cart.order_id = f"o-{_uuid(rng)[:18]}"
        checkout_id = f"co-{_uuid(rng)[:13]}"
        lines = [_order_line(self.store.product(pid), qty) for pid, qty in cart.lines.items()]
        subtotal = round(sum(line["price"] * line["quantity"] for line in lines), 2)
        shipping = 0.0 if subtotal >= _FREE_SHIPPING_FROM else _SHIPPING_FEE
        tax = round(subtotal * self.region.tax_rate, 2)
        total = round(subtotal + shipping + tax, 2)
        money = {"subtotal": subtotal, "shipping": shipping, "tax": tax, "total": total, "currency": CURRENCY}
        self._track(
            "Checkout Started",
            {
                "order_id": cart.order_id,
                "checkout_id": checkout_id,
                "cart_id": cart.cart_id,
                "value": subtotal,
                "revenue": subtotal,
                **money,
                "products": lines,
            },
        )
        self._tick(40, 300)
        if rng.random() >= complete_probability:
            return
        self._track(
            "Order Completed",
            {
                "order_id": cart.order_id,
                "checkout_id": checkout_id,
                "cart_id": cart.cart_id,
                "revenue": subtotal,
                "discount": 0.0,
                **money,
                "products": lines,
            },
        )
        self._tick(5, 30)
        self.cart = None
        self.orders += 1

    # -- emitting ---------------------------------------------------------------------------------

    def _tick(self, low: int, high: int) -> None:
        self.clock += self._seconds(low, high)

    def _envelope(self, kind: str, anonymous: bool) -> Event:
        event: Event = {"type": kind}
        if not anonymous:
            event["userId"] = self.shopper.user_id
        if self.session_anonymous_id is not None:
            event["anonymousId"] = self.session_anonymous_id
        return event

    def _finish(self, event: Event) -> None:
        event["messageId"] = _uuid(self.rng)
        event["timestamp"] = _iso(self.clock)
        event["context"] = {**self.context, "device": {"type": self.device}}
        self.out.append((self.clock, event))

    def _track(self, name: str, properties: dict[str, Any], *, anonymous: bool = False) -> None:
        event = self._envelope("track", anonymous)
        event["event"] = name
        event["properties"] = properties
        self._finish(event)

    def _page(self, name: str, path: str, *, anonymous: bool = False) -> None:
        event = self._envelope("page", anonymous)
        event["name"] = name
        event["properties"] = {
            "name": name,
            "path": path,
            "url": f"{SHOP_URL}{path}",
            "title": f"{name} | Shop",
        }
        self._finish(event)
