import numpy as np
import pytest
import torch
from PIL import Image

from conftest import demo_asset_bytes
from visualsearch.embedding import DEFAULT_MODEL_KEY, REGISTRY, Embedder, embedder_for, spec_for
from visualsearch.intake import image_intake, stored_image_open

from .fixtures import query_copy


def _picture(colour=(200, 40, 40)) -> Image.Image:
    image = Image.new("RGB", (300, 260), (245, 245, 240))
    image.paste(colour, (60, 50, 240, 210))
    return image


def test_default_model_gives_unit_1280d_vectors():
    vectors = embedder_for(DEFAULT_MODEL_KEY).embed([_picture(), _picture((20, 160, 40))])

    assert vectors.shape == (2, 1280)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), [1.0, 1.0], rtol=1e-5)


def test_same_picture_same_vector_and_batch_matches_single():
    embedder = embedder_for(DEFAULT_MODEL_KEY)
    single = embedder.embed([_picture()])[0]
    batch = embedder.embed([_picture((20, 160, 40)), _picture()])[1]
    np.testing.assert_allclose(single, batch, atol=1e-5)


def test_a_cpu_batch_in_chunks_gives_the_vectors_and_concepts_of_the_whole_batch(monkeypatch):
    embedder = embedder_for(DEFAULT_MODEL_KEY)
    size = embedder.spec.preprocessing.size
    batch = torch.randn(9, 3, size, size, generator=torch.Generator().manual_seed(0))  # chunks of 4, 4, 1

    chunked = embedder.embed_batch_with_concepts(batch)
    monkeypatch.setattr(embedder, "CPU_CHUNK", 64)
    whole = embedder.embed_batch_with_concepts(batch)

    assert chunked.vectors.shape == (9, 1280) and len(chunked.concepts) == 9
    np.testing.assert_allclose(chunked.vectors, whole.vectors, atol=1e-6)
    assert [sorted(c) for c in chunked.concepts] == [sorted(c) for c in whole.concepts]


def test_similar_pictures_are_closer_than_different_ones():
    # a real product picture, a shopper's mirrored, cropped, re-encoded copy of it, and another product
    embedder = embedder_for(DEFAULT_MODEL_KEY)

    def picture(data: bytes) -> Image.Image:
        return stored_image_open(image_intake(data).jpeg)

    guitar, copy, teapot = embedder.embed(
        [
            picture(demo_asset_bytes("1f3b8.webp")),
            picture(query_copy(demo_asset_bytes("1f3b8.webp"), flip=True)),
            picture(demo_asset_bytes("1fad6.webp")),
        ]
    )
    assert float(guitar @ copy) > float(guitar @ teapot) + 0.2


def test_preprocessing_comes_from_the_spec():
    spec = spec_for(DEFAULT_MODEL_KEY)
    tensor = spec.preprocessing(Image.new("RGB", (640, 480), (255, 255, 255)))
    assert DEFAULT_MODEL_KEY == "effnet-lite1-avg-240"
    assert tuple(tensor.shape) == (3, 240, 240)
    # white, normalised with the ImageNet statistics of the spec
    assert torch.allclose(tensor[:, 0, 0], torch.tensor([(1 - m) / s for m, s in zip(spec.preprocessing.mean, spec.preprocessing.std)]))


def test_lite1_key_loads_its_shipped_weights_offline_at_240_px():
    spec = spec_for("effnet-lite1-avg-240")
    assert spec.offline is True
    assert tuple(spec.preprocessing(_picture()).shape) == (3, 240, 240)
    guitar, guitar_copy, teapot = (
        stored_image_open(image_intake(data).jpeg)
        for data in [
            demo_asset_bytes("1f3b8.webp"),
            query_copy(demo_asset_bytes("1f3b8.webp"), crop=0.2),
            demo_asset_bytes("1fad6.webp"),
        ]
    )
    vectors = embedder_for(spec.key).embed([guitar, guitar_copy, teapot])
    assert vectors.shape == (3, 1280)
    assert float(vectors[0] @ vectors[1]) > 0.9 > float(vectors[0] @ vectors[2])
    # the shipped weights, not a random initialisation
    untrained = Embedder(spec, pretrained=False).embed([guitar])[0]
    assert float(vectors[0] @ untrained) < 0.9


@pytest.mark.parametrize("key", ["resnet50-v2-avg-224", "convnext-tiny-224"])
def test_download_backends_build_without_weights(key):
    # The real loading code, minus the download: the architecture and head surgery are exercised.
    spec = spec_for(key)
    assert spec.offline is False
    vectors = Embedder(spec, pretrained=False).embed([_picture()])
    assert vectors.shape == (1, spec.dimension)


def test_unknown_key_names_the_known_ones():
    with pytest.raises(KeyError, match=DEFAULT_MODEL_KEY):
        spec_for("no-such-model")


def test_every_spec_key_is_unique_and_offline_default_exists():
    assert REGISTRY[DEFAULT_MODEL_KEY].offline is True
    assert all(key == spec.key for key, spec in REGISTRY.items())
