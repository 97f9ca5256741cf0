"""The demo catalogue: 3D product pictures from Microsoft's Fluent Emoji (MIT licence), made into a shop.

The pictures come from the npm package ``@lobehub/fluent-emoji-3d`` (256 px WebP files named by code point);
``make run`` fetches it with ``npm pack`` into ``var/demo``. Each picture has a product name and a price written
for it (what a shop would sell it as, priced like one); descriptions are written per department and picked by a
hash of the name, and stock is derived from the name too, so the catalogue is the same on every machine. Names and
descriptions are English only: the catalogue has no per-language fields yet.
"""

from __future__ import annotations

import csv
import hashlib
from decimal import Decimal
from pathlib import Path

NPM_PACKAGE = "@lobehub/fluent-emoji-3d@1.1.0"
CREDIT = "Product pictures: Microsoft Fluent Emoji 3D (MIT licence), via the npm package @lobehub/fluent-emoji-3d."

# category path -> [(the emoji whose picture it is, product name, price in EUR)]
DEPARTMENTS: dict[str, list[tuple[str, str, str]]] = {
    "Fashion/Clothing": [
        ("👔", "Silk Necktie", "29.90"), ("👕", "Organic Cotton T-Shirt", "14.90"), ("👖", "Slim-Fit Jeans", "59.00"),
        ("🧣", "Merino Wool Scarf", "34.90"), ("🧤", "Lined Leather Gloves", "39.00"), ("🧥", "Wool Overcoat", "189.00"),
        ("🧦", "Cotton Socks, 3 Pairs", "9.90"), ("👗", "Summer Wrap Dress", "69.00"), ("👘", "Cotton Kimono Robe", "79.00"),
        ("🥻", "Silk Sari", "119.00"), ("🩱", "One-Piece Swimsuit", "44.90"), ("🩲", "Swim Briefs", "19.90"),
        ("🩳", "Chino Shorts", "34.90"), ("👙", "Bikini Set", "39.90"), ("👚", "Linen Blouse", "44.90"),
        ("🥼", "Laboratory Coat", "32.00"), ("🦺", "High-Visibility Safety Vest", "12.90"), ("🎽", "Running Vest", "24.90"),
    ],
    "Fashion/Shoes": [
        ("🩴", "Flip-Flops", "12.90"), ("👞", "Leather Oxford Shoes", "119.00"), ("👟", "Running Trainers", "89.00"),
        ("🥾", "Hiking Boots", "129.00"), ("🥿", "Ballet Flats", "49.00"), ("👠", "Stiletto Heels", "79.00"),
        ("👡", "Strappy Sandals", "54.00"), ("🩰", "Ballet Pointe Shoes", "64.00"), ("👢", "Knee-High Boots", "149.00"),
        ("🛼", "Quad Roller Skates", "89.00"), ("⛸", "Figure Ice Skates", "99.00"),
    ],
    "Fashion/Bags & Accessories": [
        ("👛", "Coin Purse", "19.90"), ("👜", "Leather Handbag", "139.00"), ("👝", "Zip Pouch", "14.90"),
        ("🎒", "School Backpack", "39.90"), ("💼", "Leather Briefcase", "169.00"), ("🧳", "Cabin Suitcase", "119.00"),
        ("👓", "Reading Glasses", "24.90"), ("🕶", "Polarised Sunglasses", "59.00"), ("🥽", "Safety Goggles", "12.90"),
        ("🌂", "Compact Umbrella", "19.90"), ("☂", "Walking Umbrella", "29.90"), ("🪭", "Folding Hand Fan", "12.90"),
        ("🎀", "Satin Hair Bow", "6.90"),
    ],
    "Fashion/Hats": [
        ("👑", "Costume Crown", "14.90"), ("👒", "Straw Sun Hat", "29.90"), ("🎩", "Felt Top Hat", "59.00"),
        ("🎓", "Graduation Cap", "19.90"), ("🧢", "Baseball Cap", "19.90"), ("🪖", "Army Surplus Helmet", "39.00"),
        ("⛑", "Rescue Helmet", "49.00"),
    ],
    "Fashion/Jewellery & Beauty": [
        ("💍", "Gold Solitaire Ring", "890.00"), ("💎", "Sapphire Pendant", "420.00"), ("📿", "Wooden Bead Necklace", "24.90"),
        ("💄", "Matte Lipstick", "16.90"), ("🪮", "Wide-Tooth Comb", "7.90"), ("🧴", "Body Lotion, 200 ml", "9.90"),
        ("🧼", "Olive Oil Soap Bar", "4.50"), ("🪥", "Bamboo Toothbrush", "3.90"), ("🪒", "Safety Razor", "29.90"),
        ("🧽", "Natural Sea Sponge", "8.90"), ("🪞", "Round Wall Mirror", "49.00"),
    ],
    "Electronics/Phones & Computers": [
        ("📱", "Smartphone, 128 GB", "499.00"), ("☎", "Retro Desk Telephone", "69.00"),
        ("📞", "Corded Phone Handset", "19.90"), ("📟", "Numeric Pager", "49.00"), ("📠", "Fax Machine", "189.00"),
        ("🔋", "AA Batteries, 8 Pack", "8.90"), ("🪫", "Rechargeable AA Batteries, 4 Pack", "14.90"),
        ("🔌", "Travel Plug Adapter", "12.90"), ("💻", "14-inch Laptop", "899.00"), ("🖥", "All-in-One Desktop PC", "1049.00"),
        ("🖨", "Inkjet Printer", "119.00"), ("⌨", "Wireless Keyboard", "49.00"), ("🖱", "Wireless Mouse", "24.90"),
        ("🖲", "Trackball Mouse", "59.00"), ("💽", "MiniDiscs, 5 Pack", "14.90"), ("💾", "Floppy Disks, 10 Pack", "9.90"),
        ("💿", "Blank CD-R, 25 Pack", "12.90"), ("📀", "Blank DVD-R, 25 Pack", "14.90"),
    ],
    "Electronics/Audio, Photo & Video": [
        ("🎥", "Vintage Cine Camera", "249.00"), ("📷", "Compact Camera", "329.00"), ("📸", "Instant Camera", "119.00"),
        ("📹", "HD Camcorder", "279.00"), ("📼", "VHS Tapes, 3 Pack", "9.90"), ("📺", "32-inch Television", "229.00"),
        ("📻", "Portable Radio", "39.90"), ("🎙", "Studio Microphone", "149.00"), ("🎚", "Studio Fader Module", "89.00"),
        ("🎛", "DJ Mixing Controller", "299.00"), ("🎧", "Over-Ear Headphones", "129.00"), ("📡", "Satellite Dish", "79.00"),
        ("🔦", "LED Torch", "19.90"), ("💡", "LED Light Bulb, E27", "4.90"),
    ],
    "Electronics/Watches & Clocks": [
        ("⌚", "Smartwatch", "199.00"), ("⏰", "Twin-Bell Alarm Clock", "24.90"), ("⏲", "Kitchen Timer", "12.90"),
        ("🕰", "Mantel Clock", "129.00"), ("⏱", "Stopwatch", "19.90"), ("⌛", "Sand Timer", "14.90"),
        ("⏳", "Large Hourglass", "29.90"),
    ],
    "Home & Living/Kitchen": [
        ("🍽", "Dinner Set for One", "34.90"), ("🍴", "Cutlery Set, 16 Pieces", "39.90"),
        ("🥄", "Teaspoons, Set of 6", "12.90"), ("🔪", "Chef's Knife, 20 cm", "49.00"), ("🫙", "Glass Storage Jar", "7.90"),
        ("🏺", "Terracotta Amphora Vase", "59.00"), ("🫖", "Porcelain Teapot", "35.00"),
        ("☕", "Coffee Cup and Saucer", "9.90"), ("🍵", "Matcha Tea Bowl", "14.90"), ("🧉", "Mate Gourd with Straw", "19.90"),
        ("🥢", "Bamboo Chopsticks, 5 Pairs", "6.90"), ("🍳", "Non-Stick Frying Pan, 28 cm", "34.90"),
        ("🥘", "Paella Pan, 38 cm", "29.90"), ("🍲", "Cast-Iron Casserole", "89.00"), ("🫕", "Cheese Fondue Set", "49.00"),
        ("🥣", "Cereal Bowl with Spoon", "8.90"), ("🧂", "Salt Shaker", "5.90"), ("🍶", "Sake Set", "24.90"),
        ("🍾", "Sparkling Wine, 75 cl", "14.90"), ("🍷", "Red Wine Glasses, Set of 2", "19.90"),
        ("🍸", "Martini Glasses, Set of 2", "19.90"), ("🍹", "Hurricane Cocktail Glass", "8.90"),
        ("🍺", "Beer Stein, 0.5 l", "12.90"), ("🍻", "Beer Mugs, Set of 2", "19.90"),
        ("🥂", "Champagne Flutes, Set of 2", "22.90"), ("🥃", "Whisky Tumbler", "11.90"),
        ("🥤", "Reusable Cup with Straw", "9.90"), ("🧋", "Bubble Tea Cup", "6.90"),
        ("🧃", "Apple Juice Boxes, 6 Pack", "3.90"), ("🥡", "Takeaway Containers, 10 Pack", "5.90"),
    ],
    "Home & Living/Furniture & Decor": [
        ("🪑", "Wooden Dining Chair", "79.00"), ("🛋", "Three-Seater Sofa", "749.00"), ("🛏", "Double Bed", "499.00"),
        ("🚪", "Oak Interior Door", "219.00"), ("🪟", "Double-Glazed Window", "329.00"),
        ("🚽", "Close-Coupled Toilet", "199.00"), ("🚿", "Rain Shower Head", "59.00"),
        ("🛁", "Freestanding Bathtub", "899.00"), ("🧹", "Household Broom", "14.90"),
        ("🧺", "Wicker Laundry Basket", "29.90"), ("🧻", "Toilet Paper, 9 Rolls", "5.90"),
        ("🪣", "Plastic Bucket, 10 l", "6.90"), ("🧯", "Fire Extinguisher, 2 kg", "39.00"),
        ("🏮", "Red Paper Lantern", "12.90"), ("🪔", "Clay Diya Oil Lamp", "6.90"), ("🕯", "Scented Candle", "14.90"),
        ("🖼", "Picture Frame, 30 × 40 cm", "19.90"), ("🪩", "Mirror Disco Ball", "24.90"),
        ("🧸", "Plush Teddy Bear", "24.90"), ("🪆", "Russian Nesting Dolls", "29.90"), ("🎎", "Hina Dolls", "79.00"),
        ("🎏", "Carp Streamer", "19.90"), ("🎐", "Glass Wind Chime", "16.90"), ("🧿", "Evil Eye Charm", "7.90"),
        ("🪬", "Hamsa Wall Hanging", "19.90"),
    ],
    "Home & Living/Garden": [
        ("🪴", "Potted Monstera", "29.90"), ("🌵", "Cactus in a Pot", "9.90"), ("🌷", "Tulip Bulbs, 20 Pack", "7.90"),
        ("🌹", "Red Roses, Bunch of 12", "24.90"), ("🌻", "Sunflower Seeds", "2.90"), ("🌼", "Daisy Plant", "5.90"),
        ("🪻", "Hyacinth Bulbs, 10 Pack", "8.90"), ("🌸", "Flowering Cherry Tree", "59.00"),
        ("💐", "Mixed Flower Bouquet", "29.90"), ("🪵", "Firewood Logs, 20 kg", "12.90"),
        ("🌱", "Seedling Starter Tray", "8.90"), ("🌿", "Potted Basil", "3.90"), ("🍀", "Clover Lawn Seed", "3.50"),
        ("🎍", "Bamboo Pine Decoration", "39.00"), ("🪨", "Garden Boulder", "49.00"),
    ],
    "Tools/Hand Tools": [
        ("🔨", "Claw Hammer", "16.90"), ("🪓", "Splitting Axe", "44.90"), ("⛏", "Pickaxe", "39.90"),
        ("⚒", "Geologist's Hammer Set", "49.90"), ("🛠", "Household Tool Set", "34.90"),
        ("🔧", "Adjustable Wrench", "14.90"), ("🪛", "Precision Screwdriver", "6.90"), ("🗜", "Bench Vice", "49.00"),
        ("⚖", "Brass Balance Scale", "39.90"), ("🧰", "Metal Toolbox", "34.90"),
        ("🪜", "Aluminium Step Ladder", "79.00"), ("✂", "All-Purpose Scissors", "9.90"),
    ],
    "Tools/Hardware": [
        ("🔩", "Nuts and Bolts Assortment", "9.90"), ("⚙", "Steel Spur Gear", "7.90"),
        ("🔗", "Chain Quick Links, 4 Pack", "4.90"), ("⛓", "Steel Chain, 5 m", "24.90"),
        ("🪝", "Steel Hooks, 5 Pack", "6.90"), ("🧲", "Horseshoe Magnet", "8.90"),
        ("🔑", "Brass Key Blanks, 2 Pack", "4.90"), ("🗝", "Antique-Style Key", "9.90"),
        ("🔒", "Brass Padlock", "12.90"), ("🔓", "Combination Padlock", "14.90"),
    ],
    "Science & Health": [
        ("🧪", "Glass Test Tubes, 12 Pack", "12.90"), ("🧫", "Petri Dishes, 20 Pack", "14.90"),
        ("🧬", "DNA Double Helix Model", "34.90"), ("🔬", "Student Microscope", "149.00"),
        ("🔭", "Refractor Telescope", "229.00"), ("🌡", "Outdoor Thermometer", "9.90"), ("🩺", "Stethoscope", "59.00"),
        ("💉", "Disposable Syringes, 10 Pack", "6.90"), ("🩹", "Plasters, 40 Pack", "3.90"),
        ("🩼", "Underarm Crutch", "29.90"),
    ],
    "Sports/Ball Sports": [
        ("⚽", "Football, Size 5", "24.90"), ("⚾", "Baseball", "9.90"), ("🥎", "Softball", "11.90"),
        ("🏀", "Wall-Mounted Basketball Hoop", "89.00"), ("🏐", "Volleyball", "24.90"),
        ("🏈", "American Football", "29.90"), ("🏉", "Rugby Ball", "24.90"), ("🎾", "Tennis Racket and Ball", "69.00"),
        ("🥏", "Flying Disc", "9.90"), ("🎳", "Bowling Ball and Pins", "89.00"), ("🏏", "Cricket Bat and Ball", "79.00"),
        ("🏑", "Field Hockey Stick", "49.00"), ("🏒", "Ice Hockey Stick and Puck", "59.00"),
        ("🥍", "Lacrosse Stick", "69.00"), ("🏓", "Table Tennis Set", "24.90"), ("🏸", "Badminton Set", "29.90"),
        ("🥅", "Pop-Up Football Goal", "59.00"), ("⛳", "Golf Practice Flag", "19.90"),
    ],
    "Sports/Outdoors": [
        ("🥊", "Boxing Gloves", "49.00"), ("🥋", "Karate Uniform", "39.00"), ("🎣", "Fishing Rod", "59.00"),
        ("🤿", "Snorkel Mask", "29.90"), ("🎿", "Skis with Bindings", "399.00"), ("🛷", "Wooden Sledge", "69.00"),
        ("🥌", "Granite Curling Stone", "449.00"), ("🛹", "Skateboard", "79.00"), ("🚲", "City Bike", "549.00"),
        ("🛴", "Kick Scooter", "99.00"), ("⛺", "Two-Person Tent", "129.00"), ("🪁", "Stunt Kite", "34.90"),
        ("🛶", "Touring Canoe", "799.00"), ("🏕", "Family Camping Tent", "249.00"),
    ],
    "Toys & Games": [
        ("🎮", "Game Controller", "59.00"), ("🕹", "Arcade Joystick", "39.90"), ("🎲", "Dice Set", "4.90"),
        ("🧩", "Jigsaw Puzzle, 1000 Pieces", "19.90"), ("♟", "Wooden Chess Set", "34.90"), ("🎯", "Dartboard", "39.90"),
        ("🎱", "Pool Ball Set", "79.00"), ("🔮", "Crystal Ball", "24.90"), ("🪄", "Magician's Wand", "9.90"),
        ("🃏", "Playing Cards", "4.90"), ("🀄", "Mahjong Set", "49.00"), ("🎴", "Hanafuda Cards", "12.90"),
        ("🪅", "Piñata", "19.90"), ("🪀", "Yo-Yo", "6.90"), ("🎨", "Watercolour Paint Set", "19.90"),
        ("🧵", "Cotton Sewing Thread", "2.90"), ("🪡", "Sewing Needles, 20 Pack", "2.90"),
        ("🧶", "Merino Yarn, 100 g", "7.90"), ("🪢", "Braided Cotton Rope, 10 m", "12.90"),
        ("🎈", "Party Balloons, 20 Pack", "4.90"), ("🎁", "Gift Box with Ribbon", "5.90"),
        ("🚂", "Wooden Toy Train", "29.90"), ("🚗", "Toy Car", "12.90"), ("🚀", "Model Rocket Kit", "34.90"),
        ("🛸", "Flying Saucer Toy", "14.90"), ("🪃", "Wooden Boomerang", "19.90"),
    ],
    "Music": [
        ("🎷", "Alto Saxophone", "899.00"), ("🪗", "Piano Accordion", "1290.00"), ("🎸", "Electric Guitar", "349.00"),
        ("🎹", "Digital Piano", "599.00"), ("🎺", "Trumpet", "449.00"), ("🎻", "Full-Size Violin", "299.00"),
        ("🪕", "Five-String Banjo", "389.00"), ("🥁", "Snare Drum with Sticks", "159.00"), ("🪘", "Djembe", "89.00"),
        ("🪇", "Maracas", "12.90"), ("🪈", "Bamboo Flute", "24.90"), ("📯", "Post Horn", "129.00"),
        ("🔔", "Hand Bell", "19.90"), ("🎤", "Vocal Microphone", "99.00"), ("🎼", "Sheet Music Book", "14.90"),
    ],
    "Books & Stationery": [
        ("📔", "Decorated Notebook", "12.90"), ("📕", "Hardback Novel", "19.90"), ("📖", "Paperback Classic", "9.90"),
        ("📗", "Gardening Handbook", "16.90"), ("📘", "City Travel Guide", "18.90"),
        ("📙", "Children's Picture Book", "12.90"), ("📚", "Novel Bundle, 3 Books", "29.90"),
        ("📓", "Composition Notebook", "3.90"), ("📒", "Ledger Book", "8.90"), ("📜", "Parchment Paper Scroll", "6.90"),
        ("📰", "Weekend Newspaper", "3.50"), ("📑", "Index Tabs", "3.90"), ("🔖", "Bookmarks, 5 Pack", "4.90"),
        ("🏷", "Gift Tags, 50 Pack", "3.90"), ("✉", "Envelopes, 50 Pack", "5.90"),
        ("📦", "Cardboard Boxes, 10 Pack", "14.90"), ("📮", "Wall-Mounted Letterbox", "49.00"),
        ("✏", "HB Pencils, 12 Pack", "4.90"), ("✒", "Calligraphy Nib Set", "11.90"), ("🖋", "Fountain Pen", "34.90"),
        ("🖊", "Ballpoint Pens, 10 Pack", "5.90"), ("🖌", "Paintbrush Set", "9.90"),
        ("🖍", "Wax Crayons, 24 Pack", "4.90"), ("📝", "Memo Pad", "2.90"), ("📁", "Document Folder", "2.50"),
        ("📂", "Expanding File Folder", "7.90"), ("🗂", "Index Dividers", "4.90"), ("📅", "Desk Calendar", "9.90"),
        ("🗒", "Spiral Notepad", "2.90"), ("📇", "Rotary Card Index", "19.90"), ("📋", "Clipboard", "4.90"),
        ("📌", "Drawing Pins, 100 Pack", "2.50"), ("📍", "Map Pins, 50 Pack", "3.50"),
        ("📎", "Paper Clips, 100 Pack", "1.90"), ("🖇", "Jumbo Paper Clips, 50 Pack", "2.90"),
        ("📏", "Steel Ruler, 30 cm", "3.90"), ("📐", "Set Square", "2.90"),
    ],
    "Groceries/Fruit": [
        ("🍇", "Red Grapes, 500 g", "2.99"), ("🍈", "Honeydew Melon", "2.49"), ("🍉", "Watermelon", "4.99"),
        ("🍊", "Mandarins, 1 kg", "2.79"), ("🍋", "Lemons, 4 Pack", "1.49"), ("🍌", "Bananas, 1 kg", "1.59"),
        ("🍍", "Pineapple", "2.49"), ("🥭", "Mango", "1.49"), ("🍎", "Gala Apples, 1 kg", "2.49"),
        ("🍏", "Granny Smith Apples, 1 kg", "2.69"), ("🍐", "Conference Pears, 1 kg", "2.59"),
        ("🍑", "Peaches, 4 Pack", "2.99"), ("🍒", "Cherries, 500 g", "4.99"), ("🍓", "Strawberries, 400 g", "3.49"),
        ("🫐", "Blueberries, 250 g", "2.99"), ("🥝", "Kiwis, 6 Pack", "2.49"), ("🥥", "Coconut", "1.99"),
    ],
    "Groceries/Vegetables": [
        ("🍅", "Vine Tomatoes, 500 g", "2.29"), ("🫒", "Green Olives, 200 g", "2.49"), ("🥑", "Avocados, 2 Pack", "2.99"),
        ("🍆", "Aubergine", "1.29"), ("🥔", "Potatoes, 2.5 kg", "2.99"), ("🥕", "Carrots, 1 kg", "1.09"),
        ("🌽", "Corn on the Cob, 2 Pack", "1.99"), ("🌶", "Red Chillies, 100 g", "1.29"),
        ("🫑", "Green Peppers, 3 Pack", "1.99"), ("🥒", "Cucumber", "0.79"), ("🥬", "Pak Choi", "1.49"),
        ("🥦", "Broccoli", "1.39"), ("🧄", "Garlic, 3 Bulbs", "1.19"), ("🧅", "Brown Onions, 1 kg", "1.29"),
        ("🍄", "Chestnut Mushrooms, 250 g", "1.79"), ("🥜", "Roasted Peanuts, 200 g", "1.99"),
        ("🫘", "Kidney Beans, 400 g", "0.99"), ("🌰", "Sweet Chestnuts, 200 g", "2.99"),
        ("🫚", "Fresh Ginger, 150 g", "1.19"), ("🫛", "Sugar Snap Peas, 200 g", "1.99"),
    ],
    "Groceries/Bakery & Dairy": [
        ("🍞", "Sourdough Loaf", "3.49"), ("🥐", "Butter Croissants, 4 Pack", "2.99"), ("🥖", "French Baguette", "1.29"),
        ("🫓", "Naan Breads, 2 Pack", "1.79"), ("🥨", "Soft Pretzel", "1.20"), ("🥯", "Sesame Bagels, 4 Pack", "2.49"),
        ("🥞", "Pancakes, 6 Pack", "2.29"), ("🧇", "Belgian Waffles, 4 Pack", "2.79"), ("🧀", "Aged Gouda, 200 g", "3.99"),
        ("🍯", "Wildflower Honey, 450 g", "5.49"), ("🥛", "Whole Milk, 1 l", "1.19"), ("🧈", "Salted Butter, 250 g", "2.39"),
        ("🍪", "Chocolate Chip Cookies, 200 g", "2.19"), ("🎂", "Birthday Cake", "19.90"),
        ("🍰", "Strawberry Shortcake Slice", "3.49"), ("🧁", "Vanilla Cupcakes, 4 Pack", "4.49"),
        ("🥧", "Apple Pie", "6.99"), ("🍫", "Milk Chocolate Bar, 100 g", "1.49"), ("🍬", "Fruit Sweets, 200 g", "1.79"),
        ("🍭", "Swirl Lollipop", "0.99"), ("🍩", "Glazed Doughnut", "1.29"),
    ],
}

