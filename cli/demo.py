"""The demo data set behind `gurulu up --demo`: a Turkish/European online shop, so that every
page of the product has something to show.

Generation is pure and deterministic: one `random.Random(seed)` draws everything in a fixed
order. Each person gets a profile (country, archetype, signup, subscription, company), and their
sessions over the last 60 days are drawn day by day, weighted by weekday, a sale day, slow growth
and their local evening hours; churners fade out two weeks or more before `now`. A session is a
funnel (login, page views, product views, cart, checkout, purchase) with the archetype's odds, so
most carts are abandoned and a few loyal customers buy often. The person record comes last, from
what their events add up to (lifetime_value), with the untidy contact data real imports have:
missing emails, odd case and stray spaces, phones in E.164 and local formats. About 15% more
visitors stay anonymous (events, no person record). Everything goes in through the stores' batch
inserts; the data is shaped so that each of `RECIPES`, the product page's cohorts, matches tens
to a few hundred people.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from gurulu.api import cohorts as cohort_cases
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.people import Event, Person, insert_events, upsert_persons

DAYS = 60
ANONYMOUS_SHARE = 0.15
RECIPES: tuple[tuple[str, list[str], str, str], ...] = (
    ("high-intent", ["event:add_to_cart in last 7d", "event:checkout_started in last 7d"],
     "all", "Yüksek niyetli ziyaretçiler"),
    ("rfm-high-value", ["event:purchase count >= 3 in last 30d", "event:purchase in last 14d"],
     "all", "RFM high-value: premium remarketing"),
    ("churn-risk", ["person:subscription_status = active", "not event:login in last 14d"],
     "all", "Churn-risk: save the customer"),
    ("b2b-acme", ["person:company_domain = acme.com"], "all", "B2B account: acme.com"),
    ("cart-abandonment", ["event:add_to_cart in last 7d", "not event:purchase in last 7d"],
     "all", "Cart abandonment"),
)  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    persons: int
    anonymous: int
    events: int
    by_event: dict[str, int]


@dataclass(frozen=True)
class _Country:
    code: str
    weight: int
    utc_offset: int
    currency: str
    rate: float  # per euro
    dial: str
    trunk: str
    mobiles: str
    digits: int
    cities: str
    names: str
    surnames: str


_COUNTRIES = (
    _Country("TR", 45, 3, "TRY", 38.0, "90", "0", "532 505 542 555", 7,
             "İstanbul|Ankara|İzmir|Bursa|Antalya", "Ayşe Mehmet Zeynep Mustafa Elif Emre "
             "Fatma Can Deniz Burak Selin Ahmet Ece Oğuz",
             "Yılmaz|Kaya|Demir|Şahin|Çelik|Öztürk|Aydın|Arslan|Doğan|Koç"),
    _Country("DE", 20, 2, "EUR", 1.0, "49", "0", "151 160 170 176", 8,
             "Berlin|München|Hamburg|Köln|Frankfurt", "Lukas Anna Jürgen Lena Felix Sophie "
             "Max Marie", "Müller|Schmidt|Schneider|Fischer|Weber|Becker"),
    _Country("GB", 10, 1, "GBP", 0.85, "44", "0", "7700 7911 7400", 6,
             "London|Manchester|Bristol|Leeds|Edinburgh", "Oliver Amelia Harry Isla Jack "
             "Emily George", "Smith|Jones|Taylor|Brown|Wilson"),
    _Country("NL", 10, 2, "EUR", 1.0, "31", "0", "6", 8,
             "Amsterdam|Rotterdam|Utrecht|Den Haag|Eindhoven", "Daan Emma Sem Julia Lotte "
             "Bram Sanne", "de Jong|Jansen|de Vries|van Dijk|Bakker"),
    _Country("US", 8, -4, "USD", 1.08, "1", "", "415 212 312 512", 7,
             "New York|San Francisco|Chicago|Austin|Boston", "James Emma Michael Olivia Noah "
             "Ava", "Johnson|Williams|Miller|Davis"),
    _Country("FR", 7, 2, "EUR", 1.0, "33", "0", "6 7", 8,
             "Paris|Lyon|Marseille|Toulouse", "Louis Chloé Hugo Léa Jules Manon",
             "Martin|Bernard|Dubois|Moreau"),
)  # fmt: skip


@dataclass(frozen=True)
class _Archetype:
    weight: int
    sessions_per_day: float
    cart: float  # a session that viewed products adds to cart
    checkout: float  # a cart goes to checkout
    buy: float  # a checkout becomes a purchase
    orders_per_year: float  # before the 60 days, for lifetime_value


_ARCHETYPES = {
    "loyal": _Archetype(6, 0.45, 0.55, 0.6, 0.85, 10),
    "regular": _Archetype(30, 0.18, 0.3, 0.45, 0.6, 3),
    "browser": _Archetype(40, 0.1, 0.15, 0.35, 0.35, 0.5),
    "churner": _Archetype(24, 0.3, 0.25, 0.4, 0.5, 2),
}
_ANONYMOUS = _Archetype(0, 0, 0.08, 0.2, 0.3, 0)
_PRODUCTS = (
    ("sku_1001", "ayakkabi", 89.9), ("sku_1002", "ayakkabi", 129.0), ("sku_2001", "giyim", 24.9),
    ("sku_2002", "giyim", 59.0), ("sku_2003", "giyim", 149.0), ("sku_3001", "elektronik", 39.9),
    ("sku_3002", "elektronik", 249.0), ("sku_4001", "ev", 19.9), ("sku_4002", "ev", 74.5),
    ("sku_5001", "kozmetik", 14.9), ("sku_5002", "kozmetik", 32.0),
)  # fmt: skip
_PATHS = ("/", "/kampanya/yaz-indirimi", "/kategori/giyim", "/kategori/ayakkabi",
          "/kategori/elektronik", "/arama", "/blog/stil-rehberi", "/yardim")  # fmt: skip
_SOURCES = ("direct", "google", "instagram", "meta_ads", "newsletter", "tiktok")
_SOURCE_CUM = tuple(accumulate((30, 30, 15, 12, 8, 5)))
_HOUR_CUM = tuple(accumulate((2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 6, 6, 6, 7, 8, 10,
                              12, 12, 9, 4)))  # fmt: skip
_WEEKDAY = (1.0, 0.95, 0.95, 1.0, 0.9, 1.1, 1.25)
_SALE_DAY = 21  # days before now: the summer sale, a spike on every chart
_ACCOUNTS = ("acme.com", "globex.com", "initech.com", "umbrella-corp.com", "kaya-lojistik.com.tr",
             "muller-gmbh.de", "northwind.co.uk", "tulip-bv.nl", "hooli.com")  # fmt: skip
_ACCOUNT_CUM = tuple(accumulate((25, 15, 12, 10, 10, 8, 8, 6, 6)))
_SIGNUP = ("email", "google", "apple")
_MAIL_HOSTS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de")


@dataclass(frozen=True)
class _Profile:
    person_id: str
    country: _Country
    kind: _Archetype
    age: float  # days since signup
    stop: float  # days before now when activity ends (0: still active)
    subscription: str | None
    plan: str | None
    company: str | None


def load(
    db: ClickHouse, workspace_id: str, now: datetime, seed: int = 7, people: int = 3000
) -> DemoSummary:
    """Generate the demo shop for `workspace_id` and insert it in batches."""
    persons, events = generate(now, seed, people)
    for start in range(0, len(persons), 1000):
        upsert_persons(db, workspace_id, persons[start : start + 1000])
    for start in range(0, len(events), 25_000):
        insert_events(db, workspace_id, events[start : start + 25_000])
    anonymous = {e.person_id for e in events if e.person_id.startswith("anon_")}
    counts = dict(sorted(Counter(e.event for e in events).items()))
    return DemoSummary(len(persons), len(anonymous), len(events), counts)


def define_recipes(db: ClickHouse, workspace_id: str, now: datetime) -> list[Cohort]:
    """The product page's recipe cohorts, counted at `now`."""
    return [
        cohort_cases.define(db, workspace_id, name, list(rules), match, clock=lambda: now)
        for name, rules, match, _audience in RECIPES
    ]


