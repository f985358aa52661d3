#!/usr/bin/env python3
"""Numpy-made fixtures for deltafs's command-line tests.

Usage: gen_fixtures.py KIND OUT [ARGS]

  models OUT [small]
                    OUT/base and OUT/ft: every dtype, special floats, Fortran
                    order, 0-d, empty, a v2 header, a non-canonical header,
                    nested directories, a multi-chunk tensor (not when
                    small) and a blob; ft is a fine-tune (small
                    perturbation) of base.
  npz OUT.npz       an .npz with nested member names
  evil-npz OUT.npz [NAME...]
                    an .npz whose member names try to leave the store
                    (default: ok.npy ../escape.npy /abs.npy a/../../up.npy)
  malformed OUT     a good .npy beside a truncated and a garbled one
  reshaped OUT      OUT/base2 and OUT/ft2: w.npy of another shape in each
  noise OUT N       N incompressible float32 tensors of 1 MiB each
  tune OUT [SEED]   OUT/base and OUT/ft: a small model and a full fine-tune
                    of it (delta std 2% of the weights' std), the fixture
                    whose ratio the README quotes
  safetensors OUT   OUT/base (one model.safetensors, bf16/f32/i64/f16, and
                    config files), OUT/ft (a fine-tune in two shards with
                    its index), OUT/npy (the fine-tune as .npy files) and
                    OUT/bad/CASE: one malformed folder per bad-input rule.
                    The files are written here with numpy only, as Hugging
                    Face's writer writes them (not with deltafs's code).
Everything is seeded: the same command writes the same bytes.
"""
import io
import os
import sys
import zipfile

import numpy as np


def save(path, arr, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, arr, **kw)


def bits(dtype, values):
    """An array of dtype from raw integer bit patterns."""
    size = np.dtype(dtype).itemsize
    udt = {2: np.uint16, 4: np.uint32, 8: np.uint64}[size]
    return np.array(values, dtype=udt).view(np.dtype(dtype))


def specials():
    f32 = bits("<f4", [0x7FC00001, 0xFFC12345, 0x7F800001, 0x80000000, 0x00000001,
                       0x007FFFFF, 0x7F800000, 0xFF800000, 0x3F800000, 0x00000000])
    f16 = bits("<f2", [0x7E01, 0xFE55, 0x7C01, 0x8000, 0x0001, 0x03FF, 0x7C00, 0xFC00])
    f64 = bits("<f8", [0x7FF8000000000001, 0xFFF123456789ABCD, 0x7FF0000000000001,
                       0x8000000000000000, 0x0000000000000001, 0x7FF0000000000000])
    return f32, f16, f64


def noncanonical_npy(arr):
    """An .npy whose header numpy would not write: other key order and a
    16-byte alignment, as numpy < 1.14 did."""
    header = "{'shape': %s, 'fortran_order': False, 'descr': '%s'}" % (
        repr(arr.shape), arr.dtype.str)
    total = 10 + len(header) + 1
    header += " " * ((16 - total % 16) % 16) + "\n"
    out = io.BytesIO()
    out.write(b"\x93NUMPY\x01\x00")
    out.write(len(header).to_bytes(2, "little"))
    out.write(header.encode("latin1"))
    out.write(arr.tobytes())
    return out.getvalue()


def model_arrays(rng, small):
    a = {}
    a["layers/0/wq.npy"] = rng.standard_normal((64, 64)).astype("<f4") * 0.02
    a["layers/0/wk.npy"] = (rng.standard_normal((64, 32)) * 0.02).astype("<f2")
    a["layers/1/w.npy"] = rng.standard_normal((32, 16)) * 0.02
    big = (rng.standard_normal((384, 1024)) * 0.02).astype("<f4")
    if not small:
        a["big.npy"] = big
    for dt in ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8",
               "<f2", "<f4", "<f8", "<c8", "<c16", ">f4", ">i4", ">f8", ">u2"]:
        name = "dtypes/%s.npy" % dt.replace("<", "le_").replace(">", "be_").replace("|", "")
        if dt[1] == "b":
            arr = rng.integers(0, 2, size=(40, 7)).astype(bool)
        elif dt[1] in "iu":
            info = np.iinfo(np.dtype(dt))
            arr = rng.integers(info.min, info.max, size=(40, 7), dtype=np.dtype(dt).newbyteorder("="), endpoint=True).astype(dt)
        elif dt[1] == "c":
            arr = (rng.standard_normal((40, 7)) + 1j * rng.standard_normal((40, 7))).astype(dt)
        else:
            arr = rng.standard_normal((40, 7)).astype(dt)
        a[name] = arr
    f32, f16, f64 = specials()
    a["special/f32.npy"], a["special/f16.npy"], a["special/f64.npy"] = f32, f16, f64
    a["fortran.npy"] = np.asfortranarray(rng.standard_normal((17, 9)).astype("<f4"))
    a["scalar.npy"] = np.array(1.5, dtype="<f4")
    a["empty.npy"] = np.zeros((0, 5), dtype="<f4")
    return a


