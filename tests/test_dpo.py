"""The DPO loss and log-prob functions, pinned by numbers."""
import math

import pytest
import torch

from trainer.config import LOSS_TYPES
from trainer.dpo import dpo_loss, sequence_logps

# A fixed batch of three pairs: h = (π_w − ref_w) − (π_l − ref_l) = [0.6, −0.5, 1.5], so βh = [0.3, −0.25, 0.75].
POLICY_CHOSEN = [-1.0, -2.0, -0.5]
POLICY_REJECTED = [-1.5, -1.0, -3.0]
REF_CHOSEN = [-1.2, -1.8, -1.0]
REF_REJECTED = [-1.1, -1.3, -2.0]

# Per-pair values worked out by hand from each formula (β = 0.5, ε = 0.1).
EXPECTED = {
    ("sigmoid", 0.0): [0.5543552444685271, 0.8259394198788436, 0.38687100611489994],
    ("sigmoid", 0.1): [0.5843552444685272, 0.8009394198788435, 0.46187100611489995],
    ("ipo", 0.0): [0.16, 2.25, 0.25],
    ("hinge", 0.0): [0.7, 1.25, 0.25],
    ("robust", 0.1): [0.5168552444685272, 0.8571894198788435, 0.2931210061148999],
}


def fixed_batch():
    return [torch.tensor(v) for v in (POLICY_CHOSEN, POLICY_REJECTED, REF_CHOSEN, REF_REJECTED)]


@pytest.mark.parametrize("loss_type,eps", list(EXPECTED))
def test_each_loss_type_gives_its_own_pinned_value(loss_type, eps):
    losses, chosen_rewards, rejected_rewards = dpo_loss(*fixed_batch(), beta=0.5, loss_type=loss_type,
                                                        label_smoothing=eps)
    assert losses.tolist() == pytest.approx(EXPECTED[loss_type, eps], abs=1e-6)
    assert chosen_rewards.tolist() == pytest.approx([0.1, -0.1, 0.25], abs=1e-6)
    assert rejected_rewards.tolist() == pytest.approx([-0.2, 0.15, -0.5], abs=1e-6)


def test_no_two_loss_types_agree_on_the_fixed_batch():
    """A silent fallback (say ipo quietly computing sigmoid) would make two rows equal."""
    means = {t: dpo_loss(*fixed_batch(), loss_type=t, label_smoothing=0.1)[0].mean().item() for t in LOSS_TYPES}
    assert len({round(m, 6) for m in means.values()}) == len(LOSS_TYPES), means


def test_policy_equal_to_reference_gives_ln2_and_zero_rewards():
    torch.manual_seed(0)
    chosen, rejected = -20 * torch.rand(64), -20 * torch.rand(64)
    losses, rc, rr = dpo_loss(chosen, rejected, chosen.clone(), rejected.clone(), beta=0.5)
    assert (losses - math.log(2)).abs().max().item() < 1e-6
    assert rc.abs().max().item() == 0 and rr.abs().max().item() == 0


def test_unknown_loss_type_raises_instead_of_falling_back():
    with pytest.raises(ValueError, match="unknown loss_type 'kto_pair'"):
        dpo_loss(*fixed_batch(), loss_type="kto_pair")


def test_robust_rejects_label_smoothing_of_a_half():
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(*fixed_batch(), loss_type="robust", label_smoothing=0.5)


def test_sigmoid_gradient_raises_chosen_and_lowers_rejected():
    pc, pr, rc, rr = fixed_batch()
    pc.requires_grad_(True)
    pr.requires_grad_(True)
    dpo_loss(pc, pr, rc, rr)[0].sum().backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()
    assert pc.grad.tolist() == pytest.approx((-pr.grad).tolist())


def test_rewards_are_detached():
    pc, pr, rc, rr = fixed_batch()
    pc.requires_grad_(True)
    _, chosen_rewards, _ = dpo_loss(pc, pr, rc, rr)
    assert not chosen_rewards.requires_grad


def test_sequence_logps_sums_masked_label_logprobs():
    torch.manual_seed(0)
    logits, labels = torch.randn(3, 5, 11), torch.randint(0, 11, (3, 5))
    mask = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float)
    logp = logits.log_softmax(-1)
    expected = [sum(logp[b, t, labels[b, t]].item() for t in range(5) if mask[b, t]) for b in range(3)]
    assert sequence_logps(logits, labels, mask).tolist() == pytest.approx(expected, abs=1e-5)
    averaged = sequence_logps(logits, labels, mask, average=True).tolist()
    assert averaged == pytest.approx([e / n for e, n in zip(expected, (3, 2, 5))], abs=1e-5)


def test_sequence_logps_ignores_masked_positions_and_runs_in_fp32():
    torch.manual_seed(1)
    logits, labels = torch.randn(2, 4, 7), torch.randint(0, 7, (2, 4))
    mask = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.float)
    changed = logits.clone()
    changed[mask == 0] = 100.0  # prompt and padding positions: whatever the model says there does not count
    assert torch.equal(sequence_logps(logits, labels, mask), sequence_logps(changed, labels, mask))
    assert sequence_logps(logits.bfloat16(), labels, mask).dtype == torch.float32
