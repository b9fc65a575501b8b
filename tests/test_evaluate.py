"""Quality report: distances per style, style images from the record or --styles, table/JSON/contact sheet."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from livestyle import cli
from livestyle.evaluate import evaluate


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "a.png"), rng.integers(0, 256, (40, 64, 3), dtype=np.uint8))  # landscape
    cv2.imwrite(str(folder / "b.png"), rng.integers(0, 256, (64, 40, 3), dtype=np.uint8))  # portrait
    (folder / "c.jpg").write_bytes(b"broken")
    style = tmp_path / "style.png"
    cv2.imwrite(str(style), np.tile(np.array([[0, 0, 255], [255, 255, 0]], np.uint8), (16, 16, 1)))
    return {"dir": str(folder), "style": str(style), "tmp": tmp_path}


def test_every_style_gets_a_style_and_content_distance(tiny_model_path, photos, random_vgg_path):
    styles = {n: photos["style"] for n in "abc"}
    scores = evaluate(str(tiny_model_path), photos["dir"], styles=styles, max_side_px=48, vgg=str(random_vgg_path))
    assert [s.name for s in scores] == ["a", "b", "c"]
    assert all(s.photos == 2 and s.style_distance > 0 and s.content_distance > 0 for s in scores)
    assert len({round(s.style_distance, 6) for s in scores}) == 3  # the styles differ
    only_one = evaluate(str(tiny_model_path), photos["dir"], styles=styles, limit=1, max_side_px=48,
                        vgg=str(random_vgg_path))
    assert only_one[0].photos == 1


def test_styles_without_an_image_say_how_to_give_one(tiny_model_path, photos, random_vgg_path):
    with pytest.raises(ValueError, match=r"no style image for \['a', 'b', 'c'\].*pass --styles a=PATH"):
        evaluate(str(tiny_model_path), photos["dir"], vgg=str(random_vgg_path))
    with pytest.raises(ValueError, match="not in"):
        evaluate(str(tiny_model_path), photos["dir"], styles={"zzz": photos["style"]}, vgg=str(random_vgg_path))


def test_eval_cli_prints_a_table_writes_json_and_a_contact_sheet(tiny_model_path, photos, random_vgg_path, capsys):
    sheet, report = photos["tmp"] / "sheet.png", photos["tmp"] / "report.json"
    spec = ",".join(f"{n}={photos['style']}" for n in "abc")
    assert cli.main(["eval", photos["dir"], "--weights", str(tiny_model_path), "--styles", spec, "--max-side", "48",
                     "--vgg", str(random_vgg_path), "--sheet", str(sheet), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "style dist" in out and "content dist" in out and out.count("\n") >= 5
    data = json.loads(report.read_text())
    assert [s["name"] for s in data["styles"]] == ["a", "b", "c"] and data["styles"][0]["photos"] == 2
    grid = cv2.imread(str(sheet))
    # header strip + a landscape row (192 x 120) + a portrait row (192 x 192); photo + 3 styles across
    assert grid.shape == (24 + 120 + 192, 4 * 192, 3)
    assert cli.main(["eval", photos["dir"], "--weights", str(tiny_model_path), "--styles", spec, "--max-side", "48",
                     "--vgg", str(random_vgg_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["styles"][2]["name"] == "c"


def test_gatys_reference_scores_are_reported_for_the_first_photos(tiny_model_path, photos, random_vgg_path):
    styles = {n: photos["style"] for n in ("a", "b", "c")}
    scores = evaluate(str(tiny_model_path), photos["dir"], styles=styles, max_side_px=32, vgg=str(random_vgg_path),
                      gatys_photos=1, gatys_iterations=3)
    for s in scores:
        assert s.gatys_photos == 1
        assert s.gatys_style_distance is not None and 0 <= s.gatys_style_distance
        assert s.gatys_content_distance is not None and 0 <= s.gatys_content_distance
    # optimising the pixels against this style's Grams moves them towards the style: below the photo's 1.0
    assert all(s.gatys_style_distance < 1.0 for s in scores)
