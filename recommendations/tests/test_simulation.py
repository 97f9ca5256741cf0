"""evaluate_click_learning end to end on a tiny manifest: real model, real log, real retrain."""

import json

from django.core.management import call_command

from conftest import demo_asset_bytes
from recommendations.models import Action, Retrain, Shown
from visualsearch.tests.fixtures import query_copy

ASSETS = {"shoe": "1f45f.webp", "teapot": "1fad6.webp", "guitar": "1f3b8.webp"}


def test_the_simulation_searches_clicks_retrains_and_reports_before_and_after(db, tmp_path):
    rows = ["path,product_id,split"]
    for label, asset in ASSETS.items():
        (tmp_path / f"{label}.webp").write_bytes(demo_asset_bytes(asset))
        rows.append(f"{label}.webp,{label},iconic")
        for n, (crop, flip) in enumerate([(0.1, False), (0.2, True), (0.3, False), (0.15, True)]):
            (tmp_path / f"{label}-{n}.jpg").write_bytes(query_copy(demo_asset_bytes(asset), crop=crop, flip=flip))
            rows.append(f"{label}-{n}.jpg,{label},{'val' if n == 3 else 'train'}")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.json"

    call_command("evaluate_click_learning", manifest=tmp_path / "manifest.csv", rounds=2, traffic_count=3,
                 no_click=0.0, wrong=0.0, eta=0.0, in_place=True, json=out, quiet=True)

    report = json.loads(out.read_text())
    assert report["before"]["queries"] == report["after"]["queries"] == 3
    assert set(report["before"]["recall"]) == {"1", "5", "10"}
    assert report["before_key"] == "effnet-lite1-avg-240"
    assert [r["searches"] for r in report["rounds"]] == [5, 4]
    # every shopper clicked the right product (no noise asked for): 9 clicks, none wrong, all in the log
    assert [(r["clicks"], r["wrong_clicks"]) for r in report["rounds"]] == [(5, 0), (4, 0)]
    assert Shown.objects.filter(kind="photo", visitor__startswith="sim-").count() == 9
    assert Action.objects.filter(kind="open").count() == 9
    assert Retrain.objects.count() == 2
    assert {r["retrain"]["status"] for r in report["rounds"]} <= {"switched", "kept"}