def generate(now: datetime, seed: int = 7, people: int = 3000) -> tuple[list[Person], list[Event]]:
    """The people and events of the demo shop: the same for the same arguments."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    rng = random.Random(seed)
    persons: list[Person] = []
    events: list[Event] = []
    for index in range(1, people + 1):
        profile = _profile(rng, f"p_{index:06d}")
        own = _activity(rng, profile, now)
        persons.append(_person(rng, profile, own, now))
        events.extend(own)
    for _ in range(round(people * ANONYMOUS_SHARE)):
        visitor = f"anon_{rng.getrandbits(48):012x}"
        country = rng.choices(_COUNTRIES, [c.weight for c in _COUNTRIES])[0]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            at = _session_start(rng, now, rng.randrange(DAYS), country)
            events.extend(_session(rng, visitor, _ANONYMOUS, at, country, login=False))
    return persons, [e for e in events if e.timestamp <= now]


def _profile(rng: random.Random, person_id: str) -> _Profile:
    country = rng.choices(_COUNTRIES, [c.weight for c in _COUNTRIES])[0]
    name = rng.choices(list(_ARCHETYPES), [a.weight for a in _ARCHETYPES.values()])[0]
    age = rng.uniform(0, DAYS) if rng.random() < 0.3 else DAYS + rng.expovariate(1 / 300)
    stop = 0.0
    if name == "churner":
        stop = rng.uniform(15, 50)
        age = max(age, stop + rng.uniform(7, 30))
    subscription = plan = company = None
    if rng.random() < 0.06:
        company = rng.choices(_ACCOUNTS, cum_weights=_ACCOUNT_CUM)[0]
    if rng.random() < 0.35:
        odds = (45, 10, 45) if name == "churner" else (65, 15, 20)
        subscription = rng.choices(("active", "trial", "cancelled"), odds)[0]
        plan = "business" if company else rng.choice(("plus", "plus", "premium"))
    kind = _ARCHETYPES[name]
    return _Profile(person_id, country, kind, age, stop, subscription, plan, company)


def _activity(rng: random.Random, p: _Profile, now: datetime) -> list[Event]:
    """Sessions day by day from signup (or the start of the window) to the person's stop."""
    events: list[Event] = []
    if p.age < DAYS:
        signed_up = now - timedelta(days=p.age)
        events.append(Event("signup", p.person_id, signed_up, {"method": rng.choice(_SIGNUP)}))
        events.extend(_session(rng, p.person_id, p.kind, signed_up, p.country, login=True))
    first = min(int(p.age) - 1, DAYS - 1)
    for day in range(first, int(p.stop) - 1, -1):
        rate = p.kind.sessions_per_day * _day_weight(now, day)
        if p.stop:  # a churner: activity fades to nothing at `stop`
            rate *= (day - p.stop) / max(first - p.stop, 1)
        if rng.random() < rate:
            at = _session_start(rng, now, day, p.country)
            login = rng.random() < (0.75 if p.subscription else 0.5)
            events.extend(_session(rng, p.person_id, p.kind, at, p.country, login))
    if p.subscription:
        events.extend(_subscription(rng, p, now))
    return events


