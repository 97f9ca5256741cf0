"""The demo catalogue: 3D product pictures from Microsoft's Fluent Emoji (MIT licence), made into a shop.

The pictures come from the npm package ``@lobehub/fluent-emoji-3d`` (256 px WebP files named by code point);
``make run`` fetches it with ``npm pack`` into ``var/demo``. Names come from ``unicodedata``; prices and stock are
derived from the name so the catalogue is the same on every machine.
"""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from decimal import Decimal
from pathlib import Path

NPM_PACKAGE = "@lobehub/fluent-emoji-3d@1.1.0"
CREDIT = "Product pictures: Microsoft Fluent Emoji 3D (MIT licence), via the npm package @lobehub/fluent-emoji-3d."

# category path -> (price range in EUR, the emoji that are its products)
DEPARTMENTS: dict[str, tuple[tuple[int, int], str]] = {
    "Fashion/Clothing": ((12, 140), "👔👕👖🧣🧤🧥🧦👗👘🥻🩱🩲🩳👙👚🥼🦺🎽"),
    "Fashion/Shoes": ((25, 190), "🩴👞👟🥾🥿👠👡🩰👢🛼⛸"),
    "Fashion/Bags & Accessories": ((15, 320), "👛👜👝🎒💼🧳👓🕶🥽🌂☂🪭🎀"),
    "Fashion/Hats": ((10, 90), "👑👒🎩🎓🧢🪖⛑"),
    "Fashion/Jewellery & Beauty": ((8, 900), "💍💎📿💄🪮🧴🧼🪥🪒🧽🪞"),
    "Electronics/Phones & Computers": ((49, 1900), "📱☎📞📟📠🔋🪫🔌💻🖥🖨⌨🖱🖲💽💾💿📀"),
    "Electronics/Audio, Photo & Video": ((19, 1200), "🎥📷📸📹📼📺📻🎙🎚🎛🎧📡🔦💡"),
    "Electronics/Watches & Clocks": ((15, 650), "⌚⏰⏲🕰⏱⌛⏳"),
    "Home/Kitchen": ((4, 160), "🍽🍴🥄🔪🫙🏺🫖☕🍵🧉🥢🍳🥘🍲🫕🥣🧂🍶🍾🍷🍸🍹🍺🍻🥂🥃🥤🧋🧃🥡"),
    "Home/Furniture & Decor": ((15, 1400), "🪑🛋🛏🚪🪟🚽🚿🛁🧹🧺🧻🪣🧯🏮🪔🕯🖼🪩🧸🪆🎎🎏🎐🏺🧿🪬"),
    "Home/Garden": ((5, 120), "🪴🌵🌷🌹🌻🌼🪻🌸💐🪵🌱🌿🍀🎍🪨"),
    "Tools/Hand Tools": ((6, 140), "🔨🪓⛏⚒🛠🔧🪛🔩⚙🗜⚖🔗⛓🪝🧰🧲🪜✂🔑🗝🔒🔓"),
    "Tools/Science": ((12, 480), "🧪🧫🧬🔬🔭🌡🩺💉🩹🩼"),
    "Sports/Ball Sports": ((9, 160), "⚽⚾🥎🏀🏐🏈🏉🎾🥏🎳🏏🏑🏒🥍🏓🏸🥅⛳"),
    "Sports/Outdoors": ((12, 700), "🥊🥋🎣🤿🎿🛷🥌🛹🚲🛴⛺🪁🛶🏕"),
    "Toys & Games": ((5, 120), "🎮🕹🎲🧩♟🎯🎱🔮🪄🃏🀄🎴🪅🪀🎨🧵🪡🧶🪢🎈🎁🚂🚗🚀🛸🪃"),
    "Music": ((25, 2400), "🎷🪗🎸🎹🎺🎻🪕🥁🪘🪇🪈📯🔔🎤🎼"),
    "Books & Stationery": ((2, 45), "📔📕📖📗📘📙📚📓📒📜📰📑🔖🏷✉📦📮✏✒🖋🖊🖌🖍📝📁📂🗂📅🗒📇📋📌📍📎🖇📏📐"),
    "Groceries/Fruit": ((1, 9), "🍇🍈🍉🍊🍋🍌🍍🥭🍎🍏🍐🍑🍒🍓🫐🥝🥥"),
    "Groceries/Vegetables": ((1, 6), "🍅🫒🥑🍆🥔🥕🌽🌶🫑🥒🥬🥦🧄🧅🍄🥜🫘🌰🫚🫛"),
    "Groceries/Bakery & Dairy": ((1, 14), "🍞🥐🥖🫓🥨🥯🥞🧇🧀🍯🥛🧈🍪🎂🍰🧁🥧🍫🍬🍭🍩"),
}

BLURBS = {
    "Fashion": "Made to be worn every day and to last for years.",
    "Electronics": "Tested, reliable and ready to use out of the box. Two-year warranty.",
    "Home": "Brings warmth and order to every room of the house.",
    "Tools": "Solid, precise and built for real work.",
    "Sports": "For training, weekends and everything in between.",
    "Toys & Games": "Hours of fun for all ages.",
    "Music": "A rich, balanced sound for beginners and professionals alike.",
    "Books & Stationery": "Everything the desk needs, from first draft to final copy.",
    "Groceries": "Fresh from our growers and bakers, delivered the same week.",
}


def _asset_for(char: str, assets: Path) -> Path | None:
    codes = "-".join(f"{ord(c):x}" for c in char)
    for name in (codes, f"{codes}-fe0f", codes.replace("-fe0f", "")):
        path = assets / f"{name}.webp"
        if path.exists():
            return path
    return None


def _name(char: str) -> str:
    words = unicodedata.name(char[0], "").replace(" SIGN", "").replace(" SYMBOL", "")
    return words.title().replace("'S", "'s") if words else "Item"


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def demo_csv_write(*, assets: Path, out: Path) -> int:
    """Write the demo catalogue's CSV (image paths relative to ``assets``); returns the number of products."""
    rows, seen = [], set()
    for path, ((low, high), chars) in DEPARTMENTS.items():
        department = path.split("/")[0]
        for char in dict.fromkeys(chars):  # keeps order, drops repeats
            asset = _asset_for(char, assets)
            if asset is None or char in seen:
                continue
            seen.add(char)
            name = _name(char)
            digest = _digest(name)
            price = Decimal(low + digest % (high - low + 1)) - Decimal("0.01")
            stock = 0 if digest % 11 == 0 else 3 + digest % 40
            rows.append(
                {
                    "sku": f"DEMO-{ord(char[0]):05X}",
                    "name": name,
                    "category": path,
                    "price": str(max(price, Decimal("0.99"))),
                    "stock": str(stock),
                    "description": f"{name}. {BLURBS[department]}",
                    "image": asset.name,
                }
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["sku", "name", "category", "price", "stock", "description", "image"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
