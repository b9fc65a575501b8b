"""Quality report: distances per style, style images from the record or --styles, table/JSON/contact sheet."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from livestyle import cli
from livestyle.evaluate import EvalConfig, evaluate


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
    scores = evaluate(str(tiny_model_path), photos["dir"],
        EvalConfig(styles=styles, max_side_px=48, vgg=str(random_vgg_path)))
    assert [s.name for s in scores] == ["a", "b", "c"]
    assert all(s.photos == 2 and s.texture_ratio > 0 and s.gram_ratio > 0 and s.content_distance > 0 for s in scores)
    assert len({round(s.texture_ratio, 6) for s in scores}) == 3  # the styles differ
    assert set(scores[0].layer_ratios) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
    t = scores[0]
    assert abs(t.texture_ratio - (t.layer_ratios["relu3_3"] + t.layer_ratios["relu4_3"]) / 2) < 1e-6
    only_one = evaluate(str(tiny_model_path), photos["dir"],
        EvalConfig(styles=styles, limit=1, max_side_px=48, vgg=str(random_vgg_path)))
    assert only_one[0].photos == 1


def test_styles_without_an_image_say_how_to_give_one(tiny_model_path, photos, random_vgg_path):
    with pytest.raises(ValueError, match=r"no style image for \['a', 'b', 'c'\].*pass --styles a=PATH"):
        evaluate(str(tiny_model_path), photos["dir"], EvalConfig(vgg=str(random_vgg_path)))
    with pytest.raises(ValueError, match="not in"):
        evaluate(str(tiny_model_path), photos["dir"],
            EvalConfig(styles={"zzz": photos["style"]}, vgg=str(random_vgg_path)))


def test_eval_cli_prints_a_table_writes_json_and_a_contact_sheet(tiny_model_path, photos, random_vgg_path, capsys):
    sheet, report = photos["tmp"] / "sheet.png", photos["tmp"] / "report.json"
    spec = ",".join(f"{n}={photos['style']}" for n in "abc")
    assert cli.main(["eval", photos["dir"], "--weights", str(tiny_model_path), "--styles", spec, "--max-side", "48",
                     "--vgg", str(random_vgg_path), "--sheet", str(sheet), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "texture" in out and "content" in out and "mean" in out and out.count("\n") >= 6
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
    scores = evaluate(str(tiny_model_path), photos["dir"],
        EvalConfig(styles=styles, max_side_px=32, vgg=str(random_vgg_path), gatys_photos=1, gatys_iterations=3))
    for s in scores:
        assert s.gatys_photos == 1
        assert s.gatys_texture_ratio is not None and 0 <= s.gatys_texture_ratio
        assert s.gatys_content_distance is not None and 0 <= s.gatys_content_distance
    # optimising the pixels against this style's Grams moves them towards the style: below the photo's 1.0
    assert all(s.gatys_gram_ratio < 1.0 for s in scores)


def test_the_measures_are_0_for_the_painting_itself_and_1_for_the_unstyled_photo(random_vgg_path):
    from livestyle.evaluate import CONTENT_LAYER, GRAM_LAYERS, measure
    from livestyle.losses import gram_matrix
    from livestyle.vgg import load_vgg
    vgg = load_vgg(tuple(dict.fromkeys((*GRAM_LAYERS, CONTENT_LAYER))), path=str(random_vgg_path))
    g = torch.Generator().manual_seed(0)
    photo, painting = torch.rand(1, 3, 48, 64, generator=g), torch.rand(1, 3, 48, 64, generator=g) ** 3
    with torch.no_grad():
        fp, fx = vgg(painting), vgg(photo)
        grams = {k: gram_matrix(getattr(fp, k)) for k in GRAM_LAYERS}
        as_photo, as_painting = measure(fx, fx, grams), measure(fp, fx, grams)
    assert abs(as_photo["texture"] - 1) < 1e-6 and abs(as_photo["gram"] - 1) < 1e-6 and as_photo["content"] == 0
    assert as_painting["texture"] < 1e-6 and as_painting["gram"] < 1e-6 and as_painting["content"] > 0.01


def test_holdout_scores_exactly_the_listed_photos_and_names_a_missing_one(tiny_model_path, photos, random_vgg_path):
    styles = {n: photos["style"] for n in "abc"}
    listed = photos["tmp"] / "holdout.txt"
    listed.write_text("# eval set\nb.png\n")
    scores = evaluate(str(tiny_model_path), photos["dir"],
        EvalConfig(styles=styles, holdout=str(listed), max_side_px=48, vgg=str(random_vgg_path)))
    assert scores[0].photos == 1
    listed.write_text("b.png\nnot-there.jpg\n")
    with pytest.raises(FileNotFoundError, match="not-there.jpg"):
        evaluate(str(tiny_model_path), photos["dir"],
            EvalConfig(styles=styles, holdout=str(listed), vgg=str(random_vgg_path)))


def test_net_scale_scores_the_smaller_copy_the_live_loop_shows(tiny_model_path, photos, random_vgg_path):
    styles = {n: photos["style"] for n in "abc"}
    full, small = (evaluate(str(tiny_model_path), photos["dir"],
                            EvalConfig(styles=styles, max_side_px=48, vgg=str(random_vgg_path), net_scale=s))
                   for s in (1.0, 0.5))
    assert [round(a.texture_ratio, 6) for a in full] != [round(b.texture_ratio, 6) for b in small]