@lru_cache(maxsize=512)
def _day_weight(now: datetime, day: int) -> float:
    """Weekday rhythm, the sale, and a shop that grows a little over the two months."""
    weight = _WEEKDAY[(now - timedelta(days=day)).weekday()] * (1.3 - 0.3 * day / DAYS)
    return weight * (2.0 if day == _SALE_DAY else 1.0)


def _session_start(rng: random.Random, now: datetime, day: int, country: _Country) -> datetime:
    """A time `day` days before now, at an hour people of `country` shop at."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=day)
    hour = rng.choices(range(24), cum_weights=_HOUR_CUM)[0] - country.utc_offset
    return midnight + timedelta(hours=hour, seconds=rng.randrange(3600))


def _session(
    rng: random.Random, person_id: str, kind: _Archetype, at: datetime, c: _Country, login: bool
) -> list[Event]:
    """One visit as a funnel: each step happens with the archetype's odds; prices are in the
    visitor's currency."""
    steps: list[tuple[str, dict[str, Any]]] = []
    if login:
        steps.append(("login", {"method": rng.choice(_SIGNUP)}))
    source = rng.choices(_SOURCES, cum_weights=_SOURCE_CUM)[0]
    steps.append(("page_view", {"path": "/", "utm_source": source}))
    steps += [("page_view", {"path": rng.choice(_PATHS)}) for _ in range(rng.randint(0, 3))]
    picked = rng.sample(_PRODUCTS, rng.choices((0, 1, 2, 3), (3, 4, 2, 1))[0])
    viewed = [(sku, category, round(price * c.rate, 2)) for sku, category, price in picked]
    steps += [
        ("product_viewed", {"product_id": s, "category": k, "price": p}) for s, k, p in viewed
    ]
    if viewed and rng.random() < kind.cart:
        cart = viewed[: rng.randint(1, len(viewed))]
        steps += [("add_to_cart", {"product_id": s, "price": p, "quantity": 1}) for s, _, p in cart]
        value = {"amount": round(sum(p for _, _, p in cart), 2), "currency": c.currency}
        value["items"] = len(cart)
        if rng.random() < kind.checkout:
            steps.append(("checkout_started", value))
            if rng.random() < kind.buy:
                steps.append(("purchase", {**value, "order_id": f"o_{rng.getrandbits(40):010x}"}))
    events = []
    for name, properties in steps:
        events.append(Event(name, person_id, at, properties))
        at += timedelta(seconds=10 + 140 * rng.random())
    return events


