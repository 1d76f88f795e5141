"""Real ONNX models through lumina.onnx, against ONNX Runtime: two pretrained models from the package
index (paraphrase-MiniLM-L3 and the open_nsfw ResNet-50) and models PyTorch's dynamo exporter writes
at opsets 18 and 23 (MLP and ResNet-style CNN trained on the digits, ResNet-18 at 224x224, GPT-2 and
BERT from ``transformers`` configs). Each runs at two input shapes where it has symbolic dims.

Agreement is to 1e-4 relative to each output's scale: ``|lumina - ort| <= 1e-4 * max|ort|``.
(Elementwise relative error is meaningless for outputs near zero: ONNX Runtime's own optimized and
unoptimized sessions differ by 3e-7 of the scale on MiniLM.)
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import tokenizers

import lumina.onnx
from lumina.testing import registry


def ort_session(model):
    return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])


def assert_matches_ort(model, session, feeds: dict, rtol: float = 1e-4):
    got = model(**feeds)
    want = session.run(None, feeds)
    assert list(got) == [o.name for o in session.get_outputs()]
    for (name, g), w in zip(got.items(), want):
        assert g.shape == w.shape and g.dtype == w.dtype, (name, g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype.kind == "f":
            scale = float(np.abs(w).max()) if w.size else 0.0
            np.testing.assert_allclose(g, w, rtol=0, atol=rtol * max(scale, 1e-30), err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)
    return got


# ---- models from the package index -----------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm():
    path = registry.fetch(registry.MINILM)
    return lumina.onnx.load(path), ort_session(path)


@pytest.mark.parametrize("batch,seq", [(2, 16), (3, 41)])
def test_minilm_matches_onnxruntime(minilm, batch, seq):
    model, session = minilm
    rng = np.random.default_rng(batch)
    ids = rng.integers(1000, 30000, (batch, seq)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 101, 102          # [CLS] ... [SEP]
    mask = np.ones_like(ids)
    mask[0, seq // 2:] = 0                     # a padded sentence
    assert_matches_ort(model, session, {"input_ids": ids, "attention_mask": mask})


def test_minilm_paraphrases_are_closer_than_unrelated_sentences(minilm):
    tok = tokenizers.Tokenizer.from_file(str(registry.fetch(registry.BERT_UNCASED_TOKENIZER)))
    tok.no_truncation()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    sentences = ["A man is playing a guitar on stage.", "Someone performs music with a guitar.",
                 "The central bank raised interest rates again.", "Interest rates were increased by the bank."]
    enc = tok.encode_batch(sentences)
    ids = np.array([e.ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.int64)
    model, session = minilm
    emb = assert_matches_ort(model, session, {"input_ids": ids, "attention_mask": mask})["461"]
    assert emb.shape == (4, 384)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = unit @ unit.T
    for a, b in ((0, 1), (2, 3)):                  # each paraphrase pair beats every cross pair
        cross = [cos[i, j] for i in (a, b) for j in range(4) if j not in (a, b)]
        assert cos[a, b] > max(cross) + 0.2, (cos[a, b], cross)


@pytest.mark.parametrize("batch", [1, 2])
def test_open_nsfw_nhwc_matches_onnxruntime(batch):
    path = registry.fetch(registry.OPEN_NSFW)
    model = lumina.onnx.load(path)
    rng = np.random.default_rng(batch)
    image = rng.uniform(-120, 140, (batch, 224, 224, 3)).astype(np.float32)   # BGR minus the mean
    got = assert_matches_ort(model, ort_session(path), {"input_0": image})
    probs = next(iter(got.values()))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


# ---- models exported by PyTorch's dynamo exporter ------------------------------------------------------

def _inputs(name: str, variant: int) -> dict:
    """Example inputs for the exported model ``name``: two variants with other symbolic dim sizes."""
    rng = np.random.default_rng(variant)
    if name == "digits_mlp":
        return {"x": rng.uniform(0, 1, (3 + 4 * variant, 64)).astype(np.float32)}
    if name == "digits_resnet":
        return {"x": rng.uniform(0, 1, (3 + 4 * variant, 1, 8, 8)).astype(np.float32)}
    if name == "resnet18":
        return {"x": rng.standard_normal((1 + variant, 3, 224, 224)).astype(np.float32)}
    batch, seq = (2, 16) if variant == 0 else (3, 9)
    ids = rng.integers(0, 500, (batch, seq)).astype(np.int64)
    if name == "gpt2":
        return {"ids": ids}
    mask = np.ones_like(ids)
    mask[0, seq - 3:] = 0
    return {"ids": ids, "mask": mask}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(name, opset) -> path``: each model exported once per test module."""
    from lumina.testing.exports import EXPORTS
    done = {}

    def get(name: str, opset: int):
        if (name, opset) not in done:
            path = tmp_path_factory.mktemp("onnx") / f"{name}_{opset}.onnx"
            done[name, opset] = EXPORTS[name]().save(path, opset)
        return done[name, opset]
    return get


@pytest.mark.parametrize("opset", [18, 23])
@pytest.mark.parametrize("name", ["digits_mlp", "digits_resnet", "resnet18", "gpt2", "bert"])
def test_dynamo_export_matches_onnxruntime(exported, name, opset):
    path = exported(name, opset)
    model, session = lumina.onnx.load(path), ort_session(path)
    renamed = [i.name for i in session.get_inputs()]
    for variant in (0, 1):
        feeds = dict(zip(renamed, _inputs(name, variant).values()))
        assert_matches_ort(model, session, feeds)


def test_opset_23_transformers_use_the_attention_op(exported):
    import onnx
    ops = {n.op_type for n in onnx.load(str(exported("gpt2", 23))).graph.node}
    assert "Attention" in ops


def test_digits_models_classify_like_onnxruntime(exported):
    """The trained digits CNN's predicted classes are ONNX Runtime's, on the whole data set."""
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    images = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    path = exported("digits_resnet", 18)
    name = ort_session(path).get_inputs()[0].name
    got = next(iter(lumina.onnx.load(path)(**{name: images}).values())).argmax(1)
    want = ort_session(path).run(None, {name: images})[0].argmax(1)
    np.testing.assert_array_equal(got, want)
    assert (got == y).mean() > 0.9


def test_external_data_file_is_read(tmp_path, exported):
    """Weights saved beside the model in ``model.onnx.data`` (as exporters do for large models)."""
    import onnx
    proto = onnx.load(str(exported("digits_mlp", 18)))
    path = tmp_path / "model.onnx"
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    assert (tmp_path / "model.onnx.data").stat().st_size > 30_000
    session = ort_session(path)
    assert_matches_ort(lumina.onnx.load(path), session, {session.get_inputs()[0].name: _inputs("digits_mlp", 0)["x"]})
