"""facerec: face detection, alignment, embedding and matching on the CPU.

    import facerec
    fa = facerec.FaceAnalyzer()                      # default models (run `facerec models fetch` once)
    faces = fa.analyze(facerec.decode_image("a.jpg"))
    m = fa.compare(faces[0].embedding, other.embedding)   # m.similarity, m.same, m.threshold

    g = facerec.Gallery("people.db")
    g.enroll(fa, "Ada", facerec.decode_image("ada.jpg"))
    who = g.identify(fa, faces[0])                   # who.identity (None: unknown), who.candidates
    facerec.backends()                               # inference backends: FaceAnalyzer(backend=...)
    fast = facerec.FaceAnalyzer(profile="edge")      # speed profiles: facerec.profiles()

Images are numpy arrays, H x W x 3 uint8 in BGR order (as OpenCV's cv2.imread gives them).
Errors raise facerec.Error; e.kind says which ("invalid argument", "not found", "bad input", ...).
"""
from ._facerec import (  # noqa: F401
    Candidate,
    Error,
    Face,
    FaceAnalyzer,
    Gallery,
    Identification,
    Identity,
    Manifest,
    Match,
    ModelEntry,
    backends,
    decode_image,
    decode_image_bytes,
    models_dir,
    profiles,
    version,
)

Error.kind = property(lambda self: self.args[1] if len(self.args) > 1 else None,
                      doc="The error kind: 'invalid argument', 'not found', 'bad input', 'bad model', ...")
Error.message = property(lambda self: self.args[0] if self.args else "")


def models():
    """Every model of the installed manifest (name, task, imported, ...)."""
    return Manifest.default().models


__version__ = version()
