"""The pieces the torch trainer must compute exactly as the TypeScript side: the Philox draws behind the
mini-batch shuffle, the update plan, the LR and KL schedules, the loss normaliser. Expected values were
printed by core/random.ts, core/rl/batchPlan.ts, lrSchedule.ts, klSchedule.ts and lossGraph.ts."""

import pytest
import torch

from reasonloop_torch.actor_loss import ClipParams, aggregate, kl_tokens, loss_normalizer, ppo_clip_tokens
from reasonloop_torch.batch_plan import mini_batches, plan_update, shuffled_rows
from reasonloop_torch.philox import STREAM_SHUFFLE, philox4x32, uniform_at
from reasonloop_torch.schedules import kl_coef_at, lr_at


def test_philox_known_answers():
    # Random123's kat_vectors for philox4x32_10: zero counter and key; all-ones counter and key.
    assert philox4x32((0, 0, 0, 0), (0, 0)) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
    ones = 0xFFFFFFFF
    assert philox4x32((ones,) * 4, (ones, ones)) == (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)


def test_uniform_at_matches_core_random():
    assert uniform_at(0, 0, 0, 0, 0) == 0.39904647231489565
    assert uniform_at(7, 3, 1, 2, 5, STREAM_SHUFFLE) == 0.97281597299008
    top = 2**32 - 1
    assert uniform_at(top, top, top, top, top, 1) == 0.8976996173634978
    with pytest.raises(ValueError, match="seed must be an integer"):
        uniform_at(2**32, 0, 0, 0, 0)


def test_shuffle_and_plan_match_core_rl():
    assert shuffled_rows(10, 7, 3, 1) == [7, 6, 4, 3, 2, 1, 5, 8, 0, 9]
    plan = plan_update(8, 4, 2, 2, seed=5, step=1)
    assert [list(m.rows) for m in plan] == [[3, 7], [6, 1], [2, 5], [0, 4], [0, 5], [6, 7], [2, 3], [4, 1]]
    assert [len(g) for g in mini_batches(plan)] == [2, 2, 2, 2]
    with pytest.raises(ValueError, match=r"microBatchSize \(3\) must divide miniBatchSize \(4\)"):
        plan_update(8, 4, 3, 1, seed=0, step=0)


def test_schedules_match_core_rl():
    cosine = [lr_at(s, "warmupCosine", 1e-3, 2, 4, 0.1) for s in (0, 1, 2, 3, 5)]
    assert cosine == [0, 0.0005, 0.001, 0.00055, 0.0001]
    assert [lr_at(s, "warmupConstant", 1e-3, 2) for s in (0, 1, 2)] == [0, 0.0005, 0.001]
    assert [kl_coef_at(s, "cosine", 0.05, 3) for s in range(5)] == [0.05, 0.037500000000000006,
                                                                     0.012500000000000006, 0, 0]
    with pytest.raises(ValueError, match="warmupCosine needs totalSteps"):
        lr_at(0, "warmupCosine", 1e-3, 2, None)


def test_loss_normalizer_matches_core_rl():
    assert loss_normalizer([3, 0, 2], "token-mean") == 0.2
    assert loss_normalizer([3, 0, 2], "seq-mean-token-mean") == 0.5
    assert loss_normalizer([3, 0, 2], "seq-mean-token-sum-norm", 7) == 0.07142857142857142
    assert loss_normalizer([0, 0], "seq-mean-token-sum") == 0


def test_ppo_clip_branches_as_verl():
    # One token per case: A > 0 above 1 + ε_high (clipped high), A < 0 below 1 − ε_low (clipped low),
    # A < 0 with a huge ratio (dual clip at −A·c), and an unclipped token.
    logp = torch.log(torch.tensor([[1.5, 0.5, 10.0, 1.0]], dtype=torch.float64))
    old = torch.zeros_like(logp)
    adv = torch.tensor([[1.0, -1.0, -1.0, 2.0]], dtype=torch.float64)
    t = ppo_clip_tokens(logp, old, adv, ClipParams(0.2, 0.28, 3.0))
    assert t.loss.tolist()[0] == pytest.approx([-1.28, 0.8, 3.0, -2.0])
    assert t.clipped_high.tolist()[0] == [1, 0, 0, 0]
    assert t.clipped_low.tolist()[0] == [0, 1, 0, 0]
    assert t.dual_clipped.tolist()[0] == [0, 0, 1, 0]


def test_kl_estimators_and_aggregation():
    lp = torch.tensor([[-1.0, -2.0]], dtype=torch.float64)
    ref = torch.tensor([[-1.5, -1.0]], dtype=torch.float64)
    assert kl_tokens("k1", lp, ref).tolist()[0] == [0.5, -1.0]
    assert kl_tokens("k2", lp, ref).tolist()[0] == [0.125, 0.5]
    x = torch.tensor([-0.5, 1.0], dtype=torch.float64)  # log π_ref − log π
    assert kl_tokens("k3", lp, ref).tolist()[0] == pytest.approx((torch.exp(x) - x - 1).tolist())
    values = torch.tensor([[1.0, 3.0, 5.0], [2.0, 4.0, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    assert float(aggregate(values, mask, "token-mean", 1 / 3)) == pytest.approx(2.0)
    assert float(aggregate(values, mask, "seq-mean-token-mean", 1 / 2)) == pytest.approx(2.0)
    assert float(aggregate(values, mask, "seq-mean-token-sum", 1 / 2)) == pytest.approx(3.0)