# Products sold in variants: the package draws some objects in several colours or skin tones, which a shop sells
# as one product with a choice. (category path, SKU, name, Chinese name, price, description in both languages,
# [(emoji, variant, variant in Chinese, price or "" for the product's)]); a variant without an emoji is a size
# that shares the product's pictures.
VARIANT_PRODUCTS: list[tuple[str, str, str, str, str, tuple[str, str], list[tuple[str, str, str, str]]]] = [
    (
        "Home & Living/Furniture & Decor", "DEMO-HEART", "Heart Cushion", "心形抱枕", "24.90",
        ("A plump velvet heart, 40 cm across, with a zip and a washable cover.",
         "饱满的丝绒心形抱枕，直径 40 厘米，带拉链，外套可机洗。"),
        [("❤️", "Red", "红色", ""), ("🧡", "Orange", "橙色", ""), ("💛", "Yellow", "黄色", ""),
         ("💚", "Green", "绿色", ""), ("💙", "Blue", "蓝色", ""), ("💜", "Purple", "紫色", ""),
         ("🖤", "Black", "黑色", "26.90"), ("🤍", "White", "白色", "26.90"), ("🩷", "Pink", "粉色", "")],
    ),
    (
        "Sports/Ball Sports", "DEMO-FOAMHAND", "Foam Fan Hand", "加油泡沫手", "9.90",
        ("The giant thumbs-up for the stands: soft foam, one size for every hand.",
         "看台上的大拇指：柔软泡沫，一个尺寸适合所有的手。"),
        [("👍", "Classic yellow", "经典黄", ""), ("👍🏻", "Light skin tone", "浅肤色", ""),
         ("👍🏼", "Medium-light skin tone", "中浅肤色", ""), ("👍🏽", "Medium skin tone", "中等肤色", ""),
         ("👍🏾", "Medium-dark skin tone", "中深肤色", ""), ("👍🏿", "Dark skin tone", "深肤色", "")],
    ),
]
SIZED_PRODUCTS: dict[str, list[tuple[str, str]]] = {
    # SKU of a product above -> sizes (name, price or "" for the product's): one picture, a choice of size
    "DEMO-1F455": [("S", ""), ("M", ""), ("L", ""), ("XL", "16.90")],
    "DEMO-1F45F": [("39", ""), ("40", ""), ("41", ""), ("42", ""), ("43", ""), ("44", ""), ("45", "")],
}

