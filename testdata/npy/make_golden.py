#!/usr/bin/env python3
"""Write the golden .npy files of deltafs's npy package with real numpy.

Run from anywhere: python3 testdata/npy/make_golden.py
It (re)writes every *.npy file next to this script and manifest.json, which
records what numpy itself reads back from each header. The files are tiny;
they are committed so that tests do not depend on numpy being installed.
"""
import io
import json
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

KINDS = ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8",
         "f2", "f4", "f8", "c8", "c16"]
SHAPES = [(), (0,), (0, 3), (5,), (2, 3), (2, 3, 4)]


def values(dtype, shape):
    """Deterministic contents, with special floats where the dtype has them."""
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    base = np.arange(n, dtype=np.float64) - n // 2
    if dtype.kind == "b":
        return (base.astype(np.int64) % 2 == 0).reshape(shape)
    if dtype.kind in "iu":
        a = base.astype(np.int64)
        if dtype.kind == "u":
            a = np.abs(a)
        return a.astype(dtype).reshape(shape)
    special = [np.nan, -0.0, np.inf, -np.inf, 5e-324]
    base[: min(n, len(special))] = special[: min(n, len(special))]
    out = np.empty(n, dtype)
    with np.errstate(all="ignore"):
        if dtype.kind == "c":
            out.real = base
            out.imag = base[::-1]
        else:
            out[...] = base
    return out.reshape(shape)


def header_info(raw):
    """What numpy's reader sees in the header of the file bytes raw."""
    f = io.BytesIO(raw)
    major, minor = np.lib.format.read_magic(f)
    shape, fortran, dtype = np.lib.format._read_array_header(f, (major, minor))
    return {
        "version": [major, minor],
        "descr": dtype.str,
        "kind": dtype.kind,
        "size": dtype.itemsize,
        "order": dtype.str[0],
        "shape": list(shape),
        "fortran": bool(fortran),
        "data_offset": f.tell(),
        "file_size": len(raw),
    }


def save(name, arr, manifest, version=None, expect="ok"):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.lib.format.write_array(buf, arr, version=version, allow_pickle=True)
    raw = buf.getvalue()
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(raw)
    entry = {"file": name, "expect": expect}
    if expect == "ok":
        entry.update(header_info(raw))
    manifest.append(entry)


def padding_boundary_shape():
    """A shape whose header dict ends exactly on a 64-byte boundary, so that
    numpy pads it with a whole block of 64 spaces."""
    for lead in range(1, 12):
        for d1, d2 in [(a, b) for a in range(1, 19) for b in range(1, 19) if a + b <= 18]:
            shape = (0,) * lead + (10 ** d1 - 1, 10 ** d2 - 1)
            text = "{'descr': '<f4', 'fortran_order': False, 'shape': %r, }" % (shape,)
            text += " " * (21 - len(repr(shape[0])))
            if (10 + len(text) + 1) % 64 == 0:
                return shape
    return None


def main():
    for f in os.listdir(HERE):
        if f.endswith(".npy"):
            os.remove(os.path.join(HERE, f))
    manifest = []
    for kind in KINDS:
        orders = ["|"] if kind[1:] == "1" else ["<", ">"]
        for order in orders:
            dt = np.dtype(order + kind)
            tag = ("be" if order == ">" else "le") if order != "|" else "na"
            for shape in SHAPES:
                dims = "x".join(str(d) for d in shape) or "scalar"
                save("%s_%s_%s_c.npy" % (kind, tag, dims), values(dt, shape), manifest)
                if len(shape) >= 2 and 0 not in shape:
                    save("%s_%s_%s_f.npy" % (kind, tag, dims),
                         np.asfortranarray(values(dt, shape)), manifest)

    # Other format versions, as write_array(version=...) writes them.
    save("f4_le_2x3_v2.npy", values(np.dtype("<f4"), (2, 3)), manifest, version=(2, 0))
    save("f8_be_4_v2.npy", values(np.dtype(">f8"), (4,)), manifest, version=(2, 0))
    save("f4_le_2x3_v3.npy", values(np.dtype("<f4"), (2, 3)), manifest, version=(3, 0))
    save("i2_le_2x3_f_v3.npy", np.asfortranarray(values(np.dtype("<i2"), (2, 3))), manifest, version=(3, 0))

    # Long dimensions (the growth-axis spaces shrink), many dimensions.
    save("f4_le_bigdim_c.npy", np.empty((123456789012345, 0), "<f4"), manifest)
    save("f4_le_bigdim_f.npy", np.asfortranarray(np.empty((0, 2, 123456789012345), "<f4")), manifest)
    save("u1_na_32dims_c.npy", np.zeros((1,) * 32, "|u1"), manifest)
    shape = padding_boundary_shape()
    if shape is None:
        sys.exit("no shape found whose header needs a full padding block")
    save("f4_le_padboundary_c.npy", np.empty(shape, "<f4"), manifest)

    # numpy-written headers deltafs must reject as unsupported dtypes.
    save("unsupported_structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i8")]), manifest, expect="unsupported")
    save("unsupported_unicode.npy", np.array(["ab", "c"]), manifest, expect="unsupported")
    save("unsupported_bytes.npy", np.array([b"ab", b"c"]), manifest, expect="unsupported")
    save("unsupported_object.npy", np.array([1, "a"], dtype=object), manifest, expect="unsupported")
    save("unsupported_datetime.npy", np.array(["2020-01-01"], dtype="datetime64[D]"), manifest, expect="unsupported")
    save("unsupported_longdouble.npy", np.zeros(2, dtype=np.longdouble), manifest, expect="unsupported")

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        # One file per line, so that diffs stay readable.
        f.write('{"numpy": %s, "files": [\n' % json.dumps(np.__version__))
        f.write(",\n".join(json.dumps(e, sort_keys=True) for e in manifest))
        f.write("\n]}\n")
    print("wrote %d files with numpy %s" % (len(manifest), np.__version__))


if __name__ == "__main__":
    main()
