"""The Python package, installed with pip into a virtual environment (tests/python/run.sh).

Needs the models (`facerec models fetch`) and ../shared/data (LFW, AT&T): skips with the reason
when they are absent.
"""
import os
import sys
import tempfile

import numpy as np
import pytest

import facerec

SRC = os.environ.get("FACEREC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("FACEREC_SHARED", os.path.join(SRC, "..", "shared"))
LFW = os.path.join(SHARED, "data", "lfw", "images")
ATT = os.path.join(SHARED, "data", "att_faces")


def lfw(name, n):
    p = os.path.join(LFW, name, "%s_%04d.jpg" % (name, n))
    if not os.path.exists(p):
        pytest.skip("%s is absent (../shared/data/lfw)" % p)
    return p


@pytest.fixture(scope="module")
def analyzer():
    needed = ("blazeface", "blazeface-front", "faceboxes", "facemesh", "face_landmark_68_model", "dlib-mfn-fused")
    if not all(m.imported for m in facerec.models() if m.name in needed):
        pytest.skip("the default pipeline's models are not imported: run `facerec models fetch`")
    return facerec.FaceAnalyzer()


def test_installed_from_the_environment_not_the_source_tree():
    venv = os.environ.get("FACEREC_TEST_VENV")
    if venv:
        assert os.path.realpath(facerec.__file__).startswith(os.path.realpath(venv)), facerec.__file__
    # the library finds the manifest packed beside it in the wheel
    path = str(facerec.Manifest.default().path)
    assert path.endswith(os.path.join("facerec", "share", "facerec", "models", "manifest.json")), path
    assert facerec.__version__.count(".") == 2


def test_models_list_names_every_task():
    models = {m.name: m for m in facerec.models()}
    assert models["face_recognition_model"].task == "embed"
    assert models["blazeface"].task == "detect"
    assert models["blazeface"].input_size == (256, 256)
    assert any(k.startswith("fmr_1e-3") for k, _ in models["face_recognition_model"].thresholds)
    # the default embedder is fused from two others
    assert models["dlib-mfn-fused"].format == "fused"
    assert models["dlib-mfn-fused"].components == ["face_recognition_model", "mobilefacenet-ms1m"]


def test_every_backend_gives_the_same_face():
    names = facerec.backends()
    assert {"opencv-dnn", "onednn", "xnnpack", "reference"} <= set(names), names
    img = facerec.decode_image(lfw("Aaron_Eckhart", 1))
    want = facerec.FaceAnalyzer(embedder="face_recognition_model", flip=False).analyze(img)[0]
    for backend in ("onednn", "xnnpack"):
        got = facerec.FaceAnalyzer(embedder="face_recognition_model", flip=False, backend=backend).analyze(img)[0]
        assert np.allclose(got.box, want.box, atol=0.5), backend
        assert float(np.dot(got.embedding, want.embedding)) > 0.9999, backend


def test_profiles_choose_the_pipeline_and_arguments_override_them():
    assert facerec.profiles() == ["accurate", "balanced", "edge"]
    img = facerec.decode_image(lfw("Aaron_Eckhart", 1))
    edge = facerec.FaceAnalyzer(profile="edge")
    f = edge.analyze(img)[0]
    assert f.embedding.shape == (192,)  # MobileFaceNet alone
    assert f.landmarks.shape == (68, 2)  # facerec-landmarks-96
    # an argument given beside the profile wins; the rest stays the profile's
    g = facerec.FaceAnalyzer(profile="edge", embedder="face_recognition_model").analyze(img)[0]
    assert g.embedding.shape == (128,)
    with pytest.raises(facerec.Error) as e:
        facerec.FaceAnalyzer(profile="fastest")
    assert e.value.kind == "invalid argument"


def test_analyze_gives_numpy_faces(analyzer):
    img = facerec.decode_image(lfw("Aaron_Eckhart", 1))
    assert img.shape == (250, 250, 3) and img.dtype == np.uint8
    faces = analyzer.analyze(img)
    assert len(faces) == 1
    f = faces[0]
    x, y, w, h = f.box
    assert 40 < x < 120 and 40 < y < 120 and 60 < w < 160, f.box  # LFW faces sit in the middle
    assert f.landmarks.shape == (68, 2) and f.landmarks.dtype == np.float32
    assert f.five.shape == (5, 2)
    assert f.embedding.shape == (128 + 192,) and f.embedding.dtype == np.float32  # dlib-mfn-fused
    assert abs(float(np.linalg.norm(f.embedding)) - 1.0) < 1e-4
    assert analyzer.analyze(img, embed=False)[0].embedding.shape == (0,)
    # a greyscale array and a BGR array from bytes work too
    assert len(analyzer.analyze(img.mean(axis=2).astype(np.uint8))) == 1
    with open(lfw("Aaron_Eckhart", 1), "rb") as fh:
        assert np.array_equal(facerec.decode_image_bytes(fh.read()), img)


def test_every_face_carries_its_quality(analyzer):
    face = analyzer.analyze(facerec.decode_image(lfw("George_W_Bush", 1)))[0]
    q = face.quality
    assert 0 <= q["score"] <= 1
    for k in ("size", "sharpness", "exposure", "pose"):
        assert 0 <= q[k] <= 1, k
    assert q["interocular"] > 20 and abs(q["yaw"]) < 45 and q["detection"] == pytest.approx(face.score)


def test_compare_decides_at_the_calibrated_threshold(analyzer):
    a = analyzer.analyze(facerec.decode_image(lfw("George_W_Bush", 1)))[0].embedding
    b = analyzer.analyze(facerec.decode_image(lfw("George_W_Bush", 2)))[0].embedding
    c = analyzer.analyze(facerec.decode_image(lfw("Aaron_Eckhart", 1)))[0].embedding
    same = analyzer.compare(a, b)
    other = analyzer.compare(a, c)
    assert same.same and bool(same) and not other.same
    assert same.similarity > other.similarity
    assert same.threshold == analyzer.threshold("fmr_1e-3")
    assert same.operating_point == "fmr_1e-3"
    with pytest.raises(facerec.Error) as e:
        analyzer.compare(a, c[:64])
    assert e.value.kind == "invalid argument"


def test_gallery_enrols_and_identifies(analyzer):
    if not os.path.isdir(os.path.join(ATT, "s1")):
        pytest.skip("../shared/data/att_faces is absent")
    with tempfile.TemporaryDirectory() as d:
        g = facerec.Gallery(os.path.join(d, "g.db"))
        for person in (1, 2, 3):
            img = facerec.decode_image(os.path.join(ATT, "s%d" % person, "1.pgm"))
            g.enroll(analyzer, "s%d" % person, img)
        assert len(g) == 3
        probe = analyzer.analyze(facerec.decode_image(os.path.join(ATT, "s2", "5.pgm")))[0]
        who = g.identify(analyzer, probe, k=3)
        assert who.identity is not None and who.identity.name == "s2"
        assert [c.name for c in who.candidates][0] == "s2" and len(who.candidates) == 3
        stranger = analyzer.analyze(facerec.decode_image(lfw("Aaron_Eckhart", 1)))[0]
        assert g.identify(analyzer, stranger).identity is None
        with pytest.raises(facerec.Error) as e:
            g.enroll(analyzer, "nobody", np.zeros((64, 64, 3), np.uint8))
        assert e.value.kind == "bad input"
        assert len(g) == 3
    with pytest.raises(facerec.Error) as e:
        facerec.Gallery(os.path.join(tempfile.gettempdir(), "no", "such", "g.db"), create=False)
    assert e.value.kind == "not found"


def test_bad_input_is_a_clear_error(analyzer):
    with pytest.raises(facerec.Error) as e:
        facerec.decode_image(os.path.join(tempfile.gettempdir(), "no-such-image.jpg"))
    assert e.value.kind == "not found" and "no-such-image.jpg" in e.value.message
    with pytest.raises(facerec.Error) as e:
        facerec.decode_image_bytes(b"not an image")
    assert e.value.kind == "bad input"
    with pytest.raises(facerec.Error) as e:
        analyzer.analyze(np.zeros((10, 10, 4), np.uint8))
    assert e.value.kind == "invalid argument"
    with pytest.raises(facerec.Error) as e:
        facerec.FaceAnalyzer(embedder="no-such-model")
    assert e.value.kind == "not found"
    assert isinstance(e.value, RuntimeError)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