# Three descriptions per category; a product gets one of them, chosen by a hash of its name.
DESCRIPTIONS: dict[str, tuple[str, str, str]] = {
    "Fashion/Clothing": (
        "Cut for an easy, regular fit from soft, breathable fabric. Machine washable at 30 °C.",
        "A wardrobe staple that keeps its shape and colour wash after wash. Sizes XS to XXL.",
        "Made in a family-run workshop from responsibly sourced fibres. Free returns within 30 days.",
    ),
    "Fashion/Shoes": (
        "A cushioned insole and a flexible sole for comfort from the first wear. Sizes 35 to 47.",
        "Stitched uppers and a grippy rubber outsole that last season after season.",
        "True to size; order your usual size, or half a size up between sizes.",
    ),
    "Fashion/Bags & Accessories": (
        "Sturdy stitching, smooth zips and room for the everyday essentials.",
        "The finishing touch for work, weekends and travel. Comes in a reusable cotton bag.",
        "Light, practical and made to be used every day for years.",
    ),
    "Fashion/Hats": (
        "One size with an adjustable band inside for a snug fit.",
        "Shapes back after packing; brush gently to clean.",
        "For sunny days, parties and every occasion in between.",
    ),
    "Fashion/Jewellery & Beauty": (
        "Gift-wrapped for free, with a card for your message.",
        "Gentle on skin and free from parabens; not tested on animals.",
        "A small everyday luxury, made to be kept or given.",
    ),
    "Electronics/Phones & Computers": (
        "Works out of the box with Windows, macOS, Linux and Android. Two-year warranty.",
        "Tested before it leaves our warehouse; a two-year warranty and free repairs.",
        "Low power use and a long life, with spare parts available for five years.",
    ),
    "Electronics/Audio, Photo & Video": (
        "Clear picture and rich sound, set up in minutes. Two-year warranty.",
        "Compact enough to take anywhere, solid enough for daily use.",
        "Comes with the cables you need and a quick-start guide in six languages.",
    ),
    "Electronics/Watches & Clocks": (
        "A precise movement and a clear face that reads at a glance.",
        "Quiet, reliable and easy to set. Battery included.",
        "Made to keep good time for years; two-year warranty.",
    ),
    "Home & Living/Kitchen": (
        "Dishwasher safe and made to be used every day.",
        "Food-safe materials, easy to clean and good-looking on the table.",
        "Chosen by our own cooks for everyday meals and dinners with friends.",
    ),
    "Home & Living/Furniture & Decor": (
        "Delivered to your door; assembly takes under an hour with the tools included.",
        "Brings warmth and character to any room. Wipe clean with a damp cloth.",
        "Designed to last, with materials from certified sustainable sources.",
    ),
    "Home & Living/Garden": (
        "Grown in our own nursery and shipped in protective packaging.",
        "Easy to care for: a sunny spot and a little water each week.",
        "Hardy, healthy and ready to plant or to give.",
    ),
    "Tools/Hand Tools": (
        "Hardened steel and a comfortable grip, built for real work. Lifetime guarantee.",
        "Precise, solid and ready for the workshop or the kitchen drawer.",
        "Made to professional standards at a price for home use.",
    ),
    "Tools/Hardware": (
        "Zinc-plated against rust, for indoor and outdoor use.",
        "Sold in the quantities a job really needs, with spares.",
        "Tested for load and wear to the relevant EN standard.",
    ),
    "Science & Health": (
        "Laboratory quality, for schools, hobbyists and curious minds.",
        "Accurate, robust and easy to clean after use.",
        "Meets EU standards; instructions in six languages included.",
    ),
    "Sports/Ball Sports": (
        "Official size and weight, made for training and matches.",
        "Durable, weather-resistant and fun for every level of play.",
        "Used in local clubs and schools; tested for grip and bounce.",
    ),
    "Sports/Outdoors": (
        "For weekends outside, training and holidays in every season.",
        "Light, tough and easy to carry, store and look after.",
        "Tested by our team in the mountains, on the water and in the park.",
    ),
    "Toys & Games": (
        "Hours of fun for all ages. Meets EU toy safety standards.",
        "A favourite for family evenings, rainy days and birthdays.",
        "Well made and long lasting: passed down, not thrown away.",
    ),
    "Music": (
        "A rich, balanced sound for beginners and professionals alike.",
        "Set up and checked by our instrument technicians before it ships.",
        "Comes with a protective case; free adjustment within the first year.",
    ),
    "Books & Stationery": (
        "Everything the desk needs, from first draft to final copy.",
        "Acid-free paper and sturdy binding that lasts.",
        "Made from recycled materials wherever we can.",
    ),
    "Groceries/Fruit": (
        "Picked ripe by our growers and delivered within the week.",
        "Sweet, juicy and in season; store in a cool place.",
        "From orchards we know by name, with no unnecessary packaging.",
    ),
    "Groceries/Vegetables": (
        "Fresh from local farms, washed and ready to cook.",
        "Grown without haste for full flavour; keep refrigerated.",
        "Harvested this week and packed in compostable trays.",
    ),
    "Groceries/Bakery & Dairy": (
        "Baked fresh every morning in our own ovens.",
        "Made with butter, free-range eggs and no preservatives.",
        "From dairies and bakers near you; best within three days.",
    ),
}


