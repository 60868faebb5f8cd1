"""Crafted and damaged checkpoints: each is refused with CheckpointError, and the model and the
optimizer are bit-identical before and after (load is one validation pass, then one commit)."""

import io
import json
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import tinyrnn as tr


def _model(seed=0, **kw):
    return tr.RNN(3, 4, num_layers=2, rng=seed, **kw)


def _trained(seed=0):
    m = _model(seed)
    opt = tr.Adam(m.parameters(), lr=0.01)
    x = np.random.default_rng(seed).standard_normal((5, 2, 3)).astype(np.float32)
    for _ in range(2):
        out, _, cache = m.forward(x)
        m.zero_grad()
        m.backward(out, cache)
        opt.step()
    return m, opt


def _snapshot(model, opt):
    """Everything load could change, as bytes (so -0.0 / 0.0 and NaN payloads count)."""
    sd = opt.state_dict()
    return (
        {k: (v.dtype.str, v.tobytes()) for k, v in model.state_dict().items()},
        repr(sd["defaults"]),
        sd["step"],
        opt.lr,
        [{k: v.tobytes() for k, v in st.items()} for st in sd["state"]],
    )


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=True)
    return buf.getvalue()


def _members(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path, members: dict, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for n, b in members.items():
            z.writestr(n, b)


def _header(members) -> dict:
    return json.loads(str(np.load(io.BytesIO(members["__tinyrnn__.npy"]))))


def _set_header(members, header):
    members["__tinyrnn__.npy"] = _npy(np.array(json.dumps(header)))


def _edit(fn):
    """A case that edits the JSON header with fn(header)."""

    def case(members):
        h = _header(members)
        fn(h)
        _set_header(members, h)

    return case


def _replace_array(name, arr):
    def case(members):
        members[name] = _npy(arr)

    return case


def _raw_header(text):
    def case(members):
        members["__tinyrnn__.npy"] = _npy(np.array(text))

    return case


def _opt(key, value):
    return _edit(lambda h: h["optimizer"].__setitem__(key, value))


def _default(key, value):
    return _edit(lambda h: h["optimizer"]["defaults"].__setitem__(key, value))


def _lr_1e400(members):
    """A number JSON can spell but a float cannot hold (json reads it as inf)."""
    text = json.dumps(_header(members)).replace('"lr": 0.01', '"lr": 1e400')
    members["__tinyrnn__.npy"] = _npy(np.array(text))


W = "model/weight_ih_l0.npy"
CASES = {
    # the header
    "header is a JSON list": (_raw_header("[1, 2, 3]"), "expected a JSON object"),
    "header is not JSON": (_raw_header("{not json"), "corrupt header"),
    "header deeply nested": (_raw_header("[" * 100000 + "]" * 100000), "corrupt header|JSON object"),
    "header is bytes": (_replace_array("__tinyrnn__.npy", np.frombuffer(b"{}", np.uint8)), "unsupported dtype"),
    "header not 0-d": (_replace_array("__tinyrnn__.npy", np.array(["{}", "{}"])), "not a single string"),
    "format 2": (_edit(lambda h: h.__setitem__("format", 2)), "format 2"),
    "format true": (_edit(lambda h: h.__setitem__("format", True)), "format True"),
    "class missing": (_edit(lambda h: h.pop("class")), "class must be a string"),
    "config a list": (_edit(lambda h: h.__setitem__("config", [1])), "config must be an object"),
    "meta a string": (_edit(lambda h: h.__setitem__("meta", "x")), "meta must be an object"),
    # the optimizer entry
    "optimizer is a string": (_edit(lambda h: h.__setitem__("optimizer", "Adam")), "optimizer must be an object"),
    "n_params -1": (_opt("n_params", -1), "n_params must be an int"),
    "n_params 10**9": (_opt("n_params", 10**9), "n_params must be an int"),
    "n_params 3": (_opt("n_params", 3), "state_keys entries|optimizer state has 3 parameters"),
    "n_params float": (_opt("n_params", 8.0), "n_params must be an int"),
    "step null": (_opt("step", None), "step must be an int"),
    "step abc": (_opt("step", "abc"), "step must be an int"),
    "step -1": (_opt("step", -1), "step must be an int"),
    "step 10**30": (_opt("step", 10**30), r"step must be in \[0, 2\*\*53\]"),
    "type SGD": (_opt("type", "SGD"), "optimizer state is for SGD, not Adam"),
    "state_keys not a list": (_opt("state_keys", {"a": 1}), "state_keys must be a list"),
    "state_keys bad entry": (_opt("state_keys", [[0]]), "state_keys entries"),
    "state_keys index too big": (_opt("state_keys", [[99, "exp_avg"]]), "state_keys entries"),
    "state_keys unlisted array": (_edit(lambda h: h["optimizer"]["state_keys"].pop()), "unlisted arrays"),
    "state_keys duplicate": (
        _edit(lambda h: h["optimizer"]["state_keys"].append(h["optimizer"]["state_keys"][0])),
        "twice",
    ),
    "defaults a list": (_opt("defaults", [1]), "defaults must be an object"),
    "betas 5": (_default("betas", 5), "betas must be a pair"),
    "betas out of range": (_default("betas", [0.9, 1.5]), r"betas must each be in \[0, 1\)"),
    "lr inf": (_default("lr", float("inf")), "lr must be >= 0 and finite"),
    "lr 1e400": (_lr_1e400, "lr must be >= 0 and finite"),
    "lr negative": (_default("lr", -1.0), "lr must be >= 0"),
    "lr string": (_default("lr", "0.1"), "lr must be a number"),
    "eps nan": (_default("eps", float("nan")), "eps must be >= 0"),
    "unknown hyper-parameter": (_default("momentum", 0.9), "unknown hyper-parameters: momentum"),
    "optim array NaN": (_replace_array("optim/0/exp_avg.npy", np.full((4, 3), np.nan, np.float32)), "NaN or inf"),
    "optim array wrong shape": (
        _replace_array("optim/0/exp_avg.npy", np.zeros((3, 4), np.float32)),
        r"has shape \(3, 4\), expected \(4, 3\)",
    ),
    "exp_avg_sq negative": (_replace_array("optim/0/exp_avg_sq.npy", -np.ones((4, 3), np.float32)), "negative"),
    "optim array complex": (_replace_array("optim/0/exp_avg.npy", np.zeros((4, 3), np.complex64)), "unsupported dtype"),
    # the model arrays
    "float64 1e300 into float32": (
        _replace_array(W, np.full((4, 3), 1e300)),
        r"NaN or inf in weight_ih_l0 \(after the cast",
    ),
    "weight NaN": (_replace_array(W, np.full((4, 3), np.nan, np.float32)), "NaN or inf"),
    "weight wrong shape": (_replace_array(W, np.zeros((3, 4), np.float32)), "shape mismatches: weight_ih_l0"),
    "weight bool": (_replace_array(W, np.zeros((4, 3), bool)), "non-numeric arrays: weight_ih_l0"),
    "weight object": (_replace_array(W, np.array([object()] * 12, dtype=object).reshape(4, 3)), "pickled object"),
    "weight structured": (_replace_array(W, np.zeros(12, dtype=[("a", "f4")])), "structured dtype"),
    "weight float128": (_replace_array(W, np.zeros((4, 3), np.longdouble)), "unsupported dtype"),
    "weight missing": (lambda m: m.pop(W), "missing keys: weight_ih_l0"),
    "unexpected weight": (_replace_array("model/weight_xx.npy", np.zeros(2, np.float32)), "unexpected keys: weight_xx"),
    "unexpected member": (_replace_array("evil.npy", np.zeros(2)), "unexpected member 'evil.npy'"),
    "not a .npy member": (lambda m: m.__setitem__("readme.txt", b"hi"), "is not a .npy array"),
    "extra object": (_replace_array("extra/h.npy", np.array([object()], dtype=object)), "pickled object"),
    "no header member": (lambda m: m.pop("__tinyrnn__.npy"), "no __tinyrnn__ entry"),
    # the config
    "config differs": (
        _edit(lambda h: h["config"].update(nonlinearity="relu", batch_first=True)),
        "batch_first: file True, model False; .*nonlinearity: file 'relu', model 'tanh'",
    ),
    "config unknown key": (
        _edit(lambda h: h["config"].__setitem__("attention", True)),
        "attention: file True, the model has it off or unset",
    ),
    "class differs": (_edit(lambda h: h.__setitem__("class", "LSTM")), "holds a LSTM, not a RNN"),
}


@pytest.fixture
def saved(tmp_path):
    m, opt = _trained(0)
    path = tmp_path / "good.npz"
    tr.save(path, m, opt, meta={"step": 2}, extra={"h": np.ones(3, np.float32)})
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_header_and_arrays_refused_and_nothing_changes(saved, tmp_path, case):
    edit, message = CASES[case]
    members = _members(saved)
    edit(members)
    path = tmp_path / "crafted.npz"
    _write(path, members)
    m, opt = _trained(1)
    before = _snapshot(m, opt)
    with pytest.raises(tr.CheckpointError, match=message):
        tr.load(path, m, opt)
    assert _snapshot(m, opt) == before


def test_the_good_file_loads(saved):
    m, opt = _trained(1)
    tr.load(saved, m, opt)
    m0, opt0 = _trained(0)
    assert _snapshot(m, opt) == _snapshot(m0, opt0)


def test_config_difference_listed_for_rnn_built_differently(tmp_path):
    path = tmp_path / "tanh.npz"
    tr.save(path, tr.RNN(3, 4, nonlinearity="tanh", batch_first=False, rng=0))
    m = tr.RNN(3, 4, nonlinearity="relu", batch_first=True, rng=1)
    before = m.state_dict()
    with pytest.raises(
        tr.CheckpointError,
        match="built differently: batch_first: file False, model True; nonlinearity: file 'tanh', model 'relu'",
    ):
        tr.load(path, m)
    assert all(np.array_equal(v, before[k]) for k, v in m.state_dict().items())


def test_dtype_and_dropout_may_differ(tmp_path):
    path = tmp_path / "f64.npz"
    src = tr.LSTM(3, 4, dropout=0.0, num_layers=2, dtype=np.float64, rng=0)
    tr.save(path, src)
    dst = tr.LSTM(3, 4, dropout=0.3, num_layers=2, rng=1)
    tr.load(path, dst)
    np.testing.assert_array_equal(dst.weight_hh_l1.data, src.weight_hh_l1.data.astype(np.float32))


# ---------------------------------------------------------------- zip-level damage
def _patch_both(data: bytes, name: bytes, local_at: int, central_at: int, value: bytes) -> bytes:
    """Overwrite a field of the member `name` in its local header and its central-directory entry."""
    out = bytearray(data)
    # (signature, offset of the name length, offset of the name, offset of the field)
    for sig, len_at, name_at, field_at in ((b"PK\x03\x04", 26, 30, local_at), (b"PK\x01\x02", 28, 46, central_at)):
        i = out.find(sig)
        while i >= 0:
            n = struct.unpack("<H", out[i + len_at : i + len_at + 2])[0]
            if out[i + name_at : i + name_at + n] == name:
                out[i + field_at : i + field_at + len(value)] = value
            i = out.find(sig, i + 4)
    return bytes(out)


def _damaged(saved, tmp_path, how):
    data = saved.read_bytes()
    name = b"model/weight_ih_l0.npy"
    if how == "compression method 99":
        data = _patch_both(data, name, 8, 10, struct.pack("<H", 99))
    elif how == "encrypted flag":
        data = _patch_both(data, name, 6, 8, struct.pack("<H", 1))
    elif how == "corrupt deflate":
        path = tmp_path / "deflated.npz"
        _write(path, _members(saved), method=zipfile.ZIP_DEFLATED)
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(name.decode())
        start = info.header_offset + 30 + len(name)
        for k in range(start + 2, start + info.compress_size - 2):
            data[k] ^= 0x5A
        data = bytes(data)
    elif how == "npy header claims (10**12,)":
        members = _members(saved)
        hdr = io.BytesIO()
        np.lib.format.write_array_header_1_0(hdr, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
        members["extra/h.npy"] = hdr.getvalue() + b"\0" * 12
        path = tmp_path / "claim.npz"
        _write(path, members)
        data = path.read_bytes()
    elif how == "npy header garbage":
        members = _members(saved)
        members[W] = b"\x93NUMPY\x01\x00\x10\x00{'descr': oops}\n"
        path = tmp_path / "garbage.npz"
        _write(path, members)
        data = path.read_bytes()
    elif how == "duplicate member":
        path = tmp_path / "dup.npz"
        with zipfile.ZipFile(path, "w") as z:
            for n, b in _members(saved).items():
                z.writestr(n, b)
            with pytest.warns(UserWarning, match="Duplicate name"):
                z.writestr(W, _npy(np.zeros((4, 3), np.float32)))
        data = path.read_bytes()
    elif how == "truncated":
        data = data[: len(data) * 2 // 3]
    elif how == "central directory cut":
        data = data[:-30]
    return data


@pytest.mark.parametrize(
    "how",
    [
        "compression method 99",
        "encrypted flag",
        "corrupt deflate",
        "npy header claims (10**12,)",
        "npy header garbage",
        "truncated",
        "central directory cut",
        "duplicate member",
    ],
)
def test_damaged_zip_refused_and_nothing_changes(saved, tmp_path, how):
    path = tmp_path / "damaged.npz"
    path.write_bytes(_damaged(saved, tmp_path, how))
    m, opt = _trained(1)
    before = _snapshot(m, opt)
    with pytest.raises(tr.CheckpointError):
        tr.load(path, m, opt)
    assert _snapshot(m, opt) == before


# ---------------------------------------------------------------- size bounds
def _bomb(path, members, name, shape, dtype="<f8"):
    """Add a deflated member whose .npy data (zeros, `shape`) inflates to far more than its size:
    the same compressed block repeated (each ends with a full flush, so it stands alone)."""
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": dtype, "fortran_order": False, "shape": shape})
    head = hdr.getvalue()
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    chunk = 8_000_000
    assert nbytes % chunk == 0

    def block(data):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    zero_block = block(bytes(chunk))
    stream = block(head) + zero_block * (nbytes // chunk) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = zlib.crc32(head)
    zeros = bytes(chunk)
    for _ in range(nbytes // chunk):
        crc = zlib.crc32(zeros, crc)
    _write(path, members)
    with zipfile.ZipFile(path, "a") as z:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, b"")  # placeholder entry, rewritten below
    # rebuild by hand: zipfile cannot write precompressed data
    members_data = _members(path)
    members_data.pop(name)
    out = io.BytesIO()
    central = []
    for n, b in list(members_data.items()) + [(name, None)]:
        nb = n.encode()
        if b is None:
            method, data, size, c = 8, stream, len(head) + nbytes, crc
        else:
            method, data, size, c = 0, b, len(b), zlib.crc32(b)
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, c, len(data), size, len(nb), 0))
        out.write(nb)
        out.write(data)
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                c,
                len(data),
                size,
                len(nb),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + nb
        )
    cd_start = out.tell()
    for c in central:
        out.write(c)
    cd_size = out.tell() - cd_start
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), cd_size, cd_start, 0))
    path.write_bytes(out.getvalue())
    return len(stream)


