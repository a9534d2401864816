import numpy as np
import pytest
import torch

import symshape as ss


def _model(equation, *shapes):
    xs = [ss.Input(s, name=f"x{i}") for i, s in enumerate(shapes)]
    return ss.Model(xs, ss.Einsum(equation)(*xs, name="e"))


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,kj", [(2, 3), (4, 3)]), ("bi,bi->b", [(1, 3), (4, 3)]),
    ("...ij->ij", [(5, 2, 3)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("i...,i...->...", [(2, 3, 1), (2, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("a,b,c->abc", [(2,), (3,), (4,)]), ("ij->", [(2, 3)]),
    ("b i d, b j d -> b i j", [(2, 3, 4), (2, 5, 4)]), ("...d,...d", [(2, 3, 4), (3, 4)]), ("ji", [(2, 3)]),
    ("Ab,bC->AC", [(2, 3), (3, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
])
def test_einsum_matches_torch(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    g = _model(equation, *shapes).infer()
    expected = torch.einsum(equation, *[torch.from_numpy(a) for a in arrays]).numpy()
    assert tuple(g.output_shapes[0]) == expected.shape
    got = g.forward({}, *arrays)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_einsum_symbolic_and_macs():
    g = _model("bhqd,bhkd->bhqk", "B, H, T, D", "B, H, S, D").infer()
    assert str(g.output_shapes[0]) == "(B, H, T, S)"
    layer = ss.Einsum("bhqd,bhkd->bhqk")
    shapes = g.node("e")["input_shapes"]
    assert str(layer.einsum_macs(shapes)) == "B*D*H*S*T"
    assert layer.macs({}, g.output_shapes, shapes) == layer.einsum_macs(shapes)
    assert ss.Einsum("ij,jk->ik").einsum_macs([(2, 3), (3, 4)]) == 24
    g = _model("bi,ij->bj", "B, D", "20, 30").infer()
    assert str(g.output_shapes[0]) == "(B, 30)" and g.fixed_sizes == {"D": 20}


def test_einsum_letter_mismatch_names_both_operands():
    with pytest.raises(ss.ShapeMismatchError, match=r"e \(Einsum\): subscript j is 3 on input 0 \(2, 3\) from input x0 "
                                                    r"but its input 1 \(4, 5\) from input x1 has 4 for it\. Operands "
                                                    r"sharing a subscript need equal sizes"):
        _model("ij,jk->ik", (2, 3), (4, 5)).infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"subscript i is 2 .* has 3 for it\. A subscript repeated in one "
                                                    r"operand"):
        _model("ii->i", (2, 3)).infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"the rank of operand 1 is 2 \(subscripts 'jk'\) but its input 1 "
                                                    r"\(3,\) from input x1 has rank 1"):
        _model("ij,jk", (2, 3), (3,)).infer()


@pytest.mark.parametrize("equation, message", [
    ("ij,jk->iz", "output subscript 'z' of 'ij,jk->iz' appears in no input"), ("ij->ii", "appears more than once"),
    ("i1->i", "'1' in 'i1' is not a subscript"), ("...i...->i", "more than one '...'"),
])
def test_einsum_malformed_equations(equation, message):
    with pytest.raises(ss.SpecError, match=message):
        ss.Einsum(equation)


def test_einsum_takes_one_input_per_term():
    x = ss.Input((2, 3), name="x")
    with pytest.raises(ss.SpecError, match=r"takes 2 input"):
        ss.Einsum("ij,jk->ik")(x)
