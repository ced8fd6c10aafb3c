"""Deterministic demo data for the AFAS sandbox: the same seed and size always give the same rows.

The data is shaped to exercise every rule of the flows: organisations and persons (some without
e-mail, some sharing one in another case), a category tree, simple and configurable items with
variants, blocked items, prices in two currencies and incl./excl. VAT, stock with reservations in
two warehouses, relations, documents of every type and status, and orders shipped in parts.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from afas_sf_assets.afas.dates import format_row_datetime


class DemoSize(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


@dataclass(frozen=True)
class Volume:
    debtors: int
    items: int
    documents: int


VOLUMES = {
    DemoSize.SMALL: Volume(debtors=50, items=200, documents=40),
    DemoSize.MEDIUM: Volume(debtors=1_000, items=5_000, documents=500),
    DemoSize.LARGE: Volume(debtors=10_000, items=100_000, documents=5_000),
}

# Fixed, so that a seed gives the same modification dates on every machine and every day.
EPOCH = datetime(2026, 1, 5, 8, 0, 0)
CATEGORY_TREE = {
    "KLEDING": ("Kleding", ["SHIRTS", "BROEKEN", "JASSEN"]),
    "SCHOENEN": ("Schoenen", ["SNEAKERS", "LAARZEN"]),
    "ACCESS": ("Accessoires", ["TASSEN", "RIEMEN", "PETTEN"]),
    "SPORT": ("Sport", ["HARDLOPEN", "FIETSEN"]),
    "OUTDOOR": ("Outdoor", ["TENTEN", "RUGZAKKEN"]),
}
SUBGROUP_NAMES = {
    "SHIRTS": "Shirts",
    "BROEKEN": "Broeken",
    "JASSEN": "Jassen",
    "SNEAKERS": "Sneakers",
    "LAARZEN": "Laarzen",
    "TASSEN": "Tassen",
    "RIEMEN": "Riemen",
    "PETTEN": "Petten",
    "HARDLOPEN": "Hardlopen",
    "FIETSEN": "Fietsen",
    "TENTEN": "Tenten",
    "RUGZAKKEN": "Rugzakken",
}
SIZES = ("S", "M", "L", "XL")
COLOURS = ("Zwart", "Wit", "Blauw", "Rood", "Groen")
BRANDS = ("Noorderlicht", "Dijkwerk", "Polderpeak", "Grachtgoed", "Veluwezoom")
MATERIALS = ("Katoen", "Wol", "Leer", "Polyester", "Linnen")
FIRST_NAMES = (
    "Jan",
    "Sanne",
    "Pieter",
    "Lotte",
    "Daan",
    "Emma",
    "Bram",
    "Julia",
    "Thijs",
    "Fleur",
    "Ruben",
    "Anouk",
    "Sem",
    "Iris",
    "Lucas",
    "Noor",
)
LAST_NAMES = (
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Dijk",
    "Dekker",
    "Brouwer",
)
STREETS = (
    "Kerkstraat",
    "Dorpsstraat",
    "Molenweg",
    "Stationsweg",
    "Schoolstraat",
    "Prinsengracht",
    "Herengracht",
    "Marktplein",
    "Julianalaan",
    "Wilhelminastraat",
)
CITIES = (
    ("Amsterdam", "1011"),
    ("Rotterdam", "3011"),
    ("Utrecht", "3511"),
    ("Den Haag", "2511"),
    ("Eindhoven", "5611"),
    ("Groningen", "9711"),
    ("Zwolle", "8011"),
    ("Haarlem", "2011"),
)
COMPANY_WORDS = ("Techniek", "Handel", "Groothandel", "Mode", "Sport", "Retail", "Logistiek", "Design")
PAYMENT_CONDITIONS = ("14", "30", "60", "DIR")
PAYMENT_METHODS = ("IDEAL", "BANK", "INCASSO", "CC")
PRICE_GROUPS = {
    "STANDAARD": "Standaard prijslijst",
    "GROOTHANDEL": "Groothandel",
    "PARTICULIER": "Particulier (incl. btw)",
}
WAREHOUSES = ("HOOFD", "ZUID")
CARRIERS = {
    "PostNL": "https://jouw.postnl.nl/track-and-trace/{code}",
    "DHL": "https://www.dhl.com/nl-nl/home/tracking.html?tracking-id={code}",
    "DPD": "https://tracking.dpd.de/status/nl_NL/parcel/{code}",
    "UPS": "https://www.ups.com/track?tracknum={code}",
    "GLS": "https://gls-group.com/NL/nl/volg-je-pakket?match={code}",
}
DOCUMENT_STATUSES = {
    "quote": ("Open", "Accepted", "Rejected"),
    "order": ("Open", "Delivered", "Partially delivered", "Invoiced"),
    "invoice": ("Open", "Paid"),
    "direct_invoice": ("Open", "Paid"),
    "financial_mutation": ("Booked",),
}
DOCUMENT_START = {
    "quote": 50_000,
    "order": 10_000,
    "invoice": 30_000,
    "direct_invoice": 80_000,
    "financial_mutation": 70_000,
}
VAT_RATE = 0.21


def ean13(number: int) -> str:
    digits = f"87{number:010d}"[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def png(colour: tuple[int, int, int], size: int = 8) -> bytes:
    """A tiny solid PNG, so image sync can be tested without shipping binaries."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    raw = b"".join(b"\x00" + bytes(colour) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_bytes(image_id: int, version: int, *, size: int = 8) -> bytes:
    """An item's picture; a new version (a re-upload in Profit) gives other bytes."""
    rng = random.Random(image_id * 7919 + version)
    return png((rng.randrange(256), rng.randrange(256), rng.randrange(256)), size)