def perturb(arr, rng):
    if arr.size == 0 or arr.ndim == 0:
        return arr
    if arr.dtype.kind == "b":
        out = arr.copy()
        out.flat[::11] = ~out.flat[::11]
        return out
    if arr.dtype.kind in "iu":
        out = arr.copy()
        out.flat[::7] = out.flat[::7] ^ np.array(1, dtype=arr.dtype)
        return out
    if arr.dtype.kind == "c":
        return (arr + (1e-3 * rng.standard_normal(arr.shape)).astype(arr.dtype)).astype(arr.dtype)
    out = arr.copy()
    finite = np.isfinite(out)
    noise = (rng.standard_normal(arr.shape) * 1e-3).astype(arr.dtype)
    out[finite] = (out[finite] + noise[finite]).astype(arr.dtype)
    return out.copy(order="F") if np.isfortran(arr) else out


def write_model(root, arrays, v2, noncanon):
    for name, arr in arrays.items():
        save(os.path.join(root, name), arr)
    path = os.path.join(root, "v2.npy")
    with open(path, "wb") as f:
        np.lib.format.write_array(f, v2, version=(2, 0))
    with open(os.path.join(root, "noncanonical.npy"), "wb") as f:
        f.write(noncanonical_npy(noncanon))
    with open(os.path.join(root, "config.json"), "w") as f:
        f.write('{"hidden_size": 64, "layers": 2}\n')


def models(out, size="full"):
    rng = np.random.default_rng(1)
    base = model_arrays(rng, size == "small")
    v2 = rng.standard_normal((9, 3)).astype("<f4")
    nc = rng.standard_normal((8,)).astype("<f4")
    write_model(os.path.join(out, "base"), base, v2, nc)
    ft = {k: perturb(v, rng) for k, v in base.items()}
    write_model(os.path.join(out, "ft"), ft, perturb(v2, rng), perturb(nc, rng))


def npz(out):
    rng = np.random.default_rng(2)
    np.savez(out, a=rng.standard_normal((10, 10)).astype("<f4"),
             **{"layers/b": np.arange(12, dtype="<i8").reshape(3, 4)})


def evil_npz(out, *names):
    arr = np.arange(6, dtype="<f4")
    buf = io.BytesIO()
    np.save(buf, arr)
    with zipfile.ZipFile(out, "w") as z:
        for name in names or ["ok.npy", "../escape.npy", "/abs.npy", "a/../../up.npy"]:
            z.writestr(name, buf.getvalue())


def malformed(out):
    os.makedirs(out, exist_ok=True)
    good = np.arange(100, dtype="<f4")
    np.save(os.path.join(out, "good.npy"), good)
    buf = io.BytesIO()
    np.save(buf, good)
    with open(os.path.join(out, "truncated.npy"), "wb") as f:
        f.write(buf.getvalue()[:-10])
    with open(os.path.join(out, "garbled.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00\x20\x00{'descr': <<garbage>> }       \n" + bytes(64))


def reshaped(out):
    rng = np.random.default_rng(3)
    save(os.path.join(out, "base2", "w.npy"), rng.standard_normal((8, 8)).astype("<f4"))
    save(os.path.join(out, "ft2", "w.npy"), rng.standard_normal((4, 16)).astype("<f4"))


def noise(out, n):
    rng = np.random.default_rng(4)
    for i in range(int(n)):
        save(os.path.join(out, "n%d.npy" % i), rng.integers(0, 2**32, size=(1 << 18,), dtype="<u4").view("<f4"))


def tune(out, seed="5"):
    rng = np.random.default_rng(int(seed))
    h = 128
    shapes = {"embed.npy": (512, h)}
    for i in range(4):
        for w, s in [("attn_qkv", (h, 3 * h)), ("attn_out", (h, h)), ("mlp_up", (h, 4 * h)), ("mlp_down", (4 * h, h))]:
            shapes["layers/%d/%s.npy" % (i, w)] = s
        shapes["layers/%d/norm.npy" % i] = (h,)
    for name, shape in sorted(shapes.items()):
        if name.endswith("norm.npy"):
            w = 1 + 0.1 * rng.standard_normal(shape)
        else:
            w = 0.02 * rng.standard_normal(shape)
        d = 0.02 * np.std(w) * rng.standard_normal(shape)
        dtype = "<f2" if name.startswith("layers/3/") else "<f4"
        save(os.path.join(out, "base", name), w.astype(dtype))
        save(os.path.join(out, "ft", name), (w + d).astype(dtype))


def st_bytes(tensors, metadata=None):
    """A safetensors file: tensors is a list of (name, dtype, shape, raw)."""
    import json
    header, off, data = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data.append(raw)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return len(js).to_bytes(8, "little") + js + b"".join(data)


def bf16(arr):
    """The bf16 bytes of a float32 array (its upper halves, truncated)."""
    return (np.asarray(arr, "<f4").view("<u4") >> 16).astype("<u2").tobytes()


def st_model(rng, ft_of=None):
    h = 128
    arrays = {}
    for i in range(2):
        for w, shape in [("q_proj", (h, h)), ("mlp.up_proj", (4 * h, h))]:
            arrays["model.layers.%d.%s.weight" % (i, w)] = 0.02 * rng.standard_normal(shape)
    arrays["model.norm.weight"] = 1 + 0.1 * rng.standard_normal((h,))
    if ft_of is not None:
        arrays = {k: v + 0.02 * np.std(v) * rng.standard_normal(v.shape) for k, v in ft_of.items()}
    return arrays


def st_tensors(arrays):
    out = []
    for name, v in sorted(arrays.items()):
        if name == "model.norm.weight":
            out.append((name, "F32", v.shape, v.astype("<f4").tobytes()))
        else:
            out.append((name, "BF16", v.shape, bf16(v)))
    out.append(("lm_head.scale", "F16", (4,), np.arange(4, dtype="<f2").tobytes()))
    out.append(("steps", "I64", (), np.array(7, "<i8").tobytes()))
    return out


def write(path, b):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b)


