"""How the fused text search scales: 100k products with English and Chinese names, each with a picture whose
concepts look like real ones, searched by English, Chinese, typo and concept-only queries.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/text_search.py --products 100000

Rows are written in bulk with the same SQL expressions as ``catalog.services.search_document_refresh`` (which
works per product, too slow for 100k) and the worker's own concept columns. The pictures' concepts are
drawn like the demo catalogue's: a few likely ImageNet classes per picture, 32 kept. Vectors are tiny (8-d) under
a bench-only model key: the text search never reads them. Prints p50/p95 per query kind, with EXPLAIN's
index use for one query of each.
"""

from __future__ import annotations

import argparse
import random
import time

from common import bench_database, django_setup, embedded_stop_if_started, machine_line, ms

WORDS = (
    "classic leather running shoe boot sandal cotton linen wool shirt dress jacket coat scarf glove sock hat cap "
    "bag backpack wallet watch clock lamp chair table sofa bed teapot cup mug bowl plate knife fork spoon pan pot "
    "guitar violin drum piano ball racket bike tent kite toy puzzle book pen pencil notebook apple banana orange "
    "lemon grape tomato potato carrot bread cheese milk honey red blue green black white small large soft light"
).split()
CHINESE = "经典 皮革 跑步 运动鞋 靴子 凉鞋 棉质 亚麻 羊毛 衬衫 连衣裙 夹克 外套 围巾 手套 袜子 帽子 包 背包 钱包 手表 时钟 台灯 椅子 桌子 沙发 床 茶壶 杯子 马克杯 碗 盘子 刀 叉子 勺子 锅 吉他 小提琴 鼓 钢琴 球 自行车 帐篷 风筝 玩具 拼图 书 钢笔 铅笔 笔记本 苹果 香蕉 橙子 柠檬 葡萄 番茄 土豆 胡萝卜 面包 奶酪 牛奶 蜂蜜".split()
QUERIES = {
    "english": ["running shoes", "leather bag", "teapot", "wool scarf", "blue jacket", "kitchen knife"],
    "chinese": ["运动鞋", "鞋", "背包", "茶壶", "羊毛围巾", "杯子"],
    "typo": ["runing shoe", "backpak", "guitr", "teapott"],
    "concept only": ["sneaker", "footwear", "hot drink", "laptop", "灯", "水果"],
}


def populate(n: int, model_key: str) -> None:
    from django.db import connection

    from catalog.models import Product
    from visualsearch.services import _concept_columns

    from catalog.services import category_get_or_create_path
    from catalog.models import CatalogueWord
    from catalog.text import chinese_index_tokens, name_words, trigrams

    rng = random.Random(7)
    category = category_get_or_create_path(path="Bench/Things", path_zh="基准/物品")
    with connection.cursor() as cursor:
        for start in range(0, n, 5000):
            rows = []
            for i in range(start, min(n, start + 5000)):
                en = " ".join(rng.sample(WORDS, 3)).title()
                zh = "".join(rng.sample(CHINESE, 2))
                rows.append((f"B{i:07d}", en, zh, f"b{i:07d}", f"{en}. Made to last.",
                             " ".join(chinese_index_tokens(zh))))
            cursor.executemany(
                """INSERT INTO catalog_product (sku, name, name_zh, slug, description, description_zh, price, currency,
                       stock_quantity, is_published, category_id, created_at, updated_at, search_vector)
                   VALUES (%s, %s, %s, %s, %s, '', 10, 'EUR', 5, true, %s, now(), now(),
                       setweight(to_tsvector('english', %s), 'A') || setweight(to_tsvector('simple', %s), 'A')
                       || setweight(to_tsvector('english', %s), 'B'))""",
                [(sku, en, zh, slug, desc, category.id, en, zh_tokens, desc)
                 for sku, en, zh, slug, desc, zh_tokens in rows],
            )
            cursor.execute(
                """INSERT INTO catalog_productimage (product_id, kind, position, alt_text, image, thumbnail, width, height,
                       content_hash, created_at)
                   SELECT id, 'catalogue', 0, '', 'x.jpg', 'x-thumb.jpg', 256, 256, md5(sku), now()
                   FROM catalog_product WHERE sku >= %s AND sku < %s""",
                [f"B{start:07d}", f"B{min(n, start + 5000):07d}"],
            )
            cursor.execute(
                "SELECT i.id, i.product_id FROM catalog_productimage i JOIN catalog_product p ON p.id = i.product_id "
                "WHERE p.sku >= %s AND p.sku < %s", [f"B{start:07d}", f"B{min(n, start + 5000):07d}"],
            )
            pictures = cursor.fetchall()
            embeddings = []
            for image_id, product_id in pictures:
                main = rng.sample(range(1000), 3)
                found = {c: p for c, p in zip(main, (0.4, 0.15, 0.05))}
                while len(found) < 32:
                    found.setdefault(rng.randrange(1000), round(rng.uniform(0.001, 0.01), 4))
                columns = _concept_columns(found)  # what the worker stores
                embeddings.append((image_id, product_id, model_key, columns["concepts"].to_text(), columns["concept_ids"]))
            cursor.executemany(
                """INSERT INTO visualsearch_imageembedding (image_id, product_id, model_key, status, vector, concepts,
                       concept_ids, error, attempts, created_at, updated_at)
                   VALUES (%s, %s, %s, 'ready', '[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]', %s::sparsevec, %s, '', 1, now(), now())""",
                embeddings,
            )
            print(f"  {min(n, start + 5000)} products", flush=True)
        words = {w for en in Product.objects.values_list("name", flat=True).iterator() for w in name_words(en)}
        CatalogueWord.objects.bulk_create(
            [CatalogueWord(word=w, trigrams=trigrams(w), trigram_count=len(trigrams(w))) for w in sorted(words)],
            ignore_conflicts=True,
        )
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = django_setup(database="shop_bench_text", queue="shop-bench", redis_db=9)
    print(machine_line())
    try:
        with bench_database(env):
            from visualsearch.textsearch import products_for_text

            model_key = "bench-text-8d"
            started = time.perf_counter()
            populate(args.products, model_key)
            print(f"{args.products} products written in {time.perf_counter() - started:.0f} s")
            products_for_text(text="warm up", model_key=model_key)
            products_for_text(text="预热", model_key=model_key)
            for kind, queries in QUERIES.items():
                timings, found = [], []
                for _ in range(args.repeat):
                    for text in queries:
                        t0 = time.perf_counter()
                        result = products_for_text(text=text, model_key=model_key, limit=24)
                        timings.append(time.perf_counter() - t0)
                        found.append(len(result.hits))
                print(f"{kind:13} {ms(timings)}   results per query: {min(found)}-{max(found)}")
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