def test_zip_bomb_refused_without_inflating(saved, tmp_path):
    path = tmp_path / "bomb.npz"
    compressed = _bomb(path, _members(saved), "extra/big.npy", (10**8,))
    assert compressed < 2_000_000  # under 2 MB on disk, 800 MB inflated
    with zipfile.ZipFile(path) as z:  # the bomb is a genuine, valid archive
        assert z.getinfo("extra/big.npy").file_size > 800_000_000
    m, opt = _trained(1)
    before = _snapshot(m, opt)
    tracemalloc.start()
    try:
        with pytest.raises(tr.CheckpointError, match="declares 762.9 MiB of arrays, more than the 64.0 MiB"):
            tr.load(path, m, opt)
        header = tr.read_header(path)  # reads only the header member
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, peak
    assert header["class"] == "RNN"
    assert _snapshot(m, opt) == before


def test_max_bytes_lets_a_trusted_large_extra_through(saved, tmp_path):
    members = _members(saved)
    members["extra/big.npy"] = _npy(np.zeros(20 * 2**20 // 8))  # 20 MiB
    path = tmp_path / "big.npz"
    _write(path, members)
    with pytest.raises(tr.CheckpointError, match="pass max_bytes="):
        tr.load(path, _model(1), max_bytes=2**20)
    header = tr.load(path, _model(1), max_bytes=64 * 2**20)
    assert header["extra"]["big"].shape == (20 * 2**20 // 8,) and header["extra"]["big"].flags.writeable


def test_large_header_refused(saved, tmp_path):
    members = _members(saved)
    h = _header(members)
    h["meta"]["blob"] = "x" * (2**20)
    _set_header(members, h)
    path = tmp_path / "bighead.npz"
    _write(path, members)
    with pytest.raises(tr.CheckpointError, match="MiB header, more than"):
        tr.read_header(path, max_bytes=2**20)
    assert tr.read_header(path)["meta"]["blob"] == "x" * 2**20


def test_read_header_checks_the_schema(saved, tmp_path):
    members = _members(saved)
    CASES["header is a JSON list"][0](members)
    path = tmp_path / "list.npz"
    _write(path, members)
    with pytest.raises(tr.CheckpointError, match="expected a JSON object"):
        tr.read_header(path)


def test_load_without_optimizer_ignores_optimizer_arrays(saved):
    m = _model(1)
    tr.load(saved, m)
    np.testing.assert_array_equal(m.weight_hh_l1.data, _trained(0)[0].weight_hh_l1.data)


def test_checkpoint_without_optimizer_into_optimizer(tmp_path):
    path = tmp_path / "plain.npz"
    tr.save(path, _model(0))
    m, opt = _trained(1)
    before = _snapshot(m, opt)
    with pytest.raises(tr.CheckpointError, match="holds no optimizer state"):
        tr.load(path, m, opt)
    assert _snapshot(m, opt) == before
