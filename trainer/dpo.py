"""DPO as pure functions: sequence log-probs from logits, and the preference losses.

Notation: for a pair, h = (π_θ(y_w) − π_ref(y_w)) − (π_θ(y_l) − π_ref(y_l)), log-probs summed over the response
tokens, or averaged when length-normalised (the caller decides by what it passes in). B = pairs in the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import LOSS_TYPES


def token_logps(logits, labels):
    """logits (N, V), labels (N,) -> (N,) log-probabilities, in fp32 as label logit minus logsumexp (no full
    log-softmax tensor)."""
    logits = logits.float()
    return logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)


def sequence_logps(logits, labels, mask, average: bool = False):
    """Log-probability of each row's masked labels: logits (N, T, V), labels (N, T), mask (N, T) -> (N,).

    average=True divides by the number of masked tokens (length normalisation).
    """
    per_token = token_logps(logits.flatten(0, 1), labels.flatten()).view_as(labels)  # (N, T)
    mask = mask.to(per_token.dtype)
    total = (per_token * mask).sum(-1)
    return total / mask.sum(-1).clamp(min=1) if average else total


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float = 0.5,
             loss_type: str = "sigmoid", label_smoothing: float = 0.0):
    """Per-pair losses and implicit rewards; every argument (B,) -> (losses, chosen_rewards, rejected_rewards), each
    (B,).

    sigmoid  −(1−ε)·log σ(βh) − ε·log σ(−βh)          DPO; with ε > 0 conservative DPO (labels flipped with prob. ε)
    ipo      (h − 1/(2β))²                            IPO: regress h to a fixed margin instead of pushing it to ∞
    hinge    max(0, 1 − βh)                           SLiC / RSO
    robust   [−(1−ε)·log σ(βh) + ε·log σ(−βh)]/(1−2ε)  robust DPO: unbiased under label noise ε ∈ [0, 0.5)
    Rewards are β·(policy − reference) log-ratios, detached.
    """
    chosen_ratio = policy_chosen - ref_chosen  # (B,)
    rejected_ratio = policy_rejected - ref_rejected
    z = beta * (chosen_ratio - rejected_ratio)  # β·h
    eps = label_smoothing
    if loss_type == "sigmoid":
        losses = -(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z)
    elif loss_type == "ipo":
        losses = (chosen_ratio - rejected_ratio - 1 / (2 * beta)) ** 2
    elif loss_type == "hinge":
        losses = torch.relu(1 - z)
    elif loss_type == "robust":
        if not 0 <= eps < 0.5:
            raise ValueError(f"robust loss needs 0 <= label_smoothing < 0.5, got {eps}")
        losses = (-(1 - eps) * F.logsigmoid(z) + eps * F.logsigmoid(-z)) / (1 - 2 * eps)
    else:
        raise ValueError(f"unknown loss_type {loss_type!r}; expected one of {', '.join(LOSS_TYPES)}")
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()