def _asset_for(char: str, assets: Path) -> Path | None:
    codes = "-".join(f"{ord(c):x}" for c in char)
    for name in (codes, f"{codes}-fe0f", codes.replace("-fe0f", "")):
        path = assets / f"{name}.webp"
        if path.exists():
            return path
    return None


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


CHINESE_TEXT = Path(__file__).with_name("demo_zh.tsv")
DESCRIPTIONS_TEXT = Path(__file__).with_name("demo_descriptions.tsv")


def _descriptions() -> dict[str, tuple[str, str]]:
    """Each demo product's own description in English and Chinese (``demo_descriptions.tsv``, written by the
    project for each product: its material, use, size or care, not a line shared by its whole category)."""
    found = {}
    for line in DESCRIPTIONS_TEXT.read_text(encoding="utf-8").splitlines()[1:]:
        sku, description, description_zh = line.split("\t")
        found[sku] = (description, description_zh)
    return found


def _chinese_text() -> tuple[dict[str, str], dict[str, str]]:
    """The demo's Chinese names by SKU, and its category paths in Chinese (``demo_zh.tsv``, two tab-separated
    tables written by the project, one blank line between them)."""
    products, categories = {}, {}
    products_part, _, categories_part = CHINESE_TEXT.read_text(encoding="utf-8").partition("\n\n")
    for line in products_part.splitlines()[1:]:
        sku, name_zh = line.split("\t")
        products[sku] = name_zh
    for line in categories_part.strip().splitlines()[1:]:
        path, path_zh = line.split("\t")
        categories[path] = path_zh
    return products, categories