def safetensors(out):
    import json
    rng = np.random.default_rng(11)
    base = st_model(rng)
    ft = st_model(rng, ft_of=base)
    config = b'{"architectures": ["TinyForCausalLM"], "hidden_size": 128}\n'
    write(os.path.join(out, "base", "model.safetensors"), st_bytes(st_tensors(base), {"format": "pt"}))
    write(os.path.join(out, "base", "config.json"), config)
    write(os.path.join(out, "base", "generation_config.json"), b'{"do_sample": false}\n')
    tensors = st_tensors(ft)
    shards = {"model-00001-of-00002.safetensors": tensors[:2], "model-00002-of-00002.safetensors": tensors[2:]}
    weight_map = {}
    for name, ts in shards.items():
        write(os.path.join(out, "ft", name), st_bytes(ts, {"format": "pt"}))
        weight_map.update({t[0]: name for t in ts})
    index = {"metadata": {"total_size": sum(len(t[3]) for t in tensors)}, "weight_map": weight_map}
    write(os.path.join(out, "ft", "model.safetensors.index.json"), json.dumps(index, indent=2).encode() + b"\n")
    write(os.path.join(out, "ft", "config.json"), config)
    for name, v in ft.items():
        if name == "model.norm.weight":
            save(os.path.join(out, "npy", *name.split(".")[:-1], name.split(".")[-1] + ".npy"), v.astype("<f4"))
    good = st_bytes(tensors[:2])
    n = int.from_bytes(good[:8], "little")
    bad = {
        "truncated": good[: 8 + n // 2],
        "too-large": (100_000_001).to_bytes(8, "little") + good[8:],
        "not-json": good[:8] + b"{" + b" " * (n - 1) + good[8 + n:],
        "not-utf8": good[:8] + good[8:10] + b"\xff" + good[11:],
        "duplicate": good.replace(tensors[1][0].encode(), tensors[0][0].encode()),
        "overlap": good.replace(b'"data_offsets":[0,', b'"data_offsets":[2,'),
        "gap": good + b"\0\0",
        "shape": good.replace(b'"shape":[128,128]', b'"shape":[128,129]', 1),
        "negative-dim": good.replace(b'"shape":[512,128]', b'"shape":[-512,128]', 1),
        "overflow-dim": good.replace(b'"shape":[512,128]', b'"shape":[99999999999999999999,1]', 1),
    }
    for case, b in bad.items():
        write(os.path.join(out, "bad", case, "model.safetensors"), b)
    for case, wm in {"missing-shard": {"a": "model-00001-of-00002.safetensors", "b": "model-00009-of-00009.safetensors"},
                     "two-shards": None}.items():
        d = os.path.join(out, "bad", case)
        write(os.path.join(d, "model-00001-of-00002.safetensors"), st_bytes(tensors[:2]))
        write(os.path.join(d, "model-00002-of-00002.safetensors"), st_bytes(tensors[1:]))
        if wm is None:
            wm = {t[0]: "model-00001-of-00002.safetensors" for t in tensors[:2]}
        write(os.path.join(d, "model.safetensors.index.json"), json.dumps({"weight_map": wm}).encode())


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    kind, out, rest = argv[1], argv[2], argv[3:]
    fn = {"models": models, "npz": npz, "evil-npz": evil_npz, "malformed": malformed,
          "reshaped": reshaped, "noise": noise, "tune": tune, "safetensors": safetensors}.get(kind)
    if fn is None:
        sys.exit("unknown fixture %r\n%s" % (kind, __doc__))
    fn(out, *rest)


if __name__ == "__main__":
    main(sys.argv)
