import pickle

import numpy as np
import pytest
import torch

from livestyle.modelfile import load_stylenet, parse_mix, read_metadata, save_stylenet, style_vector, StyleInfo


def test_model_file_round_trips(tiny_net, tiny_model_path):
    model = load_stylenet(tiny_model_path)
    assert model.style_names == ["a", "b", "c"]
    assert model.styles[0].source == "test style a"
    assert model.presets == {"ab": {"a": 0.5, "b": 0.5}}
    assert model.net.cfg == tiny_net.cfg
    for (k, v), (k2, v2) in zip(tiny_net.state_dict().items(), model.net.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        assert torch.equal(tiny_net(x, 1), model.net(x, 1))


class _Boom:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/livestyle_pwned",))


def test_a_pickle_payload_is_refused_without_running_it(tmp_path):
    import os
    marker = "/tmp/livestyle_pwned"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"model": _Boom()}))
    with pytest.raises(ValueError, match="not a livestyle model file.*pickle"):
        load_stylenet(path)
    assert not os.path.exists(marker)
    torch.save({"model": {}}, tmp_path / "torchsave.safetensors")
    with pytest.raises(ValueError, match="not a livestyle model file"):
        load_stylenet(tmp_path / "torchsave.safetensors")


def test_missing_file_and_foreign_safetensors_are_named(tmp_path):
    from safetensors.torch import save_file
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_stylenet(tmp_path / "nope.safetensors")
    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a livestyle model"):
        read_metadata(tmp_path / "other.safetensors")


def test_config_that_does_not_match_the_weights_is_refused(tiny_net, tmp_path):
    import json
    from safetensors.torch import load_file, save_file
    path = tmp_path / "m.safetensors"
    save_stylenet(path, tiny_net, [StyleInfo("a"), StyleInfo("b"), StyleInfo("c")])
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    cfg = json.loads(meta["config"])
    cfg["base_width"] = 16
    meta["config"] = json.dumps(cfg)
    save_file(load_file(path), tmp_path / "bad.safetensors", metadata=meta)
    with pytest.raises(ValueError, match="has shape"):
        load_stylenet(tmp_path / "bad.safetensors")


def test_unknown_style_lists_the_available_ones_and_suggests(tiny_model_path):
    model = load_stylenet(tiny_model_path)
    with pytest.raises(ValueError, match=r"unknown style 'abb'.*did you mean 'ab'.*available: a, b, c, ab"):
        style_vector("abb", model)


def test_mixes_are_normalised_and_presets_expand(tiny_model_path):
    model = load_stylenet(tiny_model_path)
    assert np.allclose(parse_mix("a:3,c:1", model), [0.75, 0.0, 0.25])
    assert np.allclose(parse_mix("a,b", model), [0.5, 0.5, 0.0])
    assert np.allclose(parse_mix("ab", model), [0.5, 0.5, 0.0]) and parse_mix("ab", model).dtype == np.float32
    with pytest.raises(ValueError, match="expected a number"):
        parse_mix("a:x", model)
    with pytest.raises(ValueError, match="no positive weight"):
        parse_mix("a:0", model)


def test_save_is_atomic_and_leaves_no_temp_files(tiny_net, tmp_path):
    save_stylenet(tmp_path / "m.safetensors", tiny_net, [StyleInfo("a"), StyleInfo("b"), StyleInfo("c")])
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_saved_files_get_a_normal_file_mode_not_mkstemps_0600(tiny_net, tmp_path):
    import os
    old = os.umask(0o022)
    try:
        save_stylenet(tmp_path / "m.safetensors", tiny_net, [StyleInfo("a"), StyleInfo("b"), StyleInfo("c")])
    finally:
        os.umask(old)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o644