def demo_csv_write(*, assets: Path, out: Path) -> int:
    """Write the demo catalogue's CSV (image paths relative to ``assets``); returns the number of products."""
    chinese, categories_zh = _chinese_text()
    descriptions = _descriptions()
    rows, seen = [], set()
    for path, products in DEPARTMENTS.items():
        for char, name, price in products:
            asset = _asset_for(char, assets)
            if asset is None or char in seen:
                continue
            seen.add(char)
            digest = _digest(name)
            stock = 0 if digest % 11 == 0 else 3 + digest % 40
            sku = f"DEMO-{ord(char[0]):05X}"
            name_zh = chinese.get(sku, "")
            description, description_zh = descriptions.get(
                sku, (DESCRIPTIONS[path][digest % len(DESCRIPTIONS[path])], "")
            )
            rows.append(
                {
                    "sku": sku,
                    "name": name,
                    "category": path,
                    "price": str(Decimal(price)),
                    "stock": str(stock),
                    "description": description,
                    "image": asset.name,
                    "name_zh": name_zh,
                    "description_zh": description_zh,
                    "category_zh": categories_zh.get(path, ""),
                }
            )
    rows = _with_sizes(rows)
    for path, sku, name, name_zh, price, (description, description_zh), variants in VARIANT_PRODUCTS:
        for position, (char, variant, variant_zh, variant_price) in enumerate(variants):
            asset = _asset_for(char, assets)
            if asset is None:
                continue
            digest = _digest(f"{name} {variant}")
            rows.append({
                "sku": sku, "name": name, "category": path, "price": price, "stock": "0",
                "description": description, "image": asset.name, "name_zh": name_zh,
                "description_zh": description_zh, "category_zh": categories_zh.get(path, ""),
                "variant_sku": f"{sku}-{position + 1:02d}", "variant": variant, "variant_zh": variant_zh,
                "variant_price": variant_price, "variant_stock": str(0 if digest % 7 == 0 else 2 + digest % 25),
            })
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=["sku", "name", "category", "price", "stock", "description", "image", "name_zh",
                        "description_zh", "category_zh", "variant_sku", "variant", "variant_zh", "variant_price",
                        "variant_stock"],
            restval="",
        )
        writer.writeheader()
        writer.writerows(rows)
    return len({row["sku"] for row in rows})


def _with_sizes(rows: list[dict]) -> list[dict]:
    """The product rows, each sized product followed by one row per size (no picture of its own)."""
    out = []
    for row in rows:
        out.append(row)
        for position, (size, price) in enumerate(SIZED_PRODUCTS.get(row["sku"], [])):
            digest = _digest(f"{row['name']} {size}")
            out.append({
                **row, "image": "", "variant_sku": f"{row['sku']}-{size}", "variant": size, "variant_zh": "",
                "variant_price": price, "variant_stock": str(0 if digest % 9 == 0 else 1 + digest % 12),
            })
    return out
