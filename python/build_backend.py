"""An in-tree PEP 517 build backend: `pip install .` builds the facerec Python package offline.

It needs nothing from PyPI (the build-system requires nothing): CMake builds the libraries and the
pybind11 module, `cmake --install` stages them, and this file packs the wheel:

    facerec/__init__.py, facerec/_facerec.<abi>.so      the module
    facerec/lib/libfacerec_{core,gallery}.so.<major>    the libraries it links (RUNPATH $ORIGIN/lib)
    facerec/share/facerec/models/manifest.json          found by the library relative to itself
    facerec/share/facerec/models/quality.json           the face quality model, beside it
    facerec/share/facerec/models/trained/*.onnx         the networks trained here, beside it

Environment: FACEREC_BUILD_DIR reuses a configured build tree (the CI's) instead of configuring
build-python/ in the source tree; CMAKE_ARGS adds arguments to that configure step.
"""
import base64
import hashlib
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _version():
    with open(os.path.join(SRC, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(facerec VERSION ([0-9.]+)", f.read())
    if not m:
        raise RuntimeError("CMakeLists.txt: no project(facerec VERSION ...)")
    return m.group(1)


def _tag():
    py = "cp%d%d" % sys.version_info[:2]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return py, py, plat


def _metadata():
    return (
        "Metadata-Version: 2.1\n"
        "Name: facerec\n"
        "Version: %s\n"
        "Summary: Face detection, alignment, embedding and matching on the CPU (C++ SDK bindings)\n"
        "Requires-Python: >=3.9\n"
        "Requires-Dist: numpy\n" % _version()
    )


def _wheel_file():
    return "Wheel-Version: 1.0\nGenerator: facerec build_backend\nRoot-Is-Purelib: false\nTag: %s-%s-%s\n" % _tag()


def _run(cmd):
    print("[facerec build] " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def _build_and_stage(stage):
    build = os.environ.get("FACEREC_BUILD_DIR") or os.path.join(SRC, "build-python")
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        _run(["cmake", "-S", SRC, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
              "-DFACEREC_BUILD_TESTS=OFF", "-DFACEREC_BUILD_BENCH=OFF", "-DFACEREC_BUILD_PYTHON=ON",
              "-DPython3_EXECUTABLE=" + sys.executable] + shlex.split(os.environ.get("CMAKE_ARGS", "")))
    _run(["cmake", "--build", build])
    _run(["cmake", "--install", build, "--prefix", stage])
    _run(["cmake", "--install", build, "--prefix", stage, "--component", "python"])
    libdir = next(os.path.join(stage, d) for d in ("lib", "lib64") if os.path.isdir(os.path.join(stage, d)))
    return libdir


def _files(stage, libdir):
    """(path in the wheel, file on disk) for everything the wheel holds."""
    out = []
    pkg = os.path.join(stage, "python", "facerec")
    for name in sorted(os.listdir(pkg)):
        out.append(("facerec/" + name, os.path.join(pkg, name)))
    modules = [f for _, f in out if f.endswith(".so")]
    if not modules:
        raise RuntimeError("the build produced no facerec._facerec module (FACEREC_BUILD_PYTHON off?)")
    for lib in ("core", "gallery"):  # the libraries the module links, under their SONAME
        sonames = [n for n in os.listdir(libdir) if re.fullmatch(r"libfacerec_%s\.so\.\d+" % lib, n)]
        if not sonames and os.path.exists(os.path.join(libdir, "libfacerec_%s.a" % lib)):
            continue  # a static build: the module holds the library
        if len(sonames) != 1:
            raise RuntimeError("%s: expected one libfacerec_%s.so.<major>, found %s" % (libdir, lib, sonames))
        out.append(("facerec/lib/" + sonames[0], os.path.realpath(os.path.join(libdir, sonames[0]))))
    models = os.path.join(stage, "share", "facerec", "models")
    out.append(("facerec/share/facerec/models/manifest.json", os.path.join(models, "manifest.json")))
    out.append(("facerec/share/facerec/models/quality.json", os.path.join(models, "quality.json")))
    trained = os.path.join(models, "trained")  # networks trained here (models/trained/), beside the manifest
    if os.path.isdir(trained):
        for name in sorted(os.listdir(trained)):
            out.append(("facerec/share/facerec/models/trained/" + name, os.path.join(trained, name)))
    return out


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d\n" % (arcname, digest, len(data))


# --- PEP 517 hooks -------------------------------------------------------------------------------
def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = "facerec-%s.dist-info" % _version()
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    with open(os.path.join(metadata_directory, dist_info, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_file())
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    name = "facerec-%s-%s-%s-%s.whl" % ((version,) + _tag())
    dist_info = "facerec-%s.dist-info" % version
    with tempfile.TemporaryDirectory(prefix="facerec-wheel-") as stage:
        libdir = _build_and_stage(stage)
        path = os.path.join(wheel_directory, name)
        record = ""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for arcname, disk in _files(stage, libdir):
                with open(disk, "rb") as f:
                    data = f.read()
                info = zipfile.ZipInfo(arcname)
                shared_object = arcname.endswith(".so") or ".so." in arcname
                info.external_attr = (0o100000 | (0o755 if shared_object else 0o644)) << 16  # regular file
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
                record += _record_line(arcname, data)
            for fname, text in (("METADATA", _metadata()), ("WHEEL", _wheel_file())):
                data = text.encode()
                z.writestr(dist_info + "/" + fname, data)
                record += _record_line(dist_info + "/" + fname, data)
            record += dist_info + "/RECORD,,\n"
            z.writestr(dist_info + "/RECORD", record)
    print("[facerec build] wrote " + name, file=sys.stderr)
    return name


def build_sdist(sdist_directory, config_settings=None):
    """The tracked source files (git ls-files) as facerec-<version>.tar.gz."""
    import tarfile
    version = _version()
    out = subprocess.run(["git", "-C", SRC, "ls-files", "-z"], check=True, capture_output=True, text=True).stdout
    files = [f for f in out.split("\0") if f]
    name = "facerec-%s.tar.gz" % version
    root = "facerec-%s" % version
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for f in files:
            t.add(os.path.join(SRC, f), arcname="%s/%s" % (root, f))
        pkg_info = _metadata().encode()
        info = tarfile.TarInfo(root + "/PKG-INFO")
        info.size = len(pkg_info)
        info.mode = 0o644
        import io
        t.addfile(info, io.BytesIO(pkg_info))
    return name


if __name__ == "__main__":  # python3 python/build_backend.py OUTDIR: build a wheel by hand
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    print(os.path.join(out, build_wheel(out)))