def _subscription(rng: random.Random, p: _Profile, now: datetime) -> list[Event]:
    """A renewal every 30 days since signup for an active plan; a cancellation for the others
    who cancelled, after their last visit."""
    if p.subscription == "cancelled":
        days = rng.uniform(max(p.stop, 1), max(min(p.age, DAYS), p.stop, 1))
        return [Event("subscription_cancelled", p.person_id, now - timedelta(days=days), {})]
    props = {"plan": p.plan, "amount": 9.99 if p.plan == "plus" else 19.99}
    months = range(30, int(p.age) + 1, 30) if p.subscription == "active" else ()
    renewals = [now - timedelta(days=p.age - m) for m in months if p.age - m < DAYS]
    return [Event("subscription_renewed", p.person_id, at, props) for at in renewals]


def _person(rng: random.Random, p: _Profile, events: list[Event], now: datetime) -> Person:
    """The person record, written after their events: lifetime_value (in euros) is what
    they spent in the window plus an estimate for the years before it."""
    c = p.country
    first, last = rng.choice(c.names.split()), rng.choice(c.surnames.split("|"))
    spent = sum(e.properties["amount"] / c.rate for e in events if e.event == "purchase")
    years = max(p.age - DAYS, 0) / 365
    before = rng.uniform(20, 120) * p.kind.orders_per_year * years
    props: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "country": c.code,
        "city": rng.choice(c.cities.split("|")),
        "signup_date": (now - timedelta(days=p.age)).date().isoformat(),
        "lifetime_value": round(before + spent, 2),
        "currency": "EUR",
    }
    if p.company or rng.random() < 0.88:
        props["email"] = _email(rng, first, last, p.company)
    if rng.random() < 0.45:
        props["phone"] = _phone(rng, c)
    if p.subscription:
        props |= {"plan": p.plan, "subscription_status": p.subscription}
    if p.company:
        props["company_domain"] = p.company
    return Person(p.person_id, props)


def _email(rng: random.Random, first: str, last: str, company: str | None) -> str:
    """Mostly tidy; some as people type them, so that normalising them matters."""
    local = f"{first}.{last}" if rng.random() < 0.7 else f"{first}{rng.randint(1, 99)}"
    local = unicodedata.normalize("NFKD", local.replace("ı", "i").lower()).replace(" ", "")
    local = local.encode("ascii", "ignore").decode()
    address = f"{local}@{company or rng.choice(_MAIL_HOSTS)}"
    roll = rng.random()
    if roll < 0.08:
        return address.title()
    if roll < 0.13:
        return f" {address.upper()} " if roll < 0.1 else f"{address} "
    return address


def _phone(rng: random.Random, c: _Country) -> str:
    """A mobile number in one of the spellings imports have: E.164, or local with spaces."""
    number = rng.choice(c.mobiles.split()) + str(rng.randrange(10**c.digits)).zfill(c.digits)
    if rng.random() < 0.5:
        return f"+{c.dial}{number}"
    return f"{c.trunk}{number[:3]} {number[3:6]} {number[6:]}"