class DemoData:
    def __init__(self, seed: int, size: DemoSize) -> None:
        self.rng = random.Random(seed)
        self.volume = VOLUMES[size]
        self.sellable: list[dict[str, Any]] = []
        self.debtors: list[dict[str, Any]] = []

    def _date(self, max_days: int = 300) -> str:
        moment = EPOCH + timedelta(seconds=self.rng.randrange(max_days * 86_400))
        return format_row_datetime(moment)

    def generate(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(connector id, rows) in the order a real environment would have them."""
        yield (
            "Profit_Administrations",
            [
                {"AdminId": 1, "AdminNm": "afas-sf Demo BV", "AdminCd": "DEMO"},
                {"AdminId": 2, "AdminNm": "afas-sf Demo België BV", "AdminCd": "DEMOBE"},
            ],
        )
        yield "AfasSf_ItemGroups", list(self._groups())
        yield from self._chunked("AfasSf_Items", self._items())
        yield "AfasSf_ItemRelations", list(self._relations())
        yield (
            "AfasSf_PriceGroups",
            [
                {"PriceGroup": code, "Description": name, "ModifiedDate": self._date()}
                for code, name in PRICE_GROUPS.items()
            ],
        )
        yield from self._chunked("AfasSf_SalesPrices", self._prices())
        yield from self._chunked("AfasSf_Stock", self._stock())
        yield from self._chunked("AfasSf_Debtors", self._debtors())
        documents, lines, notes, note_lines = self._documents()
        yield "AfasSf_SalesDocuments", documents
        yield "AfasSf_SalesDocumentLines", lines
        yield "AfasSf_DeliveryNotes", notes
        yield "AfasSf_DeliveryNoteLines", note_lines

    @staticmethod
    def _chunked(
        connector: str, rows: Iterator[dict[str, Any]], size: int = 5_000
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= size:
                yield connector, batch
                batch = []
        if batch:
            yield connector, batch

    def _groups(self) -> Iterator[dict[str, Any]]:
        for order, (code, (name, children)) in enumerate(CATEGORY_TREE.items(), start=1):
            yield {
                "GroupCode": code,
                "Description": name,
                "ParentGroupCode": None,
                "SortOrder": order,
                "ModifiedDate": self._date(),
            }
            for child_order, child in enumerate(children, start=1):
                yield {
                    "GroupCode": child,
                    "Description": SUBGROUP_NAMES[child],
                    "ParentGroupCode": code,
                    "SortOrder": child_order,
                    "ModifiedDate": self._date(),
                }

    def _items(self) -> Iterator[dict[str, Any]]:
        leaf_groups = [child for _, children in CATEGORY_TREE.values() for child in children]
        made = 0
        number = 0
        while made < self.volume.items:
            number += 1
            code = f"ART-{number:06d}"
            group = self.rng.choice(leaf_groups)
            noun = SUBGROUP_NAMES[group].rstrip("s").rstrip("e")
            brand = self.rng.choice(BRANDS)
            price = round(self.rng.uniform(4.95, 249.0), 2)
            base = {
                "Description": f"{brand} {noun} {number}",
                "ExtraDescription": f"{noun} van {brand}",
                "LongDescription": f"{noun} van {brand}, gemaakt van {self.rng.choice(MATERIALS).lower()}. "
                f"Artikel {number} uit de collectie {EPOCH.year}.",
                "ItemGroup": group,
                "Brand": brand,
                "Material": self.rng.choice(MATERIALS),
                "WeightKg": round(self.rng.uniform(0.1, 4.0), 3),
                "UnitId": "STK",
                "VatGroup": "HOOG",
                "BasicSalesPrice": price,
                "CurrencyId": "EUR",
                "ManageStock": self.rng.random() > 0.05,
                "Blocked": self.rng.random() < 0.02,
                "CreateDate": self._date(30),
                "ModifiedDate": self._date(),
            }
            has_image = self.rng.random() < 0.5
            image = (
                {"ImageId": number, "ImageModifiedDate": self._date()}
                if has_image
                else {"ImageId": None, "ImageModifiedDate": None}
            )
            if self.rng.random() < 0.12 and made + 4 <= self.volume.items:
                yield {
                    "ItemCode": code,
                    "ItemKind": "configurable",
                    "ParentItemCode": None,
                    "Size": None,
                    "Colour": None,
                    "Barcode": None,
                    **base,
                    **image,
                }
                made += 1
                colours = self.rng.sample(COLOURS, 2)
                for size in self.rng.sample(SIZES, 2):
                    for colour in colours:
                        if made >= self.volume.items:
                            break
                        variant = {
                            "ItemCode": f"{code}-{size}-{colour[:3].upper()}",
                            "ItemKind": "variant",
                            "ParentItemCode": code,
                            "Size": size,
                            "Colour": colour,
                            "Barcode": ean13(number * 100 + made % 100),
                            **base,
                            "Description": f"{base['Description']} {size} {colour}",
                            "ImageId": None,
                            "ImageModifiedDate": None,
                        }
                        self.sellable.append(variant)
                        yield variant
                        made += 1
            else:
                item = {
                    "ItemCode": code,
                    "ItemKind": "simple",
                    "ParentItemCode": None,
                    "Size": None,
                    "Colour": None,
                    "Barcode": ean13(number * 100),
                    **base,
                    **image,
                }
                self.sellable.append(item)
                yield item
                made += 1

    def _relations(self) -> Iterator[dict[str, Any]]:
        codes = [item["ItemCode"] for item in self.sellable]
        seen: set[tuple[str, str, str]] = set()
        for code in codes[: max(1, len(codes) // 3)]:
            for order in range(self.rng.randint(1, 3)):
                related = self.rng.choice(codes)
                kind = self.rng.choice(("cross_sell", "up_sell", "related"))
                if related == code or (code, related, kind) in seen:
                    continue
                seen.add((code, related, kind))
                yield {
                    "ItemCode": code,
                    "RelatedItemCode": related,
                    "RelationType": kind,
                    "SortOrder": order,
                    "ModifiedDate": self._date(),
                }

    def _prices(self) -> Iterator[dict[str, Any]]:
        for item in self.sellable:
            base = float(item["BasicSalesPrice"])
            yield {
                "PriceGroup": "STANDAARD",
                "ItemCode": item["ItemCode"],
                "CurrencyId": "EUR",
                "Price": base,
                "PriceInclVat": False,
                "VatPercentage": 21.0,
                "ValidFrom": "2026-01-01T00:00:00Z",
                "ModifiedDate": self._date(),
            }
            yield {
                "PriceGroup": "GROOTHANDEL",
                "ItemCode": item["ItemCode"],
                "CurrencyId": "EUR",
                "Price": round(base * 0.8, 2),
                "PriceInclVat": False,
                "VatPercentage": 21.0,
                "ValidFrom": "2026-01-01T00:00:00Z",
                "ModifiedDate": self._date(),
            }
            yield {
                "PriceGroup": "PARTICULIER",
                "ItemCode": item["ItemCode"],
                "CurrencyId": "EUR",
                "Price": round(base * (1 + VAT_RATE), 2),
                "PriceInclVat": True,
                "VatPercentage": 21.0,
                "ValidFrom": "2026-01-01T00:00:00Z",
                "ModifiedDate": self._date(),
            }
            if self.rng.random() < 0.25:
                yield {
                    "PriceGroup": "STANDAARD",
                    "ItemCode": item["ItemCode"],
                    "CurrencyId": "USD",
                    "Price": round(base * 1.08, 2),
                    "PriceInclVat": False,
                    "VatPercentage": 21.0,
                    "ValidFrom": "2026-01-01T00:00:00Z",
                    "ModifiedDate": self._date(),
                }

    def _stock(self) -> Iterator[dict[str, Any]]:
        for item in self.sellable:
            for warehouse in WAREHOUSES[: self.rng.randint(1, 2)]:
                physical = self.rng.randint(0, 250)
                reserved = self.rng.randint(0, min(physical, 40))
                ordered = self.rng.choice((0, 0, 25, 50))
                yield {
                    "ItemCode": item["ItemCode"],
                    "Warehouse": warehouse,
                    "Physical": float(physical),
                    "Available": float(physical - self.rng.randint(0, reserved)),
                    "SalesReserved": float(reserved),
                    "PurchaseOrdered": float(ordered),
                    "ModifiedDate": self._date(),
                }

    def _address(self, prefix: str) -> dict[str, Any]:
        city, postcode = self.rng.choice(CITIES)
        letters = "".join(self.rng.choice("ABCDEGHJKLMNPRSTVWXZ") for _ in range(2))
        return {
            f"{prefix}Street": self.rng.choice(STREETS),
            f"{prefix}HouseNumber": self.rng.randint(1, 250),
            f"{prefix}HouseNumberAddition": self.rng.choice((None, None, None, "A", "bis", "2")),
            f"{prefix}PostalCode": f"{int(postcode) + self.rng.randint(0, 80)} {letters}",
            f"{prefix}City": city,
            f"{prefix}Country": "NL",
        }

    def _debtors(self) -> Iterator[dict[str, Any]]:
        previous_email: str | None = None
        for index in range(1, self.volume.debtors + 1):
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            is_org = self.rng.random() < 0.7
            company = f"{last.split()[-1]} {self.rng.choice(COMPANY_WORDS)} B.V." if is_org else None
            local = f"{first}.{last.replace(' ', '')}".lower()
            domain = f"{last.split()[-1].lower()}-{index}.nl" if is_org else f"example-{index}.nl"
            email: str | None = f"{local}@{domain}"
            if index % 20 == 11 and previous_email:
                # Every 20 debtors, one shares the previous one's address typed in capitals: matching
                # must report it, never merge the two.
                email = previous_email.upper()
            elif index % 12 == 5:
                email = None
            previous_email = email
            billing = self._address("Billing")
            delivery = (
                self._address("Delivery")
                if self.rng.random() < 0.3
                else {key.replace("Billing", "Delivery"): value for key, value in billing.items()}
            )
            debtor = {
                "DebtorId": str(10_000 + index),
                "DebtorName": company or f"{first} {last}",
                "CompanyName": company,
                "ContactFirstName": first,
                "ContactLastName": last,
                "Email": email,
                "Phone": f"0{self.rng.randint(10, 79)}-{self.rng.randint(1_000_000, 9_999_999)}",
                "Mobile": f"06-{self.rng.randint(10_000_000, 99_999_999)}",
                **billing,
                **delivery,
                "VatNumber": f"NL{self.rng.randint(100_000_000, 999_999_999)}B01" if is_org else None,
                "CocNumber": str(self.rng.randint(10_000_000, 99_999_999)) if is_org else None,
                "PaymentCondition": self.rng.choice(PAYMENT_CONDITIONS),
                "PriceGroup": self.rng.choice(("STANDAARD", "GROOTHANDEL")) if is_org else "PARTICULIER",
                "CurrencyId": "EUR",
                "Blocked": self.rng.random() < 0.03,
                "CreateDate": self._date(30),
                "ModifiedDate": self._date(),
            }
            self.debtors.append(debtor)
            yield debtor

    def _documents(self) -> tuple[list[dict[str, Any]], ...]:
        documents, lines, notes, note_lines = [], [], [], []
        counters = dict(DOCUMENT_START)
        note_number = 90_000
        kinds = list(DOCUMENT_STATUSES)
        for index in range(self.volume.documents):
            kind = (
                kinds[index % len(kinds)]
                if index < 2 * len(kinds)
                else self.rng.choice(("order", "order", "invoice", "quote", "direct_invoice", "financial_mutation"))
            )
            status = self.rng.choice(DOCUMENT_STATUSES[kind])
            if kind == "order" and index < 2 * len(kinds):
                # Guarantee an order shipped in several parts, whatever the seed.
                status = "Delivered"
            counters[kind] += 1
            number = str(counters[kind])
            debtor = self.rng.choice(self.debtors)
            doc_lines = []
            if kind != "financial_mutation":
                for line_number, item in enumerate(self.rng.sample(self.sellable, self.rng.randint(1, 5)), 1):
                    quantity = float(self.rng.randint(1, 6))
                    price = float(item["BasicSalesPrice"])
                    doc_lines.append(
                        {
                            "DocumentType": kind,
                            "DocumentNumber": number,
                            "LineNumber": line_number,
                            "ItemCode": item["ItemCode"],
                            "Description": item["Description"],
                            "Quantity": quantity,
                            "UnitPrice": price,
                            "LineTotal": round(quantity * price, 2),
                            "ModifiedDate": self._date(),
                        }
                    )
            total = (
                round(sum(line["LineTotal"] for line in doc_lines), 2)
                if doc_lines
                else round(self.rng.uniform(50, 2_000), 2)
            )
            documents.append(
                {
                    "DocumentType": kind,
                    "DocumentNumber": number,
                    "DebtorId": debtor["DebtorId"],
                    "Email": debtor["Email"],
                    "DocumentDate": self._date()[:10] + "T00:00:00Z",
                    "Status": status,
                    "CurrencyId": "EUR",
                    "PaymentCondition": debtor["PaymentCondition"],
                    "PaymentMethod": self.rng.choice(PAYMENT_METHODS),
                    "Reference": f"PO-{self.rng.randint(1000, 9999)}",
                    "InvoiceNumber": number if kind in ("invoice", "direct_invoice") else None,
                    "Administration": 1,
                    "Warehouse": "HOOFD",
                    "TotalExclVat": total,
                    "TotalInclVat": round(total * (1 + VAT_RATE), 2),
                    "ModifiedDate": self._date(),
                }
            )
            lines.extend(doc_lines)
            if kind == "order" and status in ("Delivered", "Partially delivered", "Invoiced"):
                parts = 2 if len(doc_lines) > 1 and (status != "Invoiced" or self.rng.random() < 0.4) else 1
                for part in range(parts):
                    note_number += 1
                    carrier = self.rng.choice(tuple(CARRIERS))
                    code = f"3S{self.rng.randint(10**11, 10**12 - 1)}"
                    notes.append(
                        {
                            "DeliveryNoteNumber": str(note_number),
                            "OrderNumber": number,
                            "DebtorId": debtor["DebtorId"],
                            "DeliveryDate": self._date()[:10] + "T00:00:00Z",
                            "Carrier": carrier,
                            "TrackTraceCode": code,
                            "TrackTraceUrl": CARRIERS[carrier].format(code=code),
                            "Status": "Shipped",
                            "ModifiedDate": self._date(),
                        }
                    )
                    for line_number, line in enumerate(doc_lines[part::parts], start=1):
                        note_lines.append(
                            {
                                "DeliveryNoteNumber": str(note_number),
                                "LineNumber": line_number,
                                "OrderNumber": number,
                                "ItemCode": line["ItemCode"],
                                "Quantity": line["Quantity"],
                                "ModifiedDate": self._date(),
                            }
                        )
        return documents, lines, notes, note_lines
