"""Checkpoints: round trip, atomic writes, and clean refusal of bad files."""

import os
import zipfile

import numpy as np
import pytest

import tinyrnn as tr
from helpers import train_a_bit


def _model(seed=0, **kw):
    return tr.RNN(3, 4, num_layers=2, rng=np.random.default_rng(seed), **kw)


def test_round_trip_with_optimizer(tmp_path):
    m = _model(0)
    opt = tr.Adam(m.parameters(), lr=0.01)
    train_a_bit(m, opt)
    path = tmp_path / "ck.npz"
    tr.save(path, m, opt, meta={"step": 3, "vocab": ["a", "b"]})
    m2 = _model(1)
    opt2 = tr.Adam(m2.parameters(), lr=0.5)
    header = tr.load(path, m2, opt2)
    assert header["meta"] == {"step": 3, "vocab": ["a", "b"]}
    assert header["class"] == "RNN" and header["config"]["num_layers"] == 2
    for (k, a), (_, b) in zip(m.named_parameters(), m2.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)
    assert opt2.step_count == 3 and opt2.lr == 0.01
    for s1, s2 in zip(opt.state, opt2.state):
        np.testing.assert_array_equal(s1["exp_avg"], s2["exp_avg"])
    # continuing from the checkpoint equals continuing the original
    train_a_bit(m, opt)
    train_a_bit(m2, opt2)
    for (k, a), (_, b) in zip(m.named_parameters(), m2.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)


def test_read_header_without_model(tmp_path):
    path = tmp_path / "ck.npz"
    tr.save(path, _model(), meta={"note": "hi"})
    h = tr.read_header(path)
    assert h["class"] == "RNN" and h["meta"]["note"] == "hi" and "numpy" in h["versions"]


def test_save_leaves_no_temporary_files(tmp_path):
    tr.save(tmp_path / "ck.npz", _model())
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_failed_save_keeps_old_file(tmp_path):
    path = tmp_path / "ck.npz"
    tr.save(path, _model(0))
    before = path.read_bytes()
    with pytest.raises(TypeError, match="meta"):
        tr.save(path, _model(1), meta={"bad": object()})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(tr.CheckpointError, match="does not exist"):
        tr.load(tmp_path / "nope.npz", _model())


def test_corrupt_file(tmp_path):
    path = tmp_path / "ck.npz"
    path.write_bytes(b"this is not a zip archive at all" * 10)
    with pytest.raises(tr.CheckpointError, match=r"not a \.npz \(zip\) archive"):
        tr.load(path, _model())
    path.write_bytes(b"")
    with pytest.raises(tr.CheckpointError, match="an empty file"):
        tr.load(path, _model())


def test_truncated_file(tmp_path):
    path = tmp_path / "ck.npz"
    tr.save(path, _model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    m = _model(5)
    before = m.state_dict()
    with pytest.raises(tr.CheckpointError):
        tr.load(path, m)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_shape_mismatch(tmp_path):
    path = tmp_path / "ck.npz"
    tr.save(path, tr.RNN(3, 5, num_layers=2))
    m = _model()
    with pytest.raises(tr.CheckpointError, match="built differently: hidden_size: file 5, model 4"):
        tr.load(path, m)


def test_wrong_class(tmp_path):
    path = tmp_path / "ck.npz"
    tr.save(path, tr.Linear(3, 4))
    with pytest.raises(tr.CheckpointError, match="holds a Linear, not a RNN"):
        tr.load(path, _model())


def test_pickled_object_array_refused(tmp_path):
    path = tmp_path / "evil.npz"
    m = _model()
    arrays = {f"model/{k}": v for k, v in m.state_dict().items()}
    arrays["model/weight_ih_l0"] = np.array([object(), 1], dtype=object)
    np.savez(path, __tinyrnn__=np.array('{"format": 1, "class": "RNN", "config": {}, "meta": {}}'), **arrays)
    with pytest.raises(tr.CheckpointError, match="pickled object array"):
        tr.load(path, m)


def test_foreign_npz_refused(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(tr.CheckpointError, match="not a tinyrnn checkpoint"):
        tr.load(path, _model())


def test_zip_with_garbage_member(tmp_path):
    path = tmp_path / "ck.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__tinyrnn__.npy", b"garbage")
    with pytest.raises(tr.CheckpointError):
        tr.load(path, _model())


def test_optimizer_mismatch_restores_model(tmp_path):
    path = tmp_path / "ck.npz"
    m = _model(0)
    tr.save(path, m, tr.SGD(m.parameters(), lr=0.1, momentum=0.9))
    m2 = _model(1)
    before = m2.state_dict()
    with pytest.raises(tr.CheckpointError, match="optimizer"):
        tr.load(path, m2, tr.Adam(m2.parameters()))
    for k, v in m2.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_extra_arrays_round_trip(tmp_path):
    path = tmp_path / "ck.npz"
    h = np.arange(6, dtype=np.float32).reshape(2, 3)
    tr.save(path, _model(), extra={"hidden": h, "pos": np.array(7)})
    header = tr.load(path, _model(1))
    np.testing.assert_array_equal(header["extra"]["hidden"], h)
    assert int(header["extra"]["pos"]) == 7
