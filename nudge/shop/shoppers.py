"""Who shops: personas, regions (time zones, languages, tax) and each seeded shopper."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from nudge.shop.randomness import ascii_slug, pick

EMAIL_DOMAINS: Final = ("example.com", "example.net", "example.org")  # RFC 2606: never deliverable


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
PERSONA_BY_NAME: Final = {p.name: p for p in PERSONAS}


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
REGION_BY_COUNTRY: Final = {r.country: r for r in REGIONS}


def make_shopper(seed: int, number: int) -> Shopper:
    """One shopper from their own stream: consistent country, city, zone, language and push setup."""
    rng = random.Random(f"nudge-store/{seed}/shopper/{number}")
    region: _Region = pick(rng, [(r, r.weight) for r in REGIONS])
    city, timezone = pick(rng, [((c, z), w) for c, z, w in region.cities])
    persona: Persona = pick(rng, [(p, p.weight) for p in PERSONAS])
    gender = pick(rng, [("female", 0.52), ("male", 0.45), ("nonbinary", 0.03)])
    names = {"female": region.female, "male": region.male}.get(gender, region.female + region.male)
    first, last = rng.choice(names), rng.choice(region.surnames)
    app_installed = rng.random() < persona.app_installed
    platform = ("APNS" if rng.random() < region.ios_share else "GCM") if app_installed else None
    push_opt_in = app_installed and rng.random() < 0.75
    return Shopper(
        user_id=f"u-{number:06d}",
        first_name=first,
        last_name=last,
        email=f"{ascii_slug(first)}.{ascii_slug(last)}{number}@{rng.choice(EMAIL_DOMAINS)}",
        age=max(18, min(75, round(rng.triangular(18, 70, 29)))),
        gender=gender,
        country=region.country,
        city=city,
        language=pick(rng, region.languages),
        timezone=timezone,
        email_opt_in=rng.random() < 0.70,
        push_opt_in=push_opt_in,
        push_platform=platform,
        persona=persona.name,
    )
